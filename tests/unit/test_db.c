/* test_db: the SQLite connection layer (open, pragmas, transactions, binds, errors). */
#include "unit.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "db.h"
#include "fixture.h"

struct dbt {
	struct fx fx;
	struct db *db;
};

static int dbt_setup(void **state)
{
	struct dbt *t = calloc(1, sizeof(*t));
	char err[512] = "";

	if (t == NULL || fx_init(&t->fx) != 0)
		goto fail;
	if (fx_make_db(t->fx.db) != 0)
		goto fail;
	if (db_open(&t->db, DB_SQLITE, t->fx.db, 5000, err, sizeof(err)) != 0) {
		fprintf(stderr, "db_open: %s\n", err);
		goto fail;
	}
	*state = t;
	return 0;
fail:
	if (t != NULL)
		fx_fini(&t->fx);
	free(t);
	return -1;
}

static int dbt_teardown(void **state)
{
	struct dbt *t = *state;

	db_close(t->db);
	fx_fini(&t->fx);
	free(t);
	return 0;
}

/* Insert a user row through db; returns db_step's result. */
static int insert_user(struct db *db, const char *id, const char *email)
{
	struct db_stmt *st = db_prepare(db,
	    "INSERT INTO users(id, email, password_hash, created_at) "
	    "VALUES (?1, ?2, 'h', 1)");
	int rc;

	assert_non_null(st);
	assert_int_equal(db_bind_text(st, 1, id, strlen(id)), AUTH_OK);
	assert_int_equal(db_bind_text(st, 2, email, strlen(email)), AUTH_OK);
	rc = db_step(st);
	db_reset(st);
	return rc;
}

static long long count_users(struct db *db)
{
	struct db_stmt *st = db_prepare(db, "SELECT count(*) FROM users");
	long long n;

	assert_non_null(st);
	assert_int_equal(db_step(st), DB_ROW);
	n = db_col_int(st, 0);
	assert_int_equal(db_step(st), DB_DONE);
	db_reset(st);
	return n;
}

static void test_open_missing_file(void **state)
{
	struct dbt *t = *state;
	struct db *db = (struct db *)(uintptr_t)1;
	char path[FX_PATH_MAX + 16], err[512] = "";

	snprintf(path, sizeof(path), "%s/nope.db", t->fx.dir);
	assert_int_equal(db_open(&db, DB_SQLITE, path, 50, err, sizeof(err)), -1);
	assert_null(db);
	assert_non_null(strstr(err, "DATABASE_URL"));
	assert_non_null(strstr(err, path));
	assert_null(strchr(err, '\n'));
	/* A failed open must not create the file. */
	assert_int_equal(access(path, F_OK), -1);
}

static void test_open_missing_dir(void **state)
{
	struct dbt *t = *state;
	struct db *db = NULL;
	char path[FX_PATH_MAX + 32], err[512] = "";

	snprintf(path, sizeof(path), "%s/no/such/dir/auth.db", t->fx.dir);
	assert_int_equal(db_open(&db, DB_SQLITE, path, 50, err, sizeof(err)), -1);
	assert_null(db);
	assert_non_null(strstr(err, "DATABASE_URL"));
}

/*
 * db_open(path) as uid in a child: 0 opened, 1 refused naming
 * DATABASE_URL, 2 refused otherwise, 3 could not become uid.
 */
