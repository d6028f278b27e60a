/*
 * test_batch: group commit of refresh rotations over a worker's channel.
 * The test process plays the master (batch_duty on one end of a
 * SOCK_SEQPACKET socketpair); a forked child plays the worker calling
 * batch_rotate and reports what it returned on a pipe.
 */
#include "unit.h"

#include <poll.h>
#include <sys/socket.h>

#include "batch.h"
#include "store.h"
#include "valid.h"
#include "fixture.h"

#define NOW 1700000000LL
#define WAIT_MS 5000

struct bt {
	struct fx fx;
	struct batch_master m;
	struct prefork_duty duty;
	int master_end, worker_end;
	struct batch_client client;
	/* a registered user with a session and its first refresh token */
	char user[VALID_UUID_SIZE], sid[VALID_UUID_SIZE], jti[VALID_UUID_SIZE];
};

/* What the worker child reports. */
struct outcome {
	int rc;
	int how;
};

static int bt_setup(void **state)
{
	struct bt *t = calloc(1, sizeof(*t));
	struct store *st = NULL;
	struct store_grant g;
	int sv[2];

	if (t == NULL || fx_init(&t->fx) != 0 || fx_make_db(t->fx.db) != 0)
		goto fail;
	if (valid_uuid_new(t->user) != 0 || valid_uuid_new(t->sid) != 0 ||
	    valid_uuid_new(t->jti) != 0 ||
	    store_open(&st, DB_SQLITE, t->fx.db, 5000, NULL, 0) != 0)
		goto fail;
	memset(&g, 0, sizeof(g));
	g.user_id = t->user;
	g.session_id = t->sid;
	g.jti = t->jti;
	g.now = NOW;
	g.expires_at = NOW + 3600;
	if (store_register(st, "a@example.com", "h", &g) != AUTH_OK)
		goto fail;
	store_close(st);
	st = NULL;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) != 0)
		goto fail;
	t->master_end = sv[0];
	t->worker_end = sv[1];
	t->m.db_path = t->fx.db;
	t->m.busy_timeout_ms = 2000;
	t->duty = batch_duty(&t->m);
	if (batch_client_init(&t->client, t->worker_end, WAIT_MS) != 0)
		goto fail;
	*state = t;
	return 0;
fail:
	store_close(st);
	if (t != NULL)
		fx_fini(&t->fx);
	free(t);
	return -1;
}

static int bt_teardown(void **state)
{
	struct bt *t = *state;

	t->duty.close(t->duty.ctx);
	if (t->master_end >= 0)
		close(t->master_end);
	close(t->worker_end);
	fx_fini(&t->fx);
	free(t);
	return 0;
}

static struct store_grant grant_of(const struct bt *t, const char *jti)
{
	struct store_grant g;

	memset(&g, 0, sizeof(g));
	g.user_id = t->user;
	g.session_id = t->sid;
	g.jti = jti;
	g.now = NOW + 1;
	g.expires_at = NOW + 3601;
	return g;
}

/* Fork a worker that rotates old_jti to new_jti; returns its pipe. */
static int worker(struct bt *t, const char *old_jti, const char *new_jti,
    pid_t *pid)
{
	int p[2];

	assert_int_equal(pipe(p), 0);
	fflush(NULL);
	*pid = fork();
	assert_true(*pid >= 0);
	if (*pid == 0) {
		struct store_grant g = grant_of(t, new_jti);
		enum store_rotation how = STORE_DEAD;
		struct outcome o;

		close(p[0]);
		o.rc = batch_rotate(&t->client, old_jti, &g, 0, &how);
		o.how = how;
		if (write(p[1], &o, sizeof(o)) != sizeof(o))
			_exit(3);
		if (__gcov_merge_add != NULL)
			exit(0);
		_exit(0);
	}
	close(p[1]);
	return p[0];
}

/* Serve the master's end once a message waits there (bounded). */
static void serve(struct bt *t)
{
	struct pollfd pfd = { t->master_end, POLLIN, 0 };

	assert_int_equal(poll(&pfd, 1, WAIT_MS), 1);
	t->duty.serve(t->duty.ctx, &t->master_end, 1);
}

static struct outcome outcome_of(int fd, pid_t pid)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	struct outcome o = { -1, -1 };
	int status;

	assert_int_equal(poll(&pfd, 1, WAIT_MS), 1);
	assert_int_equal(read(fd, &o, sizeof(o)), sizeof(o));
	close(fd);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	return o;
}

/* Rotate old_jti to new_jti from a worker child, the master serving it. */
static struct outcome via_master(struct bt *t, const char *old_jti,
    const char *new_jti)
{
	pid_t pid;
	int fd = worker(t, old_jti, new_jti, &pid);

	serve(t);
	return outcome_of(fd, pid);
}

static void assert_outcome(struct outcome o, enum auth_err rc,
    enum store_rotation how)
{
	assert_int_equal(o.rc, rc);
	assert_int_equal(o.how, how);
}

static long long revoked(struct bt *t, const char *jti)
{
	char sql[256];

	snprintf(sql, sizeof(sql), "SELECT revoked FROM refresh_tokens "
	    "WHERE jti = '%s'", jti);
	return fx_int(t->fx.db, sql);
}

