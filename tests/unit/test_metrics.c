/*
 * test_metrics: the node-wide counter segment (creation, sharing between
 * handles, processes and restarts, refusal of foreign segments) and its
 * Prometheus text exposition.
 */
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http.h"
#include "log.h"
#include "metrics.h"
#include "fixture.h"

#define SEG_NAME "metrics-v4.shm"

struct mt {
	struct fx fx;
	char seg[FX_PATH_MAX + 32];  /* dir/metrics-v4.shm */
};

static int mt_setup(void **state)
{
	struct mt *t = calloc(1, sizeof(*t));

	if (t == NULL || fx_init(&t->fx) != 0) {
		free(t);
		return -1;
	}
	snprintf(t->seg, sizeof(t->seg), "%s/" SEG_NAME, t->fx.dir);
	*state = t;
	return 0;
}

static int mt_teardown(void **state)
{
	struct mt *t = *state;

	fx_fini(&t->fx);
	free(t);
	return 0;
}

/* The exposition of m with gauges g[0..n); the caller frees it. */
static char *render(const struct metrics *m, const struct metrics_gauge *g,
    size_t n)
{
	char *out = NULL;
	size_t len = 0;

	assert_int_equal(metrics_render(m, g, n, &out, &len), 0);
	assert_non_null(out);
	assert_int_equal(len, strlen(out));
	return out;
}

/*
 * Value of the sample whose "name{labels}" (or "name") is series, as
 * text into val; 0 when found exactly once, -1 when absent, -2 when
 * repeated.
 */
static int sample_text(const char *text, const char *series, char *val,
    size_t cap)
{
	size_t n = strlen(series);
	const char *p = text;
	int found = 0;

	while (*p != '\0') {
		const char *eol = strchr(p, '\n');

		if (eol == NULL)
			eol = p + strlen(p);
		if ((size_t)(eol - p) > n + 1 && strncmp(p, series, n) == 0 &&
		    p[n] == ' ') {
			found++;
			snprintf(val, cap, "%.*s", (int)(eol - p - n - 1),
			    p + n + 1);
		}
		p = *eol == '\0' ? eol : eol + 1;
	}
	return found == 1 ? 0 : found == 0 ? -1 : -2;
}

/* Integer value of series; -1 when absent (fails when repeated). */
static long long sample(const char *text, const char *series)
{
	char val[64], *end;
	long long v;
	int rc = sample_text(text, series, val, sizeof(val));

	if (rc == -2)
		fail_msg("series %s appears more than once", series);
	if (rc != 0)
		return -1;
	errno = 0;
	v = strtoll(val, &end, 10);
	if (errno != 0 || *end != '\0' || end == val)
		fail_msg("series %s: value '%s' is not an integer", series, val);
	return v;
}

static double sample_double(const char *text, const char *series)
{
	char val[64], *end;
	double v;

	if (sample_text(text, series, val, sizeof(val)) != 0)
		fail_msg("series %s missing or repeated", series);
	v = strtod(val, &end);
	if (*end != '\0' || end == val)
		fail_msg("series %s: value '%s' is not a number", series, val);
	return v;
}

/* Number of lines of text starting with prefix. */
static int lines_with(const char *text, const char *prefix)
{
	size_t n = strlen(prefix);
	const char *p = text;
	int count = 0;

	while (*p != '\0') {
		const char *eol = strchr(p, '\n');

		if (strncmp(p, prefix, n) == 0)
			count++;
		if (eol == NULL)
			break;
		p = eol + 1;
	}
	return count;
}

static off_t file_size(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return -1;
	return st.st_size;
}

