/*
 * test_log: one line of valid JSON per event on fd 2, values escaped;
 * never blocking on fd 2, dropped lines counted and reported, a cut line
 * ended, the journal's priority prefix, reopening after a rotation.
 */
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
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
	log_output_changed();
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
	log_output_changed();
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

/* ---- fd 2 as a full disk, a stalled socket or pipe, the journal ---- */

static int fd2_saved = -1;

/* Make fd the process's fd 2 (log.c looks at it anew). */
static void fd2_use(int fd)
{
	fflush(stderr);
	fd2_saved = dup(STDERR_FILENO);
	assert_true(fd2_saved >= 0);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	log_output_changed();
}

static void fd2_restore(void)
{
	int ok = dup2(fd2_saved, STDERR_FILENO) == STDERR_FILENO;

	close(fd2_saved);
	fd2_saved = -1;
	log_output_changed();
	assert_true(ok);
}

/* Line i (0-based) of buf as a fresh string, without its newline. */
static char *nth_line(const char *buf, int i)
{
	const char *p = buf, *nl;
	char *out;

	for (; i > 0; i--) {
		nl = strchr(p, '\n');
		assert_non_null(nl);
		p = nl + 1;
	}
	nl = strchr(p, '\n');
	assert_non_null(nl);
	out = strndup(p, (size_t)(nl - p));
	assert_non_null(out);
	return out;
}

static int count_lines(const char *buf)
{
	int n = 0;

	for (; *buf != '\0'; buf++)
		n += *buf == '\n';
	return n;
}

/* One JSON line (newline added back) parsed; the caller puts it. */
static struct json_object *parse_line(const char *line)
{
	size_t n = strlen(line);
	char *with_nl = malloc(n + 2);
	struct json_object *o;

	assert_non_null(with_nl);
	memcpy(with_nl, line, n);
	with_nl[n] = '\n';
	with_nl[n + 1] = '\0';
	o = one_line(with_nl, n + 1);
	free(with_nl);
	return o;
}

static long long get_int(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		fail_msg("missing key %s", key);
	assert_true(json_object_is_type(v, json_type_int));
	return json_object_get_int64(v);
}

/* The journal's stream is recognized by JOURNAL_STREAM naming fd 2's
 * device and inode; then each line carries its syslog priority. */
