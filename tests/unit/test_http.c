/*
 * test_http: the request loop in plain CGI mode. Each case forks a child
 * whose environment, stdin, stdout and stderr are set up like a CGI
 * request; the child runs http_serve once and the parent reads the reply.
 */
#include "unit.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http.h"
#include "valid.h"
#include "fixture.h"

enum hmode {
	H_ECHO,          /* 200 with what the handler saw */
	H_NONE,          /* sends nothing */
	H_ERROR,         /* http_reply_error(err, detail) */
	H_BEARER,        /* 200 with http_bearer's result */
	H_EMPTY,         /* http_reply_empty(204) */
	H_TWICE          /* two replies: only the first may go out */
};

struct hctx {
	enum hmode mode;
	enum auth_err err;
	const char *detail;
	long retry_after;
	char marker[FX_PATH_MAX];    /* created when the handler runs */
};

struct ht {
	struct fx fx;
	struct hctx ctx;
	struct http_route route;
	struct fx_run run;
};

/* A JSON text of o, for a reply. */
static void reply_obj(struct http_req *req, struct json_object *o)
{
	size_t len = 0;
	const char *s = json_object_to_json_string_length(o,
	    JSON_C_TO_STRING_PLAIN, &len);

	http_reply_json(req, 200, 0, s, len);
	json_object_put(o);
}

static void handler(void *ctx, struct http_req *req)
{
	struct hctx *h = ctx;
	struct json_object *o;
	const char *tok = NULL, *p;
	size_t len = 0;
	enum auth_err rc;

	(void)fx_write_file(h->marker, "called", 6);
	switch (h->mode) {
	case H_ECHO:
		o = json_object_new_object();
		json_object_object_add(o, "body", req->body == NULL ?
		    NULL : json_object_new_string_len(req->body,
		    (int)req->body_len));
		json_object_object_add(o, "body_len",
		    json_object_new_int64((int64_t)req->body_len));
		json_object_object_add(o, "method",
		    json_object_new_int((int)req->method));
		json_object_object_add(o, "ua",
		    json_object_new_string(req->user_agent));
		json_object_object_add(o, "addr",
		    json_object_new_string(req->remote_addr));
		json_object_object_add(o, "request_id",
		    json_object_new_string(req->request_id));
		p = http_param(req, "HTTP_X_TEST");
		json_object_object_add(o, "x_test",
		    p != NULL ? json_object_new_string(p) : NULL);
		snprintf(req->user_id, sizeof(req->user_id), "user-1");
		reply_obj(req, o);
		break;
	case H_NONE:
		break;
	case H_ERROR:
		req->retry_after = h->retry_after;
		http_reply_error(req, h->err, h->detail);
		break;
	case H_BEARER:
		rc = http_bearer(req, &tok, &len);
		o = json_object_new_object();
		json_object_object_add(o, "rc",
		    json_object_new_string(auth_strerror(rc)));
		if (rc == AUTH_OK)
			json_object_object_add(o, "token",
			    json_object_new_string_len(tok, (int)len));
		reply_obj(req, o);
		break;
	case H_EMPTY:
		http_reply_empty(req, 204);
		break;
	case H_TWICE:
		http_reply_json(req, 200, 0, "{\"n\":1}", 7);
		http_reply_error(req, AUTH_EINTERNAL, NULL);
		http_reply_json(req, 201, 0, "{\"n\":2}", 7);
		break;
	}
}

static int ht_setup(void **state)
{
	struct ht *t = calloc(1, sizeof(*t));

	if (t == NULL || fx_init(&t->fx) != 0) {
		free(t);
		return -1;
	}
	snprintf(t->ctx.marker, sizeof(t->ctx.marker), "%s/called",
	    t->fx.dir);
	t->route.name = "test";
	t->route.methods = HTTP_POST;
	t->route.bearer = 0;
	t->route.body = 1;
	t->route.max_body = 100;
	t->route.handle = handler;
	t->route.ctx = &t->ctx;
	*state = t;
	return 0;
}

static int ht_teardown(void **state)
{
	struct ht *t = *state;

	fx_run_free(&t->run);
	fx_fini(&t->fx);
	free(t);
	return 0;
}

static int child_serve(void *arg)
{
	return http_serve(arg);
}

