/* db_sqlite: the SQLite backend of the database interface (db.h). */
#include "db_engine.h"

#include <errno.h>
#include <libgen.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "epoch.h"
#include "log.h"

struct sq_stmt {
	struct db_stmt base;
	sqlite3_stmt *st;
	struct sq_stmt *next;        /* every wrapper, freed at close */
};

struct sq_db {
	struct db base;
	sqlite3 *conn;
	struct db_stmt *begin, *commit, *rollback;
	struct db_stmt *savepoint, *release, *rollback_to;
	long busy_timeout_ms;
	struct timespec busy_since;
	struct epoch *epoch;
	struct sq_stmt *stmts;
};

#define SQ(d) ((struct sq_db *)(void *)(d))

/* SQLite's default auto-checkpoint threshold, in WAL frames (pages). */
#define DB_AUTOCHECKPOINT 1000

#define ST(s) (((struct sq_stmt *)(void *)(s))->st)

static enum auth_err db_map(int rc)
{
	/* Only a duplicate key means "exists"; other constraints are bugs. */
	if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
		return AUTH_EEXISTS;
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return AUTH_OK;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
	case SQLITE_IOERR:
	case SQLITE_CANTOPEN:
	case SQLITE_READONLY:
	case SQLITE_FULL:
	case SQLITE_PROTOCOL:
		return AUTH_EUNAVAIL;
	default:
		return AUTH_EINTERNAL;
	}
}

/* The last error on conn as an auth_err, never AUTH_OK. */
static enum auth_err db_conn_error(sqlite3 *conn)
{
	enum auth_err e = db_map(sqlite3_extended_errcode(conn));

	return e == AUTH_OK ? AUTH_EINTERNAL : e;
}

static enum auth_err sq_error(struct db *db)
{
	return db_conn_error(SQ(db)->conn);
}

/*
 * Busy handler: SQLite's own (sqlite3_busy_timeout) sleeps 1, 2, 5 ... 100
 * ms between tries, which under concurrent writers (every refresh is one)
 * leaves the lock free while the waiters sleep. Writes here hold the lock
 * for well under a millisecond, so retry every 50-500 us until the
 * configured timeout.
 */
static int db_busy(void *ctx, int count)
{
	struct sq_db *db = ctx;
	struct timespec now, pause = { 0, 0 };
	long waited_ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (count == 0)
		db->busy_since = now;
	waited_ms = (now.tv_sec - db->busy_since.tv_sec) * 1000L +
	    (now.tv_nsec - db->busy_since.tv_nsec) / 1000000L;
	if (waited_ms >= db->busy_timeout_ms)
		return 0;
	pause.tv_nsec = 50000L * (count < 10 ? count + 1 : 10);
	nanosleep(&pause, NULL);
	return 1;
}

/*
 * SQLite calls this after each transaction this connection commits, once
 * the commit is visible and the write lock released: the moment to tell
 * caches in other processes (epoch.h). The hook takes the place of
 * SQLite's auto-checkpoint, so it checkpoints as that did.
 */
