/* test_log: one line of valid JSON per event on fd 2, values escaped. */
#include "unit.h"

#include <limits.h>
#include <math.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <json-c/json.h>

#include "log.h"
#include "valid.h"

/* ---- capturing fd 2 ---- */

static int cap_saved = -1, cap_fd = -1;

static void capture_begin(void)
{
	char path[] = "/tmp/test_log.XXXXXX";

	fflush(stderr);
	cap_fd = mkstemp(path);
	assert_true(cap_fd >= 0);
	assert_int_equal(unlink(path), 0);
	cap_saved = dup(STDERR_FILENO);
	assert_true(cap_saved >= 0);
	assert_int_equal(dup2(cap_fd, STDERR_FILENO), STDERR_FILENO);
}

/* Restore fd 2; return what was written (NUL-terminated), free it. */
static char *capture_end(size_t *len)
{
	char *buf = NULL;
	off_t size;
	ssize_t got;
	int ok;

	fflush(stderr);
	ok = dup2(cap_saved, STDERR_FILENO) == STDERR_FILENO;
	close(cap_saved);
	cap_saved = -1;
	assert_true(ok);
	size = lseek(cap_fd, 0, SEEK_END);
	assert_true(size >= 0);
	buf = malloc((size_t)size + 1);
	assert_non_null(buf);
	got = pread(cap_fd, buf, (size_t)size, 0);
	close(cap_fd);
	cap_fd = -1;
	assert_int_equal(got, size);
	buf[size] = '\0';
	*len = (size_t)size;
	return buf;
}

/* ---- checking a captured line ---- */

/* The capture is exactly one line of valid JSON; returns the object. */
static struct json_object *one_line(const char *buf, size_t len)
{
	struct json_tokener *tok;
	struct json_object *o, *strict;

	assert_true(len >= 3);
	assert_int_equal(buf[len - 1], '\n');
	/* No other newline, no raw control byte, valid UTF-8. */
	assert_ptr_equal(memchr(buf, '\n', len), buf + len - 1);
	for (size_t i = 0; i + 1 < len; i++) {
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			fail_msg("raw control byte 0x%02x at %zu in: %s",
			    (unsigned char)buf[i], i, buf);
	}
	assert_int_equal(valid_utf8(buf, len), 1);
	assert_int_equal(buf[0], '{');
	assert_int_equal(buf[len - 2], '}');

	o = json_tokener_parse(buf);
	if (o == NULL)
		fail_msg("not JSON: %s", buf);
	assert_true(json_object_is_type(o, json_type_object));

	/* Also valid under json-c's strict grammar, as a whole. */
	tok = json_tokener_new();
	assert_non_null(tok);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	strict = json_tokener_parse_ex(tok, buf, (int)len);
	assert_non_null(strict);
	assert_int_equal(json_tokener_get_error(tok), json_tokener_success);
	assert_true(json_object_equal(o, strict));
	json_object_put(strict);
	json_tokener_free(tok);
	return o;
}

static const char *get_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		fail_msg("missing key %s", key);
	assert_true(json_object_is_type(v, json_type_string));
	return json_object_get_string(v);
}

static int has_key(struct json_object *o, const char *key)
{
	return json_object_object_get_ex(o, key, NULL);
}

/* Keys in emission order must be exactly keys[0..n). */
static void assert_keys(struct json_object *o, const char *const *keys,
    size_t n)
{
	size_t i = 0;

	assert_int_equal(json_object_object_length(o), n);
	json_object_object_foreach(o, k, v) {
		(void)v;
		assert_true(i < n);
		assert_string_equal(k, keys[i]);
		i++;
	}
	assert_int_equal(i, n);
}

static void assert_time_format(const char *t)
{
	/* YYYY-MM-DDTHH:MM:SS.mmmZ, UTC. */
	static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";

	assert_int_equal(strlen(t), strlen(shape));
	for (size_t i = 0; shape[i] != '\0'; i++) {
		if (shape[i] == 'd')
			assert_true(t[i] >= '0' && t[i] <= '9');
		else
			assert_int_equal(t[i], shape[i]);
	}
}

/* ---- tests ---- */

/* Runs first: no log_set_endpoint yet. */
static void test_default_endpoint(void **state)
{
	struct json_object *o;
	size_t len;
	char *buf;

	(void)state;
	capture_begin();
	log_event(LOG_INFO, "startup", LOG_STR("k", "v"));
	buf = capture_end(&len);
	o = one_line(buf, len);
	assert_string_equal(get_str(o, "endpoint"), "auth");
	json_object_put(o);
	free(buf);
}

