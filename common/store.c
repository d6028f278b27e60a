/*
 * store: every query of the service, prepared once in store_open, each
 * public function one short transaction. Writes use BEGIN IMMEDIATE so a
 * transaction never has to upgrade its lock half-way.
 */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "db.h"
#include "store_int.h"

enum store_sql {
	SQL_USER_INSERT,
	SQL_USER_BY_EMAIL,
	SQL_USER_SET_HASH,
	SQL_SESSION_INSERT,
	SQL_TOKEN_INSERT,
	SQL_TOKEN_ROTATE,
	SQL_TOKEN_STATE,
	SQL_TOKENS_REVOKE_SESSION,
	SQL_ME,
	SQL_SCHEMA_VERSION,
	SQL_SESSION_REVOKE_OWNED,
	SQL_SESSIONS_REVOKE_USER,
	SQL_TOKENS_REVOKE_USER,
	SQL_SESSIONS_LIST,
	SQL_THROTTLE_TAKE,
	SQL_THROTTLE_RESET,
	SQL_THROTTLE_REFUND,
	SQL__MAX
};

/*
 * A user's live sessions, newest first; ties (the same second) in the
 * order they were made, which each engine keeps its own way. Last used:
 * when its newest token was issued (migration 003).
 */
#define STORE_SQL_SESSIONS_LIST(insertion_order) \
	"SELECT s.id, s.created_at, (SELECT max(t.issued_at) FROM " \
	"refresh_tokens t WHERE t.session_id = s.id), s.user_agent, s.ip " \
	"FROM sessions s WHERE s.user_id = ?1 AND s.revoked = 0 AND " \
	"EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.session_id = s.id " \
	"AND t.revoked = 0 AND t.expires_at > ?2) " \
	"ORDER BY s.created_at DESC, " insertion_order " DESC LIMIT ?3"

_Static_assert(SQL__MAX <= STORE_SQL_SLOTS, "store_int.h: too few sql slots");

static const char *const store_sql_text[SQL__MAX] = {
	[SQL_USER_INSERT] =
	    "INSERT INTO users(id, email, password_hash, created_at) "
	    "VALUES (?1, ?2, ?3, ?4)",
	[SQL_USER_BY_EMAIL] =
	    "SELECT id, password_hash FROM users WHERE email = ?1",
	[SQL_USER_SET_HASH] =
	    "UPDATE users SET password_hash = ?2 WHERE id = ?1",
	/* last_used_at: kept for older binaries, read from tokens (003). */
	[SQL_SESSION_INSERT] =
	    "INSERT INTO sessions(id, user_id, created_at, last_used_at, "
	    "user_agent, ip) VALUES (?1, ?2, ?3, ?3, ?4, ?5)",
	[SQL_TOKEN_INSERT] =
	    "INSERT INTO refresh_tokens(jti, user_id, session_id, issued_at, "
	    "expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
	/* The single winner of concurrent rotations: changes() == 1. */
	[SQL_TOKEN_ROTATE] =
	    "UPDATE refresh_tokens SET revoked = 1, replaced_by = ?2, "
	    "revoked_at = ?3 WHERE jti = ?1 AND session_id = ?4 AND "
	    "user_id = ?5 AND revoked = 0 AND expires_at > ?3 AND "
	    "EXISTS (SELECT 1 FROM sessions s WHERE s.id = ?4 AND "
	    "s.revoked = 0)",
	[SQL_TOKEN_STATE] =
	    "SELECT CASE WHEN t.replaced_by IS NULL THEN 0 ELSE 1 END, "
	    "t.revoked_at, t.expires_at, "
	    "s.revoked FROM refresh_tokens t JOIN sessions s ON "
	    "s.id = t.session_id WHERE t.jti = ?1 AND t.session_id = ?2 AND "
	    "t.user_id = ?3",
	[SQL_TOKENS_REVOKE_SESSION] =
	    "UPDATE refresh_tokens SET revoked = 1, revoked_at = ?2 "
	    "WHERE session_id = ?1 AND revoked = 0",
	[SQL_ME] =
	    "SELECT u.email FROM sessions s JOIN users u ON u.id = s.user_id "
	    "WHERE s.id = ?2 AND s.user_id = ?1 AND s.revoked = 0",
	[SQL_SCHEMA_VERSION] =
	    "SELECT max(version) FROM schema_migrations",
	[SQL_SESSION_REVOKE_OWNED] =
	    "UPDATE sessions SET revoked = 1, revoked_at = ?2 "
	    "WHERE id = ?1 AND user_id = ?3 AND revoked = 0",
	[SQL_SESSIONS_REVOKE_USER] =
	    "UPDATE sessions SET revoked = 1, revoked_at = ?2 "
	    "WHERE user_id = ?1 AND revoked = 0",
	[SQL_TOKENS_REVOKE_USER] =
	    "UPDATE refresh_tokens SET revoked = 1, revoked_at = ?2 "
	    "WHERE session_id IN (SELECT id FROM sessions WHERE user_id = ?1) "
	    "AND revoked = 0",
	/* PostgreSQL has no rowid: store_sql_pg orders by seq. */
	[SQL_SESSIONS_LIST] = STORE_SQL_SESSIONS_LIST("s.rowid"),
	/* A window that has ended starts over at this attempt. */
	[SQL_THROTTLE_TAKE] =
	    "INSERT INTO login_attempts(key, failures, window_start) "
	    "VALUES (?1, 1, ?2) ON CONFLICT(key) DO UPDATE SET "
	    "failures = CASE WHEN login_attempts.window_start + ?3 <= ?2 "
	    "THEN 1 ELSE login_attempts.failures + 1 END, "
	    "window_start = CASE WHEN login_attempts.window_start + ?3 <= ?2 "
	    "THEN ?2 ELSE login_attempts.window_start END "
	    "RETURNING failures, window_start",
	[SQL_THROTTLE_RESET] =
	    "DELETE FROM login_attempts WHERE key = ?1",
	[SQL_THROTTLE_REFUND] =
	    "UPDATE login_attempts SET failures = failures - 1 "
	    "WHERE key = ?1 AND failures > 0",
};

