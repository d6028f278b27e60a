/*
 * log: one JSON object per line on stderr (start.sh points it at the log
 * file). Hand-written rather than built with json-c: a line is a few
 * flat fields, and assembling it in a stack buffer keeps the request path
 * free of allocations. Numbers and the timestamp are formatted by hand
 * too: through stdio the access line cost more than a SQLite lookup.
 *
 * Logging must never hold up authentication, so nothing here waits: a
 * regular file takes a line or fails at once (ENOSPC); a socket (the
 * journal's stream) is written with MSG_DONTWAIT, per call, because the
 * socket's own O_NONBLOCK flag would be shared with every process that
 * holds it; a pipe is reopened once through /proc as a description of
 * our own, made non-blocking. What does not go through is counted.
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
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

/* How fd 2 is written; LOG_SINK_UNKNOWN until the first line looks. */
enum log_sink {
	LOG_SINK_UNKNOWN,
	LOG_SINK_WRITE,       /* a file, a tty, our non-blocking pipe */
	LOG_SINK_SEND         /* a socket: send(MSG_DONTWAIT) */
};
static enum log_sink log_sink;
static int log_journal;               /* prefix lines with "<priority>" */

/* Lines this process lost since its last line got through, and when the
 * first of them was lost; a line of ours that was cut short. */
static unsigned long long log_lost;
static struct timespec log_lost_since;
static int log_cut;
static struct log_shared *log_shared;
static volatile sig_atomic_t log_reopen_wanted;

/* A child reports its own losses, not its parent's. */
static void log_forget_pid(void)
{
	log_pid = 0;
	log_lost = 0;
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

/* "2026-01-02T03:04:05.678Z" for now, unquoted. */
static void log_time_raw(struct log_buf *b, const struct timespec *now)
{
	if (now->tv_sec != log_sec) {
		gmtime_r(&now->tv_sec, &log_tm);
		log_sec = now->tv_sec;
	}
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
	log_raw(b, "Z", 1);
}

static void log_time(struct log_buf *b, const struct timespec *now)
{
	log_raw(b, "\"", 1);
	log_time_raw(b, now);
	log_raw(b, "\"", 1);
}

void log_set_shared(struct log_shared *s)
{
	log_shared = s;
}

struct log_shared *log_get_shared(void)
{
	return log_shared;
}

void log_output_changed(void)
{
	log_sink = LOG_SINK_UNKNOWN;
}

/* A whole unsigned decimal, as JOURNAL_STREAM writes them; -1 otherwise. */
static int log_parse_u64(const char *s, const char *end,
    unsigned long long *out)
{
	unsigned long long v = 0;

	if (s == end)
		return -1;
	for (; s < end; s++) {
		if (*s < '0' || *s > '9' || v > (~0ULL - 9) / 10)
			return -1;
		v = v * 10 + (unsigned long long)(*s - '0');
	}
	*out = v;
	return 0;
}

/* 1 when JOURNAL_STREAM ("device:inode", sd-daemon(3)) names st. */
static int log_is_journal(const struct stat *st)
{
	const char *js = getenv("JOURNAL_STREAM"), *colon;
	unsigned long long dev, ino;

	if (js == NULL || (colon = strchr(js, ':')) == NULL)
		return 0;
	return log_parse_u64(js, colon, &dev) == 0 &&
	    log_parse_u64(colon + 1, colon + strlen(colon), &ino) == 0 &&
	    dev == (unsigned long long)st->st_dev &&
	    ino == (unsigned long long)st->st_ino;
}

/*
 * Decide how to write fd 2. A pipe is opened anew through /proc, which
 * gives this process a description of its own to make non-blocking
 * without touching the one it shares with others (whoever started us
 * may write to it too). Should that fail, the pipe stays as it was:
 * blocking, as it always was.
 */
static void log_detect(void)
{
	struct stat st;

	log_sink = LOG_SINK_WRITE;
	log_journal = 0;
	if (fstat(STDERR_FILENO, &st) != 0)
		return;
	log_journal = log_is_journal(&st);
	if (S_ISSOCK(st.st_mode)) {
		log_sink = LOG_SINK_SEND;
	} else if (S_ISFIFO(st.st_mode)) {
		int fd = open("/proc/self/fd/2", O_WRONLY | O_NONBLOCK |
		    O_CLOEXEC);

		if (fd >= 0 && fd != STDERR_FILENO) {
			(void)dup2(fd, STDERR_FILENO);
			close(fd);
		}
	}
}

/* Write out[0..len) to fd 2 at once: 0 when all of it went, else -1. */
static int log_out(const char *out, size_t len)
{
	ssize_t n;

	if (log_sink == LOG_SINK_SEND) {
		n = send(STDERR_FILENO, out, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno == ENOTSOCK) {
			log_sink = LOG_SINK_WRITE;
			n = write(STDERR_FILENO, out, len);
		}
	} else {
		n = write(STDERR_FILENO, out, len);
	}
	if (n == (ssize_t)len)
		return 0;
	if (n > 0) {
		/* The start of a line is out there, without its newline. */
		log_cut = 1;
		if (log_shared != NULL)
			__atomic_store_n(&log_shared->cut, 1, __ATOMIC_RELAXED);
	}
	return -1;
}

/* 1 when some line was cut short: the next one must start a line. */
static int log_take_cut(void)
{
	int cut = log_cut;

	log_cut = 0;
	if (log_shared != NULL &&
	    __atomic_load_n(&log_shared->cut, __ATOMIC_RELAXED) != 0 &&
	    __atomic_exchange_n(&log_shared->cut, 0, __ATOMIC_RELAXED) != 0)
		cut = 1;
	return cut;
}

static void log_count_lost(void)
{
	if (log_lost++ == 0)
		clock_gettime(CLOCK_REALTIME, &log_lost_since);
	if (log_shared != NULL)
		__atomic_fetch_add(&log_shared->dropped, 1, __ATOMIC_RELAXED);
}

void log_reopen_request(void)
{
	log_reopen_wanted = 1;
}

void log_reopen_if_requested(void)
{
	if (!log_reopen_wanted)
		return;
	log_reopen_wanted = 0;
	(void)log_reopen();
}

int log_reopen(void)
{
	const char *path = getenv("AUTH_LOG_FILE");
	struct stat out, err;
	int fd, same;

	if (path == NULL || *path == '\0')
		return 1;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY,
	    0600);
	if (fd < 0) {
		log_event(LOG_ERROR, "log_reopen_failed", LOG_STR("path", path),
		    LOG_INT("errno", errno));
		return -1;
	}
	/* fd 1 too when it is the old file: else that file stays open, and
	 * its space taken, after logrotate deleted it. */
	same = fstat(STDOUT_FILENO, &out) == 0 &&
	    fstat(STDERR_FILENO, &err) == 0 && out.st_dev == err.st_dev &&
	    out.st_ino == err.st_ino;
	if (dup2(fd, STDERR_FILENO) < 0) {
		log_event(LOG_ERROR, "log_reopen_failed", LOG_STR("path", path),
		    LOG_INT("errno", errno));
		close(fd);
		return -1;
	}
	if (same)
		(void)dup2(fd, STDOUT_FILENO);
	close(fd);
	log_output_changed();
	return 0;
}

