/*
 * POST /auth/logout-all  Authorization: Bearer <access token>
 *   204 every session of the user is revoked, this one included: every
 *       refresh token and every access token of them stop working
 *   401 with WWW-Authenticate as /auth/me
 */
#include <time.h>

#include "app.h"
#include "log.h"

static void logout_all(struct app *a, struct http_req *req)
{
	struct jwt_claims claims;
	enum auth_err rc;

	if (app_authenticate(a, req, &claims, NULL) != 0)
		return;
	rc = store_revoke_user(a->store, claims.sub, (int64_t)time(NULL));
	if (rc != AUTH_OK) {
		http_reply_error(req, rc, NULL);
		return;
	}
	log_event(LOG_INFO, "logout_all", LOG_STR("user_id", claims.sub));
	http_reply_empty(req, 204);
}

int main(int argc, char **argv)
{
	static const struct app_endpoint ep = {
		.name = "logout-all",
		.path = "/auth/logout-all",
		.methods = HTTP_POST,
		.needs = APP_VERIFY | APP_DB,
		.bearer = 1,
		.handle = logout_all,
	};

	return app_main(argc, argv, &ep);
}