/*
 * Where PostgreSQL's dialect differs: sessions have a seq column for the
 * insertion order SQLite reads from rowid (migration 001 of each engine).
 */
static const char *const store_sql_pg[SQL__MAX] = {
	[SQL_SESSIONS_LIST] = STORE_SQL_SESSIONS_LIST("s.seq"),
};

/* Statements over tables a pending migration may not have created yet:
 * prepared on first use, so older schemas still let every endpoint start. */
static const char store_sql_counters[] =
    "SELECT (SELECT value FROM counters WHERE name = 'users'), "
    "(SELECT value FROM counters WHERE name = 'refresh_tokens_unrevoked')";
/* On PostgreSQL one counter row would serialise every writer: the
 * triggers spread each count over shards (migration 002), summed here. */
static const char store_sql_counters_pg[] =
    "SELECT (SELECT coalesce(sum(value), 0) FROM counter_shards WHERE "
    "name = 'users'), (SELECT coalesce(sum(value), 0) FROM counter_shards "
    "WHERE name = 'refresh_tokens_unrevoked')";
/* The one reuse a rotated token gets: changes() == 1 (migration 004). */
static const char store_sql_reuse[] =
    "UPDATE refresh_tokens SET reused = 1 WHERE jti = ?1 AND reused = 0";

/*
 * Statements of migration 005 (users.disabled) and of the operator's
 * command (authctl), prepared on first use: before 005 the endpoints
 * still start and run as before (no account can be disabled while the
 * column does not exist), and an endpoint never prepares what only
 * authctl runs.
 */
enum store_lazy {
	LAZY_ME,                     /* SQL_ME that also wants the user enabled */
	LAZY_USER_DISABLED,          /* login: locks the user row on PostgreSQL */
	LAZY_USER_ID,                /* authctl: the user of an email, locked */
	LAZY_USERS,
	LAZY_USER_SHOW,
	LAZY_USER_DISABLE,
	LAZY_USER_ENABLE,
	LAZY_DELETE_ATTEMPTS,
	LAZY_DELETE_TOKENS,
	LAZY_DELETE_SESSIONS,
	LAZY_DELETE_USER,
	LAZY__MAX
};

/* An account's row as authctl shows it; ?N is "now" for the live count. */
#define STORE_SQL_USER_COLS(now) \
	"u.id, u.email, u.created_at, u.disabled, u.disabled_at, " \
	"(SELECT count(*) FROM sessions s WHERE s.user_id = u.id AND " \
	"s.revoked = 0 AND EXISTS (SELECT 1 FROM refresh_tokens t WHERE " \
	"t.session_id = s.id AND t.revoked = 0 AND t.expires_at > " now ")), " \
	"(SELECT m.enabled FROM mfa_totp m WHERE m.user_id = u.id) "

_Static_assert(LAZY__MAX <= STORE_LAZY_SLOTS, "store_int.h: too few lazy slots");

static const char *const store_lazy_text[LAZY__MAX] = {
	[LAZY_ME] =
	    "SELECT u.email FROM sessions s JOIN users u ON u.id = s.user_id "
	    "WHERE s.id = ?2 AND s.user_id = ?1 AND s.revoked = 0 AND "
	    "u.disabled = 0",
	/* SQLite's BEGIN IMMEDIATE already orders it after any disable. */
	[LAZY_USER_DISABLED] =
	    "SELECT disabled FROM users WHERE id = ?1",
	[LAZY_USER_ID] =
	    "SELECT id FROM users WHERE email = ?1",
	/* Emails are stored lower-cased: the same matches on both engines. */
	[LAZY_USERS] =
	    "SELECT " STORE_SQL_USER_COLS("?2") "FROM users u "
	    "WHERE u.email LIKE ?1 ESCAPE '\\' ORDER BY u.email "
	    "LIMIT ?3 OFFSET ?4",
	[LAZY_USER_SHOW] =
	    "SELECT " STORE_SQL_USER_COLS("?2") "FROM users u "
	    "WHERE u.email = ?1",
	[LAZY_USER_DISABLE] =
	    "UPDATE users SET disabled = 1, disabled_at = ?2 "
	    "WHERE id = ?1 AND disabled = 0",
	[LAZY_USER_ENABLE] =
	    "UPDATE users SET disabled = 0, disabled_at = NULL "
	    "WHERE id = ?1 AND disabled = 1",
	[LAZY_DELETE_ATTEMPTS] =
	    "DELETE FROM login_attempts WHERE key = ?1",
	[LAZY_DELETE_TOKENS] =
	    "DELETE FROM refresh_tokens WHERE user_id = ?1",
	[LAZY_DELETE_SESSIONS] =
	    "DELETE FROM sessions WHERE user_id = ?1",
	[LAZY_DELETE_USER] =
	    "DELETE FROM users WHERE id = ?1",
};

/*
 * PostgreSQL, READ COMMITTED: a login's session insert and a disable
 * must not pass each other. The login locks the user row (FOR SHARE)
 * before it inserts; a disable locks it (FOR UPDATE) before it revokes.
 * Whichever comes second waits, then sees the other's commit.
 */
