/*
 * The second factor (API.md Part 2, "Second factor: TOTP"), one program:
 * POST /auth/mfa/totp/enroll   Authorization: Bearer (no body)
 *   200 {"secret","otpauth_uri"}: a new 160-bit secret, pending until
 *       confirmed (enrolling again replaces a pending one)
 *   409 mfa already enabled
 * POST /auth/mfa/totp/confirm  Bearer + {"code"}
 *   200 {"recovery_codes":[10]}: TOTP on; the codes shown this once
 *   400 invalid code; 409 nothing pending
 * POST /auth/mfa/totp/disable  Bearer + {"code"} (TOTP or recovery code)
 *   204 TOTP off; 400 invalid code; 409 mfa not enabled; 429 as login
 * POST /auth/mfa/verify        {"mfa_token","code"}
 *   200 token pair, amr ["pwd","otp"]: the session starts here, the
 *       mfa_token and the code used up with it
 *   401 invalid mfa token / invalid code; 403 account disabled
 *   429 once the account's email (or the address) is past the login
 *       throttle: every code tried counts as a login attempt, and only a
 *       pair issued resets the email's count
 * A code is the TOTP of the current step or one either side, never a
 * step at or before the last one accepted, or an unused recovery code.
 * Secrets live sealed under MFA_KEY_PATH: a secret that does not open is
 * a 500 and an mfa_decrypt_failed line, never a factor taken as absent.
 * Codes, secrets and tokens never reach a log line.
 */
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "json.h"
#include "log.h"
#include "totp.h"

#define MFA_RECOVERY_CODES 10
#define MFA_CODE_MAX 64              /* longest code text looked at */

/* A factor checked: what the login or the disable then uses up. */
struct mfa_check {
	struct store_mfa_proof proof;
	char recovery[SEAL_MAC_HEX];
};

/* Open m's sealed secret for user_id; logs and answers 500 on failure. */
static int mfa_open(struct app *a, struct http_req *req, const char *user_id,
    const struct store_mfa *m, unsigned char *secret)
{
	size_t len = 0;

	if (seal_open(&a->mfa_key, user_id, m->secret, strlen(m->secret),
	    secret, TOTP_SECRET_LEN, &len) != 0 || len != TOTP_SECRET_LEN) {
		log_event(LOG_ERROR, "mfa_decrypt_failed",
		    LOG_STR("user_id", user_id));
		http_reply_error(req, AUTH_EINTERNAL, NULL);
		return -1;
	}
	return 0;
}

/*
 * Check code against user_id's factor m: a TOTP code (steps after
 * m->last_step) or a recovery code (its HMAC, looked up when used).
 * 0 with c filled; 1 when it is no valid code; -1 with the 500 sent.
 */
static int mfa_check_code(struct app *a, struct http_req *req,
    const char *user_id, const struct store_mfa *m, const char *code,
    size_t len, struct mfa_check *c)
{
	unsigned char secret[TOTP_SECRET_LEN];
	char norm[TOTP_RECOVERY_LEN + 1];
	int rc = 1;

	memset(c, 0, sizeof(*c));
	if (len == TOTP_DIGITS) {
		if (mfa_open(a, req, user_id, m, secret) != 0) {
			rc = -1;
			goto out;
		}
		if (totp_check(secret, sizeof(secret), code, len,
		    (int64_t)time(NULL), m->last_step, &c->proof.step) == 0)
			rc = 0;
	} else if (totp_recovery_normalize(code, len, norm) == 0) {
		if (seal_mac(&a->mfa_key, norm, TOTP_RECOVERY_LEN,
		    c->recovery) != 0) {
			http_reply_error(req, AUTH_EINTERNAL, NULL);
			rc = -1;
			goto out;
		}
		c->proof.recovery = c->recovery;
		rc = 0;
	}
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	OPENSSL_cleanse(norm, sizeof(norm));
	return rc;
}

/* body's "code" (any string up to MFA_CODE_MAX), or the 422 sent. */
static int mfa_code_field(struct http_req *req, struct json_object *body,
    const char **code, size_t *len)
{
	char detail[JSON_DETAIL_MAX];

	if (json_get_string(body, "code", 1, MFA_CODE_MAX, code, len, detail,
	    sizeof(detail)) != AUTH_OK) {
		http_reply_error(req, AUTH_EINVAL, detail);
		return -1;
	}
	return 0;
}

