/*
 * test_app: the endpoint process life (configuration, --check-config,
 * serving) and the pieces endpoints share, through app_main run as a
 * one-shot CGI in a forked child.
 */
#include "unit.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "fixture.h"

enum amode {
	A_CREDS,         /* app_read_credentials, 200 with what it read */
	A_PAIR,          /* app_reply_pair(201) */
	A_CONFIG,        /* 200 with what app_main loaded */
	A_JSON           /* app_read_json, 200 with the value's type */
};

/* The child inherits these from the parent at fork. */
static enum amode a_mode;
static char a_marker[FX_PATH_MAX];

static void reply_obj(struct http_req *req, struct json_object *o)
{
	size_t len = 0;
	const char *s = json_object_to_json_string_length(o,
	    JSON_C_TO_STRING_PLAIN, &len);

	http_reply_json(req, 200, 0, s, len);
	json_object_put(o);
}

static void handle(struct app *a, struct http_req *req)
{
	struct app_credentials cr;
	struct tokens_pair pair;
	struct tokens_client cl;
	struct json_object *o, *v;

	(void)fx_write_file(a_marker, "called", 6);
	switch (a_mode) {
	case A_CREDS:
		if (app_read_credentials(req, &cr) != 0) {
			app_credentials_free(&cr);
			return;
		}
		o = json_object_new_object();
		json_object_object_add(o, "email",
		    json_object_new_string(cr.email));
		json_object_object_add(o, "password",
		    json_object_new_string_len(cr.password,
		    (int)cr.password_len));
		app_credentials_free(&cr);
		/* Freed credentials are cleared. */
		json_object_object_add(o, "freed", json_object_new_boolean(
		    cr.body == NULL && cr.password == NULL &&
		    cr.email[0] == '\0'));
		reply_obj(req, o);
		break;
	case A_PAIR:
		memset(&pair, 0, sizeof(pair));
		snprintf(pair.access, sizeof(pair.access), "aaa.bbb.ccc");
		snprintf(pair.refresh, sizeof(pair.refresh), "ddd.eee.fff");
		snprintf(pair.user_id, sizeof(pair.user_id),
		    "00000000-0000-4000-8000-000000000001");
		pair.expires_in = 900;
		app_reply_pair(req, 201, &pair);
		break;
	case A_CONFIG:
		cl = app_client(req);
		o = json_object_new_object();
		json_object_object_add(o, "iss",
		    json_object_new_string(a->cfg.iss));
		json_object_object_add(o, "access_ttl",
		    json_object_new_int64(a->tokens.access_ttl));
		json_object_object_add(o, "refresh_ttl",
		    json_object_new_int64(a->tokens.refresh_ttl));
		json_object_object_add(o, "tokens_iss",
		    json_object_new_string(a->tokens.pol.iss));
		json_object_object_add(o, "keys", json_object_new_boolean(
		    a->keys != NULL && a->tokens.keys == a->keys));
		json_object_object_add(o, "store", json_object_new_boolean(
		    a->store != NULL && a->tokens.store == a->store));
		json_object_object_add(o, "pw",
		    json_object_new_boolean(a->pw != NULL));
		json_object_object_add(o, "ua", cl.user_agent != NULL ?
		    json_object_new_string(cl.user_agent) : NULL);
		json_object_object_add(o, "ip", cl.ip != NULL ?
		    json_object_new_string(cl.ip) : NULL);
		reply_obj(req, o);
		break;
	case A_JSON:
		if (app_read_json(req, &v) != 0)
			return;
		o = json_object_new_object();
		json_object_object_add(o, "type", json_object_new_string(
		    json_type_to_name(json_object_get_type(v))));
		json_object_put(v);
		reply_obj(req, o);
		break;
	}
}

static const struct app_endpoint ep_plain = {
	.name = "apptest",
	.path = "/apptest",
	.methods = HTTP_POST | HTTP_GET,
	.needs = APP_BODY,
	.bearer = 0,
	.handle = handle,
};
static const struct app_endpoint ep_full = {
	.name = "apptest",
	.path = "/apptest",
	.methods = HTTP_POST | HTTP_GET,
	.needs = APP_VERIFY | APP_SIGN | APP_DB | APP_PASSWORD | APP_BODY,
	.bearer = 1,
	.handle = handle,
};