static const char *const store_lazy_pg[LAZY__MAX] = {
	[LAZY_USER_DISABLED] =
	    "SELECT disabled FROM users WHERE id = ?1 FOR SHARE",
	[LAZY_USER_ID] =
	    "SELECT id FROM users WHERE email = ?1 FOR UPDATE",
};


int store_open(struct store **out, enum db_engine engine, const char *target,
    long busy_timeout_ms, char *err, size_t errlen)
{
	struct store *st = calloc(1, sizeof(*st));
	int i;

	*out = NULL;
	if (st == NULL)
		return -1;
	st->engine = engine;
	if (engine == DB_SQLITE)
		snprintf(st->path, sizeof(st->path), "%s", target);
	if (db_open(&st->db, engine, target, busy_timeout_ms, err, errlen) != 0)
		goto fail;
	for (i = 0; i < SQL__MAX; i++) {
		const char *sql = engine == DB_POSTGRES && store_sql_pg[i] != NULL ?
		    store_sql_pg[i] : store_sql_text[i];

		st->sql[i] = db_prepare(st->db, sql);
		if (st->sql[i] == NULL) {
			/* Tables missing: the schema is older than this build. */
			snprintf(err, errlen, "DATABASE_URL: %s lacks the schema "
			    "this build needs; run scripts/migrate.sh",
			    engine == DB_SQLITE ? target : "the database");
			goto fail;
		}
	}
	*out = st;
	return 0;
fail:
	store_close(st);
	return -1;
}

void store_close(struct store *st)
{
	if (st == NULL)
		return;
	db_close(st->db);   /* finalizes every statement */
	free(st);
}

/*
 * Lazy statement i, prepared now if it was not: NULL while the schema
 * lacks what it reads (a pending migration), tried again next time.
 */
static struct db_stmt *store_lazy(struct store *st, enum store_lazy i)
{
	if (st->lazy[i] == NULL) {
		const char *sql = st->engine == DB_POSTGRES &&
		    store_lazy_pg[i] != NULL ? store_lazy_pg[i] :
		    store_lazy_text[i];

		st->lazy[i] = db_prepare_quiet(st->db, sql);
	}
	return st->lazy[i];
}

/* Bind a text parameter; NULL leaves it unbound, which is SQL NULL. */
enum auth_err store_bind(struct db_stmt *s, int i, const char *v)
{
	if (v == NULL)
		return AUTH_OK;
	return db_bind_text(s, i, v, strlen(v));
}

/* Run s to completion (no rows expected) and reset it. */
enum auth_err store_exec(struct db_stmt *s)
{
	int rc = db_step(s);

	db_reset(s);
	if (rc == DB_DONE)
		return AUTH_OK;
	return rc < 0 ? (enum auth_err)-rc : AUTH_EINTERNAL;
}

/* A duplicate random id is a bug or a broken RNG, never "email taken". */
static enum auth_err store_no_dup(enum auth_err rc)
{
	return rc == AUTH_EEXISTS ? AUTH_EINTERNAL : rc;
}

static enum auth_err store_insert_token(struct store *st,
    const struct store_grant *g)
{
	struct db_stmt *t = st->sql[SQL_TOKEN_INSERT];
	enum auth_err rc;

	if ((rc = store_bind(t, 1, g->jti)) != AUTH_OK ||
	    (rc = store_bind(t, 2, g->user_id)) != AUTH_OK ||
	    (rc = store_bind(t, 3, g->session_id)) != AUTH_OK ||
	    (rc = db_bind_int(t, 4, g->now)) != AUTH_OK ||
	    (rc = db_bind_int(t, 5, g->expires_at)) != AUTH_OK) {
		db_reset(t);
		return rc;
	}
	return store_no_dup(store_exec(t));
}

static enum auth_err store_insert_session(struct store *st,
    const struct store_grant *g)
{
	struct db_stmt *s = st->sql[SQL_SESSION_INSERT];
	enum auth_err rc;

	if ((rc = store_bind(s, 1, g->session_id)) != AUTH_OK ||
	    (rc = store_bind(s, 2, g->user_id)) != AUTH_OK ||
	    (rc = db_bind_int(s, 3, g->now)) != AUTH_OK ||
	    (rc = store_bind(s, 4, g->user_agent)) != AUTH_OK ||
	    (rc = store_bind(s, 5, g->ip)) != AUTH_OK) {
		db_reset(s);
		return rc;
	}
	if ((rc = store_no_dup(store_exec(s))) != AUTH_OK)
		return rc;
	return store_insert_token(st, g);
}

/* Commit when rc is AUTH_OK, else roll back; returns the final code. */
enum auth_err store_finish(struct store *st, enum auth_err rc)
{
	if (rc == AUTH_OK)
		return db_commit(st->db);
	db_rollback(st->db);
	return rc;
}

enum auth_err store_register(struct store *st, const char *email,
    const char *hash, const struct store_grant *g)
{
	struct db_stmt *u = st->sql[SQL_USER_INSERT];
	enum auth_err rc;

	if ((rc = db_begin(st->db)) != AUTH_OK)
		return rc;
	if ((rc = store_bind(u, 1, g->user_id)) != AUTH_OK ||
	    (rc = store_bind(u, 2, email)) != AUTH_OK ||
	    (rc = store_bind(u, 3, hash)) != AUTH_OK ||
	    (rc = db_bind_int(u, 4, g->now)) != AUTH_OK)
		db_reset(u);
	else if ((rc = store_exec(u)) == AUTH_OK)
		rc = store_insert_session(st, g);
	return store_finish(st, rc);
}

