/*
 * db: the database connection seen by store: open with durable settings,
 * statements prepared once, transactions, typed binds and columns, and
 * engine codes mapped to enum auth_err. SQLite is the backend; store
 * never names it, so a second backend replaces this file only.
 */
#ifndef AUTH_DB_H
#define AUTH_DB_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct db;
struct db_stmt;

/* Result of db_step besides errors. */
#define DB_ROW 1
#define DB_DONE 0

/*
 * Open an existing database file read-write with WAL, synchronous=NORMAL,
 * foreign_keys=ON and busy_timeout. db_commit flushes the WAL after the
 * commit, so a transaction it reports committed is on disk. Fails (-1, one line in err naming
 * DATABASE_URL) when the file is missing, not writable, or its directory
 * is not writable (WAL needs its side files).
 */
int db_open(struct db **out, const char *path, long busy_timeout_ms,
    char *err, size_t errlen) __attribute__((warn_unused_result));
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

/* Map the engine's last error on db to an auth_err (never AUTH_OK). */
enum auth_err db_error(struct db *db);

#endif