static int open_as(uid_t uid, const char *path)
{
	int status = 0;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		struct db *db = NULL;
		char err[512] = "";
		int rc;

		if (setgroups(0, NULL) != 0 || setgid((gid_t)uid) != 0 ||
		    setuid(uid) != 0 || geteuid() == 0)
			_exit(3);
		rc = db_open(&db, DB_SQLITE, path, 50, err, sizeof(err));
		db_close(db);
		_exit(rc == 0 ? 0 : strstr(err, "DATABASE_URL") != NULL ? 1 : 2);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static void test_open_not_writable(void **state)
{
	struct dbt *t = *state;
	struct db *db = NULL;
	char sub[FX_PATH_MAX + 8], path[FX_PATH_MAX + 16], err[512] = "";
	const uid_t nobody = 65534;

	snprintf(sub, sizeof(sub), "%s/ro", t->fx.dir);
	snprintf(path, sizeof(path), "%s/auth.db", sub);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(fx_make_db(path), 0);

	if (geteuid() != 0) {
		/* Directory read-only: WAL could not create its side files. */
		assert_int_equal(chmod(sub, 0500), 0);
		assert_int_equal(db_open(&db, DB_SQLITE, path, 50, err, sizeof(err)), -1);
		assert_null(db);
		assert_non_null(strstr(err, "DATABASE_URL"));
		assert_int_equal(chmod(sub, 0700), 0);

		/* File read-only in a writable directory. */
		assert_int_equal(chmod(path, 0400), 0);
		err[0] = '\0';
		assert_int_equal(db_open(&db, DB_SQLITE, path, 50, err, sizeof(err)), -1);
		assert_null(db);
		assert_non_null(strstr(err, "DATABASE_URL"));
		assert_int_equal(chmod(path, 0600), 0);
		return;
	}

	/*
	 * root passes access() and opens anything: check as an unprivileged
	 * user in a child instead, first that it can open the file at all.
	 */
	assert_int_equal(chmod(t->fx.dir, 0711), 0);
	assert_int_equal(chown(sub, nobody, nobody), 0);
	assert_int_equal(chown(path, nobody, nobody), 0);
	if (open_as(nobody, path) != 0)
		skip();   /* cannot drop privileges here */

	assert_int_equal(chmod(sub, 0500), 0);
	assert_int_equal(open_as(nobody, path), 1);
	assert_int_equal(chmod(sub, 0700), 0);

	assert_int_equal(chmod(path, 0400), 0);
	assert_int_equal(open_as(nobody, path), 1);
	assert_int_equal(chmod(path, 0600), 0);

	/* And opens again once writable. */
	assert_int_equal(open_as(nobody, path), 0);
}

static void test_pragmas(void **state)
{
	struct dbt *t = *state;
	struct db_stmt *st;
	const char *s;
	size_t len = 0;

	st = db_prepare(t->db, "PRAGMA journal_mode");
	assert_non_null(st);
	assert_int_equal(db_step(st), DB_ROW);
	s = db_col_text(st, 0, &len);
	assert_non_null(s);
	assert_string_equal(s, "wal");
	assert_int_equal(len, 3);
	db_reset(st);

	st = db_prepare(t->db, "PRAGMA foreign_keys");
	assert_non_null(st);
	assert_int_equal(db_step(st), DB_ROW);
	assert_int_equal(db_col_int(st, 0), 1);
	db_reset(st);

	/* NORMAL: db_commit flushes the WAL itself (test_commit_flushes_wal). */
	st = db_prepare(t->db, "PRAGMA synchronous");
	assert_non_null(st);
	assert_int_equal(db_step(st), DB_ROW);
	assert_int_equal(db_col_int(st, 0), 1);
	db_reset(st);

	/* WAL is persistent: another connection sees it too. */
	{
		char mode[32];

		fx_text(t->fx.db, "PRAGMA journal_mode", mode, sizeof(mode));
		assert_string_equal(mode, "wal");
	}
}

static void test_commit(void **state)
{
	struct dbt *t = *state;

	assert_int_equal(db_begin(t->db), AUTH_OK);
	assert_int_equal(insert_user(t->db, "u1", "a@b.c"), DB_DONE);
	assert_int_equal(db_changes(t->db), 1);
	assert_int_equal(db_commit(t->db), AUTH_OK);
	assert_int_equal(count_users(t->db), 1);
	/* Committed data is visible to other connections. */
	assert_int_equal(fx_count(t->fx.db, "users"), 1);
}

/*
 * A VFS that is the default one except that it counts (and can fail) the
 * syncs of WAL files: the proof that db_commit puts a commit on disk
 * before it returns. Only xSync is swapped in the WAL file's method table;
 * the file object itself is the default VFS's own.
 */
static struct {
	sqlite3_vfs vfs;
	sqlite3_vfs *real;
	const sqlite3_io_methods *real_io;
	sqlite3_io_methods io;
	int wal_syncs;
	int fail;
} spy;

static int spy_sync(sqlite3_file *f, int flags)
{
	spy.wal_syncs++;
	if (spy.fail)
		return SQLITE_IOERR_FSYNC;
	return spy.real_io->xSync(f, flags);
}

static int spy_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f,
    int flags, int *out_flags)
{
	int rc = spy.real->xOpen(spy.real, name, f, flags, out_flags);

	(void)vfs;
	if (rc == SQLITE_OK && (flags & SQLITE_OPEN_WAL) && f->pMethods) {
		spy.real_io = f->pMethods;
		spy.io = *f->pMethods;
		spy.io.xSync = spy_sync;
		f->pMethods = &spy.io;
	}
	return rc;
}