/*
 * Bind text ?1 of query q to v and step it: DB_ROW, DB_DONE or a negated
 * enum auth_err, as db_step. The caller reads the row and resets q.
 */
int store_step_text(struct db_stmt *q, const char *v)
{
	enum auth_err rc = store_bind(q, 1, v);

	return rc == AUTH_OK ? db_step(q) : -(int)rc;
}

enum auth_err store_user_by_email(struct store *st, const char *email,
    char *id, char *hash)
{
	struct db_stmt *q = st->sql[SQL_USER_BY_EMAIL];
	enum auth_err rc;
	int step = store_step_text(q, email);

	if (step == DB_ROW) {
		size_t idlen = 0, hlen = 0;
		const char *sid = db_col_text(q, 0, &idlen);
		const char *sh = db_col_text(q, 1, &hlen);

		if (sid == NULL || sh == NULL || idlen >= VALID_UUID_SIZE ||
		    hlen >= PASSWORD_HASH_MAX) {
			rc = AUTH_EINTERNAL;
		} else {
			memcpy(id, sid, idlen + 1);
			memcpy(hash, sh, hlen + 1);
			rc = AUTH_OK;
		}
	} else {
		rc = step == DB_DONE ? AUTH_ENOTFOUND : (enum auth_err)-step;
	}
	db_reset(q);
	return rc;
}

/* Throttle key of kind ("email" or "ip") and value into buf. */
int store_throttle_key(char *buf, size_t cap, const char *kind,
    const char *value)
{
	int n = snprintf(buf, cap, "%s:%s", kind, value);

	return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* Run a one-text-parameter statement (throttle reset). */
enum auth_err store_exec_text(struct db_stmt *s, const char *v)
{
	enum auth_err rc = store_bind(s, 1, v);

	if (rc != AUTH_OK) {
		db_reset(s);
		return rc;
	}
	return store_exec(s);
}

enum auth_err store_login(struct store *st, const struct store_grant *g)
{
	enum auth_err rc;

	/* Prepared before the transaction: on PostgreSQL a statement that
	 * fails to prepare inside one would abort it. NULL: before 005. */
	struct db_stmt *d = store_lazy(st, LAZY_USER_DISABLED);

	if (g->mfa != NULL && (rc = store_mfa_ready(st)) != AUTH_OK)
		return rc;
	if ((rc = db_begin(st->db)) != AUTH_OK)
		return rc;
	if (d != NULL) {
		int step = store_step_text(d, g->user_id);

		if (step == DB_ROW)
			rc = db_col_int(d, 0) != 0 ? AUTH_EFORBIDDEN : AUTH_OK;
		else
			rc = step == DB_DONE ? AUTH_ENOTFOUND : (enum auth_err)-step;
		db_reset(d);
	}
	/* The second factor used up only by the login that starts. */
	if (rc == AUTH_OK && g->mfa != NULL)
		rc = store_mfa_prove(st, g->user_id, g->mfa, g->now);
	if (rc == AUTH_OK)
		rc = store_insert_session(st, g);
	if (rc == AUTH_OK && g->email != NULL) {
		char key[VALID_EMAIL_MAX + 16];

		rc = store_throttle_key(key, sizeof(key), "email", g->email) == 0 ?
		    store_exec_text(st->sql[SQL_THROTTLE_RESET], key) :
		    AUTH_EINTERNAL;
	}
	if (rc == AUTH_OK && g->refund_ip != NULL) {
		char key[VALID_EMAIL_MAX + 16];

		rc = store_throttle_key(key, sizeof(key), "ip", g->refund_ip) == 0 ?
		    store_exec_text(st->sql[SQL_THROTTLE_REFUND], key) :
		    AUTH_EINTERNAL;
	}
	return store_finish(st, rc);
}

enum auth_err store_set_password(struct store *st, const char *user_id,
    const char *hash)
{
	struct db_stmt *u = st->sql[SQL_USER_SET_HASH];
	enum auth_err rc;

	/* A transaction of its own: db_commit is where writes reach disk. */
	if ((rc = db_begin(st->db)) != AUTH_OK)
		return rc;
	if ((rc = store_bind(u, 1, user_id)) != AUTH_OK ||
	    (rc = store_bind(u, 2, hash)) != AUTH_OK)
		db_reset(u);
	else
		rc = store_exec(u);
	return store_finish(st, rc);
}

/* Run s bound to (text ?1, int ?2[, text ?3]) with no rows expected. */
enum auth_err store_prepare_all(struct store *st, struct db_stmt **slots,
    const char *const *texts, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		if (slots[i] == NULL)
			slots[i] = db_prepare_quiet(st->db, texts[i]);
		if (slots[i] == NULL)
			return AUTH_EUNAVAIL;
	}
	return AUTH_OK;
}

enum auth_err store_exec_tt(struct db_stmt *s, const char *a, const char *b)
{
	enum auth_err rc;

	if ((rc = store_bind(s, 1, a)) != AUTH_OK ||
	    (rc = store_bind(s, 2, b)) != AUTH_OK) {
		db_reset(s);
		return rc;
	}
	return store_exec(s);
}

enum auth_err store_exec_ti(struct db_stmt *s, const char *a,
    int64_t b, const char *c)
{
	enum auth_err rc;

	if ((rc = store_bind(s, 1, a)) != AUTH_OK ||
	    (rc = db_bind_int(s, 2, b)) != AUTH_OK ||
	    (c != NULL && (rc = store_bind(s, 3, c)) != AUTH_OK)) {
		db_reset(s);
		return rc;
	}
	return store_exec(s);
}