/* Serve one request with env and body; the reply is in t->run. */
static void serve(struct ht *t, const char *const *env, const char *body,
    size_t len)
{
	fx_run_free(&t->run);
	(void)unlink(t->ctx.marker);
	assert_int_equal(fx_run_child(t->fx.dir, env, body, len, child_serve,
	    &t->route, &t->run), 0);
	assert_int_equal(t->run.exit_code, 0);
}

static int handler_called(struct ht *t)
{
	return access(t->ctx.marker, F_OK) == 0;
}

/* Strictly parse s as one JSON value (caller puts it). */
/* The reply's body, checked against its Content-Length, parsed. */
static struct json_object *reply_json(struct ht *t)
{
	char cl[32] = "";
	const char *body = fx_body(t->run.out);
	struct json_object *o;

	assert_non_null(body);
	assert_int_equal(fx_header(t->run.out, "Content-Length", cl,
	    sizeof(cl)), 0);
	assert_int_equal(strtoul(cl, NULL, 10), strlen(body));
	o = fx_parse_strict(body);
	assert_non_null(o);
	return o;
}

/* Status, headers every error carries, and {"detail": detail}. */
static void assert_error(struct ht *t, int status, const char *detail)
{
	struct json_object *o;
	char v[128];

	assert_int_equal(fx_status(t->run.out), status);
	assert_int_equal(fx_header(t->run.out, "Content-Type", v, sizeof(v)),
	    0);
	assert_string_equal(v, "application/json");
	assert_int_equal(fx_header(t->run.out, "Cache-Control", v, sizeof(v)),
	    0);
	assert_string_equal(v, "no-store");
	assert_int_equal(fx_header(t->run.out, "X-Content-Type-Options", v,
	    sizeof(v)), 0);
	assert_string_equal(v, "nosniff");
	o = reply_json(t);
	assert_true(json_object_is_type(o, json_type_object));
	assert_int_equal(json_object_object_length(o), 1);
	assert_non_null(fx_str_field(o, "detail"));
	if (detail != NULL)
		assert_string_equal(fx_str_field(o, "detail"), detail);
	json_object_put(o);
}

/* o[key] is the integer v (a number, or its decimal text). */
static int int_field_is(struct json_object *o, const char *key, long long v)
{
	struct json_object *f = NULL;
	char want[32];

	if (!json_object_object_get_ex(o, key, &f) || f == NULL)
		return 0;
	if (json_object_is_type(f, json_type_int))
		return json_object_get_int64(f) == v;
	snprintf(want, sizeof(want), "%lld", v);
	return json_object_is_type(f, json_type_string) &&
	    strcmp(json_object_get_string(f), want) == 0;
}

/* The last stderr line: a JSON "request" event with status. */
static void assert_request_log(struct ht *t, int status)
{
	const char *err = t->run.err, *last = err, *p;
	struct json_object *o;
	char line[4096];
	size_t n;

	assert_true(t->run.err_len > 0);
	assert_int_equal(err[t->run.err_len - 1], '\n');
	for (p = err; p + 1 < err + t->run.err_len; p++)
		if (*p == '\n')
			last = p + 1;
	n = (size_t)(err + t->run.err_len - 1 - last);
	assert_true(n < sizeof(line));
	memcpy(line, last, n);
	line[n] = '\0';
	o = fx_parse_strict(line);
	assert_non_null(o);
	assert_string_equal(fx_str_field(o, "event"), "request");
	assert_string_equal(fx_str_field(o, "endpoint"), "auth");
	assert_true(int_field_is(o, "status", status));
	json_object_put(o);
}

static void test_get_on_post_route(void **state)
{
	struct ht *t = *state;
	static const char *const env[] = { "REQUEST_METHOD=GET", NULL };
	char v[64];

	serve(t, env, NULL, 0);
	assert_error(t, 405, "method not allowed");
	assert_non_null(strstr(t->run.out, "Status: 405 Method Not Allowed\r\n"));
	assert_int_equal(fx_header(t->run.out, "Allow", v, sizeof(v)), 0);
	assert_string_equal(v, "POST");
	assert_false(handler_called(t));
	assert_request_log(t, 405);
}

