/*
 * GET /readyz
 *   200 {"status":"ready"}: the database answers and its schema is at the
 *       newest migration this build knows (AUTH_SCHEMA_VERSION, taken from
 *       schema/ at build time)
 *   503 {"status":"not ready","reason":"..."} otherwise: "database
 *       read-only", "database disk full" (writes would fail; reads still
 *       answer), "database unavailable", "pending migration: ..."
 */
#include <stdio.h>
#include <string.h>

#include "app.h"

#ifndef AUTH_SCHEMA_VERSION
#error "AUTH_SCHEMA_VERSION must name the newest schema/NNN_*.sql"
#endif

static void readyz_reply(struct http_req *req, const char *reason)
{
	char body[256];
	int n;

	if (reason == NULL)
		n = snprintf(body, sizeof(body), "{\"status\":\"ready\"}");
	else
		n = snprintf(body, sizeof(body),
		    "{\"status\":\"not ready\",\"reason\":\"%s\"}", reason);
	if (n < 0 || (size_t)n >= sizeof(body)) {
		http_reply_error(req, AUTH_EINTERNAL, NULL);
		return;
	}
	http_reply_json(req, reason == NULL ? 200 : 503, HTTP_NO_STORE, body,
	    (size_t)n);
}

static void readyz(struct app *a, struct http_req *req)
{
	char version[8], reason[128];
	const char *disk = store_disk_problem(a->store);

	/* Reads may still answer; a node that cannot write is not ready. */
	if (disk != NULL) {
		readyz_reply(req, disk);
		return;
	}
	if (store_schema_version(a->store, version) != AUTH_OK) {
		readyz_reply(req, "database unavailable");
		return;
	}
	/* Versions are fixed-width NNN: string order is numeric order. */
	if (strcmp(version, AUTH_SCHEMA_VERSION) < 0) {
		/* version is digits only: nothing to escape. */
		snprintf(reason, sizeof(reason), "pending migration: schema at "
		    "%s, this build needs %s (run scripts/migrate.sh)", version,
		    AUTH_SCHEMA_VERSION);
		readyz_reply(req, reason);
		return;
	}
	readyz_reply(req, NULL);
}

int main(int argc, char **argv)
{
	static const struct app_endpoint ep = {
		.name = "readyz",
		.path = "/readyz",
		.methods = HTTP_GET,
		.needs = APP_DB,
		.bearer = 0,
		.handle = readyz,
	};

	return app_main(argc, argv, &ep);
}
