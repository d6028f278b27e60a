/*
 * The account routes (API.md Part 2, "Account"), one program; every one
 * is POST with a JSON body but resend:
 * POST /auth/password  Authorization: Bearer + {"current_password","new_password"}
 *   204 password replaced; every other session of the user revoked (at
 *       once on every node), the presented one kept
 *   401 invalid credentials: the current password is wrong (counted as a
 *       failed login of the account's email and the client address)
 *   429 past the login throttle; 422 new password policy
 * POST /auth/password/forgot  {"email"}
 *   202 {"detail":"if the address is registered, a message is on its way"}
 *       for every valid email, in one transaction of the same shape
 *       whether it is registered or not; a reset message is queued in
 *       the outbox only for a user, and only within RESET_MAX per email
 *       per hour
 *   429 past RESET_ADDR_MAX per client address per hour; 422 invalid email
 * POST /auth/password/reset  {"token","new_password"}
 *   204 password replaced, every session revoked, the token used up
 *   400 invalid or expired token; 422 policy; 429 past RESET_ADDR_MAX
 *       bad tokens per client address per hour
 * POST /auth/email/verify  {"token"}
 *   204 email_verified set; 400 invalid or expired token; 429 as reset
 * POST /auth/email/resend  Authorization: Bearer (no body)
 *   202 a new verification message queued (older links stop working)
 *   409 email already verified; 401
 * Tokens and passwords never reach a log line.
 */
#include <openssl/crypto.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "json.h"
#include "log.h"
#include "mail.h"

#define FORGOT_DETAIL "if the address is registered, a message is on its way"
#define TOKEN_WINDOW 3600            /* RESET_MAX, RESET_ADDR_MAX: per hour */

/* A new password of body's field name, checked; the 422 sent on failure. */
static int account_new_password(struct http_req *req, struct json_object *body,
    const char *name, const char **pw)
{
	char detail[JSON_DETAIL_MAX];
	size_t len = 0;

	if (json_get_string(body, name, PASSWORD_MIN, PASSWORD_MAX, pw, &len,
	    detail, sizeof(detail)) != AUTH_OK ||
	    password_policy(*pw, len, detail, sizeof(detail)) != AUTH_OK) {
		http_reply_error(req, AUTH_EINVAL, detail);
		return -1;
	}
	return 0;
}

/* Wipe a password held in a parsed body. */
static void account_wipe(const char *pw)
{
	if (pw != NULL)
		OPENSSL_cleanse((void *)(uintptr_t)pw, strlen(pw));
}

static void account_password(struct app *a, struct http_req *req)
{
	struct json_object *body = NULL;
	struct jwt_claims claims;
	struct store_account acc;
	char detail[JSON_DETAIL_MAX], hash[PASSWORD_HASH_MAX];
	char ipkey[APP_CLIENT_KEY_MAX];
	const char *ip = app_client_key(req, ipkey, sizeof(ipkey));
	const char *cur = NULL, *pw = NULL;
	size_t len = 0;
	enum auth_err rc;

	if (app_authenticate(a, req, &claims, NULL) != 0)
		return;
	if ((body = app_read_object(req)) == NULL)
		return;
	if (json_get_string(body, "current_password", 1, PASSWORD_MAX, &cur,
	    &len, detail, sizeof(detail)) != AUTH_OK) {
		http_reply_error(req, AUTH_EINVAL, detail);
		goto out;
	}
	if (account_new_password(req, body, "new_password", &pw) != 0)
		goto out;
	rc = store_account(a->store, claims.sub, &acc);
	if (rc == AUTH_ENOTFOUND)
		rc = AUTH_ETOKEN;
	if (rc == AUTH_OK) {
		/* A guess at the current password is a login attempt. */
		const struct store_limit lims[2] = {
			{ "email", acc.email, a->cfg.login_max_failures,
			  a->cfg.login_window },
			{ "ip", ip, a->cfg.login_addr_max_failures,
			  a->cfg.login_window },
		};

		rc = store_throttle_take(a->store, lims, 2, (int64_t)time(NULL),
		    &req->retry_after);
	}
	if (rc != AUTH_OK) {
		http_reply_error(req, rc, NULL);
		goto out;
	}
	if (!password_verify(a->pw, cur, acc.hash)) {
		log_event(LOG_INFO, "password_change_failure",
		    LOG_STR("user_id", claims.sub));
		http_reply_error(req, AUTH_ECREDS, NULL);
		goto out;
	}
	if (password_hash(a->pw, pw, hash) != 0) {
		http_reply_error(req, AUTH_EINTERNAL, NULL);
		goto out;
	}
	{
		const struct store_password_change c = { claims.sub, claims.sid,
		    hash, (int64_t)time(NULL), acc.email, ip };

		rc = store_password_change(a->store, &c);
	}
	if (rc != AUTH_OK) {
		http_reply_error(req, rc, NULL);
		goto out;
	}
	log_event(LOG_INFO, "password_changed", LOG_STR("user_id", claims.sub),
	    LOG_STR("session_id", claims.sid));
	http_reply_empty(req, 204);
out:
	account_wipe(cur);
	account_wipe(pw);
	json_object_put(body);
}

