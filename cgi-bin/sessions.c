/*
 * GET /auth/sessions  Authorization: Bearer <access token>
 *   200 [{"id","created_at","last_used_at","user_agent","ip","current"}]:
 *       the caller's live sessions, newest first (at most 100); times are
 *       ISO 8601 UTC; current marks the session of the presented token
 * DELETE /auth/sessions/{id}  Authorization: Bearer <access token>
 *   204 that session and its refresh tokens revoked
 *   404 not a live session of the caller (another user's id included:
 *       it is never revoked, and its existence is not revealed)
 *   401 with WWW-Authenticate as /auth/me; 405 GET/DELETE mixed up
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "log.h"

#define SESSIONS_MAX 100
#define SESSIONS_PREFIX "/auth/sessions"

/* "2026-11-25T17:57:14Z" for a Unix time. */
static struct json_object *sessions_time(int64_t t)
{
	char buf[32];
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return NULL;
	return json_object_new_string(buf);
}

/* Text column or JSON null when unknown. */
static struct json_object *sessions_text(const char *s)
{
	return s[0] != '\0' ? json_object_new_string(s) : NULL;
}

static void sessions_list(struct app *a, struct http_req *req,
    const struct jwt_claims *claims)
{
	static struct store_session rows[SESSIONS_MAX];
	struct json_object *list = NULL;
	const char *body;
	size_t n = 0, i, len = 0;
	enum auth_err rc;

	rc = store_sessions(a->store, claims->sub, (int64_t)time(NULL), rows,
	    SESSIONS_MAX, &n);
	if (rc != AUTH_OK || (list = json_object_new_array()) == NULL) {
		http_reply_error(req, rc != AUTH_OK ? rc : AUTH_EINTERNAL, NULL);
		return;
	}
	for (i = 0; i < n; i++) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "id", json_object_new_string(rows[i].id));
		json_object_object_add(o, "created_at",
		    sessions_time(rows[i].created_at));
		json_object_object_add(o, "last_used_at",
		    sessions_time(rows[i].last_used_at));
		json_object_object_add(o, "user_agent",
		    sessions_text(rows[i].user_agent));
		json_object_object_add(o, "ip", sessions_text(rows[i].ip));
		json_object_object_add(o, "current", json_object_new_boolean(
		    strcmp(rows[i].id, claims->sid) == 0));
		json_object_array_add(list, o);
	}
	body = json_object_to_json_string_length(list, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	http_reply_json(req, 200, HTTP_NO_STORE, body, len);
	json_object_put(list);
}

static void sessions_delete(struct app *a, struct http_req *req,
    const struct jwt_claims *claims, const char *id, size_t idlen)
{
	char sid[VALID_UUID_SIZE];
	enum auth_err rc;

	/* Anything but a canonical id cannot name one of our sessions. */
	if (!valid_uuid(id, idlen)) {
		http_reply_error(req, AUTH_ENOTFOUND, "session not found");
		return;
	}
	memcpy(sid, id, idlen);
	sid[idlen] = '\0';
	rc = store_session_revoke(a->store, claims->sub, sid,
	    (int64_t)time(NULL));
	if (rc != AUTH_OK) {
		http_reply_error(req, rc, rc == AUTH_ENOTFOUND ?
		    "session not found" : NULL);
		return;
	}
	log_event(LOG_INFO, "session_revoked", LOG_STR("user_id", claims->sub),
	    LOG_STR("session_id", sid));
	http_reply_empty(req, 204);
}

static void sessions(struct app *a, struct http_req *req)
{
	const char *path = http_path(req);
	struct jwt_claims claims;
	size_t plen = strlen(SESSIONS_PREFIX), n = strlen(path);

	/* The collection takes GET, a member DELETE; lighttpd routes both here. */
	if (n == plen) {
		if (req->method != HTTP_GET) {
			req->allow = HTTP_GET;
			http_reply_error(req, AUTH_EMETHOD, NULL);
			return;
		}
	} else if (req->method != HTTP_DELETE) {
		req->allow = HTTP_DELETE;
		http_reply_error(req, AUTH_EMETHOD, NULL);
		return;
	}
	if (app_authenticate(a, req, &claims, NULL) != 0)
		return;
	if (n == plen)
		sessions_list(a, req, &claims);
	else
		sessions_delete(a, req, &claims, path + plen + 1, n - plen - 1);
}

int main(int argc, char **argv)
{
	static const struct app_endpoint ep = {
		.name = "sessions",
		.path = "/auth/sessions",
		.methods = HTTP_GET | HTTP_DELETE,
		.needs = APP_VERIFY | APP_DB,
		.bearer = 1,
		.handle = sessions,
	};

	return app_main(argc, argv, &ep);
}