static void test_journal_prefix(void **state)
{
	static const struct {
		enum log_level level;
		const char *prefix;
	} levels[] = {
		{LOG_DEBUG, "<7>{"}, {LOG_INFO, "<6>{"},
		{LOG_WARN, "<4>{"}, {LOG_ERROR, "<3>{"},
	};
	char js[64];
	struct stat st;
	size_t len;
	char *buf;

	(void)state;
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		struct json_object *o;

		capture_begin();
		assert_int_equal(fstat(STDERR_FILENO, &st), 0);
		snprintf(js, sizeof(js), "%llu:%llu",
		    (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
		assert_int_equal(setenv("JOURNAL_STREAM", js, 1), 0);
		log_output_changed();
		log_event(levels[i].level, "journaled", LOG_STR("k", "v"));
		buf = capture_end(&len);
		assert_int_equal(unsetenv("JOURNAL_STREAM"), 0);
		assert_true(len > 3);
		assert_memory_equal(buf, levels[i].prefix, 4);
		/* After the prefix, the line is the plain JSON object. */
		o = one_line(buf + 3, len - 3);
		assert_string_equal(get_str(o, "event"), "journaled");
		json_object_put(o);
		free(buf);
	}
}

/* Any other JOURNAL_STREAM (another file, malformed) leaves lines plain. */
static void test_journal_stream_other(void **state)
{
	static const char *const bad[] = {
		"", ":", "1:", ":1", "a:b", "1:2x", "-1:2", " 1:2",
		"99999999999999999999999:1", "1:2:3",
	};
	char js[64];
	struct stat st;
	size_t len;
	char *buf;

	(void)state;
	for (size_t i = 0; i <= sizeof(bad) / sizeof(bad[0]); i++) {
		capture_begin();
		assert_int_equal(fstat(STDERR_FILENO, &st), 0);
		if (i == sizeof(bad) / sizeof(bad[0]))
			/* The right device, another inode: another file. */
			snprintf(js, sizeof(js), "%llu:%llu",
			    (unsigned long long)st.st_dev,
			    (unsigned long long)st.st_ino + 1);
		else
			snprintf(js, sizeof(js), "%s", bad[i]);
		assert_int_equal(setenv("JOURNAL_STREAM", js, 1), 0);
		log_output_changed();
		log_event(LOG_ERROR, "plain", LOG_STR("k", "v"));
		buf = capture_end(&len);
		assert_int_equal(unsetenv("JOURNAL_STREAM"), 0);
		if (buf[0] != '{')
			fail_msg("JOURNAL_STREAM='%s' gave a prefix: %s", js, buf);
		json_object_put(one_line(buf, len));
		free(buf);
	}
}

/* A line the sink refuses (ENOSPC from /dev/full) is dropped and
 * counted, and reported first by the next line that gets through. */
static void test_drops_counted_then_reported(void **state)
{
	struct log_shared shared = { 0, 0 };
	struct json_object *o;
	char *buf, *line;
	size_t len;
	int full = open("/dev/full", O_WRONLY | O_CLOEXEC);

	(void)state;
	assert_true(full >= 0);
	log_set_shared(&shared);
	assert_ptr_equal(log_get_shared(), &shared);
	fd2_use(full);
	log_event(LOG_INFO, "lost", LOG_INT("n", 1));
	log_event(LOG_INFO, "lost", LOG_INT("n", 2));
	log_event(LOG_ERROR, "lost", LOG_INT("n", 3));
	fd2_restore();
	close(full);
	assert_int_equal(shared.dropped, 3);

	/* Space again: the report, then the line, each whole. The report
	 * carries no request id: the lost lines were not this request's. */
	log_set_request("req-after");
	capture_begin();
	log_event(LOG_INFO, "after", LOG_STR("k", "v"));
	log_event(LOG_INFO, "again", LOG_STR("k", "v"));
	buf = capture_end(&len);
	log_set_request(NULL);
	assert_int_equal(count_lines(buf), 3);
	line = nth_line(buf, 0);
	o = parse_line(line);
	assert_string_equal(get_str(o, "event"), "log_lines_dropped");
	assert_string_equal(get_str(o, "level"), "warn");
	assert_int_equal(get_int(o, "lines"), 3);
	assert_time_format(get_str(o, "since"));
	assert_false(has_key(o, "request_id"));
	json_object_put(o);
	free(line);
	line = nth_line(buf, 1);
	o = parse_line(line);
	assert_string_equal(get_str(o, "event"), "after");
	assert_string_equal(get_str(o, "request_id"), "req-after");
	json_object_put(o);
	free(line);
	/* Reported once: the next line is just itself. */
	line = nth_line(buf, 2);
	o = parse_line(line);
	assert_string_equal(get_str(o, "event"), "again");
	json_object_put(o);
	free(line);
	free(buf);
	/* The node-wide count is a total: reporting does not reset it. */
	assert_int_equal(shared.dropped, 3);
	log_set_shared(NULL);
}

/* Event of line i of buf. */
static void assert_line_event(const char *buf, int i, const char *event,
    pid_t pid)
{
	char *line = nth_line(buf, i);
	struct json_object *o = parse_line(line);

	assert_string_equal(get_str(o, "event"), event);
	assert_int_equal(get_int(o, "pid"), (long long)pid);
	json_object_put(o);
	free(line);
}

/* A forked child reports its own losses only, not its parent's. */
static void test_child_reports_its_own(void **state)
{
	int full = open("/dev/full", O_WRONLY | O_CLOEXEC), status;
	size_t len;
	char *buf;
	pid_t pid;

	(void)state;
	assert_true(full >= 0);
	fd2_use(full);
	log_event(LOG_INFO, "lost", LOG_INT("n", 1));
	fd2_restore();
	close(full);
	capture_begin();
	fflush(stdout);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		log_event(LOG_INFO, "child", LOG_STR("k", "v"));
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	log_event(LOG_INFO, "parent", LOG_STR("k", "v"));
	buf = capture_end(&len);
	assert_int_equal(count_lines(buf), 3);
	assert_line_event(buf, 0, "child", pid);
	assert_line_event(buf, 1, "log_lines_dropped", getpid());
	assert_line_event(buf, 2, "parent", getpid());
	free(buf);
}

/* A full disk can take the start of a line and refuse the rest (here
 * RLIMIT_FSIZE plays the disk). The next line that gets through starts
 * with a newline, so only the cut line is lost, never the next one. */
static void test_cut_line_is_ended(void **state)
{
	struct log_shared shared = { 0, 0 };
	struct rlimit saved, lim;
	struct json_object *o;
	char *buf, *line;
	size_t len;

	(void)state;
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
	signal(SIGXFSZ, SIG_IGN);
	log_set_shared(&shared);
	capture_begin();
	lim = saved;
	lim.rlim_cur = 50;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	log_event(LOG_INFO, "cut", LOG_STR("k", "longer than fifty bytes"));
	assert_int_equal(shared.cut, 1);
	log_event(LOG_INFO, "refused", LOG_STR("k", "v"));
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
	log_event(LOG_INFO, "after", LOG_STR("k", "v"));
	buf = capture_end(&len);
	signal(SIGXFSZ, SIG_DFL);
	assert_int_equal(shared.cut, 0);
	assert_int_equal(shared.dropped, 2);
	assert_int_equal(count_lines(buf), 3);
	line = nth_line(buf, 0);
	assert_int_equal(strlen(line), 50);
	assert_int_equal(strncmp(line, "{\"time\":", 8), 0);
	free(line);
	line = nth_line(buf, 1);
	o = parse_line(line);
	assert_string_equal(get_str(o, "event"), "log_lines_dropped");
	assert_int_equal(get_int(o, "lines"), 2);
	json_object_put(o);
	free(line);
	assert_line_event(buf, 2, "after", getpid());
	free(buf);
	log_set_shared(NULL);
}

/* A line cut by another process (flagged in the shared segment) is
 * ended by whichever process writes next, once. */
static void test_cut_by_another_process(void **state)
{
	struct log_shared shared = { 0, 1 };
	size_t len;
	char *buf;

	(void)state;
	log_set_shared(&shared);
	capture_begin();
	log_event(LOG_INFO, "first", LOG_STR("k", "v"));
	log_event(LOG_INFO, "second", LOG_STR("k", "v"));
	buf = capture_end(&len);
	log_set_shared(NULL);
	assert_int_equal(shared.cut, 0);
	assert_int_equal(buf[0], '\n');
	assert_int_equal(count_lines(buf), 3);
	assert_line_event(buf + 1, 0, "first", getpid());
	assert_line_event(buf + 1, 1, "second", getpid());
	free(buf);
}

/* Read whatever is waiting on fd into a NUL-terminated malloc'd string. */
static char *drain(int fd)
{
	size_t cap = 1 << 20, len = 0;
	char *buf = malloc(cap + 1);
	ssize_t n;

	assert_non_null(buf);
	while ((n = read(fd, buf + len, cap - len)) > 0)
		len += (size_t)n;
	assert_true(n == 0 || errno == EAGAIN);
	buf[len] = '\0';
	return buf;
}

/* Fill fd (a socket or pipe end) until it takes no more. */
static void fill(int fd)
{
	static char junk[4096];
	int flags = fcntl(fd, F_GETFL);

	assert_true(flags >= 0);
	assert_int_equal(fcntl(fd, F_SETFL, flags | O_NONBLOCK), 0);
	while (write(fd, junk, sizeof(junk)) > 0)
		;
	while (write(fd, junk, 1) > 0)
		;
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(fcntl(fd, F_SETFL, flags), 0);
}

/* Whatever the reader of fd 2 does, log_write returns at once. */
static void stalled_reader(int writer, int reader)
{
	struct log_shared shared = { 0, 0 };
	char *junk, *buf;
	int flags;

	fill(writer);
	flags = fcntl(writer, F_GETFL);
	log_set_shared(&shared);
	fd2_use(writer);
	/* A blocking write would hang here: SIGALRM ends the test instead. */
	alarm(10);
	log_event(LOG_INFO, "stalled", LOG_INT("n", 1));
	log_event(LOG_INFO, "stalled", LOG_INT("n", 2));
	alarm(0);
	assert_int_equal(shared.dropped, 2);
	/* The description we share with others was not made non-blocking. */
	assert_int_equal(fcntl(writer, F_GETFL), flags);
	junk = drain(reader);
	free(junk);
	log_event(LOG_INFO, "flowing", LOG_STR("k", "v"));
	fd2_restore();
	log_set_shared(NULL);
	buf = drain(reader);
	assert_int_equal(count_lines(buf), 2);
	assert_line_event(buf, 0, "log_lines_dropped", getpid());
	assert_line_event(buf, 1, "flowing", getpid());
	free(buf);
}

/* The journal's stream is a socket: a stalled journal drops lines. */
static void test_socket_never_blocks(void **state)
{
	int sv[2], small = 4096;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small,
	    sizeof(small)), 0);
	assert_int_equal(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
	stalled_reader(sv[0], sv[1]);
	close(sv[0]);
	close(sv[1]);
}