static int spy_setup(void **state)
{
	memset(&spy, 0, sizeof(spy));
	spy.real = sqlite3_vfs_find(NULL);
	spy.vfs = *spy.real;
	spy.vfs.zName = "syncspy";
	spy.vfs.xOpen = spy_open;
	if (sqlite3_vfs_register(&spy.vfs, 1) != SQLITE_OK)
		return -1;
	return dbt_setup(state);
}

static int spy_teardown(void **state)
{
	int rc = dbt_teardown(state);

	sqlite3_vfs_unregister(&spy.vfs);
	return rc;
}

static void test_commit_flushes_wal(void **state)
{
	struct dbt *t = *state;
	int before;

	assert_int_equal(db_begin(t->db), AUTH_OK);
	assert_int_equal(insert_user(t->db, "u1", "a@b.c"), DB_DONE);
	before = spy.wal_syncs;
	assert_int_equal(db_commit(t->db), AUTH_OK);
	assert_true(spy.wal_syncs > before);

	/* A flush that fails after COMMIT is still a commit: reported as
	 * one (a 503 would send the client into a duplicate or a replay),
	 * and every reader sees it. */
	spy.fail = 1;
	assert_int_equal(db_begin(t->db), AUTH_OK);
	assert_int_equal(insert_user(t->db, "u2", "b@b.c"), DB_DONE);
	assert_int_equal(db_commit(t->db), AUTH_OK);
	spy.fail = 0;
	assert_int_equal(fx_count(t->fx.db, "users"), 2);
	/* The connection goes on working afterwards. */
	assert_int_equal(db_begin(t->db), AUTH_OK);
	assert_int_equal(insert_user(t->db, "u3", "c@b.c"), DB_DONE);
	assert_int_equal(db_commit(t->db), AUTH_OK);
}

/* Savepoints: a rolled-back part is undone, the transaction goes on. */
static void test_savepoints(void **state)
{
	struct dbt *t = *state;

	assert_int_equal(db_begin(t->db), AUTH_OK);
	assert_int_equal(db_savepoint(t->db), AUTH_OK);
	assert_int_equal(insert_user(t->db, "u1", "a@b.c"), DB_DONE);
	assert_int_equal(db_release_savepoint(t->db), AUTH_OK);
	assert_int_equal(db_savepoint(t->db), AUTH_OK);
	assert_int_equal(insert_user(t->db, "u2", "b@b.c"), DB_DONE);
	assert_int_equal(count_users(t->db), 2);
	assert_int_equal(db_rollback_savepoint(t->db), AUTH_OK);
	assert_int_equal(count_users(t->db), 1);
	assert_int_equal(db_savepoint(t->db), AUTH_OK);
	assert_int_equal(insert_user(t->db, "u3", "c@b.c"), DB_DONE);
	assert_int_equal(db_release_savepoint(t->db), AUTH_OK);
	assert_int_equal(db_commit(t->db), AUTH_OK);
	assert_int_equal(fx_count(t->fx.db, "users"), 2);
	/* Outside a transaction a release has nothing to release. */
	assert_int_equal(db_release_savepoint(t->db), AUTH_EINTERNAL);
}