static void test_one_line_with_fields(void **state)
{
	static const char *const keys[] = {
		"time", "level", "endpoint", "pid", "event", "user_id",
		"client",
	};
	struct json_object *o, *pid;
	size_t len;
	char *buf;

	(void)state;
	log_set_endpoint("login");
	capture_begin();
	log_event(LOG_INFO, "login_success", LOG_STR("user_id", "u-1"),
	    LOG_STR("client", "192.0.2.7"));
	buf = capture_end(&len);
	o = one_line(buf, len);
	assert_keys(o, keys, sizeof(keys) / sizeof(keys[0]));
	assert_time_format(get_str(o, "time"));
	assert_string_equal(get_str(o, "level"), "info");
	assert_string_equal(get_str(o, "endpoint"), "login");
	assert_string_equal(get_str(o, "event"), "login_success");
	assert_string_equal(get_str(o, "user_id"), "u-1");
	assert_string_equal(get_str(o, "client"), "192.0.2.7");
	assert_true(json_object_object_get_ex(o, "pid", &pid));
	assert_true(json_object_is_type(pid, json_type_int));
	assert_int_equal(json_object_get_int64(pid), (int64_t)getpid());
	json_object_put(o);
	free(buf);
}

static void test_levels(void **state)
{
	static const struct {
		enum log_level level;
		const char *name;
	} levels[] = {
		{LOG_DEBUG, "debug"}, {LOG_INFO, "info"},
		{LOG_WARN, "warn"}, {LOG_ERROR, "error"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		struct json_object *o;
		size_t len;
		char *buf;

		capture_begin();
		log_event(levels[i].level, "e", LOG_STR("k", "v"));
		buf = capture_end(&len);
		o = one_line(buf, len);
		assert_string_equal(get_str(o, "level"), levels[i].name);
		json_object_put(o);
		free(buf);
	}
}

static void test_null_values_skipped(void **state)
{
	static const char *const keys[] = {
		"time", "level", "endpoint", "pid", "event", "a", "c",
	};
	struct json_object *o;
	size_t len;
	char *buf;

	(void)state;
	capture_begin();
	log_event(LOG_WARN, "ev", LOG_STR("a", "1"), LOG_STR("user_id", NULL),
	    LOG_STR(NULL, "orphan"), LOG_STR("c", "3"), LOG_STR("z", NULL));
	buf = capture_end(&len);
	o = one_line(buf, len);
	assert_keys(o, keys, sizeof(keys) / sizeof(keys[0]));
	assert_false(has_key(o, "user_id"));
	assert_false(has_key(o, "z"));
	assert_null(strstr(buf, "orphan"));
	assert_null(strstr(buf, "null"));
	json_object_put(o);
	free(buf);
}

static void test_only_null_fields(void **state)
{
	static const char *const keys[] = {
		"time", "level", "endpoint", "pid", "event",
	};
	struct json_object *o;
	size_t len;
	char *buf;

	(void)state;
	capture_begin();
	log_event(LOG_ERROR, "bare", LOG_STR("x", NULL));
	buf = capture_end(&len);
	o = one_line(buf, len);
	assert_keys(o, keys, sizeof(keys) / sizeof(keys[0]));
	assert_string_equal(get_str(o, "event"), "bare");
	json_object_put(o);
	free(buf);
}

/* Log a value, return it as parsed back from the single line. */
static char *roundtrip(const char *value)
{
	struct json_object *o;
	size_t len;
	char *buf, *got;

	capture_begin();
	log_event(LOG_INFO, "rt", LOG_STR("v", value));
	buf = capture_end(&len);
	o = one_line(buf, len);
	got = strdup(get_str(o, "v"));
	assert_non_null(got);
	json_object_put(o);
	free(buf);
	return got;
}

static void assert_roundtrip(const char *value)
{
	char *got = roundtrip(value);

	assert_string_equal(got, value);
	free(got);
}

static void test_escaping(void **state)
{
	(void)state;
	assert_roundtrip("plain");
	assert_roundtrip("");
	assert_roundtrip("say \"hi\"");
	assert_roundtrip("back\\slash\\");
	assert_roundtrip("\\\"");
	assert_roundtrip("line1\nline2\r\n");
	assert_roundtrip("tab\there");
	assert_roundtrip("\x01\x02\x1b[31mred\x1b[0m\x1f");
	assert_roundtrip("del\x7f");
	assert_roundtrip("a/b</script>");
	assert_roundtrip("\b\f\v");
	/* A forged second record stays inside the value. */
	assert_roundtrip("x\"}\n{\"level\":\"error\",\"event\":\"forged");
	assert_roundtrip("\\u0000 is text, not a NUL");
}

static void test_every_ascii_byte(void **state)
{
	char all[128];

	(void)state;
	for (int c = 1; c < 128; c++)
		all[c - 1] = (char)c;
	all[127] = '\0';
	assert_roundtrip(all);
}

static void test_event_and_key_escaped(void **state)
{
	struct json_object *o;
	size_t len;
	char *buf;

	(void)state;
	capture_begin();
	log_event(LOG_INFO, "ev\"\n\x01", LOG_STR("k\"e\ny", "v"));
	buf = capture_end(&len);
	o = one_line(buf, len);
	assert_string_equal(get_str(o, "event"), "ev\"\n\x01");
	assert_string_equal(get_str(o, "k\"e\ny"), "v");
	json_object_put(o);
	free(buf);
}

static void test_utf8_passthrough(void **state)
{
	(void)state;
	assert_roundtrip("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	assert_roundtrip("\xf4\x8f\xbf\xbf");
}

static void test_invalid_utf8_replaced(void **state)
{
	char *got;

	(void)state;
	/* one_line() already checks the whole line is valid UTF-8. */
	got = roundtrip("a\xff" "b\xc3");
	assert_string_equal(got, "a?b?");
	free(got);
	got = roundtrip("\xc0\x80\xed\xa0\x80");
	assert_string_equal(got, "?????");
	free(got);
}

static void test_int_and_ms_fields(void **state)
{
	struct json_object *o, *v;
	size_t len;
	char *buf;

	(void)state;
	capture_begin();
	log_event(LOG_INFO, "nums", LOG_INT("n", -42), LOG_INT("zero", 0),
	    LOG_INT("max", LLONG_MAX), LOG_INT("min", LLONG_MIN),
	    LOG_MS("d", 1.5), LOG_MS("z", 0.0));
	buf = capture_end(&len);
	o = one_line(buf, len);
	assert_true(json_object_object_get_ex(o, "n", &v));
	assert_true(json_object_is_type(v, json_type_int));
	assert_int_equal(json_object_get_int64(v), -42);
	assert_true(json_object_object_get_ex(o, "zero", &v));
	assert_int_equal(json_object_get_int64(v), 0);
	assert_true(json_object_object_get_ex(o, "max", &v));
	assert_true(json_object_get_int64(v) == INT64_MAX);
	assert_true(json_object_object_get_ex(o, "min", &v));
	assert_true(json_object_get_int64(v) == INT64_MIN);
	assert_true(json_object_object_get_ex(o, "d", &v));
	assert_true(json_object_is_type(v, json_type_double));
	assert_true(json_object_get_double(v) == 1.5);
	/* Three decimals, as documented. */
	assert_non_null(strstr(buf, "\"d\":1.500"));
	assert_non_null(strstr(buf, "\"z\":0.000"));
	json_object_put(o);
	free(buf);
}

/* Durations are formatted by hand: rounding, sign, and values that
 * would not be JSON numbers. The timestamp matches the clock. */
static void test_ms_edges_and_time(void **state)
{
	struct json_object *o;
	struct timespec before, after;
	struct tm tm;
	char want[32];
	size_t len;
	char *buf;

	(void)state;
	clock_gettime(CLOCK_REALTIME, &before);
	capture_begin();
	log_event(LOG_INFO, "ms", LOG_MS("neg", -1.5), LOG_MS("tiny", 0.0004),
	    LOG_MS("up", 2.0006), LOG_MS("big", 1234567.25),
	    LOG_MS("nan", NAN), LOG_MS("huge", 1e300));
	buf = capture_end(&len);
	clock_gettime(CLOCK_REALTIME, &after);
	o = one_line(buf, len);
	assert_non_null(strstr(buf, "\"neg\":-1.500,"));
	assert_non_null(strstr(buf, "\"tiny\":0.000,"));
	assert_non_null(strstr(buf, "\"up\":2.001,"));
	assert_non_null(strstr(buf, "\"big\":1234567.250,"));
	assert_non_null(strstr(buf, "\"nan\":0.000,"));
	assert_non_null(strstr(buf, "\"huge\":0.000}"));
	/* Same second on both sides of the call: the date must be exact. */
	if (before.tv_sec == after.tv_sec) {
		gmtime_r(&before.tv_sec, &tm);
		strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%S.", &tm);
		assert_int_equal(strncmp(get_str(o, "time"), want, strlen(want)), 0);
	}
	json_object_put(o);
	free(buf);
}

static void test_request_id(void **state)
{
	static const char *const with[] = {
		"time", "level", "endpoint", "pid", "request_id", "event", "k",
	};
	static const char *const without[] = {
		"time", "level", "endpoint", "pid", "event", "k",
	};
	static const char rid[] = "req-\"1\"";
	struct json_object *o;
	size_t len;
	char *buf;

	(void)state;
	log_set_request(rid);
	capture_begin();
	log_event(LOG_INFO, "e", LOG_STR("k", "v"));
	buf = capture_end(&len);
	log_set_request(NULL);
	o = one_line(buf, len);
	assert_keys(o, with, sizeof(with) / sizeof(with[0]));
	assert_string_equal(get_str(o, "request_id"), rid);
	json_object_put(o);
	free(buf);

	capture_begin();
	log_event(LOG_INFO, "e", LOG_STR("k", "v"));
	buf = capture_end(&len);
	o = one_line(buf, len);
	assert_keys(o, without, sizeof(without) / sizeof(without[0]));
	json_object_put(o);
	free(buf);
}

static void test_two_events_two_lines(void **state)
{
	struct json_object *o;
	size_t len;
	char *buf, *nl;

	(void)state;
	capture_begin();
	log_event(LOG_INFO, "first", LOG_STR("n", "1"));
	log_event(LOG_WARN, "second", LOG_STR("n", "2\n3"));
	buf = capture_end(&len);
	nl = memchr(buf, '\n', len);
	assert_non_null(nl);
	o = one_line(buf, (size_t)(nl + 1 - buf));
	assert_string_equal(get_str(o, "event"), "first");
	json_object_put(o);
	o = one_line(nl + 1, len - (size_t)(nl + 1 - buf));
	assert_string_equal(get_str(o, "event"), "second");
	assert_string_equal(get_str(o, "n"), "2\n3");
	json_object_put(o);
	free(buf);
}

/* Length of the line written for value v (0 if none). */
static size_t line_len_for(const char *v)
{
	size_t len;
	char *buf;

	capture_begin();
	log_event(LOG_INFO, "size", LOG_STR("v", v));
	buf = capture_end(&len);
	if (len > 0)
		json_object_put(one_line(buf, len));
	free(buf);
	return len;
}

static void test_long_line_dropped_whole(void **state)
{
	size_t base, k;
	char *v;

	(void)state;
	base = line_len_for("");
	assert_true(base > 0 && base < LOG_LINE_MAX);
	v = malloc(2 * LOG_LINE_MAX);
	assert_non_null(v);

	/* A line of exactly LOG_LINE_MAX bytes, newline included, fits. */
	k = LOG_LINE_MAX - base;
	memset(v, 'x', k);
	v[k] = '\0';
	assert_int_equal(line_len_for(v), LOG_LINE_MAX);

	/* One byte more: a write never exceeds LOG_LINE_MAX bytes, newline
	 * included, and a line is never cut: nothing at all. */
	memset(v, 'x', k + 1);
	v[k + 1] = '\0';
	assert_int_equal(line_len_for(v), 0);
	memset(v, 'x', k + 2);
	v[k + 2] = '\0';
	assert_int_equal(line_len_for(v), 0);
	memset(v, 'x', 2 * LOG_LINE_MAX - 1);
	v[2 * LOG_LINE_MAX - 1] = '\0';
	assert_int_equal(line_len_for(v), 0);

	/* Escaping counts: 1000 control bytes become 6000 bytes. */
	memset(v, '\x01', 1000);
	v[1000] = '\0';
	assert_int_equal(line_len_for(v), 0);
	free(v);

	/* And the next event is logged normally. */
	assert_int_equal(line_len_for("ok"), base + 2);
}

int main(void)
{
	const struct CMUnitTest log[] = {
		cmocka_unit_test(test_default_endpoint),   /* must be first */
		cmocka_unit_test(test_one_line_with_fields),
		cmocka_unit_test(test_levels),
		cmocka_unit_test(test_null_values_skipped),
		cmocka_unit_test(test_only_null_fields),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_every_ascii_byte),
		cmocka_unit_test(test_event_and_key_escaped),
		cmocka_unit_test(test_utf8_passthrough),
		cmocka_unit_test(test_invalid_utf8_replaced),
		cmocka_unit_test(test_int_and_ms_fields),
		cmocka_unit_test(test_ms_edges_and_time),
		cmocka_unit_test(test_request_id),
		cmocka_unit_test(test_two_events_two_lines),
		cmocka_unit_test(test_long_line_dropped_whole),
	};

	return cmocka_run_group_tests(log, NULL, NULL);
}
