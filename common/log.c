/*
 * log: one JSON object per line on stderr (start.sh points it at the log
 * file). Hand-written rather than built with json-c: a line is a few
 * flat fields, and assembling it in a stack buffer keeps the request path
 * free of allocations.
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

/* Append s as a JSON string; invalid UTF-8 becomes '?' bytes. */
static void log_string(struct log_buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = strlen(s), i;
	int utf8 = valid_utf8(s, n);

	log_raw(b, "\"", 1);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			char esc[2] = { '\\', (char)c };
			log_raw(b, esc, 2);
		} else if (c < 0x20 || c == 0x7f) {
			char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
			log_raw(b, esc, 6);
		} else if (c >= 0x80 && !utf8) {
			log_raw(b, "?", 1);
		} else {
			log_raw(b, s + i, 1);
		}
	}
	log_raw(b, "\"", 1);
}

static void log_key(struct log_buf *b, const char *key)
{
	log_raw(b, ",", 1);
	log_string(b, key);
	log_raw(b, ":", 1);
}

static void log_int(struct log_buf *b, long long v)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof(tmp), "%lld", v);

	if (n > 0 && (size_t)n < sizeof(tmp))
		log_raw(b, tmp, (size_t)n);
}

static void log_ms(struct log_buf *b, double v)
{
	char tmp[64];
	int n = snprintf(tmp, sizeof(tmp), "%.3f", v);

	if (n > 0 && (size_t)n < sizeof(tmp))
		log_raw(b, tmp, (size_t)n);
}

void log_write(enum log_level level, const char *event,
    const struct log_field *fields, size_t n)
{
	char line[LOG_LINE_MAX], ts[64];
	struct log_buf b = { line, 0, sizeof(line) - 1, 0 };
	struct timespec now;
	struct tm tm;
	size_t i;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, now.tv_nsec / 1000000L);
	log_raw(&b, "{\"time\":", 8);
	log_string(&b, ts);
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