static void test_rollback(void **state)
{
	struct dbt *t = *state;

	assert_int_equal(db_begin(t->db), AUTH_OK);
	assert_int_equal(insert_user(t->db, "u1", "a@b.c"), DB_DONE);
	assert_int_equal(count_users(t->db), 1);
	db_rollback(t->db);
	assert_int_equal(count_users(t->db), 0);
	assert_int_equal(fx_count(t->fx.db, "users"), 0);

	/* No transaction open: harmless, twice over. */
	db_rollback(t->db);
	db_rollback(t->db);

	/* And the connection still works for the next transaction. */
	assert_int_equal(db_begin(t->db), AUTH_OK);
	assert_int_equal(insert_user(t->db, "u2", "b@b.c"), DB_DONE);
	assert_int_equal(db_commit(t->db), AUTH_OK);
	assert_int_equal(count_users(t->db), 1);
}

/* The change counter moves after every committed write, explicit or
 * autocommit, whichever connection made it; never for reads or rollbacks. */
static void test_epoch(void **state)
{
	struct dbt *t = *state;
	struct db *other = NULL;
	uint64_t e0 = 0, e = 0;
	char err[512];

	assert_int_equal(db_epoch(t->db, &e0), 0);
	assert_int_equal(db_begin(t->db), AUTH_OK);
	assert_int_equal(insert_user(t->db, "u1", "a@b.c"), DB_DONE);
	assert_int_equal(db_epoch(t->db, &e), 0);
	assert_true(e == e0);               /* not before the commit */
	assert_int_equal(db_commit(t->db), AUTH_OK);
	assert_int_equal(db_epoch(t->db, &e), 0);
	assert_true(e == e0 + 1);

	assert_int_equal(count_users(t->db), 1);
	assert_int_equal(db_begin(t->db), AUTH_OK);
	assert_int_equal(insert_user(t->db, "u2", "b@b.c"), DB_DONE);
	db_rollback(t->db);
	assert_int_equal(db_epoch(t->db, &e), 0);
	assert_true(e == e0 + 1);

	/* Another connection (another process, for the file) sees it and
	 * moves it with an autocommit write. */
	assert_int_equal(db_open(&other, DB_SQLITE, t->fx.db, 1000, err, sizeof(err)), 0);
	assert_int_equal(db_epoch(other, &e), 0);
	assert_true(e == e0 + 1);
	assert_int_equal(insert_user(other, "u3", "c@b.c"), DB_DONE);
	db_close(other);
	assert_int_equal(db_epoch(t->db, &e), 0);
	assert_true(e == e0 + 2);
}

/* Where the counter file cannot be made, there is none: no caching. */
static void test_epoch_unavailable(void **state)
{
	struct dbt *t = *state;
	struct db *other = NULL;
	char path[FX_PATH_MAX + 8], err[512];
	uint64_t e = 0;

	db_close(t->db);
	t->db = NULL;
	snprintf(path, sizeof(path), "%s-epoch", t->fx.db);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(db_open(&other, DB_SQLITE, t->fx.db, 1000, err, sizeof(err)), 0);
	assert_int_equal(db_epoch(other, &e), -1);
	/* Writes go on regardless. */
	assert_int_equal(insert_user(other, "u1", "a@b.c"), DB_DONE);
	db_close(other);
}

/* The commit hook replaces SQLite's auto-checkpoint: the WAL must still
 * be checkpointed and reused rather than grow with every write. */
static void test_wal_checkpointed(void **state)
{
	struct dbt *t = *state;
	char path[FX_PATH_MAX + 8], id[32], email[32];
	struct stat st;
	int i;

	for (i = 0; i < 3000; i++) {
		snprintf(id, sizeof(id), "u%d", i);
		snprintf(email, sizeof(email), "%d@b.c", i);
		assert_int_equal(insert_user(t->db, id, email), DB_DONE);
	}
	snprintf(path, sizeof(path), "%s-wal", t->fx.db);
	assert_int_equal(stat(path, &st), 0);
	/* 3000 commits of 2-4 pages each: ~40 MB of frames unchecked. */
	assert_true(st.st_size < 8 * 1024 * 1024);
	assert_int_equal(count_users(t->db), 3000);
}