/*
 * Revoke session sid of user_id and every live token of it, inside the
 * caller's transaction (replay, logout, DELETE /auth/sessions/{id}).
 * AUTH_ENOTFOUND when it is not a live session of that user.
 */
static enum auth_err store_revoke_session(struct store *st,
    const char *user_id, const char *sid, int64_t now)
{
	enum auth_err rc = store_exec_ti(st->sql[SQL_SESSION_REVOKE_OWNED], sid,
	    now, user_id);

	db_notify(st->db);
	if (rc == AUTH_OK && db_changes(st->db) != 1)
		rc = AUTH_ENOTFOUND;
	if (rc == AUTH_OK)
		rc = store_exec_ti(st->sql[SQL_TOKENS_REVOKE_SESSION], sid, now,
		    NULL);
	return rc;
}

/*
 * The conditional update lost: find out why. A rotated token (it has a
 * successor) presented again is a replay, unless it was rotated within
 * the reuse interval and its session still lives.
 */
static enum auth_err store_rotate_lost(struct store *st, const char *old_jti,
    const struct store_grant *g, long reuse_interval,
    enum store_rotation *out)
{
	struct db_stmt *q = st->sql[SQL_TOKEN_STATE];
	int64_t revoked_at, expires_at;
	int rotated, session_revoked, step;
	enum auth_err rc;

	*out = STORE_DEAD;
	if ((rc = store_bind(q, 1, old_jti)) != AUTH_OK ||
	    (rc = store_bind(q, 2, g->session_id)) != AUTH_OK ||
	    (rc = store_bind(q, 3, g->user_id)) != AUTH_OK) {
		db_reset(q);
		return rc;
	}
	step = db_step(q);
	if (step != DB_ROW) {
		db_reset(q);
		return step == DB_DONE ? AUTH_OK : (enum auth_err)-step;
	}
	rotated = (int)db_col_int(q, 0);
	revoked_at = db_col_int(q, 1);
	expires_at = db_col_int(q, 2);
	session_revoked = (int)db_col_int(q, 3);
	db_reset(q);
	if (!rotated || session_revoked || expires_at <= g->now)
		return AUTH_OK;
	if (reuse_interval > 0 && g->now - revoked_at < reuse_interval) {
		if (st->reuse == NULL)
			st->reuse = db_prepare_quiet(st->db, store_sql_reuse);
		if (st->reuse == NULL)
			return AUTH_EUNAVAIL;      /* migration 004 pending */
		if ((rc = store_exec_text(st->reuse, old_jti)) != AUTH_OK)
			return rc;
		if (db_changes(st->db) == 1) {
			if ((rc = store_insert_token(st, g)) != AUTH_OK)
				return rc;
			*out = STORE_REUSED;
			return AUTH_OK;
		}
		/* Reused once already: from here on it is a replay. */
	}
	*out = STORE_REPLAY;
	rc = store_revoke_session(st, g->user_id, g->session_id, g->now);
	return rc == AUTH_ENOTFOUND ? AUTH_OK : rc;
}

/* One rotation inside the caller's transaction. */
static enum auth_err store_rotate_one(struct store *st, const char *old_jti,
    const struct store_grant *g, long reuse_interval,
    enum store_rotation *out)
{
	struct db_stmt *r = st->sql[SQL_TOKEN_ROTATE];
	enum auth_err rc;

	*out = STORE_DEAD;
	if ((rc = store_bind(r, 1, old_jti)) != AUTH_OK ||
	    (rc = store_bind(r, 2, g->jti)) != AUTH_OK ||
	    (rc = db_bind_int(r, 3, g->now)) != AUTH_OK ||
	    (rc = store_bind(r, 4, g->session_id)) != AUTH_OK ||
	    (rc = store_bind(r, 5, g->user_id)) != AUTH_OK) {
		db_reset(r);
		return rc;
	}
	if ((rc = store_exec(r)) != AUTH_OK)
		return rc;
	if (db_changes(st->db) != 1)
		return store_rotate_lost(st, old_jti, g, reuse_interval, out);
	*out = STORE_ROTATED;
	return store_insert_token(st, g);
}

enum auth_err store_rotate(struct store *st, const char *old_jti,
    const struct store_grant *g, long reuse_interval,
    enum store_rotation *out)
{
	struct store_rotation_req req = { old_jti, *g, reuse_interval,
	    STORE_DEAD, AUTH_OK };
	enum auth_err rc = store_rotate_batch(st, &req, 1);

	*out = req.how;
	return rc != AUTH_OK ? rc : req.rc;
}

enum auth_err store_rotate_batch(struct store *st,
    struct store_rotation_req *reqs, size_t n)
{
	enum auth_err rc;
	size_t i;

	for (i = 0; i < n; i++) {
		reqs[i].how = STORE_DEAD;
		reqs[i].rc = AUTH_EUNAVAIL;
	}
	if ((rc = db_begin(st->db)) != AUTH_OK)
		return rc;
	for (i = 0; i < n && rc == AUTH_OK; i++) {
		struct store_rotation_req *q = &reqs[i];

		/*
		 * A savepoint each: one rotation's error undoes only its own.
		 * A batch of one needs none (its error undoes the whole
		 * transaction), and on a networked database each costs two
		 * round trips.
		 */
		if (n > 1 && (rc = db_savepoint(st->db)) != AUTH_OK)
			break;
		q->rc = store_rotate_one(st, q->old_jti, &q->grant,
		    q->reuse_interval, &q->how);
		if (q->rc != AUTH_OK) {
			q->how = STORE_DEAD;
			rc = n > 1 ? db_rollback_savepoint(st->db) : q->rc;
		} else if (n > 1) {
			rc = db_release_savepoint(st->db);
		}
	}
	rc = store_finish(st, rc);
	for (i = 0; i < n && rc != AUTH_OK; i++) {
		/* Nothing of the batch was committed. */
		reqs[i].how = STORE_DEAD;
		reqs[i].rc = rc;
	}
	return rc;
}

