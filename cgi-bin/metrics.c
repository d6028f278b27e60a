/*
 * GET /metrics
 *   Only for clients whose REMOTE_ADDR lies in METRICS_ALLOW (default
 *   127.0.0.0/8,::1/128; IPv4-mapped IPv6 counts as IPv4; "" allows
 *   nobody). Counts and latencies tell an outsider how the service is
 *   used and when it is busy: they are for this node's scraper only.
 *   200 Prometheus text exposition 0.0.4: request counts and latency
 *       histograms of every endpoint process on this node (from the shared
 *       segment), auth counters, and gauges read from the database's
 *       counters table (users, unrevoked refresh tokens) when it answers.
 *   403 {"detail":"forbidden"} to any other client, before any database
 *       or rendering work.
 */
#include <stdlib.h>

#include "app.h"

static void metrics(struct app *a, struct http_req *req)
{
	struct metrics_gauge g[2] = {
		{ "auth_users", "Registered users.", 0 },
		{ "auth_refresh_tokens_unrevoked",
		  "Refresh tokens neither rotated nor revoked (expired ones "
		  "count until purged).", 0 },
	};
	size_t ng = 0, len = 0;
	char *text = NULL;

	/* Refused first: an outsider must not cost a database read. */
	if (!netaddr_list_match(&a->cfg.metrics_nets, req->remote_addr)) {
		http_reply_error(req, AUTH_EFORBIDDEN, NULL);
		return;
	}
	/* Gauges are optional: a busy or older database drops them, not the scrape. */
	if (store_counters(a->store, &g[0].value, &g[1].value) == AUTH_OK)
		ng = 2;
	if (metrics_render(a->metrics, g, ng, &text, &len) != 0) {
		http_reply_error(req, AUTH_EINTERNAL, NULL);
		return;
	}
	http_reply_body(req, 200, HTTP_NO_STORE,
	    "text/plain; version=0.0.4; charset=utf-8", text, len);
	free(text);
}

int main(int argc, char **argv)
{
	static const struct app_endpoint ep = {
		.name = "metrics",
		.path = "/metrics",
		.methods = HTTP_GET,
		.needs = APP_DB,
		.bearer = 0,
		.handle = metrics,
	};

	return app_main(argc, argv, &ep);
}