static void test_commit_without_begin(void **state)
{
	struct dbt *t = *state;

	/* COMMIT with no transaction is an engine error, not success. */
	assert_int_not_equal(db_commit(t->db), AUTH_OK);
	/* Nested BEGIN fails and leaves the outer transaction usable. */
	assert_int_equal(db_begin(t->db), AUTH_OK);
	assert_int_not_equal(db_begin(t->db), AUTH_OK);
	assert_int_equal(insert_user(t->db, "u1", "a@b.c"), DB_DONE);
	assert_int_equal(db_commit(t->db), AUTH_OK);
	assert_int_equal(fx_count(t->fx.db, "users"), 1);
}

static void test_bind_step_columns(void **state)
{
	struct dbt *t = *state;
	struct db_stmt *ins, *sel;
	const char *s;
	size_t len = 99;
	static const char with_nul[] = "ab\0cd";

	ins = db_prepare(t->db,
	    "INSERT INTO users(id, email, password_hash, created_at) "
	    "VALUES (?1, ?2, ?3, ?4)");
	assert_non_null(ins);
	assert_int_equal(db_bind_text(ins, 1, "id-1", 4), AUTH_OK);
	/* Only len bytes are bound: "x@y.zz" becomes "x@y.z". */
	assert_int_equal(db_bind_text(ins, 2, "x@y.zz", 5), AUTH_OK);
	assert_int_equal(db_bind_text(ins, 3, "hash", 4), AUTH_OK);
	assert_int_equal(db_bind_int(ins, 4, INT64_C(9007199254740993)),
	    AUTH_OK);
	assert_int_equal(db_step(ins), DB_DONE);
	assert_int_equal(db_changes(t->db), 1);
	db_reset(ins);

	/* After reset the bindings are cleared: NULL id violates NOT NULL. */
	assert_int_equal(db_bind_text(ins, 2, "q@y.z", 5), AUTH_OK);
	assert_int_equal(db_bind_text(ins, 3, "hash", 4), AUTH_OK);
	assert_int_equal(db_bind_int(ins, 4, 1), AUTH_OK);
	assert_int_equal(db_step(ins), -AUTH_EINTERNAL);
	db_reset(ins);

	/* Reused statement, new values, embedded NUL kept as bytes. */
	assert_int_equal(db_bind_text(ins, 1, "id-2", 4), AUTH_OK);
	assert_int_equal(db_bind_text(ins, 2, "w@y.z", 5), AUTH_OK);
	assert_int_equal(db_bind_text(ins, 3, with_nul, 5), AUTH_OK);
	assert_int_equal(db_bind_int(ins, 4, -5), AUTH_OK);
	assert_int_equal(db_step(ins), DB_DONE);
	db_reset(ins);

	/* Binding out of range is reported, not ignored. */
	assert_int_not_equal(db_bind_int(ins, 9, 1), AUTH_OK);
	assert_int_not_equal(db_bind_text(ins, 0, "x", 1), AUTH_OK);
	db_reset(ins);

	sel = db_prepare(t->db, "SELECT id, email, password_hash, created_at "
	    "FROM users WHERE id = ?1");
	assert_non_null(sel);
	assert_int_equal(db_bind_text(sel, 1, "id-1", 4), AUTH_OK);
	assert_int_equal(db_step(sel), DB_ROW);
	s = db_col_text(sel, 0, &len);
	assert_string_equal(s, "id-1");
	assert_int_equal(len, 4);
	s = db_col_text(sel, 1, &len);
	assert_string_equal(s, "x@y.z");
	assert_int_equal(len, 5);
	assert_string_equal(db_col_text(sel, 2, NULL), "hash");
	assert_true(db_col_int(sel, 3) == INT64_C(9007199254740993));
	assert_int_equal(db_step(sel), DB_DONE);
	db_reset(sel);

	assert_int_equal(db_bind_text(sel, 1, "id-2", 4), AUTH_OK);
	assert_int_equal(db_step(sel), DB_ROW);
	s = db_col_text(sel, 2, &len);
	assert_int_equal(len, 5);
	assert_memory_equal(s, with_nul, 5);
	assert_true(db_col_int(sel, 3) == -5);
	db_reset(sel);

	/* No row: DB_DONE straight away. */
	assert_int_equal(db_bind_text(sel, 1, "id-3", 4), AUTH_OK);
	assert_int_equal(db_step(sel), DB_DONE);
	db_reset(sel);

	/* A NULL column reads as NULL with length 0. */
	sel = db_prepare(t->db, "SELECT NULL, 42");
	assert_non_null(sel);
	assert_int_equal(db_step(sel), DB_ROW);
	len = 7;
	assert_null(db_col_text(sel, 0, &len));
	assert_int_equal(len, 0);
	assert_int_equal(db_col_int(sel, 1), 42);
	db_reset(sel);
}

