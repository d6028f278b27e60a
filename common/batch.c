/*
 * batch: group commit of refresh rotations. A rotation is a small write
 * transaction that ends in a flush of the WAL; done by each worker on its
 * own connection, every commit also pays for the SQLite write lock passed
 * between processes and for re-reading the pages the previous writer
 * changed. Here the workers sign the new pair themselves (the expensive
 * part, in parallel) and send only the rotation to their master, which
 * commits every rotation waiting at that moment in one transaction on a
 * connection whose cache stays warm: one lock, one flush per batch. The
 * answer goes back only after that flush, so a 200 still means on disk.
 *
 * Messages are fixed-size structs over SOCK_SEQPACKET socketpairs between
 * processes of one executable; the master still checks every field.
 */
#include "batch.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "log.h"
#include "valid.h"

#define BATCH_MAX 64

struct batch_request {
	uint64_t seq;
	char old_jti[VALID_UUID_SIZE];
	char user_id[VALID_UUID_SIZE];
	char session_id[VALID_UUID_SIZE];
	char jti[VALID_UUID_SIZE];
	int64_t now;
	int64_t expires_at;
	int64_t reuse_interval;
};

struct batch_answer {
	uint64_t seq;
	int32_t rc;                  /* enum auth_err */
	int32_t how;                 /* enum store_rotation */
};

static int batch_open(void *ctx)
{
	struct batch_master *m = ctx;
	char err[512];

	if (m->store != NULL)
		return 0;
	/* Batches are SQLite's answer to its one writer (see docs/operations.md). */
	if (store_open(&m->store, DB_SQLITE, m->db_path, m->busy_timeout_ms, err,
	    sizeof(err)) != 0) {
		log_event(LOG_ERROR, "batch_open_failed", LOG_STR("error", err));
		return -1;
	}
	return 0;
}

static void batch_close(void *ctx)
{
	struct batch_master *m = ctx;

	store_close(m->store);
	m->store = NULL;
}

/* A fixed-size field holds a UUID and its NUL. */
static int batch_uuid_ok(const char *field)
{
	size_t len = strnlen(field, VALID_UUID_SIZE);

	return len < VALID_UUID_SIZE && valid_uuid(field, len);
}

static int batch_request_ok(const struct batch_request *q)
{
	return batch_uuid_ok(q->old_jti) && batch_uuid_ok(q->user_id) &&
	    batch_uuid_ok(q->session_id) && batch_uuid_ok(q->jti) &&
	    q->now > 0 && q->expires_at > q->now && q->reuse_interval >= 0;
}

static void batch_answer(int fd, uint64_t seq, enum auth_err rc,
    enum store_rotation how)
{
	struct batch_answer a = { seq, (int32_t)rc, (int32_t)how };

	/* A worker that died meanwhile gets nothing; the master goes on. */
	(void)send(fd, &a, sizeof(a), MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* Up to BATCH_MAX channels with a message each: one transaction. */
static void batch_serve_some(struct batch_master *m, const int *fds, int n)
{
	struct batch_request msg[BATCH_MAX];
	struct store_rotation_req req[BATCH_MAX];
	int from[BATCH_MAX];
	int i, k = 0;

	for (i = 0; i < n; i++) {
		struct batch_request *q = &msg[k];
		ssize_t got = recv(fds[i], q, sizeof(*q), MSG_DONTWAIT);

		if (got != (ssize_t)sizeof(*q))
			continue;           /* worker gone, or not our message */
		if (!batch_request_ok(q)) {
			batch_answer(fds[i], q->seq, AUTH_EINTERNAL, STORE_DEAD);
			continue;
		}
		memset(&req[k], 0, sizeof(req[k]));
		req[k].old_jti = q->old_jti;
		req[k].grant.user_id = q->user_id;
		req[k].grant.session_id = q->session_id;
		req[k].grant.jti = q->jti;
		req[k].grant.now = q->now;
		req[k].grant.expires_at = q->expires_at;
		req[k].reuse_interval = (long)q->reuse_interval;
		from[k++] = fds[i];
	}
	if (k == 0)
		return;
	if (batch_open(m) != 0) {
		for (i = 0; i < k; i++)
			batch_answer(from[i], msg[i].seq, AUTH_EUNAVAIL, STORE_DEAD);
		return;
	}
	if (store_rotate_batch(m->store, req, (size_t)k) != AUTH_OK)
		log_event(LOG_ERROR, "batch_failed", LOG_INT("rotations", k));
	for (i = 0; i < k; i++)
		batch_answer(from[i], msg[i].seq, req[i].rc, req[i].how);
}

static void batch_serve(void *ctx, const int *fds, int n)
{
	int i;

	for (i = 0; i < n; i += BATCH_MAX)
		batch_serve_some(ctx, fds + i, n - i < BATCH_MAX ? n - i : BATCH_MAX);
}

struct prefork_duty batch_duty(struct batch_master *m)
{
	struct prefork_duty d = { batch_open, batch_close, batch_serve, m };

	return d;
}

int batch_client_init(struct batch_client *c, int fd, long timeout_ms)
{
	struct timeval tv;

	c->fd = fd;
	c->seq = 0;
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	return setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

/* Copy a UUID string into a fixed-size field; -1 when it does not fit. */
static int batch_put(char *field, const char *s)
{
	size_t len = s != NULL ? strlen(s) : VALID_UUID_SIZE;

	if (len >= VALID_UUID_SIZE)
		return -1;
	memcpy(field, s, len + 1);
	return 0;
}

enum auth_err batch_rotate(struct batch_client *c, const char *old_jti,
    const struct store_grant *g, long reuse_interval,
    enum store_rotation *out)
{
	struct batch_request q;
	struct batch_answer a;
	ssize_t got;

	*out = STORE_DEAD;
	memset(&q, 0, sizeof(q));
	if (batch_put(q.old_jti, old_jti) != 0 ||
	    batch_put(q.user_id, g->user_id) != 0 ||
	    batch_put(q.session_id, g->session_id) != 0 ||
	    batch_put(q.jti, g->jti) != 0)
		return AUTH_EINTERNAL;
	q.seq = ++c->seq;
	q.now = g->now;
	q.expires_at = g->expires_at;
	q.reuse_interval = reuse_interval;
	if (send(c->fd, &q, sizeof(q), MSG_NOSIGNAL) != (ssize_t)sizeof(q)) {
		log_event(LOG_ERROR, "batch_send_failed", LOG_INT("errno", errno));
		return AUTH_EUNAVAIL;
	}
	/* An answer to an earlier request that timed out is skipped. */
	do {
		got = recv(c->fd, &a, sizeof(a), 0);
	} while ((got == (ssize_t)sizeof(a) && a.seq != q.seq) ||
	    (got < 0 && errno == EINTR));
	if (got != (ssize_t)sizeof(a)) {
		log_event(LOG_ERROR, "batch_no_answer", LOG_INT("errno",
		    got < 0 ? errno : 0));
		return AUTH_EUNAVAIL;
	}
	if (a.how >= STORE_ROTATED && a.how <= STORE_DEAD)
		*out = (enum store_rotation)a.how;
	return (enum auth_err)a.rc;
}