struct child {
	const struct app_endpoint *ep;
	int check_config;
};

static int child_main(void *arg)
{
	struct child *c = arg;
	char prog[] = "apptest", flag[] = "--check-config";
	char *argv[] = { prog, c->check_config ? flag : NULL, NULL };

	return app_main(c->check_config ? 2 : 1, argv, c->ep);
}

struct at {
	struct fx fx;
	struct fx_run run;
	char db_url[FX_PATH_MAX + 32];
	char priv_env[FX_PATH_MAX + 32];
	char pub_env[FX_PATH_MAX + 32];
	char run_env[FX_PATH_MAX + 32];
};

static int at_setup(void **state)
{
	struct at *t = calloc(1, sizeof(*t));

	if (t == NULL || fx_init(&t->fx) != 0) {
		free(t);
		return -1;
	}
	snprintf(a_marker, sizeof(a_marker), "%s/called", t->fx.dir);
	snprintf(t->db_url, sizeof(t->db_url), "DATABASE_URL=sqlite:///%s",
	    t->fx.db);
	snprintf(t->priv_env, sizeof(t->priv_env), "JWT_PRIVATE_KEY_PATH=%s",
	    t->fx.priv);
	snprintf(t->pub_env, sizeof(t->pub_env), "JWT_PUBLIC_KEY_PATH=%s",
	    t->fx.pub);
	snprintf(t->run_env, sizeof(t->run_env), "RUN_DIR=%s", t->fx.dir);
	a_mode = A_CREDS;
	*state = t;
	return 0;
}

static int at_teardown(void **state)
{
	struct at *t = *state;

	fx_run_free(&t->run);
	fx_fini(&t->fx);
	free(t);
	return 0;
}

static int handler_called(void)
{
	return access(a_marker, F_OK) == 0;
}

/*
 * Run app_main in a child with env plus RUN_DIR=<temp dir> (so that the
 * metrics segment lands there, not in the tree).
 */
static void run(struct at *t, const struct app_endpoint *ep, int check,
    const char *const *env, const char *body, size_t len)
{
	struct child c = { ep, check };
	const char *all[32];
	size_t i, n = 0;

	for (i = 0; env != NULL && env[i] != NULL; i++) {
		assert_true(n + 2 < sizeof(all) / sizeof(all[0]));
		all[n++] = env[i];
	}
	all[n++] = t->run_env;
	all[n] = NULL;
	fx_run_free(&t->run);
	(void)unlink(a_marker);
	assert_int_equal(fx_run_child(t->fx.dir, all, body, len, child_main,
	    &c, &t->run), 0);
}

static struct json_object *reply_json(struct at *t)
{
	const char *body = fx_body(t->run.out);
	struct json_object *o;

	assert_non_null(body);
	o = fx_parse_strict(body);
	assert_non_null(o);
	return o;
}

/* POST body to a credentials endpoint with default settings. */
static void post(struct at *t, const char *body)
{
	char cl[64];
	const char *env[] = { "REQUEST_METHOD=POST", cl, NULL };

	snprintf(cl, sizeof(cl), "CONTENT_LENGTH=%zu", strlen(body));
	run(t, &ep_plain, 0, env, body, strlen(body));
	assert_int_equal(t->run.exit_code, 0);
}

/* The reply was 422 {"detail": detail}. */
static void assert_422(struct at *t, const char *detail)
{
	struct json_object *o;

	assert_int_equal(fx_status(t->run.out), 422);
	o = reply_json(t);
	assert_int_equal(json_object_object_length(o), 1);
	assert_string_equal(fx_str_field(o, "detail"), detail);
	json_object_put(o);
}

/* stderr is exactly one line, mentioning what. */
static void assert_one_line_naming(struct at *t, const char *what)
{
	assert_int_equal(fx_lines(t->run.err), 1);
	assert_int_equal(t->run.err[t->run.err_len - 1], '\n');
	assert_non_null(strstr(t->run.err, what));
}

