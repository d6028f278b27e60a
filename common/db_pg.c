/*
 * db_pg: the PostgreSQL backend of the database interface (db.h), over
 * libpq. One connection per process, opened after fork; each statement
 * prepared once per connection, on first use; READ COMMITTED, where a
 * conditional UPDATE's re-check after a row lock gives the single winner
 * of concurrent rotations.
 *
 * A server that goes away (restart, network) costs the requests that
 * meet it a 503, never a crash or a hung worker: every query runs under
 * statement_timeout and lock_timeout, and the next request after a
 * backoff reconnects and prepares again. A write whose COMMIT outcome was
 * lost answers 503 and is not retried: retrying a rotation that did
 * commit would be a replay and revoke the user's session.
 *
 * Caches of "session alive" answers learn of revocations through
 * LISTEN/NOTIFY: a transaction that revokes sends NOTIFY auth_epoch with
 * its COMMIT, and db_epoch counts the notifications this connection has
 * received (reading what the socket already holds: no round trip while
 * nothing changed), plus one for every reconnection, since notifications
 * sent meanwhile are lost.
 */
#include "db_engine.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

#define PG_MAX_PARAMS 16
#define PG_BACKOFF_MIN_MS 100
#define PG_BACKOFF_MAX_MS 2000

struct pg_stmt {
	struct db_stmt base;
	struct pg_stmt *next;
	char name[16];
	char *sql;                   /* with $N placeholders */
	int nparams;
	int quiet;
	unsigned gen;                /* connection it was prepared on; 0: none */
	char *vals[PG_MAX_PARAMS];   /* NULL: SQL NULL */
	PGresult *res;
	int row;                     /* current row; -1 before the first */
	int executed;
};

struct pg_db {
	struct db base;
	PGconn *conn;
	char *conninfo;
	long timeout_ms;
	unsigned gen;                /* one more per connection made */
	int next_id;
	struct pg_stmt *stmts;
	int changes;
	int in_tx;
	int notify;                  /* the open transaction revokes */
	uint64_t epoch;
	long long retry_at_ms;
	long backoff_ms;
	enum auth_err last_err;
};

#define PG(d) ((struct pg_db *)(void *)(d))
#define PGS(s) ((struct pg_stmt *)(void *)(s))

static long long pg_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The first line of libpq's message (it never holds the password). */
static void pg_message(const char *msg, char *out, size_t cap)
{
	size_t n = msg != NULL ? strcspn(msg, "\n") : 0;

	if (n >= cap)
		n = cap - 1;
	if (n > 0)
		memcpy(out, msg, n);
	out[n] = '\0';
}

/*
 * What a failed result means for the caller. Only a duplicate key is
 * "exists"; whatever says the server is away, busy, out of room or
 * shutting down is 503; anything else is a bug (500).
 */
static enum auth_err pg_map(struct pg_db *db, const PGresult *res)
{
	const char *state = res != NULL ?
	    PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK ||
	    state == NULL)
		return AUTH_EUNAVAIL;
	if (strcmp(state, "23505") == 0)
		return AUTH_EEXISTS;
	if (strncmp(state, "08", 2) == 0 || strncmp(state, "53", 2) == 0 ||
	    strncmp(state, "57", 2) == 0 || strcmp(state, "55P03") == 0 ||
	    strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
	    strcmp(state, "25006") == 0)
		return AUTH_EUNAVAIL;
	return AUTH_EINTERNAL;
}

/* Log a failure worth a look (not the ordinary duplicate or outage). */
static enum auth_err pg_fail(struct pg_db *db, const PGresult *res,
    int quiet)
{
	enum auth_err rc = pg_map(db, res);

	if (rc == AUTH_EINTERNAL && !quiet) {
		char msg[256];

		pg_message(res != NULL ? PQresultErrorMessage(res) :
		    PQerrorMessage(db->conn), msg, sizeof(msg));
		log_event(LOG_ERROR, "db_error", LOG_STR("error", msg));
	}
	db->last_err = rc;
	return rc;
}

