/*
 * batch: refresh rotations of all workers of an endpoint, committed by
 * their master in one transaction per batch (group commit).
 */
#ifndef AUTH_BATCH_H
#define AUTH_BATCH_H

#include <stdint.h>

#include "err.h"
#include "prefork.h"
#include "store.h"

/* The master's side: where the database is, and its connection. */
struct batch_master {
	const char *db_path;
	long busy_timeout_ms;
	struct store *store;         /* NULL until opened */
};

/* The prefork duty that runs m: open/close the store, serve rotations. */
struct prefork_duty batch_duty(struct batch_master *m);

/* A worker's side: its channel to the master. */
struct batch_client {
	int fd;
	uint64_t seq;                /* of the last request sent */
};

/*
 * Adopt channel fd; an answer that takes longer than timeout_ms makes
 * batch_rotate fail with AUTH_EUNAVAIL. 0, or -1 when the channel is
 * unusable.
 */
int batch_client_init(struct batch_client *c, int fd, long timeout_ms)
    __attribute__((warn_unused_result));

/*
 * store_rotate, done by the master together with the other workers'
 * rotations: same arguments, same results. AUTH_EUNAVAIL when the master
 * does not answer in time (the rotation may still have been committed:
 * a retry within REFRESH_REUSE_INTERVAL gets a fresh pair).
 */
enum auth_err batch_rotate(struct batch_client *c, const char *old_jti,
    const struct store_grant *g, long reuse_interval,
    enum store_rotation *out) __attribute__((warn_unused_result));

#endif