static void test_changes(void **state)
{
	struct dbt *t = *state;
	struct db_stmt *up;

	assert_int_equal(insert_user(t->db, "u1", "a@b.c"), DB_DONE);
	assert_int_equal(insert_user(t->db, "u2", "b@b.c"), DB_DONE);
	assert_int_equal(insert_user(t->db, "u3", "c@b.c"), DB_DONE);

	up = db_prepare(t->db, "UPDATE users SET password_hash = 'x' "
	    "WHERE id <> ?1");
	assert_non_null(up);
	assert_int_equal(db_bind_text(up, 1, "u1", 2), AUTH_OK);
	assert_int_equal(db_step(up), DB_DONE);
	assert_int_equal(db_changes(t->db), 2);
	db_reset(up);

	assert_int_equal(db_bind_text(up, 1, "", 0), AUTH_OK);
	assert_int_equal(db_step(up), DB_DONE);
	assert_int_equal(db_changes(t->db), 3);
	db_reset(up);

	up = db_prepare(t->db, "DELETE FROM users WHERE id = 'none'");
	assert_non_null(up);
	assert_int_equal(db_step(up), DB_DONE);
	assert_int_equal(db_changes(t->db), 0);
	db_reset(up);
}

static void test_unique_violation(void **state)
{
	struct dbt *t = *state;

	assert_int_equal(insert_user(t->db, "u1", "a@b.c"), DB_DONE);
	/* Same email (UNIQUE). */
	assert_int_equal(insert_user(t->db, "u2", "a@b.c"), -AUTH_EEXISTS);
	assert_int_equal(db_error(t->db), AUTH_EEXISTS);
	/* Same id (PRIMARY KEY). */
	assert_int_equal(insert_user(t->db, "u1", "z@b.c"), -AUTH_EEXISTS);
	assert_int_equal(count_users(t->db), 1);
	/* Inside a transaction: the failed statement leaves it usable. */
	assert_int_equal(db_begin(t->db), AUTH_OK);
	assert_int_equal(insert_user(t->db, "u2", "b@b.c"), DB_DONE);
	assert_int_equal(insert_user(t->db, "u3", "b@b.c"), -AUTH_EEXISTS);
	assert_int_equal(db_commit(t->db), AUTH_OK);
	assert_int_equal(fx_count(t->fx.db, "users"), 2);
}

static void test_foreign_key_violation(void **state)
{
	struct dbt *t = *state;
	struct db_stmt *st;

	st = db_prepare(t->db, "INSERT INTO sessions(id, user_id, created_at, "
	    "last_used_at) VALUES ('s1', ?1, 1, 1)");
	assert_non_null(st);
	assert_int_equal(db_bind_text(st, 1, "ghost", 5), AUTH_OK);
	assert_int_equal(db_step(st), -AUTH_EINTERNAL);
	assert_int_equal(db_error(t->db), AUTH_EINTERNAL);
	db_reset(st);
	assert_int_equal(fx_count(t->fx.db, "sessions"), 0);

	/* With the parent present the same insert works. */
	assert_int_equal(insert_user(t->db, "ghost", "g@b.c"), DB_DONE);
	assert_int_equal(db_bind_text(st, 1, "ghost", 5), AUTH_OK);
	assert_int_equal(db_step(st), DB_DONE);
	db_reset(st);

	/* A CHECK constraint is a bug too, not "exists". */
	st = db_prepare(t->db, "UPDATE sessions SET revoked = 2");
	assert_non_null(st);
	assert_int_equal(db_step(st), -AUTH_EINTERNAL);
	db_reset(st);
}