/* A pipe (a container's log collector) that nobody reads drops lines. */
static void test_pipe_never_blocks(void **state)
{
	int p[2];

	(void)state;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
	stalled_reader(p[1], p[0]);
	close(p[0]);
	close(p[1]);
}

/* ---- reopening after a rotation ---- */

struct rot {
	char dir[64];
	char path[128];      /* dir/auth.log */
	char renamed[128];   /* dir/auth.log.1 */
	int saved_out, saved_err;
};

static struct rot *rot_begin(void)
{
	struct rot *r = calloc(1, sizeof(*r));
	int fd;

	assert_non_null(r);
	snprintf(r->dir, sizeof(r->dir), "/tmp/test_log.XXXXXX");
	assert_non_null(mkdtemp(r->dir));
	snprintf(r->path, sizeof(r->path), "%s/auth.log", r->dir);
	snprintf(r->renamed, sizeof(r->renamed), "%s/auth.log.1", r->dir);
	fflush(stdout);
	fflush(stderr);
	r->saved_out = dup(STDOUT_FILENO);
	r->saved_err = dup(STDERR_FILENO);
	assert_true(r->saved_out >= 0 && r->saved_err >= 0);
	/* As the supervisor leaves it: fd 1 and 2 one description. */
	fd = open(r->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	assert_int_equal(dup2(fd, STDOUT_FILENO), STDOUT_FILENO);
	close(fd);
	log_output_changed();
	assert_int_equal(setenv("AUTH_LOG_FILE", r->path, 1), 0);
	return r;
}

static void rot_end(struct rot *r)
{
	fflush(stdout);
	assert_int_equal(dup2(r->saved_out, STDOUT_FILENO), STDOUT_FILENO);
	assert_int_equal(dup2(r->saved_err, STDERR_FILENO), STDERR_FILENO);
	close(r->saved_out);
	close(r->saved_err);
	log_output_changed();
	assert_int_equal(unsetenv("AUTH_LOG_FILE"), 0);
	unlink(r->path);
	unlink(r->renamed);
	rmdir(r->dir);
	free(r);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = calloc(1, 65536);
	size_t n;

	assert_non_null(f);
	assert_non_null(buf);
	n = fread(buf, 1, 65535, f);
	assert_false(ferror(f));
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* 1 when fd is the file now at path. */
static int fd_is(int fd, const char *path)
{
	struct stat a, b;

	return fstat(fd, &a) == 0 && stat(path, &b) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static void test_reopen_after_rename(void **state)
{
	struct rot *r = rot_begin();
	struct stat st;
	char *old, *now;

	(void)state;
	log_event(LOG_INFO, "one", LOG_STR("k", "v"));
	assert_int_equal(rename(r->path, r->renamed), 0);
	log_event(LOG_INFO, "two", LOG_STR("k", "v"));
	assert_int_equal(log_reopen(), 0);
	log_event(LOG_INFO, "three", LOG_STR("k", "v"));
	assert_true(fd_is(STDERR_FILENO, r->path));
	/* fd 1 was the same file: it follows, so nothing holds the old. */
	assert_true(fd_is(STDOUT_FILENO, r->path));
	assert_int_equal(fcntl(STDERR_FILENO, F_GETFL) & O_APPEND, O_APPEND);
	assert_int_equal(fcntl(STDERR_FILENO, F_GETFD) & FD_CLOEXEC, 0);
	assert_int_equal(stat(r->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	old = slurp(r->renamed);
	now = slurp(r->path);
	assert_int_equal(count_lines(old), 2);
	assert_line_event(old, 0, "one", getpid());
	assert_line_event(old, 1, "two", getpid());
	assert_int_equal(count_lines(now), 1);
	assert_line_event(now, 0, "three", getpid());
	free(old);
	free(now);
	rot_end(r);
}

/* A signal handler only asks; the reopen happens where the process says. */
static void test_reopen_when_requested(void **state)
{
	struct rot *r = rot_begin();
	char *old, *now;

	(void)state;
	/* Nothing asked: nothing done. */
	assert_int_equal(rename(r->path, r->renamed), 0);
	log_reopen_if_requested();
	log_event(LOG_INFO, "one", LOG_STR("k", "v"));
	log_reopen_request();
	log_event(LOG_INFO, "two", LOG_STR("k", "v"));
	log_reopen_if_requested();
	log_event(LOG_INFO, "three", LOG_STR("k", "v"));
	/* Asked once, done once. */
	assert_int_equal(unlink(r->path), 0);
	log_reopen_if_requested();
	log_event(LOG_INFO, "four", LOG_STR("k", "v"));
	old = slurp(r->renamed);
	assert_int_equal(count_lines(old), 2);
	assert_line_event(old, 0, "one", getpid());
	assert_line_event(old, 1, "two", getpid());
	free(old);
	assert_int_equal(access(r->path, F_OK), -1);
	assert_int_equal(log_reopen(), 0);
	log_event(LOG_INFO, "five", LOG_STR("k", "v"));
	now = slurp(r->path);
	assert_int_equal(count_lines(now), 1);
	assert_line_event(now, 0, "five", getpid());
	free(now);
	rot_end(r);
}

/* fd 1 elsewhere stays where it is. */
static void test_reopen_leaves_other_stdout(void **state)
{
	struct rot *r = rot_begin();
	int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);

	(void)state;
	assert_true(devnull >= 0);
	assert_int_equal(dup2(devnull, STDOUT_FILENO), STDOUT_FILENO);
	close(devnull);
	assert_int_equal(rename(r->path, r->renamed), 0);
	assert_int_equal(log_reopen(), 0);
	assert_true(fd_is(STDERR_FILENO, r->path));
	assert_true(fd_is(STDOUT_FILENO, "/dev/null"));
	rot_end(r);
}

/* Without AUTH_LOG_FILE there is nothing to reopen; a path that cannot
 * be opened is said on the log as it was, which stays. */
static void test_reopen_unset_or_failing(void **state)
{
	struct stat before, after;
	struct json_object *o;
	size_t len;
	char *buf;

	(void)state;
	assert_int_equal(unsetenv("AUTH_LOG_FILE"), 0);
	capture_begin();
	assert_int_equal(fstat(STDERR_FILENO, &before), 0);
	assert_int_equal(log_reopen(), 1);
	assert_int_equal(setenv("AUTH_LOG_FILE", "", 1), 0);
	assert_int_equal(log_reopen(), 1);
	assert_int_equal(setenv("AUTH_LOG_FILE", "/nonexistent/dir/auth.log", 1), 0);
	assert_int_equal(log_reopen(), -1);
	assert_int_equal(fstat(STDERR_FILENO, &after), 0);
	buf = capture_end(&len);
	assert_int_equal(unsetenv("AUTH_LOG_FILE"), 0);
	assert_true(before.st_ino == after.st_ino);
	o = one_line(buf, len);
	assert_string_equal(get_str(o, "event"), "log_reopen_failed");
	assert_string_equal(get_str(o, "path"), "/nonexistent/dir/auth.log");
	assert_int_equal(get_int(o, "errno"), ENOENT);
	json_object_put(o);
	free(buf);
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
		cmocka_unit_test(test_journal_prefix),
		cmocka_unit_test(test_journal_stream_other),
		cmocka_unit_test(test_drops_counted_then_reported),
		cmocka_unit_test(test_child_reports_its_own),
		cmocka_unit_test(test_cut_line_is_ended),
		cmocka_unit_test(test_cut_by_another_process),
		cmocka_unit_test(test_socket_never_blocks),
		cmocka_unit_test(test_pipe_never_blocks),
		cmocka_unit_test(test_reopen_after_rename),
		cmocka_unit_test(test_reopen_when_requested),
		cmocka_unit_test(test_reopen_leaves_other_stdout),
		cmocka_unit_test(test_reopen_unset_or_failing),
	};

	return cmocka_run_group_tests(log, NULL, NULL);
}
