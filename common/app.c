/*
 * app: builds the per-process context (config, keys, database, hashing)
 * once at start, hands it to the endpoint's handler for every request,
 * and holds the small pieces that several endpoints share.
 */
#include "app.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdint.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "mail.h"
#include "log.h"
#include "netaddr.h"
#include "prefork.h"

struct app_run {
	struct app *app;
	const struct app_endpoint *ep;
};

static void app_dispatch(void *ctx, struct http_req *req)
{
	struct app_run *run = ctx;

	run->ep->handle(run->app, req);
}

/* What every process of the endpoint shares: loaded before any fork. */
static int app_load(struct app *a, const struct app_endpoint *ep, char *err,
    size_t errlen)
{
	if (config_load(&a->cfg, err, errlen) != 0)
		return -1;
	if ((ep->needs & (APP_VERIFY | APP_SIGN)) &&
	    jwt_keys_load(&a->keys, (ep->needs & APP_SIGN) ?
	    a->cfg.private_key_path : NULL, a->cfg.public_key_path,
	    a->cfg.extra_public_keys, err, errlen) != 0)
		return -1;
	/* Required only where it signs: in rs256 mode it merely keeps the
	 * HS256 tokens of an earlier hs256 setting verifying, if it exists. */
	if ((ep->needs & APP_REFRESH_KEYS) && a->keys != NULL &&
	    jwt_keys_load_hmac(a->keys, a->cfg.refresh_key_path,
	    a->cfg.refresh_signing != CONFIG_REFRESH_HS256,
	    a->cfg.refresh_extra_keys, err, errlen) != 0)
		return -1;
	if ((ep->needs & APP_MFA_KEY) && seal_key_load(&a->mfa_key,
	    a->cfg.mfa_key_path, "MFA_KEY_PATH", err, errlen) != 0)
		return -1;
	if ((ep->needs & APP_PASSWORD) && password_init(&a->pw,
	    a->cfg.hash_method, a->cfg.bcrypt_cost, 1, err, errlen) != 0)
		return -1;
	a->tokens.keys = a->keys;
	a->tokens.refresh_alg = a->cfg.refresh_signing == CONFIG_REFRESH_HS256 ?
	    JWT_ALG_HS256 : JWT_ALG_RS256;
	a->tokens.refresh_algs = a->keys != NULL ?
	    tokens_refresh_algs(a->keys) : 0;
	a->tokens.pol.iss = a->cfg.iss;
	a->tokens.pol.aud = a->cfg.aud;
	a->tokens.pol.skew = a->cfg.clock_skew;
	a->tokens.access_ttl = a->cfg.access_ttl;
	a->tokens.refresh_ttl = a->cfg.refresh_ttl;
	a->tokens.reuse_interval = a->cfg.refresh_reuse_interval;
	return 0;
}

/* What each serving process owns alone: its database connection. */
static int app_load_worker(struct app *a, const struct app_endpoint *ep,
    char *err, size_t errlen)
{
	if ((ep->needs & APP_DB) && store_open(&a->store, a->cfg.db_engine,
	    a->cfg.db_path, a->cfg.db_busy_timeout_ms, err, errlen) != 0)
		return -1;
	a->tokens.store = a->store;
	return 0;
}

static void app_unload(struct app *a)
{
	metrics_close(a->metrics);
	password_free(a->pw);
	store_close(a->store);
	jwt_keys_free(a->keys);
	seal_key_wipe(&a->mfa_key);
}