static void test_unknown_method(void **state)
{
	struct ht *t = *state;
	static const char *const put[] = {
		"REQUEST_METHOD=PUT", "CONTENT_LENGTH=2", NULL,
	};
	static const char *const none[] = { "CONTENT_LENGTH=0", NULL };
	static const char *const lower[] = {
		"REQUEST_METHOD=post", "CONTENT_LENGTH=0", NULL,
	};
	char v[64];

	serve(t, put, "{}", 2);
	assert_error(t, 405, NULL);
	assert_int_equal(fx_header(t->run.out, "Allow", v, sizeof(v)), 0);
	assert_string_equal(v, "POST");
	assert_false(handler_called(t));

	/* No REQUEST_METHOD at all, or the wrong case: not served either. */
	serve(t, none, NULL, 0);
	assert_error(t, 405, NULL);
	assert_false(handler_called(t));
	serve(t, lower, NULL, 0);
	assert_error(t, 405, NULL);
	assert_false(handler_called(t));

	/* The Allow header lists every served method. */
	t->route.methods = HTTP_GET | HTTP_POST;
	serve(t, put, "{}", 2);
	assert_int_equal(fx_header(t->run.out, "Allow", v, sizeof(v)), 0);
	assert_string_equal(v, "GET, POST");
	t->route.methods = HTTP_GET | HTTP_POST | HTTP_DELETE;
	serve(t, put, "{}", 2);
	assert_int_equal(fx_header(t->run.out, "Allow", v, sizeof(v)), 0);
	assert_string_equal(v, "GET, POST, DELETE");
	t->route.methods = HTTP_GET | HTTP_DELETE;
	serve(t, put, "{}", 2);
	assert_int_equal(fx_header(t->run.out, "Allow", v, sizeof(v)), 0);
	assert_string_equal(v, "GET, DELETE");
	t->route.methods = HTTP_GET;
	serve(t, put, "{}", 2);
	assert_int_equal(fx_header(t->run.out, "Allow", v, sizeof(v)), 0);
	assert_string_equal(v, "GET");
}

static void test_post_without_length(void **state)
{
	struct ht *t = *state;
	static const char *const missing[] = { "REQUEST_METHOD=POST", NULL };
	static const char *const empty[] = {
		"REQUEST_METHOD=POST", "CONTENT_LENGTH=", NULL,
	};

	serve(t, missing, "{}", 2);
	assert_error(t, 411, "length required");
	assert_false(handler_called(t));
	assert_request_log(t, 411);

	serve(t, empty, "{}", 2);
	assert_error(t, 411, "length required");
	assert_false(handler_called(t));
}

static void test_body_too_big(void **state)
{
	struct ht *t = *state;
	static const char *const big[] = {
		"REQUEST_METHOD=POST", "CONTENT_LENGTH=101", NULL,
	};
	static const char *const huge[] = {
		"REQUEST_METHOD=POST", "CONTENT_LENGTH=1099511627776", NULL,
	};
	static const char *const exact[] = {
		"REQUEST_METHOD=POST", "CONTENT_LENGTH=100", NULL,
	};
	char body[101];
	struct json_object *o;

	memset(body, 'x', sizeof(body));
	serve(t, big, body, sizeof(body));
	assert_error(t, 413, "request body too large");
	assert_false(handler_called(t));
	assert_request_log(t, 413);

	/* The largest length config_parse_long accepts: still only a 413. */
	serve(t, huge, body, sizeof(body));
	assert_error(t, 413, NULL);
	assert_false(handler_called(t));

	/* max_body itself is fine, and the handler sees all of it. */
	serve(t, exact, body, 100);
	assert_int_equal(fx_status(t->run.out), 200);
	assert_true(handler_called(t));
	o = reply_json(t);
	assert_int_equal(strlen(fx_str_field(o, "body")), 100);
	json_object_put(o);
}

static void test_length_not_numeric(void **state)
{
	struct ht *t = *state;
	static const char *const lens[] = {
		"CONTENT_LENGTH=abc", "CONTENT_LENGTH=-1", "CONTENT_LENGTH=2x",
		"CONTENT_LENGTH= 2", "CONTENT_LENGTH=+2", "CONTENT_LENGTH=0x10",
	};
	static const char *const overflow[] = {
		"REQUEST_METHOD=POST",
		"CONTENT_LENGTH=99999999999999999999999", NULL,
	};
	size_t i;

	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		const char *env[] = { "REQUEST_METHOD=POST", lens[i], NULL };

		serve(t, env, "{}", 2);
		assert_error(t, 422, "body: does not match Content-Length");
		assert_false(handler_called(t));
	}
	assert_request_log(t, 422);

	/* Past what a long holds: refused unread either way. */
	serve(t, overflow, "{}", 2);
	assert_true(fx_status(t->run.out) == 413 ||
	    fx_status(t->run.out) == 422);
	assert_false(handler_called(t));
}