/* The real segment size, from a segment this build creates. */
static off_t seg_size(struct mt *t)
{
	char dir[FX_PATH_MAX + 16], path[FX_PATH_MAX + 48];
	struct metrics *m;
	off_t size;

	snprintf(dir, sizeof(dir), "%s/probe", t->fx.dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	m = metrics_open(dir, "/auth/login");
	assert_int_equal(metrics_enabled(m), 1);
	metrics_close(m);
	snprintf(path, sizeof(path), "%s/" SEG_NAME, dir);
	size = file_size(path);
	assert_true(size > 16);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
	return size;
}

#define REQ(h, m, s) "http_requests_total{handler=\"" h "\",method=\"" m \
	"\",status=\"" s "\"}"
#define BUCKET(h, m, le) "http_request_duration_seconds_bucket{handler=\"" \
	h "\",method=\"" m "\",le=\"" le "\"}"
#define HSUM(h, m) "http_request_duration_seconds_sum{handler=\"" h \
	"\",method=\"" m "\"}"
#define HCOUNT(h, m) "http_request_duration_seconds_count{handler=\"" h \
	"\",method=\"" m "\"}"

/* ------------------------------------------------------------------ */

static void test_open_creates_segment(void **state)
{
	struct mt *t = *state;
	struct metrics *m;
	struct stat st;
	char *out;

	assert_int_equal(stat(t->seg, &st), -1);
	m = metrics_open(t->fx.dir, "/auth/login");
	assert_non_null(m);
	assert_int_equal(metrics_enabled(m), 1);
	assert_int_equal(lstat(t->seg, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_true(st.st_size > 16);
	out = render(m, NULL, 0);
	assert_int_equal(sample(out, "auth_metrics_shared"), 1);
	/* Nothing counted yet: every counter reads 0, no request series. */
	assert_int_equal(sample(out, "auth_logins_total{result=\"success\"}"), 0);
	assert_int_equal(sample(out, "auth_registrations_total"), 0);
	assert_int_equal(lines_with(out, "http_requests_total{"), 0);
	assert_int_equal(lines_with(out, "http_request_duration_seconds_"), 0);
	free(out);
	metrics_close(m);
	/* The file stays for the next process. */
	assert_int_equal(file_size(t->seg), st.st_size);
}

static void test_open_missing_dir(void **state)
{
	struct mt *t = *state;
	char dir[FX_PATH_MAX + 16], path[FX_PATH_MAX + 48];
	struct metrics *m;
	int c;
	char *out;

	snprintf(dir, sizeof(dir), "%s/missing", t->fx.dir);
	snprintf(path, sizeof(path), "%s/" SEG_NAME, dir);
	m = metrics_open(dir, "/auth/login");
	assert_non_null(m);
	assert_int_equal(metrics_enabled(m), 0);
	/* Every update is a no-op, and must not crash. */
	metrics_observe(m, HTTP_POST, 200, 0.01);
	metrics_observe(m, HTTP_GET, 500, 3.0);
	for (c = 0; c < METRICS_COUNTER__MAX; c++)
		metrics_count(m, (enum metrics_counter)c);
	out = render(m, NULL, 0);
	assert_int_equal(sample(out, "auth_metrics_shared"), 0);
	assert_int_equal(sample(out, "auth_logins_total{result=\"success\"}"), 0);
	assert_int_equal(sample(out, "auth_logins_total{result=\"failure\"}"), 0);
	assert_int_equal(sample(out, "auth_registrations_total"), 0);
	assert_int_equal(sample(out, "auth_refresh_total{result=\"replay\"}"), 0);
	assert_int_equal(lines_with(out, "http_requests_total{"), 0);
	assert_int_equal(lines_with(out, "http_request_duration_seconds_"), 0);
	assert_int_equal(out[strlen(out) - 1], '\n');
	free(out);
	metrics_close(m);
	/* Nothing was created on the way. */
	assert_int_equal(access(dir, F_OK), -1);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(metrics_enabled(NULL), 0);
}

static void test_open_dir_too_long(void **state)
{
	char dir[5000];
	struct metrics *m;

	(void)state;
	memset(dir, 'a', sizeof(dir) - 1);
	dir[0] = '/';
	dir[sizeof(dir) - 1] = '\0';
	m = metrics_open(dir, "/auth/login");
	assert_non_null(m);
	assert_int_equal(metrics_enabled(m), 0);
	metrics_count(m, METRICS_LOGIN_SUCCESS);
	metrics_close(m);
}

static void test_two_handles_share(void **state)
{
	struct mt *t = *state;
	struct metrics *a = metrics_open(t->fx.dir, "/auth/login");
	struct metrics *b = metrics_open(t->fx.dir, "/auth/register");
	char *out;

	assert_int_equal(metrics_enabled(a), 1);
	assert_int_equal(metrics_enabled(b), 1);
	metrics_count(a, METRICS_LOGIN_SUCCESS);
	metrics_count(a, METRICS_LOGIN_SUCCESS);
	metrics_count(b, METRICS_REGISTRATION);
	metrics_count(b, METRICS_LOGIN_SUCCESS);
	metrics_observe(a, HTTP_POST, 200, 0.002);
	metrics_observe(b, HTTP_POST, 201, 0.002);
	metrics_observe(b, HTTP_POST, 409, 0.002);

	/* Either process's scrape shows the node's totals. */
	out = render(a, NULL, 0);
	assert_int_equal(sample(out, "auth_logins_total{result=\"success\"}"), 3);
	assert_int_equal(sample(out, "auth_registrations_total"), 1);
	assert_int_equal(sample(out, REQ("/auth/login", "POST", "2xx")), 1);
	assert_int_equal(sample(out, REQ("/auth/register", "POST", "2xx")), 1);
	assert_int_equal(sample(out, REQ("/auth/register", "POST", "4xx")), 1);
	assert_int_equal(lines_with(out, "http_requests_total{"), 3);
	free(out);
	out = render(b, NULL, 0);
	assert_int_equal(sample(out, "auth_logins_total{result=\"success\"}"), 3);
	assert_int_equal(sample(out, REQ("/auth/login", "POST", "2xx")), 1);
	free(out);
	metrics_close(a);
	metrics_close(b);
}

static void test_survives_reopen(void **state)
{
	struct mt *t = *state;
	struct metrics *m = metrics_open(t->fx.dir, "/auth/refresh");
	char *out;

	assert_int_equal(metrics_enabled(m), 1);
	metrics_count(m, METRICS_REFRESH_ROTATED);
	metrics_count(m, METRICS_REFRESH_ROTATED);
	metrics_count(m, METRICS_REFRESH_ROTATED);
	metrics_observe(m, HTTP_POST, 200, 0.02);
	metrics_close(m);

	/* A restarted process maps the same segment and adds to it. */
	m = metrics_open(t->fx.dir, "/auth/refresh");
	assert_int_equal(metrics_enabled(m), 1);
	out = render(m, NULL, 0);
	assert_int_equal(sample(out, "auth_refresh_total{result=\"rotated\"}"), 3);
	assert_int_equal(sample(out, REQ("/auth/refresh", "POST", "2xx")), 1);
	free(out);
	metrics_count(m, METRICS_REFRESH_ROTATED);
	out = render(m, NULL, 0);
	assert_int_equal(sample(out, "auth_refresh_total{result=\"rotated\"}"), 4);
	free(out);
	metrics_close(m);
}

struct child_arg {
	struct metrics *inherited;
	const char *dir;
};

/* In a forked child: count through the inherited mapping and a new one. */
static int child_counts(void *p)
{
	struct child_arg *arg = p;
	struct metrics *own = metrics_open(arg->dir, "/auth/me");

	if (!metrics_enabled(own))
		return 3;
	metrics_count(arg->inherited, METRICS_LOGIN_FAILURE);
	metrics_observe(arg->inherited, HTTP_POST, 401, 0.004);
	metrics_count(own, METRICS_LOGIN_FAILURE);
	metrics_observe(own, HTTP_GET, 200, 0.0001);
	metrics_close(own);
	return 0;
}

static void test_child_process_visible(void **state)
{
	struct mt *t = *state;
	struct metrics *m = metrics_open(t->fx.dir, "/auth/login");
	struct child_arg arg = { m, t->fx.dir };
	struct fx_run r;
	char *out;

	assert_int_equal(metrics_enabled(m), 1);
	metrics_count(m, METRICS_LOGIN_FAILURE);
	assert_int_equal(fx_run_child(t->fx.dir, NULL, NULL, 0, child_counts,
	    &arg, &r), 0);
	assert_int_equal(r.exit_code, 0);
	fx_run_free(&r);
	out = render(m, NULL, 0);
	assert_int_equal(sample(out, "auth_logins_total{result=\"failure\"}"), 3);
	assert_int_equal(sample(out, REQ("/auth/login", "POST", "4xx")), 1);
	assert_int_equal(sample(out, REQ("/auth/me", "GET", "2xx")), 1);
	free(out);
	metrics_close(m);
}

static void test_observe_buckets(void **state)
{
	static const char *const les[] = {
		"0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
		"0.25", "0.5", "1", "2.5", "+Inf",
	};
	/* Cumulative counts expected for 0.0005, 0.003 and 10 s. */
	static const long long want[] = { 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3 };
	struct mt *t = *state;
	struct metrics *m = metrics_open(t->fx.dir, "/auth/login");
	char series[256], *out;
	double sum;
	size_t i;

	metrics_observe(m, HTTP_POST, 200, 0.0005);
	metrics_observe(m, HTTP_POST, 200, 0.003);
	metrics_observe(m, HTTP_POST, 200, 10.0);
	/* Bounds are inclusive ("le"): exactly 1 ms and 2.5 s. */
	metrics_observe(m, HTTP_GET, 200, 0.001);
	metrics_observe(m, HTTP_GET, 200, 2.5);
	out = render(m, NULL, 0);
	for (i = 0; i < sizeof(les) / sizeof(les[0]); i++) {
		snprintf(series, sizeof(series), "http_request_duration_seconds_"
		    "bucket{handler=\"/auth/login\",method=\"POST\",le=\"%s\"}",
		    les[i]);
		if (sample(out, series) != want[i])
			fail_msg("%s = %lld, want %lld", series,
			    sample(out, series), want[i]);
	}
	assert_int_equal(lines_with(out, "http_request_duration_seconds_bucket{"
	    "handler=\"/auth/login\",method=\"POST\","), 12);
	assert_int_equal(sample(out, HCOUNT("/auth/login", "POST")), 3);
	assert_int_equal(sample(out, HCOUNT("/auth/login", "POST")),
	    sample(out, BUCKET("/auth/login", "POST", "+Inf")));
	sum = sample_double(out, HSUM("/auth/login", "POST"));
	assert_true(sum > 10.0035 - 1e-5 && sum < 10.0035 + 1e-5);
	assert_int_equal(sample(out, REQ("/auth/login", "POST", "2xx")), 3);

	assert_int_equal(sample(out, BUCKET("/auth/login", "GET", "0.001")), 1);
	assert_int_equal(sample(out, BUCKET("/auth/login", "GET", "1")), 1);
	assert_int_equal(sample(out, BUCKET("/auth/login", "GET", "2.5")), 2);
	assert_int_equal(sample(out, BUCKET("/auth/login", "GET", "+Inf")), 2);
	assert_int_equal(sample(out, HCOUNT("/auth/login", "GET")), 2);
	sum = sample_double(out, HSUM("/auth/login", "GET"));
	assert_true(sum > 2.501 - 1e-5 && sum < 2.501 + 1e-5);
	/* No DELETE series: nothing was observed for it. */
	assert_int_equal(lines_with(out, "http_request_duration_seconds_bucket{"
	    "handler=\"/auth/login\",method=\"DELETE\""), 0);
	free(out);
	metrics_close(m);
}

static void test_status_classes(void **state)
{
	static const int statuses[] = {
		200, 201, 204, 400, 401, 404, 429, 500, 503, 599, 301, 101,
		99, 600, 0, -1, -200, 1000,
	};
	struct mt *t = *state;
	struct metrics *m = metrics_open(t->fx.dir, "/auth/login");
	char *out;
	size_t i;

	for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
		metrics_observe(m, HTTP_POST, statuses[i], 0.002);
	out = render(m, NULL, 0);
	assert_int_equal(sample(out, REQ("/auth/login", "POST", "2xx")), 3);
	assert_int_equal(sample(out, REQ("/auth/login", "POST", "4xx")), 4);
	assert_int_equal(sample(out, REQ("/auth/login", "POST", "5xx")), 3);
	assert_int_equal(sample(out, REQ("/auth/login", "POST", "3xx")), 1);
	assert_int_equal(sample(out, REQ("/auth/login", "POST", "1xx")), 1);
	assert_int_equal(lines_with(out, "http_requests_total{"), 5);
	/* Out-of-range statuses reach neither the counter nor the histogram. */
	assert_int_equal(sample(out, HCOUNT("/auth/login", "POST")), 12);
	assert_int_equal(lines_with(out, "http_requests_total{handler=\"/auth/"
	    "login\",method=\"POST\",status=\"0xx\"}"), 0);
	assert_int_equal(lines_with(out, "http_requests_total{handler=\"/auth/"
	    "login\",method=\"POST\",status=\"6xx\"}"), 0);
	free(out);
	metrics_close(m);
}

static void test_handlers(void **state)
{
	static const char *const names[] = {
		"/auth/register", "/auth/login", "/auth/refresh", "/auth/me",
		"/auth/logout", "/auth/logout-all", "/auth/sessions",
		"/auth/sessions/{id}", "/healthz", "/readyz", "/metrics",
		"/.well-known/jwks.json", "/.well-known/openid-configuration",
		"/auth/verify", "/auth/password", "/auth/password/forgot",
		"/auth/password/reset", "/auth/email/verify", "/auth/email/resend",
	};
	struct mt *t = *state;
	char series[256], *out;
	struct metrics *m;
	size_t i, k;

	/* Each route counts under its own label, i + 1 times. */
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		m = metrics_open(t->fx.dir, names[i]);
		for (k = 0; k <= i; k++)
			metrics_observe(m, HTTP_GET, 200, 0.001);
		metrics_close(m);
	}
	m = metrics_open(t->fx.dir, "/metrics");
	out = render(m, NULL, 0);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(series, sizeof(series), "http_requests_total{handler="
		    "\"%s\",method=\"GET\",status=\"2xx\"}", names[i]);
		if (sample(out, series) != (long long)i + 1)
			fail_msg("%s = %lld, want %zu", series,
			    sample(out, series), i + 1);
	}
	assert_int_equal(lines_with(out, "http_requests_total{"), 19);
	free(out);
	metrics_close(m);
}

static void test_unknown_handler(void **state)
{
	struct mt *t = *state;
	struct metrics *m = metrics_open(t->fx.dir, "/nope");
	struct metrics *n = metrics_open(t->fx.dir, NULL);
	struct metrics *p = metrics_open(t->fx.dir, "/auth/login/");
	char *out;

	/* The segment is mapped; only request series need a known route. */
	assert_int_equal(metrics_enabled(m), 1);
	assert_int_equal(metrics_enabled(n), 1);
	metrics_observe(m, HTTP_GET, 200, 0.001);
	metrics_observe(m, HTTP_POST, 500, 0.001);
	metrics_observe(n, HTTP_GET, 200, 0.001);
	metrics_observe(p, HTTP_POST, 200, 0.001);
	metrics_count(m, METRICS_LOGIN_THROTTLED);
	out = render(m, NULL, 0);
	assert_int_equal(lines_with(out, "http_requests_total{"), 0);
	assert_int_equal(lines_with(out, "http_request_duration_seconds_"), 0);
	assert_int_equal(sample(out, "auth_logins_total{result=\"throttled\"}"),
	    1);
	assert_null(strstr(out, "/nope"));
	free(out);
	metrics_close(m);
	metrics_close(n);
	metrics_close(p);
}

static void test_methods(void **state)
{
	struct mt *t = *state;
	struct metrics *m = metrics_open(t->fx.dir, "/auth/sessions/{id}");
	char *out;

	metrics_observe(m, HTTP_GET, 200, 0.001);
	metrics_observe(m, HTTP_POST, 200, 0.001);
	metrics_observe(m, HTTP_POST, 200, 0.001);
	metrics_observe(m, HTTP_DELETE, 204, 0.001);
	metrics_observe(m, HTTP_DELETE, 404, 0.001);
	metrics_observe(m, HTTP_DELETE, 404, 0.001);
	/* Values outside the enum (none, a combination, another bit). */
	metrics_observe(m, (enum http_method)0, 200, 0.001);
	metrics_observe(m, (enum http_method)(HTTP_GET | HTTP_POST), 200, 0.001);
	metrics_observe(m, (enum http_method)8, 200, 0.001);
	metrics_observe(m, (enum http_method)-1, 200, 0.001);
	out = render(m, NULL, 0);
	assert_int_equal(sample(out, REQ("/auth/sessions/{id}", "GET", "2xx")),
	    1);
	assert_int_equal(sample(out, REQ("/auth/sessions/{id}", "POST", "2xx")),
	    2);
	assert_int_equal(sample(out, REQ("/auth/sessions/{id}", "DELETE",
	    "2xx")), 1);
	assert_int_equal(sample(out, REQ("/auth/sessions/{id}", "DELETE",
	    "4xx")), 2);
	assert_int_equal(lines_with(out, "http_requests_total{"), 4);
	assert_int_equal(sample(out, HCOUNT("/auth/sessions/{id}", "GET")), 1);
	assert_int_equal(sample(out, HCOUNT("/auth/sessions/{id}", "POST")), 2);
	assert_int_equal(sample(out, HCOUNT("/auth/sessions/{id}", "DELETE")),
	    3);
	assert_int_equal(lines_with(out, "http_request_duration_seconds_count{"),
	    3);
	free(out);
	metrics_close(m);
}

static void test_counters(void **state)
{
	static const struct {
		enum metrics_counter c;
		const char *series;
	} cases[] = {
		{ METRICS_LOGIN_SUCCESS, "auth_logins_total{result=\"success\"}" },
		{ METRICS_LOGIN_FAILURE, "auth_logins_total{result=\"failure\"}" },
		{ METRICS_LOGIN_THROTTLED,
		    "auth_logins_total{result=\"throttled\"}" },
		{ METRICS_REGISTRATION, "auth_registrations_total" },
		{ METRICS_REFRESH_ROTATED,
		    "auth_refresh_total{result=\"rotated\"}" },
		{ METRICS_REFRESH_INVALID,
		    "auth_refresh_total{result=\"invalid\"}" },
		{ METRICS_REFRESH_REPLAY, "auth_refresh_total{result=\"replay\"}" },
	};
	struct mt *t = *state;
	struct metrics *m = metrics_open(t->fx.dir, "/auth/login");
	size_t i, k;
	char *out;

	assert_int_equal(sizeof(cases) / sizeof(cases[0]), METRICS_COUNTER__MAX);
	/* Counter i is counted i + 1 times, so no two can be confused. */
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (k = 0; k <= i; k++)
			metrics_count(m, cases[i].c);
	/* Out of range: ignored. */
	metrics_count(m, METRICS_COUNTER__MAX);
	metrics_count(m, (enum metrics_counter)-1);
	metrics_count(m, (enum metrics_counter)1000);
	out = render(m, NULL, 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (sample(out, cases[i].series) != (long long)i + 1)
			fail_msg("%s = %lld, want %zu", cases[i].series,
			    sample(out, cases[i].series), i + 1);
	assert_int_equal(lines_with(out, "auth_logins_total"), 3);
	assert_int_equal(lines_with(out, "auth_registrations_total"), 1);
	assert_int_equal(lines_with(out, "auth_refresh_total"), 3);
	assert_non_null(strstr(out, "# HELP auth_logins_total "));
	assert_non_null(strstr(out, "\n# TYPE auth_logins_total counter\n"));
	assert_non_null(strstr(out, "\n# TYPE auth_registrations_total "
	    "counter\nauth_registrations_total 4\n"));
	assert_non_null(strstr(out, "\n# TYPE auth_refresh_total counter\n"));
	assert_non_null(strstr(out, "\n# TYPE http_requests_total counter\n"));
	assert_non_null(strstr(out, "\n# TYPE http_request_duration_seconds "
	    "histogram\n"));
	assert_non_null(strstr(out, "\n# TYPE auth_metrics_shared gauge\n"
	    "auth_metrics_shared 1\n"));
	free(out);
	metrics_close(m);
}

static void test_gauges(void **state)
{
	static const struct metrics_gauge g[] = {
		{ "auth_users", "Registered users.", 42 },
		{ "auth_refresh_tokens_unrevoked", "Live refresh tokens.",
		    9000000000LL },
		{ "auth_zero", "Zero.", 0 },
		{ "auth_negative", "Below zero.", -3 },
	};
	struct mt *t = *state;
	struct metrics *m = metrics_open(t->fx.dir, "/metrics");
	struct metrics *off;
	char dir[FX_PATH_MAX + 16], *out;

	out = render(m, g, 4);
	assert_non_null(strstr(out, "# HELP auth_users Registered users.\n"
	    "# TYPE auth_users gauge\nauth_users 42\n"));
	assert_non_null(strstr(out, "# HELP auth_refresh_tokens_unrevoked Live "
	    "refresh tokens.\n# TYPE auth_refresh_tokens_unrevoked gauge\n"
	    "auth_refresh_tokens_unrevoked 9000000000\n"));
	assert_non_null(strstr(out, "\n# TYPE auth_zero gauge\nauth_zero 0\n"));
	assert_int_equal(sample(out, "auth_negative"), -3);
	assert_int_equal(lines_with(out, "# TYPE auth_users "), 1);
	free(out);
	/* Only the first ngauges are shown. */
	out = render(m, g, 1);
	assert_int_equal(sample(out, "auth_users"), 42);
	assert_null(strstr(out, "auth_zero"));
	free(out);
	metrics_close(m);

	/* A disabled handle still shows the gauges read elsewhere. */
	snprintf(dir, sizeof(dir), "%s/missing", t->fx.dir);
	off = metrics_open(dir, "/metrics");
	assert_int_equal(metrics_enabled(off), 0);
	out = render(off, g, 1);
	assert_int_equal(sample(out, "auth_users"), 42);
	assert_int_equal(sample(out, "auth_metrics_shared"), 0);
	free(out);
	metrics_close(off);
}

/* Put data[0..len) in place of the segment: it must be refused, untouched. */
static void expect_refused(struct mt *t, const char *data, size_t len)
{
	struct metrics *m;
	char *before, *after, *out;
	size_t blen = 0, alen = 0;

	assert_int_equal(fx_write_file(t->seg, data, len), 0);
	before = fx_read_file(t->seg, &blen);
	assert_non_null(before);
	m = metrics_open(t->fx.dir, "/auth/login");
	assert_non_null(m);
	assert_int_equal(metrics_enabled(m), 0);
	metrics_count(m, METRICS_LOGIN_SUCCESS);
	metrics_observe(m, HTTP_POST, 200, 0.001);
	out = render(m, NULL, 0);
	assert_int_equal(sample(out, "auth_metrics_shared"), 0);
	assert_int_equal(sample(out, "auth_logins_total{result=\"success\"}"), 0);
	free(out);
	metrics_close(m);
	/* Left exactly as it was: not reinitialized, not resized. */
	after = fx_read_file(t->seg, &alen);
	assert_non_null(after);
	assert_int_equal(alen, len);
	assert_int_equal(blen, alen);
	assert_memory_equal(before, after, len);
	free(before);
	free(after);
}

static void test_wrong_size_refused(void **state)
{
	struct mt *t = *state;
	size_t size = (size_t)seg_size(t);
	char *buf = calloc(1, size + 4096);

	assert_non_null(buf);
	expect_refused(t, buf, size - 8);
	expect_refused(t, buf, size + 8);
	expect_refused(t, buf, 1);
	expect_refused(t, buf, size + 4096);
	free(buf);
}

static void test_wrong_header_refused(void **state)
{
	struct mt *t = *state;
	size_t size = (size_t)seg_size(t), len = 0;
	struct metrics *m;
	char *good, *bad, *out;

	/* Garbage of the right size. */
	bad = malloc(size);
	assert_non_null(bad);
	memset(bad, 0xab, size);
	expect_refused(t, bad, size);
	free(bad);

	/* A genuine segment with one counted login, as a template. */
	assert_int_equal(unlink(t->seg), 0);
	m = metrics_open(t->fx.dir, "/auth/login");
	assert_int_equal(metrics_enabled(m), 1);
	metrics_count(m, METRICS_LOGIN_SUCCESS);
	metrics_close(m);
	good = fx_read_file(t->seg, &len);
	assert_non_null(good);
	assert_int_equal(len, size);
	bad = malloc(size);
	assert_non_null(bad);

	/* Magic (bytes 0-7), layout (8-11), size field (12-15) altered. */
	memcpy(bad, good, size);
	bad[0] ^= 0x01;
	expect_refused(t, bad, size);
	memcpy(bad, good, size);
	bad[8] = (char)(bad[8] + 1);
	expect_refused(t, bad, size);
	memcpy(bad, good, size);
	bad[12] ^= 0x08;
	expect_refused(t, bad, size);

	/* Control: the untouched copy is accepted and keeps its count. */
	assert_int_equal(fx_write_file(t->seg, good, size), 0);
	m = metrics_open(t->fx.dir, "/auth/login");
	assert_int_equal(metrics_enabled(m), 1);
	out = render(m, NULL, 0);
	assert_int_equal(sample(out, "auth_logins_total{result=\"success\"}"), 1);
	free(out);
	metrics_close(m);
	free(good);
	free(bad);
}

/* A creator that died between sizing the file and writing its header
 * leaves zeros of the right size: the next process takes it over. */
static void test_zero_segment_recovered(void **state)
{
	struct mt *t = *state;
	size_t size = (size_t)seg_size(t);
	char *zeros = calloc(1, size), *out;
	struct metrics *m;

	assert_non_null(zeros);
	assert_int_equal(fx_write_file(t->seg, zeros, size), 0);
	m = metrics_open(t->fx.dir, "/auth/login");
	assert_int_equal(metrics_enabled(m), 1);
	metrics_count(m, METRICS_LOGIN_SUCCESS);
	out = render(m, NULL, 0);
	assert_int_equal(sample(out, "auth_logins_total{result=\"success\"}"), 1);
	free(out);
	metrics_close(m);
	free(zeros);
}

static void test_symlink_refused(void **state)
{
	struct mt *t = *state;
	char target[FX_PATH_MAX + 16];
	struct metrics *m;

	snprintf(target, sizeof(target), "%s/elsewhere", t->fx.dir);
	assert_int_equal(symlink(target, t->seg), 0);
	m = metrics_open(t->fx.dir, "/auth/login");
	assert_non_null(m);
	assert_int_equal(metrics_enabled(m), 0);
	metrics_close(m);
	/* The link was not followed: nothing created at its target. */
	assert_int_equal(access(target, F_OK), -1);
}

/* A segment another user could have made, or may read, is not used. */
static void test_loose_mode_refused(void **state)
{
	struct mt *t = *state;
	struct metrics *m;
	int fd = open(t->seg, O_RDWR | O_CREAT | O_EXCL, 0600);

	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(chmod(t->seg, 0644), 0);
	m = metrics_open(t->fx.dir, "/auth/login");
	assert_non_null(m);
	assert_int_equal(metrics_enabled(m), 0);
	metrics_close(m);
	assert_int_equal(chmod(t->seg, 0600), 0);
	m = metrics_open(t->fx.dir, "/auth/login");
	assert_int_equal(metrics_enabled(m), 1);
	metrics_close(m);
}

/* Restarts are counted per supervised process, shown even at zero. */
static void test_restarts(void **state)
{
	struct mt *t = *state;
	struct metrics *m = metrics_open(t->fx.dir, NULL);
	char *out;

	assert_int_equal(metrics_restarted(m, "login"), 0);
	assert_int_equal(metrics_restarted(m, "login"), 0);
	assert_int_equal(metrics_restarted(m, "front"), 0);
	assert_int_equal(metrics_restarted(m, "nonesuch"), -1);
	assert_int_equal(metrics_restarted(m, NULL), -1);
	out = render(m, NULL, 0);
	assert_non_null(strstr(out,
	    "auth_process_restarts_total{process=\"login\"} 2\n"));
	assert_non_null(strstr(out,
	    "auth_process_restarts_total{process=\"front\"} 1\n"));
	assert_non_null(strstr(out,
	    "auth_process_restarts_total{process=\"me\"} 0\n"));
	free(out);
	metrics_close(m);
	/* Without a segment nothing is counted and nothing breaks. */
	assert_int_equal(metrics_restarted(NULL, "login"), 0);
}

/*
 * Log lines any process of the node drops are counted in the segment
 * (which registers itself with log.c) and shown even at zero; closing
 * the handle that registered it stops the counting there.
 */
static void test_log_dropped(void **state)
{
	struct mt *t = *state;
	struct metrics *m = metrics_open(t->fx.dir, "/auth/me");
	struct metrics *other;
	int full = open("/dev/full", O_WRONLY | O_CLOEXEC), saved;
	char *out;

	assert_true(full >= 0);
	out = render(m, NULL, 0);
	assert_non_null(strstr(out, "# TYPE auth_log_dropped_total counter\n"
	    "auth_log_dropped_total 0\n"));
	free(out);
	assert_non_null(log_get_shared());
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_int_equal(dup2(full, STDERR_FILENO), STDERR_FILENO);
	log_output_changed();
	log_event(LOG_INFO, "lost", LOG_INT("n", 1));
	log_event(LOG_INFO, "lost", LOG_INT("n", 2));
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	close(full);
	log_output_changed();
	/* Another process's view of the node shows them. */
	other = metrics_open(t->fx.dir, NULL);
	metrics_close(other);
	out = render(m, NULL, 0);
	assert_non_null(strstr(out, "\nauth_log_dropped_total 2\n"));
	free(out);
	/* A second handle took over the registration; closing it let go. */
	assert_null(log_get_shared());
	other = metrics_open(t->fx.dir, NULL);
	assert_non_null(log_get_shared());
	metrics_close(m);
	assert_non_null(log_get_shared());
	metrics_close(other);
	assert_null(log_get_shared());
	/* Without a segment the exposition still says 0. */
	out = render(NULL, NULL, 0);
	assert_non_null(strstr(out, "\nauth_log_dropped_total 0\n"));
	free(out);
}

static void test_render_format(void **state)
{
	static const struct metrics_gauge g[] = {
		{ "auth_users", "Registered users.", 7 },
		{ "auth_refresh_tokens_unrevoked", "Live refresh tokens.", 11 },
	};
	struct mt *t = *state;
	struct metrics *m = metrics_open(t->fx.dir, "/auth/login");
	struct metrics *j = metrics_open(t->fx.dir, "/.well-known/jwks.json");
	regex_t sample_re, comment_re;
	const char *p;
	char *out, line[1024];
	int c, lines = 0, samples = 0;

	metrics_observe(m, HTTP_POST, 200, 0.0005);
	metrics_observe(m, HTTP_POST, 401, 0.3);
	metrics_observe(m, HTTP_GET, 405, 12.25);
	metrics_observe(j, HTTP_GET, 200, 0.0001);
	for (c = 0; c < METRICS_COUNTER__MAX; c++)
		metrics_count(m, (enum metrics_counter)c);
	out = render(m, g, 2);
	assert_true(strlen(out) > 0);
	assert_int_equal(out[strlen(out) - 1], '\n');

	assert_int_equal(regcomp(&sample_re, "^[a-zA-Z_:][a-zA-Z0-9_:]*"
	    "(\\{[a-zA-Z_][a-zA-Z0-9_]*=\"[^\"\\\\]*\""
	    "(,[a-zA-Z_][a-zA-Z0-9_]*=\"[^\"\\\\]*\")*\\})? "
	    "-?[0-9]+(\\.[0-9]+)?$", REG_EXTENDED | REG_NOSUB), 0);
	assert_int_equal(regcomp(&comment_re, "^# (HELP [a-zA-Z_:][a-zA-Z0-9_:]* "
	    "[^\n]+|TYPE [a-zA-Z_:][a-zA-Z0-9_:]* "
	    "(counter|gauge|histogram))$", REG_EXTENDED | REG_NOSUB), 0);
	for (p = out; *p != '\0';) {
		const char *eol = strchr(p, '\n');
		size_t n;

		assert_non_null(eol);
		n = (size_t)(eol - p);
		assert_true(n > 0 && n < sizeof(line));
		memcpy(line, p, n);
		line[n] = '\0';
		if (line[0] == '#') {
			if (regexec(&comment_re, line, 0, NULL, 0) != 0)
				fail_msg("bad comment line: '%s'", line);
		} else {
			if (regexec(&sample_re, line, 0, NULL, 0) != 0)
				fail_msg("bad sample line: '%s'", line);
			samples++;
		}
		lines++;
		p = eol + 1;
	}
	regfree(&sample_re);
	regfree(&comment_re);
	/*
	 * 4 request series, 3 histograms of 12 buckets + sum + count, 7
	 * counters, 17 process restart counters, dropped log lines, 2
	 * gauges and auth_metrics_shared.
	 */
	assert_int_equal(samples, 4 + 3 * 14 + 7 + 17 + 1 + 2 + 1);
	assert_int_equal(lines, fx_lines(out));
	/* One TYPE line per family. */
	assert_int_equal(lines_with(out, "# TYPE "), 10);
	assert_int_equal(lines_with(out, "# HELP "), 10);
	free(out);
	metrics_close(m);
	metrics_close(j);
}

static void test_close_null(void **state)
{
	(void)state;
	metrics_close(NULL);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, mt_setup, mt_teardown)
	const struct CMUnitTest metrics[] = {
		T(test_open_creates_segment),
		T(test_open_missing_dir),
		T(test_open_dir_too_long),
		T(test_two_handles_share),
		T(test_survives_reopen),
		T(test_child_process_visible),
		T(test_observe_buckets),
		T(test_status_classes),
		T(test_handlers),
		T(test_unknown_handler),
		T(test_methods),
		T(test_counters),
		T(test_gauges),
		T(test_wrong_size_refused),
		T(test_wrong_header_refused),
		T(test_zero_segment_recovered),
		T(test_symlink_refused),
		T(test_loose_mode_refused),
		T(test_restarts),
		T(test_log_dropped),
		T(test_render_format),
		cmocka_unit_test(test_close_null),
	};
#undef T

	return cmocka_run_group_tests(metrics, NULL, NULL);
}
