/*
 * log: one JSON object per line on stderr (start.sh points it at the log
 * file). Hand-written rather than built with json-c: a line is a few
 * flat fields, and assembling it in a stack buffer keeps the request path
 * free of allocations. Numbers and the timestamp are formatted by hand
 * too: through stdio the access line cost more than a SQLite lookup.
 */
#include "log.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "valid.h"

/* Process identity and the request in progress: set by main and http.
 * The pid is cached (a syscall per line otherwise) and forgotten in a
 * forked child. */
static const char *log_endpoint = "auth";
static const char *log_request_id;
static pid_t log_pid;
/* The broken-down UTC time of the last second a line was written in. */
static time_t log_sec = (time_t)-1;
static struct tm log_tm;

static void log_forget_pid(void)
{
	log_pid = 0;
}

static const char *const log_level_names[] = {
	[LOG_DEBUG] = "debug", [LOG_INFO] = "info",
	[LOG_WARN] = "warn", [LOG_ERROR] = "error",
};

void log_set_endpoint(const char *endpoint)
{
	static int registered;

	log_endpoint = endpoint;
	if (!registered && pthread_atfork(NULL, NULL, log_forget_pid) == 0)
		registered = 1;
}

void log_set_request(const char *request_id)
{
	log_request_id = request_id;
}

struct log_buf {
	char *p;
	size_t len, cap;
	int overflow;
};

static void log_raw(struct log_buf *b, const char *s, size_t n)
{
	if (b->overflow || b->cap - b->len < n) {
		b->overflow = 1;
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

/* Append s as a JSON string; invalid UTF-8 becomes '?' bytes. Runs of
 * bytes that need nothing are copied at once. */
static void log_string(struct log_buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = strlen(s), i, run = 0;
	int utf8 = valid_utf8(s, n);

	log_raw(b, "\"", 1);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c != '"' && c != '\\' && c >= 0x20 && c != 0x7f &&
		    (c < 0x80 || utf8))
			continue;
		log_raw(b, s + run, i - run);
		run = i + 1;
		if (c == '"' || c == '\\') {
			char esc[2] = { '\\', (char)c };
			log_raw(b, esc, 2);
		} else if (c < 0x20 || c == 0x7f) {
			char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
			log_raw(b, esc, 6);
		} else {
			log_raw(b, "?", 1);
		}
	}
	log_raw(b, s + run, n - run);
	log_raw(b, "\"", 1);
}

static void log_key(struct log_buf *b, const char *key)
{
	log_raw(b, ",", 1);
	log_string(b, key);
	log_raw(b, ":", 1);
}

/* Append v in decimal, at least width digits (zero-padded). */
static void log_uint(struct log_buf *b, unsigned long long v, int width)
{
	char tmp[24];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0 || (int)(sizeof(tmp) - i) < width);
	log_raw(b, tmp + i, sizeof(tmp) - i);
}

static void log_int(struct log_buf *b, long long v)
{
	if (v < 0) {
		log_raw(b, "-", 1);
		/* Negated in unsigned arithmetic: LLONG_MIN has no positive. */
		log_uint(b, 0ULL - (unsigned long long)v, 1);
	} else {
		log_uint(b, (unsigned long long)v, 1);
	}
}

/* Milliseconds with three decimals, from microseconds rounded. */
static void log_ms(struct log_buf *b, double v)
{
	long long us;

	/* NaN and absurd values would not be JSON numbers. */
	if (!(v > -1e12 && v < 1e12))
		v = 0;
	us = (long long)(v * 1000.0 + (v < 0 ? -0.5 : 0.5));
	if (us < 0) {
		log_raw(b, "-", 1);
		us = -us;
	}
	log_uint(b, (unsigned long long)(us / 1000), 1);
	log_raw(b, ".", 1);
	log_uint(b, (unsigned long long)(us % 1000), 3);
}

/* "2026-01-02T03:04:05.678Z" for now, as a JSON string. */
static void log_time(struct log_buf *b, const struct timespec *now)
{
	if (now->tv_sec != log_sec) {
		gmtime_r(&now->tv_sec, &log_tm);
		log_sec = now->tv_sec;
	}
	log_raw(b, "\"", 1);
	log_uint(b, (unsigned long long)log_tm.tm_year + 1900, 4);
	log_raw(b, "-", 1);
	log_uint(b, (unsigned long long)log_tm.tm_mon + 1, 2);
	log_raw(b, "-", 1);
	log_uint(b, (unsigned long long)log_tm.tm_mday, 2);
	log_raw(b, "T", 1);
	log_uint(b, (unsigned long long)log_tm.tm_hour, 2);
	log_raw(b, ":", 1);
	log_uint(b, (unsigned long long)log_tm.tm_min, 2);
	log_raw(b, ":", 1);
	log_uint(b, (unsigned long long)log_tm.tm_sec, 2);
	log_raw(b, ".", 1);
	log_uint(b, (unsigned long long)(now->tv_nsec / 1000000L), 3);
	log_raw(b, "Z\"", 2);
}

void log_write(enum log_level level, const char *event,
    const struct log_field *fields, size_t n)
{
	char line[LOG_LINE_MAX];
	struct log_buf b = { line, 0, sizeof(line) - 1, 0 };
	struct timespec now;
	size_t i;

	clock_gettime(CLOCK_REALTIME, &now);
	log_raw(&b, "{\"time\":", 8);
	log_time(&b, &now);
	log_key(&b, "level");
	log_string(&b, log_level_names[level]);
	log_key(&b, "endpoint");
	log_string(&b, log_endpoint);
	log_key(&b, "pid");
	if (log_pid == 0)
		log_pid = getpid();
	log_int(&b, (long long)log_pid);
	if (log_request_id != NULL) {
		log_key(&b, "request_id");
		log_string(&b, log_request_id);
	}
	log_key(&b, "event");
	log_string(&b, event);
	for (i = 0; i < n; i++) {
		const struct log_field *f = &fields[i];

		if (f->key == NULL || (f->kind == LOG_KIND_STR && f->str == NULL))
			continue;
		log_key(&b, f->key);
		if (f->kind == LOG_KIND_STR)
			log_string(&b, f->str);
		else if (f->kind == LOG_KIND_INT)
			log_int(&b, f->num);
		else
			log_ms(&b, f->ms);
	}
	log_raw(&b, "}", 1);
	if (b.overflow)
		return;
	line[b.len++] = '\n';
	/* A lost log line must not fail the request. */
	if (write(STDERR_FILENO, line, b.len) < 0)
		return;
}
