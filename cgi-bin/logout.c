/*
 * POST /auth/logout  {"refresh_token": "..."} (or a bare JSON string)
 *   204 the token's session (every token rotated from that login) is
 *       revoked; a session already revoked is 204 too
 *   401 invalid refresh token (does not verify; RS256, or HS256 under a
 *       configured refresh key)
 *   422 / 411 / 413 / 405 / 503 as every endpoint
 */
#include <stdio.h>

#include "app.h"
#include "log.h"

static void logout(struct app *a, struct http_req *req)
{
	struct json_object *body = NULL;
	struct jwt_claims claims;
	const char *token;
	size_t len;
	enum auth_err rc;

	if (app_read_refresh_token(req, &body, &token, &len) != 0)
		return;
	rc = tokens_logout(&a->tokens, token, len, &claims);
	if (rc == AUTH_OK) {
		snprintf(req->user_id, sizeof(req->user_id), "%s", claims.sub);
		log_event(LOG_INFO, "logout", LOG_STR("user_id", claims.sub),
		    LOG_STR("session_id", claims.sid));
		http_reply_empty(req, 204);
	} else {
		http_reply_error(req, rc, rc == AUTH_ETOKEN ?
		    "invalid refresh token" : NULL);
	}
	json_object_put(body);
}

int main(int argc, char **argv)
{
	static const struct app_endpoint ep = {
		.name = "logout",
		.path = "/auth/logout",
		.methods = HTTP_POST,
		.needs = APP_VERIFY | APP_REFRESH_KEYS | APP_DB | APP_BODY,
		.bearer = 0,
		.handle = logout,
	};

	return app_main(argc, argv, &ep);
}