static void account_forgot(struct app *a, struct http_req *req)
{
	struct json_object *body = app_read_object(req), *o;
	char detail[JSON_DETAIL_MAX], email[VALID_EMAIL_MAX + 1];
	char token[MAIL_TOKEN_LEN + 1], hash[MAIL_HASH_HEX];
	char ipkey[APP_CLIENT_KEY_MAX], msg[MAIL_MESSAGE_MAX];
	const char *ip = app_client_key(req, ipkey, sizeof(ipkey));
	const char *raw = NULL, *why = NULL, *out;
	int64_t now = (int64_t)time(NULL);
	size_t len = 0;
	int queued = 0;
	enum auth_err rc;

	if (body == NULL)
		return;
	if (json_get_string(body, "email", 3, VALID_EMAIL_MAX, &raw, &len,
	    detail, sizeof(detail)) != AUTH_OK) {
		http_reply_error(req, AUTH_EINVAL, detail);
		goto out;
	}
	if (valid_email(raw, len, email, &why) != 0) {
		snprintf(detail, sizeof(detail), "email: %s", why);
		http_reply_error(req, AUTH_EINVAL, detail);
		goto out;
	}
	/* The same work for every address: token and message made always. */
	if (mail_token_new(token, hash) != 0 ||
	    app_ott_message(a, STORE_OTT_RESET, email, token, now, msg) != 0) {
		http_reply_error(req, AUTH_EINTERNAL, NULL);
		goto out;
	}
	{
		const struct store_forgot f = { email, ip, a->cfg.reset_addr_max,
		    a->cfg.reset_max, TOKEN_WINDOW, { NULL, STORE_OTT_RESET,
		    hash, now, now + a->cfg.reset_ttl, NULL, msg } };

		rc = store_forgot(a->store, &f, &req->retry_after, &queued);
	}
	if (rc != AUTH_OK) {
		if (rc == AUTH_ETHROTTLED)
			log_event(LOG_WARN, "forgot_throttled",
			    LOG_STR("client", req->remote_addr),
			    LOG_INT("retry_after", req->retry_after));
		http_reply_error(req, rc, NULL);
		goto out;
	}
	if (queued)
		log_event(LOG_INFO, "reset_queued", LOG_STR("client",
		    req->remote_addr));
	o = json_object_new_object();
	json_object_object_add(o, "detail", json_object_new_string(FORGOT_DETAIL));
	out = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
	http_reply_json(req, 202, HTTP_NO_STORE, out, len);
	json_object_put(o);
out:
	OPENSSL_cleanse(token, sizeof(token));
	OPENSSL_cleanse(msg, sizeof(msg));
	json_object_put(body);
}

/* reset and verify: the presented token used up, or the 400/429 sent. */
static void account_use(struct app *a, struct http_req *req,
    enum store_ott_kind kind)
{
	struct json_object *body = app_read_object(req);
	char detail[JSON_DETAIL_MAX], hash[MAIL_HASH_HEX];
	char pwhash[PASSWORD_HASH_MAX], user_id[VALID_UUID_SIZE];
	char ipkey[APP_CLIENT_KEY_MAX];
	const char *ip = app_client_key(req, ipkey, sizeof(ipkey));
	const char *token = NULL, *pw = NULL;
	size_t len = 0;
	enum auth_err rc;

