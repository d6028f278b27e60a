/*
 * db: the one database interface of the store, dispatched to the engine
 * DATABASE_URL named (db_sqlite.c, db_pg.c). One indirect call per
 * operation buys a store written once for both.
 */
#include "db.h"

#include <stdio.h>

#include "db_engine.h"

int db_open(struct db **out, enum db_engine engine, const char *target,
    long busy_timeout_ms, char *err, size_t errlen)
{
	if (engine == DB_POSTGRES)
		return db_pg_open(out, target, busy_timeout_ms, err, errlen);
	return db_sqlite_open(out, target, busy_timeout_ms, err, errlen);
}

enum db_engine db_engine(const struct db *db)
{
	return db->engine;
}

void db_close(struct db *db)
{
	if (db != NULL)
		db->ops->close(db);
}

struct db_stmt *db_prepare(struct db *db, const char *sql)
{
	return db->ops->prepare(db, sql, 0);
}

struct db_stmt *db_prepare_quiet(struct db *db, const char *sql)
{
	return db->ops->prepare(db, sql, 1);
}

enum auth_err db_begin(struct db *db)
{
	return db->ops->begin(db);
}

enum auth_err db_commit(struct db *db)
{
	return db->ops->commit(db);
}

enum auth_err db_savepoint(struct db *db)
{
	return db->ops->savepoint(db, DB_SP_OPEN);
}

enum auth_err db_release_savepoint(struct db *db)
{
	return db->ops->savepoint(db, DB_SP_RELEASE);
}

enum auth_err db_rollback_savepoint(struct db *db)
{
	return db->ops->savepoint(db, DB_SP_ROLLBACK);
}

void db_rollback(struct db *db)
{
	db->ops->rollback(db);
}

enum auth_err db_bind_text(struct db_stmt *st, int i, const char *s, size_t len)
{
	return st->db->ops->bind_text(st, i, s, len);
}

enum auth_err db_bind_int(struct db_stmt *st, int i, int64_t v)
{
	return st->db->ops->bind_int(st, i, v);
}

int db_step(struct db_stmt *st)
{
	return st->db->ops->step(st);
}

const char *db_col_text(struct db_stmt *st, int i, size_t *len)
{
	return st->db->ops->col_text(st, i, len);
}

int64_t db_col_int(struct db_stmt *st, int i)
{
	return st->db->ops->col_int(st, i);
}

void db_reset(struct db_stmt *st)
{
	st->db->ops->reset(st);
}

int db_changes(struct db *db)
{
	return db->ops->changes(db);
}

int db_epoch(struct db *db, uint64_t *out)
{
	return db->ops->epoch(db, out);
}

void db_notify(struct db *db)
{
	db->ops->notify(db);
}

enum auth_err db_error(struct db *db)
{
	return db->ops->error(db);
}