/* Connect and set the session up; -1 with the reason in err. */
static int pg_connect(struct pg_db *db, char *err, size_t errlen)
{
	/* Ours first: what DATABASE_URL says (the last, dbname) wins. */
	static const char *const kw[] = {
		"connect_timeout", "application_name", "dbname", NULL
	};
	const char *val[] = { "5", "auth-svc", db->conninfo, NULL };
	char setup[256], msg[256];
	PGresult *res;

	if (db->conn != NULL)
		PQfinish(db->conn);
	db->conn = PQconnectdbParams(kw, val, 1);
	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK) {
		pg_message(db->conn != NULL ? PQerrorMessage(db->conn) :
		    "out of memory", msg, sizeof(msg));
		snprintf(err, errlen, "DATABASE_URL: cannot connect to "
		    "PostgreSQL: %s", msg);
		goto fail;
	}
	snprintf(setup, sizeof(setup), "SET statement_timeout = %ld; "
	    "SET lock_timeout = %ld; SET idle_in_transaction_session_timeout "
	    "= %ld; LISTEN auth_epoch", db->timeout_ms, db->timeout_ms,
	    db->timeout_ms * 2 + 1000);
	res = PQexec(db->conn, setup);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		pg_message(PQresultErrorMessage(res), msg, sizeof(msg));
		snprintf(err, errlen, "DATABASE_URL: cannot set up the "
		    "PostgreSQL session: %s", msg);
		PQclear(res);
		goto fail;
	}
	PQclear(res);
	/* New connection: every statement is prepared again, and whatever
	 * was cached may have missed a notification. */
	db->gen++;
	db->epoch++;
	db->in_tx = 0;
	return 0;
fail:
	if (db->conn != NULL)
		PQfinish(db->conn);
	db->conn = NULL;
	return -1;
}

/* A usable connection, reconnecting after a backoff: 0, or -1 (503). */
static int pg_ready(struct pg_db *db)
{
	char err[512];
	long long now;

	if (db->conn != NULL && PQstatus(db->conn) == CONNECTION_OK)
		return 0;
	db->in_tx = 0;
	now = pg_now_ms();
	if (now < db->retry_at_ms)
		return -1;
	if (pg_connect(db, err, sizeof(err)) == 0) {
		log_event(LOG_INFO, "db_reconnected",
		    LOG_INT("generation", db->gen));
		db->backoff_ms = 0;
		return 0;
	}
	db->backoff_ms = db->backoff_ms == 0 ? PG_BACKOFF_MIN_MS :
	    db->backoff_ms * 2 > PG_BACKOFF_MAX_MS ? PG_BACKOFF_MAX_MS :
	    db->backoff_ms * 2;
	db->retry_at_ms = now + db->backoff_ms;
	log_event(LOG_WARN, "db_unavailable", LOG_STR("error", err),
	    LOG_INT("retry_in_ms", db->backoff_ms));
	return -1;
}

/* Run a statement of the transaction machinery (BEGIN, COMMIT...). */
static enum auth_err pg_run(struct pg_db *db, const char *sql)
{
	PGresult *res;
	enum auth_err rc = AUTH_OK;

	if (pg_ready(db) != 0)
		return AUTH_EUNAVAIL;
	res = PQexec(db->conn, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		rc = pg_fail(db, res, 0);
	PQclear(res);
	return rc;
}

static enum auth_err pg_begin(struct db *d)
{
	struct pg_db *db = PG(d);
	enum auth_err rc = pg_run(db, "BEGIN");

	db->in_tx = rc == AUTH_OK;
	db->notify = 0;
	return rc;
}

static void pg_rollback(struct db *d)
{
	struct pg_db *db = PG(d);

	if (db->in_tx && db->conn != NULL &&
	    PQstatus(db->conn) == CONNECTION_OK)
		(void)pg_run(db, "ROLLBACK");
	db->in_tx = 0;
}

static enum auth_err pg_commit(struct db *d)
{
	struct pg_db *db = PG(d);
	enum auth_err rc = AUTH_OK;
	PGresult *res;

	if (!db->in_tx || db->conn == NULL)
		return AUTH_EUNAVAIL;
	/* One round trip: the notification is sent if, and when, the
	 * transaction commits. */
	res = PQexec(db->conn, db->notify ? "NOTIFY auth_epoch; COMMIT" :
	    "COMMIT");
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		rc = pg_fail(db, res, 0);
	else if (strcmp(PQcmdStatus(res), "COMMIT") != 0)
		rc = AUTH_EINTERNAL;      /* "ROLLBACK": it had failed */
	PQclear(res);
	db->in_tx = 0;
	db->notify = 0;
	return rc;
}

static enum auth_err pg_savepoint(struct db *d, enum db_sp_op op)
{
	struct pg_db *db = PG(d);