	if (body == NULL)
		return;
	if (json_get_string(body, "token", 1, 256, &token, &len, detail,
	    sizeof(detail)) != AUTH_OK) {
		http_reply_error(req, AUTH_EINVAL, detail);
		goto out;
	}
	if (kind == STORE_OTT_RESET &&
	    account_new_password(req, body, "new_password", &pw) != 0)
		goto out;
	/* Guessing tokens is throttled per address; a good one gives it back. */
	{
		const struct store_limit lim = { "token_ip", ip,
		    a->cfg.reset_addr_max, TOKEN_WINDOW };

		rc = store_throttle_take(a->store, &lim, 1, (int64_t)time(NULL),
		    &req->retry_after);
	}
	if (rc != AUTH_OK) {
		http_reply_error(req, rc, NULL);
		goto out;
	}
	if (mail_token_hash(token, len, hash) != 0) {
		rc = AUTH_EBADTOKEN;
	} else if (kind == STORE_OTT_RESET &&
	    password_hash(a->pw, pw, pwhash) != 0) {
		rc = AUTH_EINTERNAL;
	} else {
		const struct store_ott_use u = { kind, hash, (int64_t)time(NULL),
		    kind == STORE_OTT_RESET ? pwhash : NULL, NULL, ip };

		rc = store_ott_use(a->store, &u, user_id);
		if (rc == AUTH_ETOKEN)
			rc = AUTH_EBADTOKEN;
	}
	if (rc != AUTH_OK) {
		if (rc == AUTH_EBADTOKEN)
			log_event(LOG_INFO, kind == STORE_OTT_RESET ?
			    "reset_refused" : "verify_refused",
			    LOG_STR("client", req->remote_addr));
		http_reply_error(req, rc, NULL);
		goto out;
	}
	snprintf(req->user_id, sizeof(req->user_id), "%s", user_id);
	log_event(LOG_INFO, kind == STORE_OTT_RESET ? "password_reset" :
	    "email_verified", LOG_STR("user_id", user_id));
	http_reply_empty(req, 204);
out:
	account_wipe(pw);
	json_object_put(body);
}

static void account_reset(struct app *a, struct http_req *req)
{
	account_use(a, req, STORE_OTT_RESET);
}

static void account_verify(struct app *a, struct http_req *req)
{
	account_use(a, req, STORE_OTT_VERIFY);
}

static void account_resend(struct app *a, struct http_req *req)
{
	static const char done[] =
	    "{\"detail\":\"a verification message is on its way\"}";
	struct jwt_claims claims;
	struct store_account acc;
	enum auth_err rc;

	if (app_authenticate(a, req, &claims, NULL) != 0)
		return;
	rc = store_account(a->store, claims.sub, &acc);
	if (rc == AUTH_ENOTFOUND)
		rc = AUTH_ETOKEN;
	if (rc == AUTH_OK && acc.email_verified) {
		http_reply_error(req, AUTH_ECONFLICT, "email already verified");
		return;
	}
	if (rc == AUTH_OK)
		rc = app_queue_verify(a, claims.sub, acc.email);
	if (rc != AUTH_OK) {
		http_reply_error(req, rc, NULL);
		return;
	}
	http_reply_json(req, 202, HTTP_NO_STORE, done, sizeof(done) - 1);
}

static const struct app_route account_routes[] = {
	{ "/auth/password", 1, 1, account_password },
	{ "/auth/password/forgot", 1, 0, account_forgot },
	{ "/auth/password/reset", 1, 0, account_reset },
	{ "/auth/email/verify", 1, 0, account_verify },
	{ "/auth/email/resend", 0, 1, account_resend },
};

static void account(struct app *a, struct http_req *req)
{
	app_route(a, req, account_routes,
	    sizeof(account_routes) / sizeof(account_routes[0]));
}

int main(int argc, char **argv)
{
	static const struct app_endpoint ep = {
		.name = "account",
		.path = "/auth/password",
		.methods = HTTP_POST,
		.needs = APP_VERIFY | APP_DB | APP_PASSWORD | APP_BODY |
		    APP_BODY_OPTIONAL,
		.bearer = 1,
		.handle = account,
	};

	return app_main(argc, argv, &ep);
}