static void test_body_shorter_than_length(void **state)
{
	struct ht *t = *state;
	static const char *const env[] = {
		"REQUEST_METHOD=POST", "CONTENT_LENGTH=10", NULL,
	};

	serve(t, env, "12345", 5);
	assert_error(t, 422, "body: does not match Content-Length");
	assert_false(handler_called(t));
}

static void test_body_delivered(void **state)
{
	struct ht *t = *state;
	static const char *const env[] = {
		"REQUEST_METHOD=POST", "CONTENT_LENGTH=7",
		"HTTP_USER_AGENT=agent\x01/1\x7f", "REMOTE_ADDR=192.0.2.9",
		"HTTP_X_TEST=hello", "HTTP_X_REQUEST_ID=abc-123", NULL,
	};
	static const char *const zero[] = {
		"REQUEST_METHOD=POST", "CONTENT_LENGTH=0", NULL,
	};
	static const char *const get[] = { "REQUEST_METHOD=GET", NULL };
	struct json_object *o, *v;
	char h[64];

	/* Bytes past Content-Length are not part of the body. */
	serve(t, env, "{\"a\":1}trailing", 15);
	assert_int_equal(fx_status(t->run.out), 200);
	assert_non_null(strstr(t->run.out, "Status: 200 OK\r\n"));
	assert_int_equal(fx_header(t->run.out, "Content-Type", h, sizeof(h)), 0);
	assert_string_equal(h, "application/json");
	/* No no-store unless asked for. */
	assert_int_equal(fx_header(t->run.out, "Cache-Control", h, sizeof(h)),
	    -1);
	o = reply_json(t);
	assert_string_equal(fx_str_field(o, "body"), "{\"a\":1}");
	assert_true(json_object_object_get_ex(o, "body_len", &v));
	assert_int_equal(json_object_get_int64(v), 7);
	assert_true(json_object_object_get_ex(o, "method", &v));
	assert_int_equal(json_object_get_int(v), HTTP_POST);
	assert_string_equal(fx_str_field(o, "ua"), "agent?/1?");
	assert_string_equal(fx_str_field(o, "addr"), "192.0.2.9");
	assert_string_equal(fx_str_field(o, "x_test"), "hello");
	assert_string_equal(fx_str_field(o, "request_id"), "abc-123");
	json_object_put(o);

	/* An empty POST body is an empty string, not "none". */
	serve(t, zero, NULL, 0);
	assert_int_equal(fx_status(t->run.out), 200);
	o = reply_json(t);
	assert_string_equal(fx_str_field(o, "body"), "");
	assert_string_equal(fx_str_field(o, "ua"), "");
	assert_string_equal(fx_str_field(o, "addr"), "");
	assert_true(json_object_object_get_ex(o, "x_test", &v));
	assert_null(v);
	json_object_put(o);

	/* A GET has no body at all, and no Content-Length is needed. */
	t->route.methods = HTTP_GET;
	serve(t, get, NULL, 0);
	assert_int_equal(fx_status(t->run.out), 200);
	o = reply_json(t);
	assert_true(json_object_object_get_ex(o, "body", &v));
	assert_null(v);
	assert_true(json_object_object_get_ex(o, "method", &v));
	assert_int_equal(json_object_get_int(v), HTTP_GET);
	json_object_put(o);
}

static void test_handler_sends_nothing(void **state)
{
	struct ht *t = *state;
	static const char *const env[] = {
		"REQUEST_METHOD=POST", "CONTENT_LENGTH=2", NULL,
	};

	t->ctx.mode = H_NONE;
	serve(t, env, "{}", 2);
	assert_true(handler_called(t));
	assert_error(t, 500, "internal error");
	assert_string_equal(fx_body(t->run.out), "{\"detail\":\"internal error\"}");
	assert_non_null(strstr(t->run.err, "\"event\":\"no_reply\""));
	assert_request_log(t, 500);
}