enum auth_err store_me(struct store *st, const char *user_id,
    const char *sid, char *email)
{
	struct db_stmt *q = store_lazy(st, LAZY_ME);
	enum auth_err rc;
	int step;

	if (q == NULL)
		q = st->sql[SQL_ME];     /* before 005: nobody is disabled */
	if ((rc = store_bind(q, 1, user_id)) != AUTH_OK ||
	    (rc = store_bind(q, 2, sid)) != AUTH_OK) {
		db_reset(q);
		return rc;
	}
	step = db_step(q);
	if (step == DB_ROW) {
		size_t len = 0;
		const char *e = db_col_text(q, 0, &len);

		if (e == NULL || len > VALID_EMAIL_MAX) {
			rc = AUTH_EINTERNAL;
		} else {
			memcpy(email, e, len + 1);
			rc = AUTH_OK;
		}
	} else {
		rc = step == DB_DONE ? AUTH_ETOKEN : (enum auth_err)-step;
	}
	db_reset(q);
	return rc;
}

int store_epoch(struct store *st, uint64_t *out)
{
	return db_epoch(st->db, out);
}

enum auth_err store_schema_version(struct store *st, char *version)
{
	struct db_stmt *q = st->sql[SQL_SCHEMA_VERSION];
	enum auth_err rc = AUTH_EUNAVAIL;
	size_t len = 0;

	/* An open connection keeps answering for a deleted or chmod-ed file. */
	if (st->engine == DB_SQLITE && access(st->path, R_OK | W_OK) != 0)
		return AUTH_EUNAVAIL;
	if (db_step(q) == DB_ROW) {
		const char *v = db_col_text(q, 0, &len);

		if (v != NULL && len > 0 && len < 8) {
			memcpy(version, v, len + 1);
			rc = AUTH_OK;
		}
	}
	db_reset(q);
	return rc;
}

