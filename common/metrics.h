/*
 * metrics: node-wide counters in a shared memory segment (a file mapped by
 * every process of every endpoint, updated with atomic adds, no locks on
 * the request path), and their Prometheus text exposition.
 */
#ifndef AUTH_METRICS_H
#define AUTH_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "http.h"

enum metrics_counter {
	METRICS_LOGIN_SUCCESS,
	METRICS_LOGIN_FAILURE,
	METRICS_LOGIN_THROTTLED,
	METRICS_REGISTRATION,
	METRICS_REFRESH_ROTATED,
	METRICS_REFRESH_INVALID,
	METRICS_REFRESH_REPLAY,
	METRICS_COUNTER__MAX
};

struct metrics;

/*
 * Map (creating if needed) the segment in run_dir for this process, whose
 * requests are labelled handler (its route path, e.g. "/auth/login").
 * Never fails: when the segment cannot be mapped it says so once in the
 * log and every update becomes a no-op. Free with metrics_close.
 */
struct metrics *metrics_open(const char *run_dir, const char *handler);
void metrics_close(struct metrics *m);
/*
 * The route this process's next observations count under, for a program
 * serving several (account): one of the named handlers, else none.
 */
void metrics_set_handler(struct metrics *m, const char *handler);

/* 1 when counts are being kept. */
int metrics_enabled(const struct metrics *m);

/* Count one finished request of this process's handler. */
void metrics_observe(struct metrics *m, enum http_method method, int status,
    double seconds);

/* Add one to an auth counter. */
void metrics_count(struct metrics *m, enum metrics_counter c);

/*
 * Count one restart of a supervised process ("login", ..., "front").
 * Returns -1 for a name the segment has no counter for.
 */
int metrics_restarted(struct metrics *m, const char *process);

/* A gauge read elsewhere (the database), exposed as-is. */
struct metrics_gauge {
	const char *name;
	const char *help;
	int64_t value;
};

/*
 * Write the exposition (text format 0.0.4) of every counter of the node,
 * followed by the gauges, into a malloc'd buffer (*out, length *len).
 * Returns 0, or -1 on allocation failure.
 */
int metrics_render(const struct metrics *m, const struct metrics_gauge *g,
    size_t ngauges, char **out, size_t *len)
    __attribute__((warn_unused_result));

#endif