static void test_bad_setting(void **state)
{
	struct at *t = *state;
	static const char *const env[] = {
		"ACCESS_TTL=abc", "REQUEST_METHOD=GET", NULL,
	};

	run(t, &ep_plain, 0, env, NULL, 0);
	assert_int_equal(t->run.exit_code, 2);
	assert_one_line_naming(t, "ACCESS_TTL");
	assert_non_null(strstr(t->run.err, "apptest"));
	/* Nothing served. */
	assert_int_equal(t->run.out_len, 0);
	assert_false(handler_called());

	/* Same with --check-config. */
	run(t, &ep_plain, 1, env, NULL, 0);
	assert_int_equal(t->run.exit_code, 2);
	assert_one_line_naming(t, "ACCESS_TTL");
}

static void test_bad_settings_named(void **state)
{
	struct at *t = *state;
	static const struct {
		const char *env;
		const char *name;
	} cases[] = {
		{ "ACCESS_TTL=0", "ACCESS_TTL" },
		{ "ACCESS_TTL=900s", "ACCESS_TTL" },
		{ "REFRESH_TTL=", "REFRESH_TTL" },
		{ "BCRYPT_COST=3", "BCRYPT_COST" },
		{ "MAX_BODY_BYTES=99999999", "MAX_BODY_BYTES" },
		{ "PASSWORD_HASH=md5", "PASSWORD_HASH" },
		{ "DATABASE_URL=mysql://db/auth", "DATABASE_URL" },
		{ "JWT_ISS=", "JWT_ISS" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *env[] = { cases[i].env, NULL };

		run(t, &ep_plain, 1, env, NULL, 0);
		assert_int_equal(t->run.exit_code, 2);
		assert_one_line_naming(t, cases[i].name);
		assert_int_equal(t->run.out_len, 0);
	}
}

static void test_missing_resources(void **state)
{
	struct at *t = *state;
	const char *env[] = { t->db_url, t->priv_env, t->pub_env,
	    "BCRYPT_COST=4", NULL };

	/* No key files yet. */
	run(t, &ep_full, 1, env, NULL, 0);
	assert_int_equal(t->run.exit_code, 2);
	assert_one_line_naming(t, "JWT_PUBLIC_KEY_PATH");

	/* Keys, but no database. */
	assert_int_equal(fx_make_keys(t->fx.priv, t->fx.pub), 0);
	run(t, &ep_full, 1, env, NULL, 0);
	assert_int_equal(t->run.exit_code, 2);
	assert_one_line_naming(t, "DATABASE_URL");

	/* A private key that does not match the public one. */
	{
		char other_priv[FX_PATH_MAX + 16], other_pub[FX_PATH_MAX + 16];
		char penv[FX_PATH_MAX + 48];
		const char *env2[] = { t->db_url, penv, t->pub_env, NULL };

		snprintf(other_priv, sizeof(other_priv), "%s/o_priv.pem",
		    t->fx.dir);
		snprintf(other_pub, sizeof(other_pub), "%s/o_pub.pem",
		    t->fx.dir);
		assert_int_equal(fx_make_other_keys(other_priv, other_pub), 0);
		snprintf(penv, sizeof(penv), "JWT_PRIVATE_KEY_PATH=%s",
		    other_priv);
		assert_int_equal(fx_make_db(t->fx.db), 0);
		run(t, &ep_full, 1, env2, NULL, 0);
		assert_int_equal(t->run.exit_code, 2);
		assert_one_line_naming(t, "JWT_PRIVATE_KEY_PATH");
	}
}

static void test_check_config(void **state)
{
	struct at *t = *state;
	const char *env[] = { t->db_url, t->priv_env, t->pub_env,
	    "BCRYPT_COST=4", "ACCESS_TTL=600", "REQUEST_METHOD=GET", NULL };

	assert_int_equal(fx_make_keys(t->fx.priv, t->fx.pub), 0);
	assert_int_equal(fx_make_db(t->fx.db), 0);
	a_mode = A_CONFIG;
	run(t, &ep_full, 1, env, NULL, 0);
	assert_int_equal(t->run.exit_code, 0);
	/* Loaded, checked, and gone: no reply, no request handled. */
	assert_int_equal(t->run.out_len, 0);
	assert_false(handler_called());
	assert_int_equal(t->run.err_len, 0);

	/* Defaults only, nothing to load: fine as well. */
	run(t, &ep_plain, 1, NULL, NULL, 0);
	assert_int_equal(t->run.exit_code, 0);
	assert_int_equal(t->run.out_len, 0);
	assert_false(handler_called());
}

static void test_serve_loaded(void **state)
{
	struct at *t = *state;
	const char *env[] = { t->db_url, t->priv_env, t->pub_env,
	    "BCRYPT_COST=4", "ACCESS_TTL=600", "JWT_ISS=test-iss",
	    "REQUEST_METHOD=GET", "HTTP_USER_AGENT=probe/1",
	    "REMOTE_ADDR=203.0.113.5", NULL };
	struct json_object *o, *v;

	assert_int_equal(fx_make_keys(t->fx.priv, t->fx.pub), 0);
	assert_int_equal(fx_make_db(t->fx.db), 0);
	a_mode = A_CONFIG;
	run(t, &ep_full, 0, env, NULL, 0);
	assert_int_equal(t->run.exit_code, 0);
	assert_true(handler_called());
	assert_int_equal(fx_status(t->run.out), 200);
	o = reply_json(t);
	assert_string_equal(fx_str_field(o, "iss"), "test-iss");
	assert_string_equal(fx_str_field(o, "tokens_iss"), "test-iss");
	assert_true(json_object_object_get_ex(o, "access_ttl", &v));
	assert_int_equal(json_object_get_int64(v), 600);
	assert_true(json_object_object_get_ex(o, "refresh_ttl", &v));
	assert_int_equal(json_object_get_int64(v), 2592000);
	assert_true(json_object_object_get_ex(o, "keys", &v));
	assert_true(json_object_get_boolean(v));
	assert_true(json_object_object_get_ex(o, "store", &v));
	assert_true(json_object_get_boolean(v));
	assert_true(json_object_object_get_ex(o, "pw", &v));
	assert_true(json_object_get_boolean(v));
	assert_string_equal(fx_str_field(o, "ua"), "probe/1");
	assert_string_equal(fx_str_field(o, "ip"), "203.0.113.5");
	json_object_put(o);
	/* The access log carries the endpoint's name. */
	assert_int_equal(fx_lines(t->run.err), 1);
	assert_non_null(strstr(t->run.err, "\"endpoint\":\"apptest\""));
	assert_non_null(strstr(t->run.err, "\"event\":\"request\""));

	/* No user agent or address: the client fields are NULL. */
	{
		const char *env2[] = { "REQUEST_METHOD=GET", NULL };

		run(t, &ep_plain, 0, env2, NULL, 0);
		assert_int_equal(fx_status(t->run.out), 200);
		o = reply_json(t);
		assert_true(json_object_object_get_ex(o, "ua", &v));
		assert_null(v);
		assert_true(json_object_object_get_ex(o, "ip", &v));
		assert_null(v);
		assert_true(json_object_object_get_ex(o, "keys", &v));
		assert_false(json_object_get_boolean(v));
		json_object_put(o);
	}
}

static void test_max_body_setting(void **state)
{
	struct at *t = *state;
	static const char *const env[] = {
		"MAX_BODY_BYTES=256", "REQUEST_METHOD=POST",
		"CONTENT_LENGTH=257", NULL,
	};
	char body[257];

	memset(body, ' ', sizeof(body));
	run(t, &ep_plain, 0, env, body, sizeof(body));
	assert_int_equal(t->run.exit_code, 0);
	assert_int_equal(fx_status(t->run.out), 413);
	assert_false(handler_called());
}

static void test_credentials_valid(void **state)
{
	struct at *t = *state;
	struct json_object *o, *v;

	post(t, "{\"email\":\"User@Example.COM\",\"password\":\"correct horse\","
	    "\"extra\":1}");
	assert_int_equal(fx_status(t->run.out), 200);
	o = reply_json(t);
	assert_string_equal(fx_str_field(o, "email"), "user@example.com");
	assert_string_equal(fx_str_field(o, "password"), "correct horse");
	assert_true(json_object_object_get_ex(o, "freed", &v));
	assert_true(json_object_get_boolean(v));
	json_object_put(o);
	/* The password never reaches the log. */
	assert_null(strstr(t->run.err, "correct horse"));
}

static void test_credentials_invalid_json(void **state)
{
	struct at *t = *state;

	post(t, "{");
	assert_422(t, "body: invalid JSON");
	post(t, "{\"email\":\"a@b.c\",\"password\":\"12345678\"} x");
	assert_422(t, "body: invalid JSON");
	post(t, "");
	assert_422(t, "body: invalid JSON");
	post(t, "{'email':'a@b.c'}");
	assert_422(t, "body: invalid JSON");
}

static void test_credentials_not_object(void **state)
{
	struct at *t = *state;

	post(t, "[]");
	assert_422(t, "body: must be a JSON object");
	post(t, "[{\"email\":\"a@b.c\",\"password\":\"12345678\"}]");
	assert_422(t, "body: must be a JSON object");
	post(t, "\"a@b.c\"");
	assert_422(t, "body: must be a JSON object");
	post(t, "null");
	/* json-c parses null as no object at all. */
	assert_int_equal(fx_status(t->run.out), 422);
}

static void test_credentials_missing_fields(void **state)
{
	struct at *t = *state;

	post(t, "{\"password\":\"12345678\"}");
	assert_422(t, "email: field required");
	post(t, "{\"email\":\"a@b.c\"}");
	assert_422(t, "password: field required");
	post(t, "{}");
	assert_422(t, "email: field required");
	post(t, "{\"email\":null,\"password\":\"12345678\"}");
	assert_int_equal(fx_status(t->run.out), 422);
	post(t, "{\"email\":42,\"password\":\"12345678\"}");
	assert_422(t, "email: must be a string");
}

static void test_credentials_bad_email(void **state)
{
	struct at *t = *state;

	post(t, "{\"email\":\"not-an-email\",\"password\":\"12345678\"}");
	assert_422(t, "email: must contain exactly one @");
	post(t, "{\"email\":\"a@@b.c\",\"password\":\"12345678\"}");
	assert_422(t, "email: must contain exactly one @");
	post(t, "{\"email\":\"a b@c.d\",\"password\":\"12345678\"}");
	assert_422(t, "email: must not contain whitespace or control "
	    "characters");
	post(t, "{\"email\":\"a@bcd\",\"password\":\"12345678\"}");
	assert_422(t, "email: domain must contain a dot");
	post(t, "{\"email\":\"@b.cd\",\"password\":\"12345678\"}");
	assert_422(t, "email: local part must be 1 to 64 bytes");
	post(t, "{\"email\":\"ab\",\"password\":\"12345678\"}");
	assert_int_equal(fx_status(t->run.out), 422);
	{
		struct json_object *o = reply_json(t);

		assert_non_null(fx_str_field(o, "detail"));
		assert_int_equal(strncmp(fx_str_field(o, "detail"), "email: ", 7),
		    0);
		json_object_put(o);
	}
}

static void test_credentials_password_length(void **state)
{
	struct at *t = *state;
	char body[256], pw[80];
	struct json_object *o;

	post(t, "{\"email\":\"a@b.cd\",\"password\":\"short\"}");
	assert_422(t, "password: must be 8 to 72 bytes");
	post(t, "{\"email\":\"a@b.cd\",\"password\":\"\"}");
	assert_422(t, "password: must be 8 to 72 bytes");

	/* 73 bytes: refused rather than silently truncated. */
	memset(pw, 'p', 73);
	pw[73] = '\0';
	snprintf(body, sizeof(body), "{\"email\":\"a@b.cd\",\"password\":\"%s\"}",
	    pw);
	post(t, body);
	assert_422(t, "password: must be 8 to 72 bytes");

	/* 72 and 8 bytes are the limits. */
	pw[72] = '\0';
	snprintf(body, sizeof(body), "{\"email\":\"a@b.cd\",\"password\":\"%s\"}",
	    pw);
	post(t, body);
	assert_int_equal(fx_status(t->run.out), 200);
	o = reply_json(t);
	assert_string_equal(fx_str_field(o, "password"), pw);
	json_object_put(o);
	post(t, "{\"email\":\"a@b.cd\",\"password\":\"12345678\"}");
	assert_int_equal(fx_status(t->run.out), 200);

	/* Multibyte UTF-8 counts in bytes: four 2-byte characters are 8. */
	post(t, "{\"email\":\"a@b.cd\",\"password\":\"\\u00e9\\u00e9\\u00e9"
	    "\\u00e9\"}");
	assert_int_equal(fx_status(t->run.out), 200);

	/* NUL inside the password. */
	post(t, "{\"email\":\"a@b.cd\",\"password\":\"1234\\u00005678\"}");
	assert_int_equal(fx_status(t->run.out), 422);
	o = reply_json(t);
	assert_int_equal(strncmp(fx_str_field(o, "detail"), "password: ", 10), 0);
	json_object_put(o);
}

static void test_read_json(void **state)
{
	struct at *t = *state;
	struct json_object *o;
	static const char *const get[] = { "REQUEST_METHOD=GET", NULL };

	a_mode = A_JSON;
	post(t, "[1,2]");
	assert_int_equal(fx_status(t->run.out), 200);
	o = reply_json(t);
	assert_string_equal(fx_str_field(o, "type"), "array");
	json_object_put(o);
	post(t, "{\"a\":[[[[[[[[[[1]]]]]]]]]]}");
	assert_422(t, "body: invalid JSON");
	post(t, "{\"a\":\"\xff\"}");
	assert_422(t, "body: invalid JSON");

	/* A GET has no body to parse. */
	run(t, &ep_plain, 0, get, NULL, 0);
	assert_int_equal(t->run.exit_code, 0);
	assert_422(t, "body: invalid JSON");
}

static void test_reply_pair(void **state)
{
	struct at *t = *state;
	struct json_object *o, *v;
	char h[64];

	a_mode = A_PAIR;
	post(t, "{}");
	assert_int_equal(fx_status(t->run.out), 201);
	assert_non_null(strstr(t->run.out, "Status: 201 Created\r\n"));
	assert_int_equal(fx_header(t->run.out, "Cache-Control", h, sizeof(h)),
	    0);
	assert_string_equal(h, "no-store");
	assert_int_equal(fx_header(t->run.out, "Pragma", h, sizeof(h)), 0);
	assert_string_equal(h, "no-cache");
	assert_int_equal(fx_header(t->run.out, "Content-Type", h, sizeof(h)),
	    0);
	assert_string_equal(h, "application/json");
	o = reply_json(t);
	assert_int_equal(json_object_object_length(o), 4);
	assert_string_equal(fx_str_field(o, "access_token"), "aaa.bbb.ccc");
	assert_string_equal(fx_str_field(o, "refresh_token"), "ddd.eee.fff");
	assert_string_equal(fx_str_field(o, "token_type"), "bearer");
	assert_true(json_object_object_get_ex(o, "expires_in", &v));
	assert_int_equal(json_object_get_int64(v), 900);
	json_object_put(o);
	/* The access log names the user, never the tokens. */
	assert_non_null(strstr(t->run.err,
	    "\"user_id\":\"00000000-0000-4000-8000-000000000001\""));
	assert_null(strstr(t->run.err, "aaa.bbb.ccc"));
	assert_null(strstr(t->run.err, "ddd.eee.fff"));
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, at_setup, at_teardown)
	const struct CMUnitTest app[] = {
		T(test_bad_setting),
		T(test_bad_settings_named),
		T(test_missing_resources),
		T(test_check_config),
		T(test_serve_loaded),
		T(test_max_body_setting),
		T(test_credentials_valid),
		T(test_credentials_invalid_json),
		T(test_credentials_not_object),
		T(test_credentials_missing_fields),
		T(test_credentials_bad_email),
		T(test_credentials_password_length),
		T(test_read_json),
		T(test_reply_pair),
	};
#undef T

	return cmocka_run_group_tests(app, NULL, NULL);
}