/* Count one attempt of the account's email and the client's address. */
static enum auth_err mfa_throttle(struct app *a, struct http_req *req,
    const char *email, const char *ip)
{
	const struct store_limit lims[2] = {
		{ "email", email, a->cfg.login_max_failures, a->cfg.login_window },
		{ "ip", ip, a->cfg.login_addr_max_failures, a->cfg.login_window },
	};

	return store_throttle_take(a->store, lims, 2, (int64_t)time(NULL),
	    &req->retry_after);
}

static void mfa_enroll(struct app *a, struct http_req *req)
{
	unsigned char secret[TOTP_SECRET_LEN];
	char email[VALID_EMAIL_MAX + 1], b32[TOTP_B32_SIZE];
	char sealed[SEAL_TEXT_SIZE(TOTP_SECRET_LEN)], uri[TOTP_URI_MAX];
	struct jwt_claims claims;
	struct store_mfa m;
	struct json_object *o = NULL;
	const char *out;
	size_t len = 0;
	enum auth_err rc;

	if (app_authenticate(a, req, &claims, email) != 0)
		return;
	rc = store_mfa_get(a->store, claims.sub, &m);
	if (rc == AUTH_OK && m.state == STORE_MFA_ENABLED)
		rc = AUTH_ECONFLICT;
	if (rc == AUTH_OK && (RAND_bytes(secret, sizeof(secret)) != 1 ||
	    totp_base32(secret, sizeof(secret), b32, sizeof(b32)) < 0 ||
	    totp_uri(a->cfg.mfa_issuer, email, b32, uri, sizeof(uri)) != 0 ||
	    seal_close(&a->mfa_key, claims.sub, secret, sizeof(secret),
	    sealed, sizeof(sealed)) != 0))
		rc = AUTH_EINTERNAL;
	if (rc == AUTH_OK)
		rc = store_mfa_enroll(a->store, claims.sub, sealed,
		    (int64_t)time(NULL));
	if (rc != AUTH_OK) {
		http_reply_error(req, rc, rc == AUTH_ECONFLICT ?
		    "mfa already enabled" : NULL);
		goto out;
	}
	log_event(LOG_INFO, "mfa_enroll", LOG_STR("user_id", claims.sub));
	o = json_object_new_object();
	json_object_object_add(o, "secret", json_object_new_string(b32));
	json_object_object_add(o, "otpauth_uri", json_object_new_string(uri));
	out = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	http_reply_json(req, 200, HTTP_NO_STORE, out, len);
out:
	json_object_put(o);
	OPENSSL_cleanse(secret, sizeof(secret));
	OPENSSL_cleanse(b32, sizeof(b32));
	OPENSSL_cleanse(uri, sizeof(uri));
}

/* What confirm and disable share: the caller, its code, its factor. */
struct mfa_req {
	struct jwt_claims claims;
	char email[VALID_EMAIL_MAX + 1];
	struct json_object *body;    /* owns code */
	const char *code;
	size_t len;
	struct store_mfa m;
};

/*
 * Authenticate, read {"code"} and the caller's factor, which must be in
 * state want (else 409 conflict). 0, or -1 with the answer sent; either
 * way r->body is the caller's to put.
 */
static int mfa_begin(struct app *a, struct http_req *req,
    enum store_mfa_state want, const char *conflict, struct mfa_req *r)
{
	enum auth_err rc;

	memset(r, 0, sizeof(*r));
	if (app_authenticate(a, req, &r->claims, r->email) != 0 ||
	    (r->body = app_read_object(req)) == NULL ||
	    mfa_code_field(req, r->body, &r->code, &r->len) != 0)
		return -1;
	rc = store_mfa_get(a->store, r->claims.sub, &r->m);
	if (rc == AUTH_OK && r->m.state != want)
		rc = AUTH_ECONFLICT;
	if (rc != AUTH_OK) {
		http_reply_error(req, rc, rc == AUTH_ECONFLICT ? conflict : NULL);
		return -1;
	}
	return 0;
}

/* The 400 of a code that is no good for confirm or disable. */
static void mfa_bad_code(struct http_req *req, const char *user_id,
    const char *route)
{
	log_event(LOG_INFO, "mfa_failure", LOG_STR("user_id", user_id),
	    LOG_STR("route", route));
	http_reply_error(req, AUTH_EBADTOKEN, "invalid code");
}