int app_main(int argc, char **argv, const struct app_endpoint *ep)
{
	struct app a;
	struct app_run run = { &a, ep };
	struct http_route route;
	char err[512];
	int rc = 2, check = argc > 1 && strcmp(argv[1], "--check-config") == 0;

	memset(&a, 0, sizeof(a));
	log_set_endpoint(ep->name);
	if (app_load(&a, ep, err, sizeof(err)) != 0)
		goto fail;
	if (check) {
		/* Prove the database opens too, then stop. */
		rc = app_load_worker(&a, ep, err, sizeof(err)) == 0 ? 0 : 2;
		if (rc != 0)
			goto fail;
		goto out;
	}
	/* Mapped before the fork so that every worker shares one mapping. */
	a.metrics = metrics_open(a.cfg.run_dir, ep->path);
	if (!http_is_cgi()) {
		struct batch_master bm = { a.cfg.db_path,
		    a.cfg.db_busy_timeout_ms, NULL };
		struct prefork_duty duty = batch_duty(&bm);
		/*
		 * Group commit answers SQLite's single writer; PostgreSQL
		 * takes concurrent rotations, one per worker connection.
		 */
		int batch = (ep->needs & APP_BATCH) &&
		    a.cfg.db_engine == DB_SQLITE;
		int channel, who = prefork_run((int)a.cfg.fcgi_children,
		    batch ? &duty : NULL, &channel);

		if (who == 2) {
			/* Reload: the same program, fd 0 still listening. */
			app_unload(&a);
			execv("/proc/self/exe", argv);
			log_event(LOG_ERROR, "reload_failed", LOG_STR("path", argv[0]));
			return 1;
		}
		if (who != 0) {
			rc = who == 1 ? 0 : 1;
			goto out;
		}
		/* The master may wait out a busy database before answering. */
		if (channel >= 0) {
			if (batch_client_init(&a.batch, channel,
			    2 * a.cfg.db_busy_timeout_ms + 1000) != 0) {
				snprintf(err, sizeof(err), "batch channel: %s",
				    strerror(errno));
				goto fail;
			}
			a.tokens.batch = &a.batch;
		}
	}
	if (app_load_worker(&a, ep, err, sizeof(err)) != 0)
		goto fail;
	memset(&route, 0, sizeof(route));
	route.name = ep->name;
	route.metrics = a.metrics;
	route.methods = ep->methods;
	route.bearer = ep->bearer;
	route.body = (ep->needs & APP_BODY) != 0 && !(ep->needs & APP_ANY);
	route.any = (ep->needs & APP_ANY) != 0;
	route.body_optional = (ep->needs & APP_BODY_OPTIONAL) != 0;
	route.max_body = (size_t)a.cfg.max_body_bytes;
	route.read_timeout = a.cfg.read_timeout;
	route.log_requests = a.cfg.log_requests;
	route.handle = app_dispatch;
	route.ctx = &run;
	rc = http_serve(&route);
	goto out;
fail:
	fprintf(stderr, "auth-svc %s: %s\n", ep->name, err);
	rc = 2;
out:
	app_unload(&a);
	return rc;
}

int app_read_json(struct http_req *req, struct json_object **out)
{
	*out = NULL;
	if (req->body == NULL ||
	    json_parse(req->body, req->body_len, out) != AUTH_OK) {
		http_reply_error(req, AUTH_EINVAL, "body: invalid JSON");
		return -1;
	}
	return 0;
}

int app_read_credentials(struct http_req *req, struct app_credentials *cr)
{
	char detail[JSON_DETAIL_MAX];
	const char *email, *why = NULL;
	size_t elen = 0;

	memset(cr, 0, sizeof(*cr));
	if (app_read_json(req, &cr->body) != 0)
		return -1;
	if (!json_object_is_type(cr->body, json_type_object)) {
		http_reply_error(req, AUTH_EINVAL, "body: must be a JSON object");
		return -1;
	}
	if (json_get_string(cr->body, "email", 3, VALID_EMAIL_MAX, &email,
	    &elen, detail, sizeof(detail)) != AUTH_OK ||
	    json_get_string(cr->body, "password", PASSWORD_MIN, PASSWORD_MAX,
	    &cr->password, &cr->password_len, detail, sizeof(detail)) != AUTH_OK) {
		http_reply_error(req, AUTH_EINVAL, detail);
		return -1;
	}
	if (valid_email(email, elen, cr->email, &why) != 0) {
		snprintf(detail, sizeof(detail), "email: %s", why);
		http_reply_error(req, AUTH_EINVAL, detail);
		return -1;
	}
	if (password_policy(cr->password, cr->password_len, detail,
	    sizeof(detail)) != AUTH_OK) {
		http_reply_error(req, AUTH_EINVAL, detail);
		return -1;
	}
	return 0;
}

int app_read_refresh_token(struct http_req *req, struct json_object **body,
    const char **token, size_t *len)
{
	struct json_object *field = NULL;

	if (app_read_json(req, body) != 0)
		return -1;
	if (json_object_is_type(*body, json_type_object))
		json_object_object_get_ex(*body, "refresh_token", &field);
	else if (json_object_is_type(*body, json_type_string))
		field = *body;
	if (field == NULL || !json_object_is_type(field, json_type_string)) {
		http_reply_error(req, AUTH_EINVAL, field == NULL &&
		    json_object_is_type(*body, json_type_object) ?
		    "refresh_token: field required" :
		    "refresh_token: must be a string");
		json_object_put(*body);
		*body = NULL;
		return -1;
	}
	*token = json_object_get_string(field);
	*len = (size_t)json_object_get_string_len(field);
	return 0;
}

void app_credentials_free(struct app_credentials *cr)
{
	if (cr->password != NULL)
		OPENSSL_cleanse((void *)(uintptr_t)cr->password, cr->password_len);
	json_object_put(cr->body);
	memset(cr, 0, sizeof(*cr));
}

void app_reply_pair(struct http_req *req, int status,
    const struct tokens_pair *pair)
{
	char buf[2 * JWT_MAX_LEN + 128];
	long n = tokens_pair_json(pair, buf, sizeof(buf));

	if (n < 0) {
		http_reply_error(req, AUTH_EINTERNAL, NULL);
		return;
	}
	snprintf(req->user_id, sizeof(req->user_id), "%s", pair->user_id);
	http_reply_json(req, status, HTTP_NO_STORE, buf, (size_t)n);
}