	if (op == DB_SP_OPEN)
		return pg_run(db, "SAVEPOINT part");
	if (op == DB_SP_RELEASE)
		return pg_run(db, "RELEASE part");
	return pg_run(db, "ROLLBACK TO part; RELEASE part");
}

/*
 * The store writes SQLite's ?N placeholders; PostgreSQL numbers $N.
 * Rewritten once per statement at prepare, outside quoted literals.
 */
static char *pg_numbered(const char *sql, int *nparams)
{
	size_t n = strlen(sql), i, o = 0;
	char *out = malloc(n + 1);
	int quoted = 0;

	*nparams = 0;
	if (out == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		char c = sql[i];

		if (c == '\'')
			quoted = !quoted;
		if (c == '?' && !quoted && sql[i + 1] >= '1' && sql[i + 1] <= '9') {
			int k = 0;

			out[o++] = '$';
			while (sql[i + 1] >= '0' && sql[i + 1] <= '9') {
				k = k * 10 + (sql[i + 1] - '0');
				out[o++] = sql[++i];
			}
			if (k > *nparams)
				*nparams = k;
			continue;
		}
		out[o++] = c;
	}
	out[o] = '\0';
	return out;
}

static void pg_stmt_clear(struct pg_stmt *st)
{
	int i;

	PQclear(st->res);
	st->res = NULL;
	st->row = -1;
	st->executed = 0;
	for (i = 0; i < PG_MAX_PARAMS; i++) {
		free(st->vals[i]);
		st->vals[i] = NULL;
	}
}

static void pg_close(struct db *d)
{
	struct pg_db *db = PG(d);

	while (db->stmts != NULL) {
		struct pg_stmt *next = db->stmts->next;

		pg_stmt_clear(db->stmts);
		free(db->stmts->sql);
		free(db->stmts);
		db->stmts = next;
	}
	if (db->conn != NULL)
		PQfinish(db->conn);
	free(db->conninfo);
	free(db);
}

/*
 * Statements are prepared on the server lazily, on first use on each
 * connection; here they are only checked for their placeholders. A
 * statement over a table a pending migration has not made yet fails at
 * its first use, as SQLite's would at prepare.
 */
static struct db_stmt *pg_prepare(struct db *d, const char *sql, int quiet)
{
	struct pg_db *db = PG(d);
	struct pg_stmt *st = calloc(1, sizeof(*st));

	if (st == NULL)
		return NULL;
	st->base.db = d;
	st->quiet = quiet;
	st->row = -1;
	st->sql = pg_numbered(sql, &st->nparams);
	snprintf(st->name, sizeof(st->name), "s%d", ++db->next_id);
	if (st->sql == NULL || st->nparams > PG_MAX_PARAMS)
		goto fail;
	/* Prepared now when the server is there, so that a schema too old
	 * for this build shows at start, as on SQLite. */
	if (db->conn != NULL && PQstatus(db->conn) == CONNECTION_OK) {
		PGresult *res = PQprepare(db->conn, st->name, st->sql, 0, NULL);

		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			(void)pg_fail(db, res, quiet);
			PQclear(res);
			goto fail;
		}
		PQclear(res);
		st->gen = db->gen;
	}
	st->next = db->stmts;
	db->stmts = st;
	return &st->base;
fail:
	free(st->sql);
	free(st);
	return NULL;
}

static enum auth_err pg_bind_text(struct db_stmt *s, int i, const char *v,
    size_t len)
{
	struct pg_stmt *st = PGS(s);

	if (i < 1 || i > st->nparams)
		return AUTH_EINTERNAL;
	free(st->vals[i - 1]);
	st->vals[i - 1] = malloc(len + 1);
	if (st->vals[i - 1] == NULL)
		return AUTH_EINTERNAL;
	memcpy(st->vals[i - 1], v, len);
	st->vals[i - 1][len] = '\0';
	return AUTH_OK;
}

static enum auth_err pg_bind_int(struct db_stmt *s, int i, int64_t v)
{
	char buf[24];
	int n = snprintf(buf, sizeof(buf), "%lld", (long long)v);

	return pg_bind_text(s, i, buf, (size_t)n);
}

/* Prepare (if this connection has not) and run st: AUTH_OK or an error. */
static enum auth_err pg_execute(struct pg_stmt *st)
{
	struct pg_db *db = PG(st->base.db);
	ExecStatusType status;

