/*
 * POST /auth/refresh  {"refresh_token": "..."} or a bare JSON string "..."
 *   200 new pair; the presented jti is revoked and points to the new one,
 *       in the transaction that inserts it (one conditional update picks
 *       the single winner among concurrent refreshes of one token)
 *   401 invalid refresh token (does not verify)
 *   401 refresh token revoked or expired; presenting a rotated token is a
 *       replay and revokes its whole session
 *   422 / 411 / 413 / 405 / 503 as every endpoint
 */
#include "app.h"
#include "json.h"
#include "log.h"

static void refresh(struct app *a, struct http_req *req)
{
	struct json_object *body = NULL, *field = NULL;
	struct tokens_pair pair;
	enum store_rotation how;
	enum auth_err rc;
	const char *token;
	size_t len;

	if (app_read_json(req, &body) != 0)
		return;
	/* The original client posts the token as a bare JSON string. */
	if (json_object_is_type(body, json_type_object))
		json_object_object_get_ex(body, "refresh_token", &field);
	else if (json_object_is_type(body, json_type_string))
		field = body;
	if (field == NULL || !json_object_is_type(field, json_type_string)) {
		http_reply_error(req, AUTH_EINVAL, field == NULL && json_object_is_type(
		    body, json_type_object) ? "refresh_token: field required" :
		    "refresh_token: must be a string");
		goto out;
	}
	token = json_object_get_string(field);
	len = (size_t)json_object_get_string_len(field);
	rc = tokens_refresh(&a->tokens, token, len, &pair, &how);
	if (rc == AUTH_OK) {
		metrics_count(a->metrics, METRICS_REFRESH_ROTATED);
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
out:
	json_object_put(body);
}

int main(int argc, char **argv)
{
	static const struct app_endpoint ep = {
		.name = "refresh",
		.path = "/auth/refresh",
		.methods = HTTP_POST,
		.needs = APP_SIGN | APP_DB,
		.bearer = 0,
		.handle = refresh,
	};

	return app_main(argc, argv, &ep);
}
