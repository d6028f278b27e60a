/* log: one JSON object per line on stderr, never a secret. */
#ifndef AUTH_LOG_H
#define AUTH_LOG_H

#include <stddef.h>

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
 */
void log_write(enum log_level level, const char *event,
    const struct log_field *fields, size_t n);

#define LOG_LINE_MAX 4096

/* log_event(level, event, LOG_STR(...), LOG_INT(...), ...): at least one field. */
#define log_event(level, event, ...) \
	log_write((level), (event), (const struct log_field[]){ __VA_ARGS__ }, \
	    sizeof((const struct log_field[]){ __VA_ARGS__ }) / \
	    sizeof(struct log_field))

#endif
