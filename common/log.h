/* log: one JSON object per line on stderr, never a secret. */
#ifndef AUTH_LOG_H
#define AUTH_LOG_H

#include <stddef.h>
#include <stdint.h>

enum log_level {
	LOG_DEBUG,
	LOG_INFO,
	LOG_WARN,
	LOG_ERROR
};

enum log_kind {
	LOG_KIND_STR,
	LOG_KIND_INT,
	LOG_KIND_MS           /* a duration in milliseconds, 3 decimals */
};

struct log_field {
	const char *key;
	enum log_kind kind;
	const char *str;      /* LOG_KIND_STR; NULL skips the field */
	long long num;        /* LOG_KIND_INT */
	double ms;            /* LOG_KIND_MS */
};

#define LOG_STR(k, v) ((struct log_field){ (k), LOG_KIND_STR, (v), 0, 0 })
#define LOG_INT(k, v) ((struct log_field){ (k), LOG_KIND_INT, NULL, (v), 0 })
#define LOG_MS(k, v) ((struct log_field){ (k), LOG_KIND_MS, NULL, 0, (v) })

/*
 * Counts every process of a node shares (they live in the metrics
 * segment, which registers them with log_set_shared): lines dropped, and
 * whether the last line some process wrote was cut short (a full disk
 * took only part of it), so that the next line written by any process
 * starts on a line of its own.
 */
struct log_shared {
	uint64_t dropped;
	uint64_t cut;
};

/* Name of this process's endpoint, set once in main; stamped on each line. */
void log_set_endpoint(const char *endpoint);

/*
 * Request id of the request in progress (NULL between requests), stamped
 * on each line so audit events join their access-log line. The string
 * must live until the next call.
 */
void log_set_request(const char *request_id);

/*
 * Write one line {"time","level","endpoint","pid","request_id","event",
 * fields...} with a single write(2), so lines of concurrent processes
 * never interleave. Values are escaped; callers must never pass
 * passwords, tokens, hashes or keys. Lines longer than LOG_LINE_MAX are
 * dropped whole rather than cut.
 *
 * Never blocks and never fails the caller: a line fd 2 does not take at
 * once (a full disk, a stalled journal or pipe reader) is dropped and
 * counted; the next line that gets through is preceded by one
 * "log_lines_dropped" line with how many were lost since when. When fd 2
 * is the journal's stream (JOURNAL_STREAM names it), each line starts
 * with its syslog priority, "<3>" error to "<7>" debug, which journald
 * takes as the entry's priority and strips.
 */
void log_write(enum log_level level, const char *event,
    const struct log_field *fields, size_t n);

/* Longest line, newline included (a journal priority prefix aside). */
#define LOG_LINE_MAX 4096

/*
 * Count drops in, and share cut lines through, s (NULL: this process
 * alone). The memory must stay mapped until replaced. Forked children
 * inherit it.
 */
void log_set_shared(struct log_shared *s);
struct log_shared *log_get_shared(void);

/*
 * Reopen the file named by the environment variable AUTH_LOG_FILE (set by
 * the supervisor to the file it opened as this process's stderr) and
 * make it fd 2, and fd 1 too when fd 1 was the same file: after a
 * rotation renamed it, lines go to a new file of that name. Returns 0;
 * 1 when AUTH_LOG_FILE is unset or empty (nothing to reopen); -1 when the
 * file cannot be opened, which is logged and leaves fd 2 as it was.
 * NOTE: not async-signal-safe; a signal handler calls
 * log_reopen_request, and the process calls log_reopen_if_requested
 * where it is safe to (between requests).
 */
int log_reopen(void);
void log_reopen_request(void);          /* async-signal-safe */
void log_reopen_if_requested(void);

/*
 * Look at fd 2 again before the next line (is it a socket, a pipe, the
 * journal?): for a caller that replaced fd 2 itself. log_reopen does it.
 */
void log_output_changed(void);

/* log_event(level, event, LOG_STR(...), LOG_INT(...), ...): at least one field. */
#define log_event(level, event, ...) \
	log_write((level), (event), (const struct log_field[]){ __VA_ARGS__ }, \
	    sizeof((const struct log_field[]){ __VA_ARGS__ }) / \
	    sizeof(struct log_field))

#endif