static void test_one_reply_only(void **state)
{
	struct ht *t = *state;
	static const char *const env[] = {
		"REQUEST_METHOD=POST", "CONTENT_LENGTH=2", NULL,
	};

	t->ctx.mode = H_TWICE;
	serve(t, env, "{}", 2);
	assert_int_equal(fx_status(t->run.out), 200);
	assert_string_equal(fx_body(t->run.out), "{\"n\":1}");
	assert_null(strstr(t->run.out + 1, "Status:"));
	assert_request_log(t, 200);
}

static void test_reply_empty(void **state)
{
	struct ht *t = *state;
	static const char *const env[] = {
		"REQUEST_METHOD=POST", "CONTENT_LENGTH=2", NULL,
	};
	char v[64];

	t->ctx.mode = H_EMPTY;
	serve(t, env, "{}", 2);
	assert_int_equal(fx_status(t->run.out), 204);
	assert_non_null(strstr(t->run.out, "Status: 204 No Content\r\n"));
	assert_int_equal(fx_header(t->run.out, "Content-Length", v, sizeof(v)),
	    0);
	assert_string_equal(v, "0");
	assert_int_equal(fx_header(t->run.out, "Content-Type", v, sizeof(v)),
	    -1);
	assert_string_equal(fx_body(t->run.out), "");
	assert_request_log(t, 204);
}

static void test_error_noauth(void **state)
{
	struct ht *t = *state;
	static const char *const env[] = {
		"REQUEST_METHOD=POST", "CONTENT_LENGTH=2", NULL,
	};
	char v[128];
	int bearer;

	t->ctx.mode = H_ERROR;
	t->ctx.err = AUTH_ENOAUTH;
	for (bearer = 0; bearer <= 1; bearer++) {
		t->route.bearer = bearer;
		serve(t, env, "{}", 2);
		assert_error(t, 401, "not authenticated");
		assert_int_equal(fx_header(t->run.out, "WWW-Authenticate", v,
		    sizeof(v)), 0);
		assert_string_equal(v, "Bearer");
		assert_request_log(t, 401);
	}
}

static void test_error_invalid_token(void **state)
{
	struct ht *t = *state;
	static const char *const env[] = {
		"REQUEST_METHOD=POST", "CONTENT_LENGTH=2", NULL,
	};
	static const enum auth_err errs[] = {
		AUTH_ETOKEN, AUTH_EREVOKED, AUTH_ECREDS,
	};
	char v[128];
	size_t i;

	t->ctx.mode = H_ERROR;
	t->route.bearer = 1;
	for (i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		t->ctx.err = errs[i];
		serve(t, env, "{}", 2);
		assert_error(t, 401, auth_err_detail(errs[i]));
		assert_int_equal(fx_header(t->run.out, "WWW-Authenticate", v,
		    sizeof(v)), 0);
		assert_string_equal(v, "Bearer error=\"invalid_token\"");
	}

	/* Not a 401: no challenge even on a bearer route. */
	t->ctx.err = AUTH_ENOTFOUND;
	serve(t, env, "{}", 2);
	assert_error(t, 404, "not found");
	assert_int_equal(fx_header(t->run.out, "WWW-Authenticate", v,
	    sizeof(v)), -1);
}

static void test_error_throttled(void **state)
{
	struct ht *t = *state;
	static const char *const env[] = {
		"REQUEST_METHOD=POST", "CONTENT_LENGTH=2", NULL,
	};
	char v[64];

	t->ctx.mode = H_ERROR;
	t->ctx.err = AUTH_ETHROTTLED;
	t->ctx.retry_after = 42;
	serve(t, env, "{}", 2);
	assert_error(t, 429, "too many attempts");
	assert_non_null(strstr(t->run.out, "Status: 429 Too Many Requests\r\n"));
	assert_int_equal(fx_header(t->run.out, "Retry-After", v, sizeof(v)), 0);
	assert_string_equal(v, "42");
	assert_request_log(t, 429);

	/* No value set: still a usable Retry-After. */
	t->ctx.retry_after = 0;
	serve(t, env, "{}", 2);
	assert_int_equal(fx_header(t->run.out, "Retry-After", v, sizeof(v)), 0);
	assert_string_equal(v, "1");
}

