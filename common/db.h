/*
 * db: the database connection seen by store: open with durable settings,
 * statements prepared once, transactions, typed binds and columns, and
 * engine codes mapped to enum auth_err. SQLite (db_sqlite.c) and
 * PostgreSQL (db_pg.c) are the backends; statements are written with ?N
 * placeholders, which the PostgreSQL backend numbers its own way.
 */
#ifndef AUTH_DB_H
#define AUTH_DB_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct db;
struct db_stmt;

enum db_engine {
	DB_SQLITE,
	DB_POSTGRES
};

/* Result of db_step besides errors. */
#define DB_ROW 1
#define DB_DONE 0

/*
 * Open the database: for SQLite an existing file (target is its path),
 * read-write with WAL, synchronous=NORMAL, foreign_keys=ON and
 * busy_timeout; db_commit flushes the WAL after the commit, so a
 * transaction it reports committed is on disk. For PostgreSQL target is
 * a libpq URI or keyword string; busy_timeout_ms becomes the statement
 * and lock timeouts. Fails (-1, one line in err naming DATABASE_URL,
 * never its password) when the database cannot be used.
 */
int db_open(struct db **out, enum db_engine engine, const char *target,
    long busy_timeout_ms, char *err, size_t errlen)
    __attribute__((warn_unused_result));
enum db_engine db_engine(const struct db *db);
void db_close(struct db *db);

/* Prepare sql once, at start. NULL on failure (a programming error). */
struct db_stmt *db_prepare(struct db *db, const char *sql);
/* The same, for statements whose tables may not exist yet: no log line. */
struct db_stmt *db_prepare_quiet(struct db *db, const char *sql);

enum auth_err db_begin(struct db *db) __attribute__((warn_unused_result));
enum auth_err db_commit(struct db *db) __attribute__((warn_unused_result));
/*
 * A savepoint inside the open transaction (not nested): released keeps
 * its writes, rolled back undoes them; either way the transaction goes on.
 */
enum auth_err db_savepoint(struct db *db) __attribute__((warn_unused_result));
enum auth_err db_release_savepoint(struct db *db)
    __attribute__((warn_unused_result));
enum auth_err db_rollback_savepoint(struct db *db)
    __attribute__((warn_unused_result));
/* Roll back if a transaction is open; safe to call when none is. */
void db_rollback(struct db *db);

/* Bind parameter i (1-based). Text is copied by the engine. */
enum auth_err db_bind_text(struct db_stmt *st, int i, const char *s, size_t len);
enum auth_err db_bind_int(struct db_stmt *st, int i, int64_t v);

/* Step: DB_ROW, DB_DONE, or a negated enum auth_err (e.g. -AUTH_EUNAVAIL). */
int db_step(struct db_stmt *st);
/* Column i of the current row; text is valid until the next step/reset. */
const char *db_col_text(struct db_stmt *st, int i, size_t *len);
int64_t db_col_int(struct db_stmt *st, int i);
/* Reset st and clear its bindings, ready for the next use. */
void db_reset(struct db_stmt *st);
/* Rows changed by the last statement on db. */
int db_changes(struct db *db);

/*
 * The database's change counter (epoch.h): it moves after every write
 * transaction any process commits through this interface. -1 when this
 * process has none; then nothing may be cached.
 */
int db_epoch(struct db *db, uint64_t *out);

/*
 * The open transaction revokes something (a session, a user's sessions):
 * when it commits, every process's db_epoch must move. SQLite moves it on
 * every commit anyway; PostgreSQL tells the other connections (NOTIFY).
 */
void db_notify(struct db *db);

/* Map the engine's last error on db to an auth_err (never AUTH_OK). */
enum auth_err db_error(struct db *db);

#endif
