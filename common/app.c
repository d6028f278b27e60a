/*
 * app: builds the per-process context (config, keys, database, hashing)
 * once at start, hands it to the endpoint's handler for every request,
 * and holds the small pieces that several endpoints share.
 */
#include "app.h"

#include <openssl/crypto.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "log.h"

struct app_run {
	struct app *app;
	const struct app_endpoint *ep;
};

static void app_dispatch(void *ctx, struct http_req *req)
{
	struct app_run *run = ctx;

	run->ep->handle(run->app, req);
}

static int app_load(struct app *a, unsigned needs, char *err, size_t errlen)
{
	if (config_load(&a->cfg, err, errlen) != 0)
		return -1;
	if ((needs & (APP_VERIFY | APP_SIGN)) &&
	    jwt_keys_load(&a->keys, (needs & APP_SIGN) ?
	    a->cfg.private_key_path : NULL, a->cfg.public_key_path,
	    a->cfg.extra_public_keys, err, errlen) != 0)
		return -1;
	if ((needs & APP_DB) && store_open(&a->store, a->cfg.db_path,
	    a->cfg.db_busy_timeout_ms, err, errlen) != 0)
		return -1;
	if ((needs & APP_PASSWORD) && password_init(&a->pw, a->cfg.hash_method,
	    a->cfg.bcrypt_cost, 1, err, errlen) != 0)
		return -1;
	a->tokens.keys = a->keys;
	a->tokens.store = a->store;
	a->tokens.pol.iss = a->cfg.iss;
	a->tokens.pol.aud = a->cfg.aud;
	a->tokens.pol.skew = a->cfg.clock_skew;
	a->tokens.access_ttl = a->cfg.access_ttl;
	a->tokens.refresh_ttl = a->cfg.refresh_ttl;
	a->tokens.reuse_interval = a->cfg.refresh_reuse_interval;
	return 0;
}

static void app_unload(struct app *a)
{
	password_free(a->pw);
	store_close(a->store);
	jwt_keys_free(a->keys);
}

int app_main(int argc, char **argv, const struct app_endpoint *ep)
{
	struct app a;
	struct app_run run = { &a, ep };
	struct http_route route;
	char err[512];
	int rc;

	memset(&a, 0, sizeof(a));
	log_set_endpoint(ep->name);
	if (app_load(&a, ep->needs, err, sizeof(err)) != 0) {
		fprintf(stderr, "auth-svc %s: %s\n", ep->name, err);
		app_unload(&a);
		return 2;
	}
	if (argc > 1 && strcmp(argv[1], "--check-config") == 0) {
		app_unload(&a);
		return 0;
	}
	memset(&route, 0, sizeof(route));
	route.name = ep->name;
	route.methods = ep->methods;
	route.bearer = ep->bearer;
	route.max_body = (size_t)a.cfg.max_body_bytes;
	route.handle = app_dispatch;
	route.ctx = &run;
	rc = http_serve(&route);
	app_unload(&a);
	return rc;
}

struct json_object *app_read_json(struct http_req *req)
{
	struct json_object *obj = NULL;

	if (req->body == NULL ||
	    json_parse(req->body, req->body_len, &obj) != AUTH_OK) {
		http_reply_error(req, AUTH_EINVAL, "body: invalid JSON");
		return NULL;
	}
	return obj;
}

int app_read_credentials(struct http_req *req, struct app_credentials *cr)
{
	char detail[JSON_DETAIL_MAX];
	const char *email, *why = NULL;
	size_t elen = 0;

	memset(cr, 0, sizeof(*cr));
	cr->body = app_read_json(req);
	if (cr->body == NULL)
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

struct tokens_client app_client(const struct http_req *req)
{
	struct tokens_client cl = {
		req->user_agent[0] ? req->user_agent : NULL,
		req->remote_addr[0] ? req->remote_addr : NULL,
	};

	return cl;
}
