/*
 * POST /auth/refresh  {"refresh_token": "..."} or a bare JSON string "..."
 *   200 new pair; the presented jti is revoked and points to the new one,
 *       in the transaction that inserts it (one conditional update picks
 *       the single winner among concurrent refreshes of one token)
 *   401 invalid refresh token (does not verify: RS256, or HS256 under a
 *       configured refresh key, are the only algorithms; the new pair's
 *       refresh token is signed as REFRESH_TOKEN_SIGNING says)
 *   401 refresh token revoked or expired; presenting an already rotated
 *       token is a replay: its whole session is revoked, unless it was
 *       rotated less than REFRESH_REUSE_INTERVAL seconds ago (lost
 *       response, two tabs), which gets a fresh pair of the same session
 *   422 / 411 / 413 / 405 / 503 as every endpoint
 */
#include "app.h"
#include "log.h"

static void refresh(struct app *a, struct http_req *req)
{
	struct json_object *body = NULL;
	struct tokens_pair pair;
	enum store_rotation how;
	enum auth_err rc;
	const char *token;
	size_t len;

	if (app_read_refresh_token(req, &body, &token, &len) != 0)
		return;
	rc = tokens_refresh(&a->tokens, token, len, &pair, &how);
	if (rc == AUTH_OK) {
		metrics_count(a->metrics, METRICS_REFRESH_ROTATED);
		/* A rotation is a refresh that worked, as common as the
		 * requests themselves: it follows LOG_REQUESTS as their access
		 * lines do. A replay is audited whatever the setting. */
		if (a->cfg.log_requests == CONFIG_LOG_REQUESTS_ALL)
			log_event(LOG_INFO, "refresh_rotated",
			    LOG_STR("user_id", pair.user_id),
			    LOG_STR("session_id", pair.session_id),
			    LOG_STR("reused", how == STORE_REUSED ? "yes" : "no"));
		app_reply_pair(req, 200, &pair);
	} else if (rc == AUTH_ETOKEN || rc == AUTH_EREVOKED) {
		metrics_count(a->metrics, how == STORE_REPLAY ?
		    METRICS_REFRESH_REPLAY : METRICS_REFRESH_INVALID);
		http_reply_error(req, rc, rc == AUTH_ETOKEN ?
		    "invalid refresh token" : NULL);
	} else {
		http_reply_error(req, rc, NULL);
	}
	json_object_put(body);
}

int main(int argc, char **argv)
{
	static const struct app_endpoint ep = {
		.name = "refresh",
		.path = "/auth/refresh",
		.methods = HTTP_POST,
		.needs = APP_SIGN | APP_REFRESH_KEYS | APP_DB | APP_BODY |
		    APP_BATCH,
		.bearer = 0,
		.handle = refresh,
	};

	return app_main(argc, argv, &ep);
}