static int db_committed(void *ctx, sqlite3 *conn, const char *name,
    int frames)
{
	struct sq_db *db = ctx;

	if (db->epoch != NULL)
		epoch_bump(db->epoch);
	if (frames >= DB_AUTOCHECKPOINT)
		(void)sqlite3_wal_checkpoint_v2(conn, name,
		    SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	return SQLITE_OK;
}

static int sq_epoch(struct db *d, uint64_t *out)
{
	struct sq_db *db = SQ(d);

	if (db->epoch == NULL)
		return -1;
	*out = epoch_now(db->epoch);
	return 0;
}

/* Every commit moves the epoch (db_committed): nothing more to do. */
static void sq_notify(struct db *db)
{
	(void)db;
}

/* The directory part of path into buf. */
static void db_dirname(const char *path, char *buf, size_t cap)
{
	char tmp[4096];

	snprintf(tmp, sizeof(tmp), "%s", path);
	snprintf(buf, cap, "%s", dirname(tmp));
}

static void sq_close(struct db *d)
{
	struct sq_db *db = SQ(d);

	if (db->conn != NULL) {
		sqlite3_stmt *st;

		while ((st = sqlite3_next_stmt(db->conn, NULL)) != NULL)
			sqlite3_finalize(st);
		sqlite3_close(db->conn);
	}
	/* The wrappers of the statements finalized above. */
	while (db->stmts != NULL) {
		struct sq_stmt *next = db->stmts->next;

		free(db->stmts);
		db->stmts = next;
	}
	epoch_close(db->epoch);
	free(db);
}

static struct db_stmt *sq_prepare(struct db *d, const char *sql, int quiet)
{
	struct sq_db *db = SQ(d);
	struct sq_stmt *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return NULL;
	/* PERSISTENT: these statements live as long as the process. */
	if (sqlite3_prepare_v3(db->conn, sql, -1, SQLITE_PREPARE_PERSISTENT,
	    &w->st, NULL) != SQLITE_OK) {
		if (!quiet)
			log_event(LOG_ERROR, "db_prepare_failed",
			    LOG_STR("error", sqlite3_errmsg(db->conn)));
		free(w);
		return NULL;
	}
	w->base.db = d;
	w->next = db->stmts;
	db->stmts = w;
	return &w->base;
}

/* Run a statement that returns no rows, then reset it. */
static enum auth_err db_run(struct sq_db *db, struct db_stmt *st)
{
	int rc = sqlite3_step(ST(st));

	sqlite3_reset(ST(st));
	if (rc == SQLITE_DONE)
		return AUTH_OK;
	return db_conn_error(db->conn);
}

static enum auth_err sq_begin(struct db *db)
{
	return db_run(SQ(db), SQ(db)->begin);
}

/*
 * Durability without holding the write lock across the flush: with
 * synchronous=NORMAL a WAL commit writes its frames and releases the lock
 * unsynced, so each commit flushes the WAL itself here, before db_commit
 * returns and therefore before any reply. A flush covers every frame
 * written before it, including other processes' commits, so concurrent
 * committers share one disk round trip instead of queueing one fsync
 * each behind the lock (synchronous=FULL). Frames a checkpoint already
 * copied were synced into the database file by that checkpoint, and a
 * restarted WAL holds only newer frames: either way a flushed commit
 * survives power loss, and WAL recovery stops at the first unsynced
 * frame, so the file stays consistent.
 */
static enum auth_err db_flush_wal(struct sq_db *db)
{
	sqlite3_file *wal = NULL;

	if (sqlite3_file_control(db->conn, "main",
	    SQLITE_FCNTL_JOURNAL_POINTER, &wal) != SQLITE_OK ||
	    wal == NULL || wal->pMethods == NULL)
		return AUTH_EUNAVAIL;
	if (wal->pMethods->xSync(wal, SQLITE_SYNC_NORMAL) != SQLITE_OK) {
		log_event(LOG_ERROR, "db_flush_failed",
		    LOG_STR("error", strerror(errno)));
		return AUTH_EUNAVAIL;
	}
	return AUTH_OK;
}

static void sq_rollback(struct db *d)
{
	struct sq_db *db = SQ(d);

	if (!sqlite3_get_autocommit(db->conn))
		(void)db_run(db, db->rollback);
}

/*
 * A commit is a commit: once COMMIT has returned, every process reads
 * the transaction, so answering "nothing was written" (503) would be
 * the lie that makes a client retry into "email already registered" or
 * into a replay that revokes its session. A flush that fails after it
 * is logged (db_flush_failed) and the commit reported as done; the next
 * successful flush, by any commit, covers its frames.
 */
static enum auth_err sq_commit(struct db *d)
{
	struct sq_db *db = SQ(d);
	enum auth_err rc = db_run(db, db->commit);

	if (rc != AUTH_OK) {
		sq_rollback(d);
		return rc;
	}
	(void)db_flush_wal(db);
	return AUTH_OK;
}

static enum auth_err sq_savepoint(struct db *d, enum db_sp_op op)
{
	struct sq_db *db = SQ(d);
	enum auth_err rc;

	if (op == DB_SP_OPEN)
		return db_run(db, db->savepoint);
	if (op == DB_SP_RELEASE)
		return db_run(db, db->release);
	/* ROLLBACK TO keeps the savepoint open; RELEASE closes it. */
	rc = db_run(db, db->rollback_to);
	return rc == AUTH_OK ? db_run(db, db->release) : rc;
}

static enum auth_err sq_bind_text(struct db_stmt *st, int i, const char *s,
    size_t len)
{
	return db_map(sqlite3_bind_text(ST(st), i, s, (int)len,
	    SQLITE_TRANSIENT));
}

static enum auth_err sq_bind_int(struct db_stmt *st, int i, int64_t v)
{
	return db_map(sqlite3_bind_int64(ST(st), i, v));
}

static int sq_step(struct db_stmt *st)
{
	int rc = sqlite3_step(ST(st));

	if (rc == SQLITE_ROW)
		return DB_ROW;
	if (rc == SQLITE_DONE)
		return DB_DONE;
	return -(int)db_conn_error(sqlite3_db_handle(ST(st)));
}

static const char *sq_col_text(struct db_stmt *st, int i, size_t *len)
{
	const char *s = (const char *)sqlite3_column_text(ST(st), i);

	if (len != NULL)
		*len = s != NULL ? (size_t)sqlite3_column_bytes(ST(st), i) : 0;
	return s;
}

static int64_t sq_col_int(struct db_stmt *st, int i)
{
	return sqlite3_column_int64(ST(st), i);
}

static void sq_reset(struct db_stmt *st)
{
	sqlite3_reset(ST(st));
	sqlite3_clear_bindings(ST(st));
}

static int sq_changes(struct db *db)
{
	return sqlite3_changes(SQ(db)->conn);
}

static const struct db_ops sq_ops = {
	.close = sq_close,
	.prepare = sq_prepare,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.savepoint = sq_savepoint,
	.bind_text = sq_bind_text,
	.bind_int = sq_bind_int,
	.step = sq_step,
	.col_text = sq_col_text,
	.col_int = sq_col_int,
	.reset = sq_reset,
	.changes = sq_changes,
	.epoch = sq_epoch,
	.notify = sq_notify,
	.error = sq_error,
};

int db_sqlite_open(struct db **out, const char *path, long busy_timeout_ms,
    char *err, size_t errlen)
{
	static const char pragmas[] =
	    "PRAGMA journal_mode=WAL;"
	    "PRAGMA synchronous=NORMAL;"
	    "PRAGMA foreign_keys=ON;";
	struct sq_db *db = calloc(1, sizeof(*db));
	char dir[4096];
	int rc;

	*out = NULL;
	if (db == NULL) {
		snprintf(err, errlen, "out of memory opening the database");
		return -1;
	}
	db->base.ops = &sq_ops;
	db->base.engine = DB_SQLITE;
	db->busy_timeout_ms = busy_timeout_ms;
	db_dirname(path, dir, sizeof(dir));
	if (access(path, R_OK | W_OK) != 0 || access(dir, W_OK | X_OK) != 0) {
		snprintf(err, errlen, "DATABASE_URL: %s is missing or not "
		    "writable with its directory (%s); run scripts/migrate.sh",
		    path, strerror(errno));
		goto fail;
	}
	rc = sqlite3_open_v2(path, &db->conn, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK ||
	    sqlite3_busy_handler(db->conn, db_busy, db) != SQLITE_OK ||
	    sqlite3_exec(db->conn, pragmas, NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "DATABASE_URL: cannot open %s: %s", path,
		    db->conn ? sqlite3_errmsg(db->conn) : "out of memory");
		goto fail;
	}
	db->epoch = epoch_open(path);
	if (db->epoch == NULL)
		/* Served without the shared change counter: nothing cached. */
		log_event(LOG_WARN, "epoch_unavailable", LOG_STR("path", path),
		    LOG_STR("reason", strerror(errno)));
	sqlite3_wal_hook(db->conn, db_committed, db);
	db->begin = sq_prepare(&db->base, "BEGIN IMMEDIATE", 0);
	db->commit = sq_prepare(&db->base, "COMMIT", 0);
	db->rollback = sq_prepare(&db->base, "ROLLBACK", 0);
	db->savepoint = sq_prepare(&db->base, "SAVEPOINT part", 0);
	db->release = sq_prepare(&db->base, "RELEASE part", 0);
	db->rollback_to = sq_prepare(&db->base, "ROLLBACK TO part", 0);
	if (db->begin == NULL || db->commit == NULL || db->rollback == NULL ||
	    db->savepoint == NULL || db->release == NULL ||
	    db->rollback_to == NULL) {
		snprintf(err, errlen, "DATABASE_URL: cannot prepare on %s", path);
		goto fail;
	}
	*out = &db->base;
	return 0;
fail:
	sq_close(&db->base);
	return -1;
}
