/*
 * POST /auth/register  {"email","password"}
 *   201 token pair (new user, new session)
 *   422 invalid email or password; 400 email already registered
 *   411 / 413 / 405 / 503 as every endpoint
 */
#include "app.h"
#include "log.h"

static void register_user(struct app *a, struct http_req *req)
{
	struct app_credentials cr;
	struct tokens_client cl = app_client(req);
	struct tokens_pair pair;
	char hash[PASSWORD_HASH_MAX];
	enum auth_err rc;

	if (app_read_credentials(req, &cr) != 0)
		goto out;
	if (password_hash(a->pw, cr.password, hash) != 0) {
		http_reply_error(req, AUTH_EINTERNAL, NULL);
		goto out;
	}
	rc = tokens_register(&a->tokens, cr.email, hash, &cl, &pair);
	if (rc != AUTH_OK) {
		http_reply_error(req, rc, NULL);
		goto out;
	}
	metrics_count(a->metrics, METRICS_REGISTRATION);
	log_event(LOG_INFO, "register", LOG_STR("user_id", pair.user_id),
	    LOG_STR("session_id", pair.session_id), LOG_STR("client", cl.ip));
	app_reply_pair(req, 201, &pair);
out:
	app_credentials_free(&cr);
}

int main(int argc, char **argv)
{
	static const struct app_endpoint ep = {
		.name = "register",
		.path = "/auth/register",
		.methods = HTTP_POST,
		.needs = APP_SIGN | APP_DB | APP_PASSWORD | APP_BODY,
		.bearer = 0,
		.handle = register_user,
	};

	return app_main(argc, argv, &ep);
}