static void mfa_confirm(struct app *a, struct http_req *req)
{
	char codes[MFA_RECOVERY_CODES][TOTP_RECOVERY_SIZE];
	char hashes[MFA_RECOVERY_CODES][SEAL_MAC_HEX];
	const char *hp[MFA_RECOVERY_CODES];
	struct json_object *o = NULL, *arr;
	struct mfa_req r;
	struct mfa_check c;
	const char *out;
	size_t len = 0, i;
	enum auth_err rc;
	int ok;

	memset(codes, 0, sizeof(codes));
	if (mfa_begin(a, req, STORE_MFA_PENDING, "nothing pending", &r) != 0)
		goto out;
	/* Only a TOTP code proves the app holds the secret. */
	ok = r.len == TOTP_DIGITS ?
	    mfa_check_code(a, req, r.claims.sub, &r.m, r.code, r.len, &c) : 1;
	if (ok < 0)
		goto out;
	if (ok != 0) {
		mfa_bad_code(req, r.claims.sub, "confirm");
		goto out;
	}
	for (i = 0; i < MFA_RECOVERY_CODES; i++) {
		char norm[TOTP_RECOVERY_LEN + 1];

		if (totp_recovery_new(codes[i]) != 0 ||
		    totp_recovery_normalize(codes[i], strlen(codes[i]),
		    norm) != 0 ||
		    seal_mac(&a->mfa_key, norm, TOTP_RECOVERY_LEN,
		    hashes[i]) != 0) {
			http_reply_error(req, AUTH_EINTERNAL, NULL);
			goto out;
		}
		hp[i] = hashes[i];
	}
	rc = store_mfa_confirm(a->store, r.claims.sub, r.m.secret, c.proof.step,
	    hp, MFA_RECOVERY_CODES);
	if (rc != AUTH_OK) {
		http_reply_error(req, rc, rc == AUTH_ECONFLICT ?
		    "nothing pending" : NULL);
		goto out;
	}
	log_event(LOG_INFO, "mfa_enabled", LOG_STR("user_id", r.claims.sub));
	o = json_object_new_object();
	arr = json_object_new_array();
	for (i = 0; i < MFA_RECOVERY_CODES; i++)
		json_object_array_add(arr, json_object_new_string(codes[i]));
	json_object_object_add(o, "recovery_codes", arr);
	out = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
	http_reply_json(req, 200, HTTP_NO_STORE, out, len);
out:
	OPENSSL_cleanse(codes, sizeof(codes));
	json_object_put(o);
	json_object_put(r.body);
}

static void mfa_disable(struct app *a, struct http_req *req)
{
	struct mfa_req r;
	struct mfa_check c;
	char ipkey[APP_CLIENT_KEY_MAX];
	const char *ip = app_client_key(req, ipkey, sizeof(ipkey));
	enum auth_err rc;
	int ok;

	if (mfa_begin(a, req, STORE_MFA_ENABLED, "mfa not enabled", &r) != 0)
		goto out;
	/* A stolen access token must not buy unlimited guesses. */
	rc = mfa_throttle(a, req, r.email, ip);
	if (rc != AUTH_OK) {
		http_reply_error(req, rc, NULL);
		goto out;
	}
	ok = mfa_check_code(a, req, r.claims.sub, &r.m, r.code, r.len, &c);
	if (ok < 0)
		goto out;
	rc = ok == 0 ? store_mfa_disable(a->store, r.claims.sub, &c.proof) :
	    AUTH_ECREDS;
	if (rc == AUTH_ECREDS) {
		mfa_bad_code(req, r.claims.sub, "disable");
		goto out;
	}
	if (rc != AUTH_OK) {
		http_reply_error(req, rc, rc == AUTH_ECONFLICT ?
		    "mfa not enabled" : NULL);
		goto out;
	}
	log_event(LOG_INFO, "mfa_disabled", LOG_STR("user_id", r.claims.sub),
	    LOG_STR("with", c.proof.step > 0 ? "totp" : "recovery"));
	http_reply_empty(req, 204);
out:
	json_object_put(r.body);
}

/* The 401 of verify, logged when a code was wrong. */
static void mfa_refuse(struct http_req *req, enum auth_err rc,
    const char *user_id)
{
	if (rc == AUTH_ECREDS) {
		log_event(LOG_INFO, "mfa_failure", LOG_STR("user_id", user_id),
		    LOG_STR("client", req->remote_addr));
		http_reply_error(req, rc, "invalid code");
	} else if (rc == AUTH_ETOKEN || rc == AUTH_ENOTFOUND) {
		http_reply_error(req, AUTH_ETOKEN, "invalid mfa token");
	} else if (rc == AUTH_EFORBIDDEN) {
		http_reply_error(req, rc, "account disabled");
	} else {
		http_reply_error(req, rc, NULL);
	}
}

