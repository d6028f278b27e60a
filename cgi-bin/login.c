/*
 * POST /auth/login  {"email","password"}
 *   200 token pair (new session); resets the email's attempt count and
 *       gives the client address back its attempt
 *   403 account disabled (authctl disable): only after the password was
 *       checked; the attempt stays counted, nothing is reset
 *   403 email not verified: with REQUIRE_VERIFIED_EMAIL=1, likewise only
 *       after the password check (a disabled account says disabled)
 *   403 {"detail":"mfa required","mfa_token"} for an account with TOTP
 *       on, only after the password check: no pair, and nothing reset
 *       (the attempt stays counted until /auth/mfa/verify issues the
 *       pair), so guessing password and code together stays throttled
 *   401 invalid credentials: the same body and the same password work
 *       (a dummy hash stands in for an unknown email; every verification
 *       takes as long as one at the configured method and cost)
 *   429 too many attempts, with Retry-After, once the email or the client
 *       address (IPv6: its /64) has LOGIN_MAX_FAILURES /
 *       LOGIN_ADDR_MAX_FAILURES attempts in LOGIN_WINDOW. Every attempt
 *       is counted, and the limit decided, in one transaction before any
 *       password work, so concurrent guesses cannot all pass one check.
 *   422 / 411 / 413 / 405 / 503 as every endpoint
 * A stored hash made with other than the configured method and cost is
 * replaced.
 */
#include <time.h>

#include <openssl/crypto.h>

#include "app.h"
#include "log.h"

/* The 403 owing the second factor, with the token that carries it on. */
static void login_mfa_required(struct app *a, struct http_req *req,
    const char *user_id)
{
	char token[JWT_MAX_LEN + 1];
	struct json_object *o;
	const char *out;
	size_t len = 0;
	enum auth_err rc = tokens_mfa_challenge(&a->tokens, user_id, token);

	if (rc != AUTH_OK) {
		http_reply_error(req, rc, NULL);
		return;
	}
	log_event(LOG_INFO, "mfa_required", LOG_STR("user_id", user_id),
	    LOG_STR("client", req->remote_addr));
	o = json_object_new_object();
	json_object_object_add(o, "detail", json_object_new_string("mfa required"));
	json_object_object_add(o, "mfa_token", json_object_new_string(token));
	out = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
	http_reply_json(req, 403, HTTP_NO_STORE, out, len);
	json_object_put(o);
	OPENSSL_cleanse(token, sizeof(token));
}

static void login(struct app *a, struct http_req *req)
{
	struct app_credentials cr;
	struct tokens_client cl = app_client(req);
	struct tokens_pair pair;
	char user_id[VALID_UUID_SIZE], hash[PASSWORD_HASH_MAX];
	char ipkey[APP_CLIENT_KEY_MAX];
	const char *ip = app_client_key(req, ipkey, sizeof(ipkey));
	enum auth_err rc;

	if (app_read_credentials(req, &cr) != 0)
		goto out;
	{
		const struct store_limit lims[2] = {
			{ "email", cr.email, a->cfg.login_max_failures,
			  a->cfg.login_window },
			{ "ip", ip, a->cfg.login_addr_max_failures,
			  a->cfg.login_window },
		};

		rc = store_throttle_take(a->store, lims, 2, (int64_t)time(NULL),
		    &req->retry_after);
	}
	if (rc == AUTH_ETHROTTLED) {
		metrics_count(a->metrics, METRICS_LOGIN_THROTTLED);
		log_event(LOG_WARN, "login_throttled", LOG_STR("client", cl.ip),
		    LOG_INT("retry_after", req->retry_after));
	}
	if (rc == AUTH_OK)
		rc = store_user_by_email(a->store, cr.email, user_id, hash);
	if (rc != AUTH_OK && rc != AUTH_ENOTFOUND) {
		http_reply_error(req, rc, NULL);
		goto out;
	}
	if (!password_verify(a->pw, cr.password, rc == AUTH_OK ? hash : NULL)) {
		/* Already counted: the attempt was taken above. */
		metrics_count(a->metrics, METRICS_LOGIN_FAILURE);
		log_event(LOG_INFO, "login_failure", LOG_STR("client", cl.ip));
		http_reply_error(req, AUTH_ECREDS, NULL);
		goto out;
	}
	if (password_needs_rehash(a->pw, hash) &&
	    (password_hash(a->pw, cr.password, hash) != 0 ||
	    store_set_password(a->store, user_id, hash) != AUTH_OK))
		log_event(LOG_WARN, "rehash_failed", LOG_STR("user_id", user_id));
	if (a->cfg.require_verified_email) {
		struct store_account acc;

		rc = store_account(a->store, user_id, &acc);
		if (rc == AUTH_OK && !acc.email_verified && !acc.disabled) {
			log_event(LOG_INFO, "login_unverified",
			    LOG_STR("user_id", user_id), LOG_STR("client", cl.ip));
			http_reply_error(req, AUTH_EFORBIDDEN, "email not verified");
			goto out;
		}
		if (rc != AUTH_OK && rc != AUTH_ENOTFOUND) {
			http_reply_error(req, rc, NULL);
			goto out;
		}
	}
	{
		struct store_mfa m;

		/* Unknown state is no "off": 503 until it can be read. */
		rc = store_mfa_get(a->store, user_id, &m);
		OPENSSL_cleanse(m.secret, sizeof(m.secret));
		if (rc != AUTH_OK && rc != AUTH_ENOTFOUND) {
			http_reply_error(req, rc, NULL);
			goto out;
		}
		/* A disabled account says so below, never "mfa required". */
		if (rc == AUTH_OK && !m.disabled &&
		    m.state == STORE_MFA_ENABLED) {
			login_mfa_required(a, req, user_id);
			goto out;
		}
	}
	cl.email = cr.email;
	cl.refund_ip = ip;
	rc = tokens_login(&a->tokens, user_id, &cl, &pair);
	if (rc == AUTH_EFORBIDDEN) {
		/* Only now: without the password it reveals nothing. */
		log_event(LOG_INFO, "login_disabled", LOG_STR("user_id", user_id),
		    LOG_STR("client", cl.ip));
		http_reply_error(req, rc, "account disabled");
		goto out;
	}
	if (rc == AUTH_ENOTFOUND)
		rc = AUTH_ECREDS;        /* deleted since it was looked up */
	if (rc != AUTH_OK) {
		http_reply_error(req, rc, NULL);
		goto out;
	}
	metrics_count(a->metrics, METRICS_LOGIN_SUCCESS);
	log_event(LOG_INFO, "login_success", LOG_STR("user_id", user_id),
	    LOG_STR("session_id", pair.session_id), LOG_STR("client", cl.ip));
	app_reply_pair(req, 200, &pair);
out:
	app_credentials_free(&cr);
}

int main(int argc, char **argv)
{
	static const struct app_endpoint ep = {
		.name = "login",
		.path = "/auth/login",
		.methods = HTTP_POST,
		.needs = APP_SIGN | APP_REFRESH_KEYS | APP_DB | APP_PASSWORD |
		    APP_BODY,
		.bearer = 0,
		.handle = login,
	};

	return app_main(argc, argv, &ep);
}