/* syslog priorities of our levels (sd-daemon(3) SD_DEBUG ... SD_ERR). */
static const char *const log_priorities[] = {
	[LOG_DEBUG] = "<7>", [LOG_INFO] = "<6>",
	[LOG_WARN] = "<4>", [LOG_ERROR] = "<3>",
};

/*
 * Format and write one line: 0 written, 1 too long (dropped whole, not
 * counted: no sink would take it), -1 the sink did not take it.
 */
static int log_emit(enum log_level level, const char *event,
    const struct log_field *fields, size_t n)
{
	/* Room before the line for a priority prefix and a newline. */
	char buf[LOG_LINE_MAX + 4];
	char *line = buf + 4;
	struct log_buf b = { line, 0, LOG_LINE_MAX - 1, 0 };
	struct timespec now;
	size_t i;
	int cut;

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
		return 1;
	line[b.len++] = '\n';
	if (log_journal) {
		line -= 3;
		memcpy(line, log_priorities[level], 3);
		b.len += 3;
	}
	cut = log_take_cut();
	if (cut) {
		*--line = '\n';
		b.len++;
	}
	if (log_out(line, b.len) == 0)
		return 0;
	if (cut)
		log_cut = 1;     /* still to be ended by the next line */
	return -1;
}

/* Say how many lines were lost, before the next line that gets through. */
static int log_report_lost(void)
{
	char since[32];
	struct log_buf t = { since, 0, sizeof(since) - 1, 0 };
	const char *rid = log_request_id;
	int rc;

	log_time_raw(&t, &log_lost_since);
	since[t.len] = '\0';
	/* The lost lines were other requests': this one's id would mislead. */
	log_request_id = NULL;
	rc = log_emit(LOG_WARN, "log_lines_dropped", (const struct log_field[]){
	    LOG_INT("lines", (long long)log_lost), LOG_STR("since", since) }, 2);
	log_request_id = rid;
	if (rc == 0)
		log_lost = 0;
	return rc;
}

void log_write(enum log_level level, const char *event,
    const struct log_field *fields, size_t n)
{
	if (log_sink == LOG_SINK_UNKNOWN)
		log_detect();
	if (log_lost > 0 && log_report_lost() != 0) {
		log_count_lost();
		return;
	}
	if (log_emit(level, event, fields, n) < 0)
		log_count_lost();
}