static void mfa_verify(struct app *a, struct http_req *req)
{
	struct json_object *body = NULL;
	struct jwt_claims claims;
	struct store_account acc;
	struct store_mfa m;
	struct mfa_check c;
	struct tokens_client cl = app_client(req);
	struct tokens_pair pair;
	char detail[JSON_DETAIL_MAX], ipkey[APP_CLIENT_KEY_MAX];
	const char *ip = app_client_key(req, ipkey, sizeof(ipkey));
	const char *token = NULL, *code = NULL;
	size_t tlen = 0, len = 0;
	enum auth_err rc;
	int ok;

	if ((body = app_read_object(req)) == NULL)
		return;
	if (json_get_string(body, "mfa_token", 1, JWT_MAX_LEN, &token, &tlen,
	    detail, sizeof(detail)) != AUTH_OK) {
		http_reply_error(req, AUTH_EINVAL, detail);
		goto out;
	}
	if (mfa_code_field(req, body, &code, &len) != 0)
		goto out;
	rc = tokens_mfa_check(&a->tokens, token, tlen, &claims);
	if (rc == AUTH_OK)
		rc = store_account(a->store, claims.sub, &acc);
	if (rc == AUTH_OK)
		rc = mfa_throttle(a, req, acc.email, ip);
	if (rc == AUTH_ETHROTTLED) {
		metrics_count(a->metrics, METRICS_LOGIN_THROTTLED);
		log_event(LOG_WARN, "login_throttled", LOG_STR("client", cl.ip),
		    LOG_INT("retry_after", req->retry_after));
	}
	if (rc == AUTH_OK)
		rc = store_mfa_get(a->store, claims.sub, &m);
	/* Reset by an operator since: the token leads nowhere now. */
	if (rc == AUTH_OK && m.state != STORE_MFA_ENABLED)
		rc = AUTH_ETOKEN;
	if (rc != AUTH_OK) {
		mfa_refuse(req, rc, claims.sub);
		goto out;
	}
	snprintf(req->user_id, sizeof(req->user_id), "%s", claims.sub);
	ok = mfa_check_code(a, req, claims.sub, &m, code, len, &c);
	if (ok < 0)
		goto out;
	if (ok != 0) {
		metrics_count(a->metrics, METRICS_LOGIN_FAILURE);
		mfa_refuse(req, AUTH_ECREDS, claims.sub);
		goto out;
	}
	c.proof.jti = claims.jti;
	cl.email = acc.email;
	cl.refund_ip = ip;
	cl.amr = JWT_AMR_PWD | JWT_AMR_OTP;
	cl.mfa = &c.proof;
	rc = tokens_login(&a->tokens, claims.sub, &cl, &pair);
	if (rc != AUTH_OK) {
		mfa_refuse(req, rc, claims.sub);
		goto out;
	}
	metrics_count(a->metrics, METRICS_LOGIN_SUCCESS);
	if (c.proof.recovery != NULL)
		log_event(LOG_WARN, "mfa_recovery_used",
		    LOG_STR("user_id", claims.sub));
	log_event(LOG_INFO, "mfa_success", LOG_STR("user_id", claims.sub),
	    LOG_STR("session_id", pair.session_id), LOG_STR("client", cl.ip));
	app_reply_pair(req, 200, &pair);
out:
	json_object_put(body);
}

static const struct app_route mfa_routes[] = {
	{ "/auth/mfa/totp/enroll", 0, 1, mfa_enroll },
	{ "/auth/mfa/totp/confirm", 1, 1, mfa_confirm },
	{ "/auth/mfa/totp/disable", 1, 1, mfa_disable },
	{ "/auth/mfa/verify", 1, 0, mfa_verify },
};

static void mfa(struct app *a, struct http_req *req)
{
	app_route(a, req, mfa_routes, sizeof(mfa_routes) / sizeof(mfa_routes[0]));
}

int main(int argc, char **argv)
{
	static const struct app_endpoint ep = {
		.name = "mfa",
		.path = "/auth/mfa/verify",
		.methods = HTTP_POST,
		.needs = APP_SIGN | APP_REFRESH_KEYS | APP_DB | APP_BODY |
		    APP_BODY_OPTIONAL | APP_MFA_KEY,
		.bearer = 1,
		.handle = mfa,
	};

	return app_main(argc, argv, &ep);
}