static void test_error_statuses(void **state)
{
	struct ht *t = *state;
	static const char *const env[] = {
		"REQUEST_METHOD=POST", "CONTENT_LENGTH=2", NULL,
	};
	static const struct {
		enum auth_err err;
		int status;
		const char *line;
	} cases[] = {
		{ AUTH_EINVAL, 422, "Status: 422 Unprocessable Entity\r\n" },
		{ AUTH_EEXISTS, 400, "Status: 400 Bad Request\r\n" },
		{ AUTH_EUNAVAIL, 503, "Status: 503 Service Unavailable\r\n" },
		{ AUTH_EINTERNAL, 500, "Status: 500 Internal Server Error\r\n" },
	};
	size_t i;

	t->ctx.mode = H_ERROR;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		t->ctx.err = cases[i].err;
		serve(t, env, "{}", 2);
		assert_error(t, cases[i].status, auth_err_detail(cases[i].err));
		assert_non_null(strstr(t->run.out, cases[i].line));
		assert_request_log(t, cases[i].status);
	}

	/* A detail needing escapes still yields valid JSON with that text. */
	t->ctx.err = AUTH_EINVAL;
	t->ctx.detail = "email: \"quoted\" \\ back/slash \n\xc3\xa9";
	serve(t, env, "{}", 2);
	assert_error(t, 422, t->ctx.detail);
}

static void test_request_id(void **state)
{
	struct ht *t = *state;
	static const char *const ok[] = {
		"REQUEST_METHOD=POST", "CONTENT_LENGTH=2",
		"HTTP_X_REQUEST_ID=abc-123", NULL,
	};
	char v[128], id64[64 + 32], id65[65 + 32], id100[100 + 32];
	const char *bad[5];
	size_t i;

	t->ctx.mode = H_ERROR;
	t->ctx.err = AUTH_EINVAL;
	serve(t, ok, "{}", 2);
	assert_int_equal(fx_header(t->run.out, "X-Request-Id", v, sizeof(v)),
	    0);
	assert_string_equal(v, "abc-123");
	assert_non_null(strstr(t->run.err, "\"request_id\":\"abc-123\""));

	/* 64 characters is the most that is echoed. */
	snprintf(id64, sizeof(id64), "HTTP_X_REQUEST_ID=%064d", 7);
	{
		const char *env[] = {
			"REQUEST_METHOD=POST", "CONTENT_LENGTH=2", id64, NULL,
		};

		serve(t, env, "{}", 2);
		assert_int_equal(fx_header(t->run.out, "X-Request-Id", v,
		    sizeof(v)), 0);
		assert_string_equal(v, id64 + strlen("HTTP_X_REQUEST_ID="));
	}

	snprintf(id65, sizeof(id65), "HTTP_X_REQUEST_ID=%065d", 7);
	memcpy(id100, "HTTP_X_REQUEST_ID=", 18);
	memset(id100 + 18, 'a', 100);
	id100[118] = '\0';
	bad[0] = "HTTP_X_REQUEST_ID=abc 123";
	bad[1] = id65;
	bad[2] = id100;
	bad[3] = "HTTP_X_REQUEST_ID=";
	bad[4] = "HTTP_X_REQUEST_ID=a\"b\r\nX-Evil: 1";
	for (i = 0; i < 5; i++) {
		const char *env[] = {
			"REQUEST_METHOD=POST", "CONTENT_LENGTH=2", bad[i], NULL,
		};

		serve(t, env, "{}", 2);
		assert_int_equal(fx_header(t->run.out, "X-Request-Id", v,
		    sizeof(v)), 0);
		assert_int_equal(valid_uuid(v, strlen(v)), 1);
		assert_int_equal(fx_header(t->run.out, "X-Evil", v, sizeof(v)),
		    -1);
		assert_request_log(t, 422);
	}

	/* None sent: one is generated, and differs per request. */
	{
		static const char *const env[] = {
			"REQUEST_METHOD=POST", "CONTENT_LENGTH=2", NULL,
		};
		char first[64];

		serve(t, env, "{}", 2);
		assert_int_equal(fx_header(t->run.out, "X-Request-Id", first,
		    sizeof(first)), 0);
		assert_int_equal(valid_uuid(first, strlen(first)), 1);
		serve(t, env, "{}", 2);
		assert_int_equal(fx_header(t->run.out, "X-Request-Id", v,
		    sizeof(v)), 0);
		assert_int_equal(valid_uuid(v, strlen(v)), 1);
		assert_string_not_equal(v, first);
	}
}