const char *store_disk_problem(struct store *st)
{
	struct statvfs fs;
	char dir[sizeof(st->path)];
	char *slash;

	if (st->engine != DB_SQLITE)
		return NULL;     /* the server's disk is the server's to report */
	snprintf(dir, sizeof(dir), "%s", st->path);
	slash = strrchr(dir, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	if (statvfs(dir, &fs) != 0)
		return NULL;
	if (fs.f_flag & ST_RDONLY)
		return "database read-only";
	/* Free to this user, not to root alone: the service is not root. */
	if ((unsigned long long)fs.f_bavail * fs.f_frsize < STORE_DISK_MIN)
		return "database disk full";
	return NULL;
}

enum auth_err store_counters(struct store *st, int64_t *users,
    int64_t *tokens)
{
	enum auth_err rc = AUTH_EUNAVAIL;

	if (st->counters == NULL)
		st->counters = db_prepare_quiet(st->db, st->engine == DB_POSTGRES ?
		    store_sql_counters_pg : store_sql_counters);
	if (st->counters == NULL)
		return AUTH_EUNAVAIL;
	if (db_step(st->counters) == DB_ROW) {
		*users = db_col_int(st->counters, 0);
		*tokens = db_col_int(st->counters, 1);
		rc = AUTH_OK;
	}
	db_reset(st->counters);
	return rc;
}

enum auth_err store_session_revoke(struct store *st, const char *user_id,
    const char *sid, int64_t now)
{
	enum auth_err rc;

	if ((rc = db_begin(st->db)) != AUTH_OK)
		return rc;
	return store_finish(st, store_revoke_session(st, user_id, sid, now));
}

enum auth_err store_revoke_user(struct store *st, const char *user_id,
    int64_t now)
{
	enum auth_err rc;

	if ((rc = db_begin(st->db)) != AUTH_OK)
		return rc;
	db_notify(st->db);
	rc = store_exec_ti(st->sql[SQL_SESSIONS_REVOKE_USER], user_id, now, NULL);
	if (rc == AUTH_OK)
		rc = store_exec_ti(st->sql[SQL_TOKENS_REVOKE_USER], user_id, now,
		    NULL);
	return store_finish(st, rc);
}

/* Copy column i (text or NULL) into out of capacity cap, truncating. */
void store_col_copy(struct db_stmt *q, int i, char *out, size_t cap)
{
	size_t len = 0;
	const char *v = db_col_text(q, i, &len);

	if (v == NULL)
		len = 0;
	if (len >= cap)
		len = cap - 1;
	if (len > 0)
		memcpy(out, v, len);
	out[len] = '\0';
}

enum auth_err store_sessions(struct store *st, const char *user_id,
    int64_t now, struct store_session *rows, size_t max, size_t *n)
{
	struct db_stmt *q = st->sql[SQL_SESSIONS_LIST];
	enum auth_err rc;
	int step = DB_DONE;

	*n = 0;
	if ((rc = store_bind(q, 1, user_id)) != AUTH_OK ||
	    (rc = db_bind_int(q, 2, now)) != AUTH_OK ||
	    (rc = db_bind_int(q, 3, (int64_t)max)) != AUTH_OK) {
		db_reset(q);
		return rc;
	}
	while (*n < max && (step = db_step(q)) == DB_ROW) {
		struct store_session *r = &rows[*n];

		store_col_copy(q, 0, r->id, sizeof(r->id));
		r->created_at = db_col_int(q, 1);
		r->last_used_at = db_col_int(q, 2);
		store_col_copy(q, 3, r->user_agent, sizeof(r->user_agent));
		store_col_copy(q, 4, r->ip, sizeof(r->ip));
		(*n)++;
	}
	if (*n < max && step < 0)
		rc = (enum auth_err)-step;
	db_reset(q);
	return rc;
}

/*
 * Count one attempt of key and set *wait to the seconds until it may try
 * again (0: this attempt is within its limit of max per window).
 */
enum auth_err store_throttle_count(struct store *st, const char *key,
    int64_t now, long window, long max, long *wait)
{
	struct db_stmt *q = st->sql[SQL_THROTTLE_TAKE];
	enum auth_err rc;
	int step;

	*wait = 0;
	if ((rc = store_bind(q, 1, key)) != AUTH_OK ||
	    (rc = db_bind_int(q, 2, now)) != AUTH_OK ||
	    (rc = db_bind_int(q, 3, window)) != AUTH_OK) {
		db_reset(q);
		return rc;
	}
	step = db_step(q);
	if (step == DB_ROW) {
		int64_t failures = db_col_int(q, 0), start = db_col_int(q, 1);

		if (failures > max && start + window > now)
			*wait = (long)(start + window - now);
	} else {
		rc = step < 0 ? (enum auth_err)-step : AUTH_EINTERNAL;
	}
	db_reset(q);
	return rc;
}

/*
 * Count the attempt against every limit first and decide on the counts:
 * the upsert's row lock orders concurrent attempts on one key on
 * PostgreSQL too (under READ COMMITTED a read, then a write, let two
 * readers of 9 both pass a limit of 10). A refused attempt rolls back,
 * so it counts nothing.
 */
enum auth_err store_throttle_take(struct store *st,
    const struct store_limit *lims, size_t n, int64_t now, long *retry_after)
{
	char key[VALID_EMAIL_MAX + 16];
	enum auth_err rc;
	size_t i;

	*retry_after = 0;
	if ((rc = db_begin(st->db)) != AUTH_OK)
		return rc;
	for (i = 0; i < n && rc == AUTH_OK; i++) {
		const struct store_limit *l = &lims[i];
		long wait = 0;

		if (l->value == NULL || l->max <= 0)
			continue;
		if (store_throttle_key(key, sizeof(key), l->kind, l->value) != 0)
			rc = AUTH_EINTERNAL;
		else
			rc = store_throttle_count(st, key, now, l->window,
			    l->max, &wait);
		if (wait > *retry_after)
			*retry_after = wait;
	}
	if (rc == AUTH_OK && *retry_after > 0)
		rc = AUTH_ETHROTTLED;
	return store_finish(st, rc);
}

/* Read the user row of a LAZY_USERS / LAZY_USER_SHOW statement. */
static void store_user_row(struct db_stmt *q, struct store_user *u)
{
	store_col_copy(q, 0, u->id, sizeof(u->id));
	store_col_copy(q, 1, u->email, sizeof(u->email));
	u->created_at = db_col_int(q, 2);
	u->disabled = db_col_int(q, 3) != 0;
	u->disabled_at = db_col_int(q, 4);
	u->sessions = db_col_int(q, 5);
	u->mfa = db_col_text(q, 6, &(size_t){ 0 }) == NULL ? STORE_MFA_NONE :
	    db_col_int(q, 6) != 0 ? STORE_MFA_ENABLED : STORE_MFA_PENDING;
}

enum auth_err store_users(struct store *st, const char *like, int64_t now,
    long limit, long offset, struct store_user *rows, size_t max, size_t *n)
{
	struct db_stmt *q = store_lazy(st, LAZY_USERS);
	enum auth_err rc;
	int step = DB_DONE;

	*n = 0;
	if (q == NULL)
		return AUTH_EUNAVAIL;
	if ((rc = store_bind(q, 1, like)) != AUTH_OK ||
	    (rc = db_bind_int(q, 2, now)) != AUTH_OK ||
	    (rc = db_bind_int(q, 3, limit)) != AUTH_OK ||
	    (rc = db_bind_int(q, 4, offset)) != AUTH_OK) {
		db_reset(q);
		return rc;
	}
	while (*n < max && (step = db_step(q)) == DB_ROW)
		store_user_row(q, &rows[(*n)++]);
	if (*n < max && step < 0)
		rc = (enum auth_err)-step;
	db_reset(q);
	return rc;
}

enum auth_err store_user_show(struct store *st, const char *email,
    int64_t now, struct store_user *out)
{
	struct db_stmt *q = store_lazy(st, LAZY_USER_SHOW);
	enum auth_err rc;
	int step;

	memset(out, 0, sizeof(*out));
	if (q == NULL)
		return AUTH_EUNAVAIL;
	if ((rc = store_bind(q, 1, email)) != AUTH_OK ||
	    (rc = db_bind_int(q, 2, now)) != AUTH_OK) {
		db_reset(q);
		return rc;
	}
	step = db_step(q);
	if (step == DB_ROW)
		store_user_row(q, out);
	else
		rc = step == DB_DONE ? AUTH_ENOTFOUND : (enum auth_err)-step;
	db_reset(q);
	return rc;
}

/*
 * Every statement an admin change may run, prepared before its
 * transaction (on PostgreSQL a failing prepare would abort it):
 * AUTH_EUNAVAIL while migration 005 is pending.
 */
static enum auth_err store_admin_ready(struct store *st)
{
	int i;

	for (i = LAZY_USER_ID; i < LAZY__MAX; i++)
		if (store_lazy(st, (enum store_lazy)i) == NULL)
			return AUTH_EUNAVAIL;
	return AUTH_OK;
}

/* The id of email's user into id, its row locked on PostgreSQL, inside
 * the caller's transaction. AUTH_ENOTFOUND when there is none. */
static enum auth_err store_admin_user(struct store *st, const char *email,
    char *id)
{
	struct db_stmt *q = st->lazy[LAZY_USER_ID];
	int step = store_step_text(q, email);
	enum auth_err rc = AUTH_OK;

	if (step == DB_ROW)
		store_col_copy(q, 0, id, VALID_UUID_SIZE);
	else
		rc = step == DB_DONE ? AUTH_ENOTFOUND : (enum auth_err)-step;
	db_reset(q);
	return rc;
}

/* Revoke every session and token of user id in the open transaction;
 * the number of sessions that were live into *revoked. */
static enum auth_err store_admin_revoke(struct store *st, const char *id,
    int64_t now, long *revoked)
{
	enum auth_err rc;

	db_notify(st->db);
	rc = store_exec_ti(st->sql[SQL_SESSIONS_REVOKE_USER], id, now, NULL);
	if (rc == AUTH_OK && revoked != NULL)
		*revoked = db_changes(st->db);
	if (rc == AUTH_OK)
		rc = store_exec_ti(st->sql[SQL_TOKENS_REVOKE_USER], id, now, NULL);
	return rc;
}

enum auth_err store_user_admin(struct store *st, enum store_admin_op op,
    const char *email, int64_t now, struct store_admin_result *res)
{
	enum auth_err rc;
	int had = 0;                 /* a second factor, deleted */

	memset(res, 0, sizeof(*res));
	if ((rc = store_admin_ready(st)) != AUTH_OK)
		return rc;
	/* Before 006 there is no outbox to clear, before 007 no second
	 * factor: not an error. */
	(void)store_acct_ready(st);
	(void)store_mfa_ready(st);
	if ((rc = db_begin(st->db)) != AUTH_OK)
		return rc;
	rc = store_admin_user(st, email, res->user_id);
	switch (op) {
	case STORE_ADMIN_DISABLE:
		/* The flag first: a login waiting on the row then sees it. */
		if (rc == AUTH_OK)
			rc = store_exec_ti(st->lazy[LAZY_USER_DISABLE],
			    res->user_id, now, NULL);
		if (rc == AUTH_OK) {
			res->changed = db_changes(st->db) == 1;
			rc = store_admin_revoke(st, res->user_id, now,
			    &res->sessions);
		}
		break;
	case STORE_ADMIN_ENABLE:
		if (rc == AUTH_OK)
			rc = store_exec_text(st->lazy[LAZY_USER_ENABLE],
			    res->user_id);
		if (rc == AUTH_OK)
			res->changed = db_changes(st->db) == 1;
		break;
	case STORE_ADMIN_REVOKE:
		if (rc == AUTH_OK)
			rc = store_admin_revoke(st, res->user_id, now,
			    &res->sessions);
		res->changed = res->sessions > 0;
		break;
	case STORE_ADMIN_DELETE: {
		char key[VALID_EMAIL_MAX + 16];

		/* Live sessions counted before they go, for the report. */
		if (rc == AUTH_OK)
			rc = store_admin_revoke(st, res->user_id, now,
			    &res->sessions);
		if (rc == AUTH_OK && store_throttle_key(key, sizeof(key),
		    "email", email) != 0)
			rc = AUTH_EINTERNAL;
		if (rc == AUTH_OK)
			rc = store_exec_text(st->lazy[LAZY_DELETE_ATTEMPTS], key);
		if (rc == AUTH_OK && store_throttle_key(key, sizeof(key),
		    "reset_email", email) != 0)
			rc = AUTH_EINTERNAL;
		if (rc == AUTH_OK)
			rc = store_exec_text(st->lazy[LAZY_DELETE_ATTEMPTS], key);
		if (rc == AUTH_OK)
			rc = store_outbox_forget(st, email);
		if (rc == AUTH_OK)
			rc = store_mfa_forget(st, res->user_id, &had);
		if (rc == AUTH_OK)
			rc = store_exec_text(st->lazy[LAZY_DELETE_TOKENS],
			    res->user_id);
		if (rc == AUTH_OK)
			rc = store_exec_text(st->lazy[LAZY_DELETE_SESSIONS],
			    res->user_id);
		if (rc == AUTH_OK)
			rc = store_exec_text(st->lazy[LAZY_DELETE_USER],
			    res->user_id);
		if (rc == AUTH_OK)
			res->changed = db_changes(st->db) == 1;
		break;
	}
	case STORE_ADMIN_RESET_MFA:
		if (rc == AUTH_OK && st->mfa[0] == NULL)
			rc = AUTH_EUNAVAIL;      /* 007 pending */
		if (rc == AUTH_OK)
			rc = store_mfa_forget(st, res->user_id, &res->changed);
		if (rc == AUTH_OK)
			rc = store_admin_revoke(st, res->user_id, now,
			    &res->sessions);
		break;
	default:
		rc = AUTH_EINTERNAL;
		break;
	}
	return store_finish(st, rc);
}
