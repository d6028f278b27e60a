/*
 * POST /auth/register  {"email","password"}
 *   201 token pair (new user, new session)
 *   422 invalid email or password; 400 email already registered
 *   429 with Retry-After: REGISTER_ADDR_MAX attempts from this client
 *       address (IPv6: its /64) in REGISTER_WINDOW, counted before any
 *       hashing (0 turns it off): registration answers whether an email
 *       is taken, and costs a hash, so it must not be an unlimited oracle
 *   411 / 413 / 405 / 503 as every endpoint
 * A taken email costs what a new account does: the password is hashed
 * and the pair signed before the insert finds the email taken.
 */
#include <time.h>

#include "app.h"
#include "log.h"

static void register_user(struct app *a, struct http_req *req)
{
	struct app_credentials cr;
	struct tokens_client cl = app_client(req);
	struct tokens_pair pair;
	char hash[PASSWORD_HASH_MAX], ipkey[APP_CLIENT_KEY_MAX];
	struct store_limit lim = { "register", NULL, a->cfg.register_addr_max,
	    a->cfg.register_window };
	enum auth_err rc;

	if (app_read_credentials(req, &cr) != 0)
		goto out;
	lim.value = app_client_key(req, ipkey, sizeof(ipkey));
	rc = store_throttle_take(a->store, &lim, 1, (int64_t)time(NULL),
	    &req->retry_after);
	if (rc != AUTH_OK) {
		if (rc == AUTH_ETHROTTLED)
			log_event(LOG_WARN, "register_throttled",
			    LOG_STR("client", cl.ip),
			    LOG_INT("retry_after", req->retry_after));
		http_reply_error(req, rc, NULL);
		goto out;
	}
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
	/* Mail configured: the address is to be proven. The account
	 * stands either way; resend makes another message. */
	if (a->cfg.verify_url[0] != '\0' &&
	    app_queue_verify(a, pair.user_id, cr.email) != AUTH_OK)
		log_event(LOG_WARN, "verify_queue_failed",
		    LOG_STR("user_id", pair.user_id));
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
		.needs = APP_SIGN | APP_REFRESH_KEYS | APP_DB | APP_PASSWORD |
		    APP_BODY,
		.bearer = 0,
		.handle = register_user,
	};

	return app_main(argc, argv, &ep);
}