/* http_bearer's verdict on an Authorization header (NULL: none). */
static void bearer_case(struct ht *t, const char *header, const char *rc,
    const char *token)
{
	char h[256];
	const char *env[] = {
		"REQUEST_METHOD=POST", "CONTENT_LENGTH=2", NULL, NULL,
	};
	struct json_object *o, *v = NULL;

	if (header != NULL) {
		snprintf(h, sizeof(h), "HTTP_AUTHORIZATION=%s", header);
		env[2] = h;
	}
	serve(t, env, "{}", 2);
	assert_int_equal(fx_status(t->run.out), 200);
	o = reply_json(t);
	assert_string_equal(fx_str_field(o, "rc"), rc);
	if (token != NULL) {
		assert_string_equal(fx_str_field(o, "token"), token);
	} else {
		assert_false(json_object_object_get_ex(o, "token", &v));
	}
	json_object_put(o);
}

static void test_bearer(void **state)
{
	struct ht *t = *state;

	t->ctx.mode = H_BEARER;
	bearer_case(t, "Bearer x", "OK", "x");
	bearer_case(t, "bearer x", "OK", "x");
	bearer_case(t, "BEARER abc.def.ghi", "OK", "abc.def.ghi");
	bearer_case(t, "Bearer   tok  ", "OK", "tok");
	bearer_case(t, "Basic x", "ETOKEN", NULL);
	bearer_case(t, "Bearerx", "ETOKEN", NULL);
	bearer_case(t, "Bearer", "ETOKEN", NULL);
	bearer_case(t, "Bearer ", "ETOKEN", NULL);
	bearer_case(t, "Bearer    ", "ETOKEN", NULL);
	bearer_case(t, "", "ENOAUTH", NULL);
	bearer_case(t, NULL, "ENOAUTH", NULL);
}

static void test_log_line(void **state)
{
	struct ht *t = *state;
	static const char *const env[] = {
		"REQUEST_METHOD=POST", "CONTENT_LENGTH=2",
		"REMOTE_ADDR=198.51.100.4", "HTTP_X_REQUEST_ID=log-1",
		"HTTP_AUTHORIZATION=Bearer secret-token", NULL,
	};
	struct json_object *o;
	char line[4096];

	serve(t, env, "{}", 2);
	assert_int_equal(fx_status(t->run.out), 200);
	/* Exactly one line, one JSON object, nothing secret in it. */
	assert_int_equal(fx_lines(t->run.err), 1);
	assert_true(t->run.err_len < sizeof(line));
	memcpy(line, t->run.err, t->run.err_len - 1);
	line[t->run.err_len - 1] = '\0';
	o = fx_parse_strict(line);
	assert_non_null(o);
	assert_true(json_object_is_type(o, json_type_object));
	assert_string_equal(fx_str_field(o, "event"), "request");
	assert_true(int_field_is(o, "status", 200));
	assert_string_equal(fx_str_field(o, "level"), "info");
	assert_string_equal(fx_str_field(o, "method"), "POST");
	assert_string_equal(fx_str_field(o, "client"), "198.51.100.4");
	assert_string_equal(fx_str_field(o, "request_id"), "log-1");
	assert_string_equal(fx_str_field(o, "user_id"), "user-1");
	assert_non_null(fx_str_field(o, "time"));
	assert_true(json_object_object_get_ex(o, "duration_ms", NULL));
	json_object_put(o);
	assert_null(strstr(t->run.err, "secret-token"));
	assert_request_log(t, 200);

	/* A 5xx is logged at error level. */
	t->ctx.mode = H_NONE;
	serve(t, env, "{}", 2);
	assert_int_equal(fx_lines(t->run.err), 2);
	assert_non_null(strstr(t->run.err, "\"level\":\"error\""));
	assert_request_log(t, 500);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, ht_setup, ht_teardown)
	const struct CMUnitTest http[] = {
		T(test_get_on_post_route),
		T(test_unknown_method),
		T(test_post_without_length),
		T(test_body_too_big),
		T(test_length_not_numeric),
		T(test_body_shorter_than_length),
		T(test_body_delivered),
		T(test_handler_sends_nothing),
		T(test_one_reply_only),
		T(test_reply_empty),
		T(test_error_noauth),
		T(test_error_invalid_token),
		T(test_error_throttled),
		T(test_error_statuses),
		T(test_request_id),
		T(test_bearer),
		T(test_log_line),
	};
#undef T

	return cmocka_run_group_tests(http, NULL, NULL);
}