/* A rotation through the master: rotated, then the same one is a replay. */
static void test_rotate_through_master(void **state)
{
	struct bt *t = *state;
	char j2[VALID_UUID_SIZE], j3[VALID_UUID_SIZE];
	struct outcome o;

	assert_int_equal(t->duty.open(t->duty.ctx), 0);
	assert_int_equal(valid_uuid_new(j2), 0);
	assert_int_equal(valid_uuid_new(j3), 0);
	o = via_master(t, t->jti, j2);
	assert_outcome(o, AUTH_OK, STORE_ROTATED);
	assert_int_equal(revoked(t, t->jti), 1);
	assert_int_equal(revoked(t, j2), 0);

	o = via_master(t, t->jti, j3);
	assert_outcome(o, AUTH_OK, STORE_REPLAY);
	assert_int_equal(revoked(t, j2), 1);
}

/* The master opens its connection on first use when it has none. */
static void test_opens_lazily(void **state)
{
	struct bt *t = *state;
	char j2[VALID_UUID_SIZE];
	struct outcome o;

	assert_null(t->m.store);
	assert_int_equal(valid_uuid_new(j2), 0);
	o = via_master(t, t->jti, j2);
	assert_outcome(o, AUTH_OK, STORE_ROTATED);
	assert_non_null(t->m.store);
	/* close is idempotent */
	t->duty.close(t->duty.ctx);
	t->duty.close(t->duty.ctx);
	assert_null(t->m.store);
}

/* No database: the worker gets AUTH_EUNAVAIL, nothing hangs. */
static void test_database_gone(void **state)
{
	struct bt *t = *state;
	char j2[VALID_UUID_SIZE], path[FX_PATH_MAX + 16];
	struct outcome o;

	snprintf(path, sizeof(path), "%s/missing.db", t->fx.dir);
	t->m.db_path = path;
	assert_int_equal(t->duty.open(t->duty.ctx), -1);
	assert_int_equal(valid_uuid_new(j2), 0);
	o = via_master(t, t->jti, j2);
	assert_outcome(o, AUTH_EUNAVAIL, STORE_DEAD);
	assert_int_equal(revoked(t, t->jti), 0);
}

/* A request the master finds malformed is answered, not committed. */
static void test_bad_request(void **state)
{
	struct bt *t = *state;
	char j2[VALID_UUID_SIZE];
	struct outcome o;

	assert_int_equal(valid_uuid_new(j2), 0);
	o = via_master(t, "not-a-uuid", j2);
	assert_outcome(o, AUTH_EINTERNAL, STORE_DEAD);
	assert_int_equal(revoked(t, t->jti), 0);
	assert_int_equal(revoked(t, j2), -999);

	/* A message of the wrong size gets no answer at all. */
	assert_int_equal(send(t->worker_end, "short", 5, 0), 5);
	serve(t);
	{
		char buf[64];

		assert_int_equal(recv(t->worker_end, buf, sizeof(buf),
		    MSG_DONTWAIT), -1);
		assert_int_equal(errno, EAGAIN);
	}
}

/* Ids too long for the message fail in the worker, before sending. */
static void test_too_long(void **state)
{
	struct bt *t = *state;
	struct store_grant g = grant_of(t, t->jti);
	enum store_rotation how = STORE_ROTATED;
	char longid[64];

	memset(longid, 'a', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	assert_int_equal(batch_rotate(&t->client, longid, &g, 0, &how),
	    AUTH_EINTERNAL);
	assert_int_equal(how, STORE_DEAD);
}

/*
 * No answer in time: AUTH_EUNAVAIL. The late answer to that request is
 * skipped by the next one, which gets its own.
 */
static void test_timeout_then_late_answer(void **state)
{
	struct bt *t = *state;
	char j2[VALID_UUID_SIZE], j3[VALID_UUID_SIZE];
	struct store_grant g;
	enum store_rotation how = STORE_ROTATED;
	struct outcome o;

	assert_int_equal(batch_client_init(&t->client, t->worker_end, 100), 0);
	assert_int_equal(valid_uuid_new(j2), 0);
	assert_int_equal(valid_uuid_new(j3), 0);
	g = grant_of(t, j2);
	assert_int_equal(batch_rotate(&t->client, t->jti, &g, 0, &how),
	    AUTH_EUNAVAIL);
	assert_int_equal(how, STORE_DEAD);
	/* The master gets to it late: committed, answered to nobody yet. */
	serve(t);
	assert_int_equal(revoked(t, t->jti), 1);

	assert_int_equal(batch_client_init(&t->client, t->worker_end, WAIT_MS),
	    0);
	t->client.seq = 1;           /* as the timed-out call left it */
	o = via_master(t, j2, j3);
	assert_outcome(o, AUTH_OK, STORE_ROTATED);
	assert_int_equal(revoked(t, j2), 1);
}

/* The master is gone: AUTH_EUNAVAIL at once. */
static void test_master_gone(void **state)
{
	struct bt *t = *state;
	char j2[VALID_UUID_SIZE];
	struct store_grant g;
	enum store_rotation how = STORE_ROTATED;

	close(t->master_end);
	t->master_end = -1;
	assert_int_equal(valid_uuid_new(j2), 0);
	g = grant_of(t, j2);
	assert_int_equal(batch_rotate(&t->client, t->jti, &g, 0, &how),
	    AUTH_EUNAVAIL);
	assert_int_equal(how, STORE_DEAD);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, bt_setup, bt_teardown)
	const struct CMUnitTest batch[] = {
		T(test_rotate_through_master),
		T(test_opens_lazily),
		T(test_database_gone),
		T(test_bad_request),
		T(test_too_long),
		T(test_timeout_then_late_answer),
		T(test_master_gone),
	};
#undef T

	return cmocka_run_group_tests(batch, NULL, NULL);
}
