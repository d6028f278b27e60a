/*
 * db_engine: what each database backend (db_sqlite.c, db_pg.c) hands to
 * db.c, which dispatches the db.h interface to it. Private to db*.c: the
 * store never sees which engine it talks to.
 */
#ifndef AUTH_DB_ENGINE_H
#define AUTH_DB_ENGINE_H

#include "db.h"

enum db_sp_op {
	DB_SP_OPEN,
	DB_SP_RELEASE,
	DB_SP_ROLLBACK
};

struct db_ops {
	void (*close)(struct db *db);
	struct db_stmt *(*prepare)(struct db *db, const char *sql, int quiet);
	enum auth_err (*begin)(struct db *db);
	enum auth_err (*commit)(struct db *db);
	void (*rollback)(struct db *db);
	enum auth_err (*savepoint)(struct db *db, enum db_sp_op op);
	enum auth_err (*bind_text)(struct db_stmt *st, int i, const char *s,
	    size_t len);
	enum auth_err (*bind_int)(struct db_stmt *st, int i, int64_t v);
	int (*step)(struct db_stmt *st);
	const char *(*col_text)(struct db_stmt *st, int i, size_t *len);
	int64_t (*col_int)(struct db_stmt *st, int i);
	void (*reset)(struct db_stmt *st);
	int (*changes)(struct db *db);
	int (*epoch)(struct db *db, uint64_t *out);
	void (*notify)(struct db *db);
	enum auth_err (*error)(struct db *db);
};

/* Every backend's connection and statement begin with these. */
struct db {
	const struct db_ops *ops;
	enum db_engine engine;
};

struct db_stmt {
	struct db *db;
};

int db_sqlite_open(struct db **out, const char *path, long busy_timeout_ms,
    char *err, size_t errlen);
int db_pg_open(struct db **out, const char *conninfo, long busy_timeout_ms,
    char *err, size_t errlen);

#endif
