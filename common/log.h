/* log: one JSON object per line on stderr, never a secret. */
#ifndef AUTH_LOG_H
#define AUTH_LOG_H

enum log_level {
	LOG_DEBUG,
	LOG_INFO,
	LOG_WARN,
	LOG_ERROR
};

/* Name of this process's endpoint, set once in main; stamped on each line. */
void log_set_endpoint(const char *endpoint);

/*
 * Write one line: {"time","level","endpoint","event", then the given
 * key/value string pairs}. The variadic list is (const char *key,
 * const char *value) pairs ended by NULL; a NULL value skips its key.
 * Values are JSON-escaped, so callers pass raw text; they must never
 * pass passwords, tokens, hashes or keys.
 */
void log_event(enum log_level level, const char *event, ...)
    __attribute__((sentinel));

#endif