int app_authenticate(struct app *a, struct http_req *req,
    struct jwt_claims *claims, char *email)
{
	const char *token = NULL;
	size_t len = 0;
	enum auth_err rc;

	rc = http_bearer(req, &token, &len);
	if (rc == AUTH_OK) {
		char scratch[VALID_EMAIL_MAX + 1];

		rc = tokens_check_access(&a->tokens, token, len,
		    (long long)time(NULL), claims,
		    email != NULL ? email : scratch);
	}
	if (rc != AUTH_OK) {
		http_reply_error(req, rc, NULL);
		return -1;
	}
	snprintf(req->user_id, sizeof(req->user_id), "%s", claims->sub);
	return 0;
}

struct json_object *app_read_object(struct http_req *req)
{
	struct json_object *body = NULL;

	if (app_read_json(req, &body) != 0)
		return NULL;
	if (!json_object_is_type(body, json_type_object)) {
		http_reply_error(req, AUTH_EINVAL, "body: must be a JSON object");
		json_object_put(body);
		return NULL;
	}
	return body;
}

void app_route(struct app *a, struct http_req *req,
    const struct app_route *routes, size_t n)
{
	const char *path = http_path(req);
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(path, routes[i].path) == 0)
			break;
	if (i == n) {
		metrics_set_handler(a->metrics, NULL);
		http_reply_error(req, AUTH_ENOTFOUND, NULL);
		return;
	}
	metrics_set_handler(a->metrics, routes[i].path);
	req->no_challenge = !routes[i].bearer;
	if (routes[i].body && req->body == NULL) {
		http_reply_error(req, AUTH_ELENGTH, NULL);
		return;
	}
	routes[i].handle(a, req);
}

struct tokens_client app_client(const struct http_req *req)
{
	struct tokens_client cl = {
		.user_agent = req->user_agent[0] ? req->user_agent : NULL,
		.ip = req->remote_addr[0] ? req->remote_addr : NULL,
		.email = NULL,
		.refund_ip = NULL,
	};

	return cl;
}

const char *app_client_key(const struct http_req *req, char *buf, size_t cap)
{
	if (req->remote_addr[0] == '\0' ||
	    netaddr_throttle_key(req->remote_addr, buf, cap) != 0)
		return NULL;
	return buf;
}

static const char account_reset_text[] =
    "Someone asked to reset the password of this account.\n"
    "To choose a new password, open this link (it works once, for %ld "
    "minutes):\n\n%s\n\n"
    "If it was not you, ignore this message: nothing has changed.\n";
static const char account_verify_text[] =
    "Please confirm that this address is yours by opening this link (it "
    "works once, for %ld hours):\n\n%s\n\n"
    "If you did not sign up, ignore this message.\n";

int app_ott_message(const struct app *a, enum store_ott_kind kind,
    const char *email, const char *token, int64_t now, char *msg)
{
	char link[MAIL_LINK_MAX], text[MAIL_LINK_MAX + 512];
	int rc = -1, n;

	if (kind == STORE_OTT_RESET)
		n = mail_link(link, sizeof(link), a->cfg.reset_url, token) != 0 ? -1 :
		    snprintf(text, sizeof(text), account_reset_text,
		    a->cfg.reset_ttl / 60, link);
	else
		n = mail_link(link, sizeof(link), a->cfg.verify_url, token) != 0 ? -1 :
		    snprintf(text, sizeof(text), account_verify_text,
		    a->cfg.verify_ttl / 3600, link);
	if (n > 0 && (size_t)n < sizeof(text) &&
	    mail_compose(msg, MAIL_MESSAGE_MAX, a->cfg.mail_from, email,
	    kind == STORE_OTT_RESET ? "Reset your password" :
	    "Confirm your email address", text, now) > 0)
		rc = 0;
	OPENSSL_cleanse(link, sizeof(link));
	OPENSSL_cleanse(text, sizeof(text));
	return rc;
}

enum auth_err app_queue_verify(struct app *a, const char *user_id,
    const char *email)
{
	char token[MAIL_TOKEN_LEN + 1], hash[MAIL_HASH_HEX];
	char msg[MAIL_MESSAGE_MAX];
	int64_t now = (int64_t)time(NULL);
	enum auth_err rc = AUTH_EINTERNAL;

	if (mail_token_new(token, hash) == 0 &&
	    app_ott_message(a, STORE_OTT_VERIFY, email, token, now, msg) == 0) {
		const struct store_ott t = { user_id, STORE_OTT_VERIFY, hash,
		    now, now + a->cfg.verify_ttl, email, msg };

		rc = store_ott_issue(a->store, &t);
	}
	OPENSSL_cleanse(token, sizeof(token));
	OPENSSL_cleanse(msg, sizeof(msg));
	if (rc == AUTH_OK)
		log_event(LOG_INFO, "verify_queued", LOG_STR("user_id", user_id));
	return rc;
}