static void test_busy(void **state)
{
	struct dbt *t = *state;
	struct db *db = NULL;
	struct db_stmt *st;
	sqlite3 *raw;
	char err[512] = "";

	assert_int_equal(db_open(&db, DB_SQLITE, t->fx.db, 50, err, sizeof(err)), 0);
	raw = fx_raw_open(t->fx.db);
	assert_non_null(raw);
	assert_int_equal(sqlite3_exec(raw, "BEGIN EXCLUSIVE", NULL, NULL, NULL),
	    SQLITE_OK);

	assert_int_equal(db_begin(db), AUTH_EUNAVAIL);
	/* A write outside a transaction is busy too. */
	assert_int_equal(insert_user(db, "u1", "a@b.c"), -AUTH_EUNAVAIL);
	assert_int_equal(db_error(db), AUTH_EUNAVAIL);
	db_rollback(db);     /* nothing open: harmless */

	assert_int_equal(sqlite3_exec(raw, "ROLLBACK", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(raw);

	/* The lock gone, the same connection works again. */
	assert_int_equal(db_begin(db), AUTH_OK);
	assert_int_equal(insert_user(db, "u1", "a@b.c"), DB_DONE);
	assert_int_equal(db_commit(db), AUTH_OK);
	st = db_prepare(db, "SELECT email FROM users");
	assert_non_null(st);
	assert_int_equal(db_step(st), DB_ROW);
	assert_string_equal(db_col_text(st, 0, NULL), "a@b.c");
	db_reset(st);
	db_close(db);
}

static void test_prepare_invalid(void **state)
{
	struct dbt *t = *state;

	assert_null(db_prepare(t->db, "SELEKT 1"));
	assert_null(db_prepare(t->db, "SELECT * FROM no_such_table"));
	/* The connection is still fine. */
	assert_non_null(db_prepare(t->db, "SELECT 1"));
}

static void test_close_null(void **state)
{
	(void)state;
	db_close(NULL);
}

int main(void)
{
	const struct CMUnitTest db[] = {
		cmocka_unit_test_setup_teardown(test_open_missing_file,
		    dbt_setup, dbt_teardown),
		cmocka_unit_test_setup_teardown(test_open_missing_dir,
		    dbt_setup, dbt_teardown),
		cmocka_unit_test_setup_teardown(test_open_not_writable,
		    dbt_setup, dbt_teardown),
		cmocka_unit_test_setup_teardown(test_pragmas,
		    dbt_setup, dbt_teardown),
		cmocka_unit_test_setup_teardown(test_commit,
		    dbt_setup, dbt_teardown),
		cmocka_unit_test_setup_teardown(test_commit_flushes_wal,
		    spy_setup, spy_teardown),
		cmocka_unit_test_setup_teardown(test_savepoints,
		    dbt_setup, dbt_teardown),
		cmocka_unit_test_setup_teardown(test_rollback,
		    dbt_setup, dbt_teardown),
		cmocka_unit_test_setup_teardown(test_epoch, dbt_setup, dbt_teardown),
		cmocka_unit_test_setup_teardown(test_epoch_unavailable, dbt_setup,
		    dbt_teardown),
		cmocka_unit_test_setup_teardown(test_wal_checkpointed, dbt_setup,
		    dbt_teardown),
		cmocka_unit_test_setup_teardown(test_commit_without_begin,
		    dbt_setup, dbt_teardown),
		cmocka_unit_test_setup_teardown(test_bind_step_columns,
		    dbt_setup, dbt_teardown),
		cmocka_unit_test_setup_teardown(test_changes,
		    dbt_setup, dbt_teardown),
		cmocka_unit_test_setup_teardown(test_unique_violation,
		    dbt_setup, dbt_teardown),
		cmocka_unit_test_setup_teardown(test_foreign_key_violation,
		    dbt_setup, dbt_teardown),
		cmocka_unit_test_setup_teardown(test_busy,
		    dbt_setup, dbt_teardown),
		cmocka_unit_test_setup_teardown(test_prepare_invalid,
		    dbt_setup, dbt_teardown),
		cmocka_unit_test(test_close_null),
	};

	return cmocka_run_group_tests(db, NULL, NULL);
}