	if (!db->in_tx && pg_ready(db) != 0)
		return AUTH_EUNAVAIL;
	if (db->conn == NULL)
		return AUTH_EUNAVAIL;
	if (st->gen != db->gen) {
		PGresult *res = PQprepare(db->conn, st->name, st->sql, 0, NULL);

		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			enum auth_err rc = pg_fail(db, res, st->quiet);

			PQclear(res);
			return rc;
		}
		PQclear(res);
		st->gen = db->gen;
	}
	st->res = PQexecPrepared(db->conn, st->name, st->nparams,
	    (const char *const *)st->vals, NULL, NULL, 0);
	status = PQresultStatus(st->res);
	if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) {
		const char *n = PQcmdTuples(st->res);

		db->changes = n != NULL && *n != '\0' ? (int)strtol(n, NULL, 10) : 0;
		return AUTH_OK;
	}
	if (status == PGRES_FATAL_ERROR && PQresultErrorField(st->res,
	    PG_DIAG_SQLSTATE) != NULL && strcmp(PQresultErrorField(st->res,
	    PG_DIAG_SQLSTATE), "26000") == 0)
		st->gen = 0;     /* dropped under us (a pooler): next time */
	return pg_fail(db, st->res, st->quiet);
}

static int pg_step(struct db_stmt *s)
{
	struct pg_stmt *st = PGS(s);

	if (!st->executed) {
		enum auth_err rc;

		st->executed = 1;
		rc = pg_execute(st);
		if (rc != AUTH_OK)
			return -(int)rc;
	}
	if (st->res == NULL)
		return -(int)AUTH_EUNAVAIL;
	st->row++;
	return st->row < PQntuples(st->res) ? DB_ROW : DB_DONE;
}

static const char *pg_col_text(struct db_stmt *s, int i, size_t *len)
{
	struct pg_stmt *st = PGS(s);

	if (st->res == NULL || st->row < 0 || st->row >= PQntuples(st->res) ||
	    i >= PQnfields(st->res) || PQgetisnull(st->res, st->row, i)) {
		if (len != NULL)
			*len = 0;
		return NULL;
	}
	if (len != NULL)
		*len = (size_t)PQgetlength(st->res, st->row, i);
	return PQgetvalue(st->res, st->row, i);
}

static int64_t pg_col_int(struct db_stmt *s, int i)
{
	const char *v = pg_col_text(s, i, NULL);

	return v != NULL ? (int64_t)strtoll(v, NULL, 10) : 0;
}

static void pg_reset(struct db_stmt *s)
{
	pg_stmt_clear(PGS(s));
}

static int pg_changes(struct db *d)
{
	return PG(d)->changes;
}

static int pg_epoch(struct db *d, uint64_t *out)
{
	struct pg_db *db = PG(d);
	PGnotify *n;

	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK)
		return -1;       /* nothing can be known: nothing cached */
	/* What the socket holds already; never waits for the server. */
	if (!PQconsumeInput(db->conn))
		return -1;
	while ((n = PQnotifies(db->conn)) != NULL) {
		db->epoch++;
		PQfreemem(n);
	}
	*out = db->epoch;
	return 0;
}

static void pg_notify(struct db *d)
{
	PG(d)->notify = 1;
}

static enum auth_err pg_error(struct db *d)
{
	struct pg_db *db = PG(d);

	return db->last_err != AUTH_OK ? db->last_err : AUTH_EINTERNAL;
}

static const struct db_ops pg_ops = {
	.close = pg_close,
	.prepare = pg_prepare,
	.begin = pg_begin,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.savepoint = pg_savepoint,
	.bind_text = pg_bind_text,
	.bind_int = pg_bind_int,
	.step = pg_step,
	.col_text = pg_col_text,
	.col_int = pg_col_int,
	.reset = pg_reset,
	.changes = pg_changes,
	.epoch = pg_epoch,
	.notify = pg_notify,
	.error = pg_error,
};

int db_pg_open(struct db **out, const char *conninfo, long busy_timeout_ms,
    char *err, size_t errlen)
{
	struct pg_db *db = calloc(1, sizeof(*db));

	*out = NULL;
	if (db == NULL || (db->conninfo = strdup(conninfo)) == NULL) {
		free(db);
		snprintf(err, errlen, "out of memory opening the database");
		return -1;
	}
	db->base.ops = &pg_ops;
	db->base.engine = DB_POSTGRES;
	/* 0 would mean no timeout at all: a hung server must not hang us. */
	db->timeout_ms = busy_timeout_ms > 0 ? busy_timeout_ms : 1000;
	db->last_err = AUTH_OK;
	if (pg_connect(db, err, errlen) != 0) {
		pg_close(&db->base);
		return -1;
	}
	*out = &db->base;
	return 0;
}
