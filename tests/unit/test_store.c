/* test_store: users, sessions and refresh-token rotation over a real database. */
#include "unit.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store.h"
#include "valid.h"
#include "fixture.h"

#define NOW 1700000000LL

struct st {
	struct fx fx;
	struct store *store;
};

/* The ids of one registered user and its first session. */
struct ids {
	char user[VALID_UUID_SIZE];
	char sid[VALID_UUID_SIZE];
	char jti[VALID_UUID_SIZE];
};

static int st_setup(void **state)
{
	struct st *t = calloc(1, sizeof(*t));
	char err[512] = "";

	if (t == NULL || fx_init(&t->fx) != 0 || fx_make_db(t->fx.db) != 0)
		goto fail;
	if (store_open(&t->store, DB_SQLITE, t->fx.db, 5000, err, sizeof(err)) != 0) {
		fprintf(stderr, "store_open: %s\n", err);
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

static int st_teardown(void **state)
{
	struct st *t = *state;

	store_close(t->store);
	fx_fini(&t->fx);
	free(t);
	return 0;
}

static void new_ids(struct ids *ids)
{
	assert_int_equal(valid_uuid_new(ids->user), 0);
	assert_int_equal(valid_uuid_new(ids->sid), 0);
	assert_int_equal(valid_uuid_new(ids->jti), 0);
}

static struct store_grant grant(const struct ids *ids, const char *jti,
    long long now, long long expires_at)
{
	struct store_grant g;

	memset(&g, 0, sizeof(g));
	g.user_id = ids->user;
	g.session_id = ids->sid;
	g.jti = jti;
	g.now = now;
	g.expires_at = expires_at;
	return g;
}

/* Register email with fresh ids; its refresh token expires at NOW + 3600. */
static void do_register(struct st *t, const char *email, struct ids *ids)
{
	struct store_grant g;

	new_ids(ids);
	g = grant(ids, ids->jti, NOW, NOW + 3600);
	g.user_agent = "ua/1";
	g.ip = "192.0.2.1";
	assert_int_equal(store_register(t->store, email, "$2b$04$hash", &g),
	    AUTH_OK);
}

/* An integer column of one refresh_tokens row (-999 when no row). */
static long long token_col(struct st *t, const char *jti, const char *col)
{
	char sql[256];

	snprintf(sql, sizeof(sql), "SELECT %s FROM refresh_tokens WHERE "
	    "jti = '%s'", col, jti);
	return fx_int(t->fx.db, sql);
}

static long long session_col(struct st *t, const char *sid, const char *col)
{
	char sql[256];

	snprintf(sql, sizeof(sql), "SELECT %s FROM sessions WHERE id = '%s'",
	    col, sid);
	return fx_int(t->fx.db, sql);
}

/* last_used_at of live session ids->sid as GET /auth/sessions shows it. */
static long long last_used(struct st *t, const struct ids *ids)
{
	struct store_session rows[8];
	size_t i, n = 0;

	assert_int_equal(store_sessions(t->store, ids->user, NOW, rows, 8, &n),
	    AUTH_OK);
	for (i = 0; i < n; i++)
		if (strcmp(rows[i].id, ids->sid) == 0)
			return rows[i].last_used_at;
	fail_msg("session %s not listed", ids->sid);
	return -1;
}

static void token_replaced_by(struct st *t, const char *jti, char *out,
    size_t cap)
{
	char sql[256];

	snprintf(sql, sizeof(sql), "SELECT replaced_by FROM refresh_tokens "
	    "WHERE jti = '%s'", jti);
	fx_text(t->fx.db, sql, out, cap);
}

struct counts {
	long long users, sessions, tokens;
};

static struct counts counts(struct st *t)
{
	struct counts c = {
		fx_count(t->fx.db, "users"),
		fx_count(t->fx.db, "sessions"),
		fx_count(t->fx.db, "refresh_tokens"),
	};

	return c;
}

static void assert_counts(struct counts c, long long u, long long s,
    long long k)
{
	assert_int_equal(c.users, u);
	assert_int_equal(c.sessions, s);
	assert_int_equal(c.tokens, k);
}

/* Disable: the flag, every session revoked, login refused after it. */
static void test_admin_disable_enable(void **state)
{
	struct st *t = *state;
	struct ids a, b, c;
	struct store_grant g;
	struct store_admin_result r;
	struct store_user u;
	char email[VALID_EMAIL_MAX + 1];

	do_register(t, "off@example.com", &a);
	do_register(t, "bystander@example.com", &b);
	memcpy(c.user, a.user, sizeof(c.user));
	assert_int_equal(valid_uuid_new(c.sid), 0);
	assert_int_equal(valid_uuid_new(c.jti), 0);
	g = grant(&c, c.jti, NOW + 1, NOW + 3600);
	assert_int_equal(store_login(t->store, &g), AUTH_OK);

	assert_int_equal(store_user_admin(t->store, STORE_ADMIN_DISABLE,
	    "off@example.com", NOW + 2, &r), AUTH_OK);
	assert_string_equal(r.user_id, a.user);
	assert_int_equal(r.changed, 1);
	assert_int_equal(r.sessions, 2);
	assert_int_equal(session_col(t, a.sid, "revoked"), 1);
	assert_int_equal(session_col(t, c.sid, "revoked_at"), NOW + 2);
	assert_int_equal(token_col(t, c.jti, "revoked"), 1);
	assert_int_equal(session_col(t, b.sid, "revoked"), 0);
	assert_int_equal(store_me(t->store, a.user, a.sid, email), AUTH_ETOKEN);
	assert_int_equal(store_me(t->store, b.user, b.sid, email), AUTH_OK);
	assert_int_equal(store_user_show(t->store, "off@example.com", NOW + 2,
	    &u), AUTH_OK);
	assert_int_equal(u.disabled, 1);
	assert_int_equal(u.disabled_at, NOW + 2);
	assert_int_equal(u.sessions, 0);

	/* A login of the disabled account writes nothing. */
	new_ids(&c);
	memcpy(c.user, a.user, sizeof(c.user));
	g = grant(&c, c.jti, NOW + 3, NOW + 3600);
	assert_int_equal(store_login(t->store, &g), AUTH_EFORBIDDEN);
	assert_int_equal(session_col(t, c.sid, "count(*)"), 0);
	/* A second disable changes nothing. */
	assert_int_equal(store_user_admin(t->store, STORE_ADMIN_DISABLE,
	    "off@example.com", NOW + 4, &r), AUTH_OK);
	assert_int_equal(r.changed, 0);
	assert_int_equal(r.sessions, 0);
	assert_int_equal(fx_int(t->fx.db, "SELECT disabled_at FROM users "
	    "WHERE email = 'off@example.com'"), NOW + 2);

	/* Even a session made behind the flag's back is not served. */
	fx_exec(t->fx.db, "UPDATE sessions SET revoked = 0");
	assert_int_equal(store_me(t->store, a.user, a.sid, email), AUTH_ETOKEN);
	fx_exec(t->fx.db, "UPDATE sessions SET revoked = 1 WHERE user_id IN "
	    "(SELECT id FROM users WHERE email = 'off@example.com')");

	assert_int_equal(store_user_admin(t->store, STORE_ADMIN_ENABLE,
	    "off@example.com", NOW + 5, &r), AUTH_OK);
	assert_int_equal(r.changed, 1);
	assert_int_equal(store_user_show(t->store, "off@example.com", NOW + 5,
	    &u), AUTH_OK);
	assert_int_equal(u.disabled, 0);
	assert_int_equal(u.disabled_at, 0);
	/* Old sessions stay revoked; a new login works. */
	assert_int_equal(store_me(t->store, a.user, a.sid, email), AUTH_ETOKEN);
	assert_int_equal(store_login(t->store, &g), AUTH_OK);
	assert_int_equal(store_me(t->store, a.user, c.sid, email), AUTH_OK);
	assert_int_equal(store_user_admin(t->store, STORE_ADMIN_ENABLE,
	    "off@example.com", NOW + 6, &r), AUTH_OK);
	assert_int_equal(r.changed, 0);

	/* Unknown email: not found, nothing changed. */
	assert_int_equal(store_user_admin(t->store, STORE_ADMIN_DISABLE,
	    "nobody@example.com", NOW, &r), AUTH_ENOTFOUND);
	assert_int_equal(store_user_show(t->store, "nobody@example.com", NOW,
	    &u), AUTH_ENOTFOUND);
	assert_int_equal(fx_int(t->fx.db, "SELECT count(*) FROM users WHERE "
	    "disabled = 1"), 0);
}

/* Revoke-sessions and delete: nothing of the user is left. */
static void test_admin_revoke_delete(void **state)
{
	struct st *t = *state;
	struct ids a, b;
	struct store_admin_result r;
	struct store_limit lim = { "email", "gone@example.com", 5, 60 };
	long wait = 0;

	do_register(t, "gone@example.com", &a);
	do_register(t, "stays@example.com", &b);
	assert_int_equal(store_throttle_take(t->store, &lim, 1, NOW, &wait),
	    AUTH_OK);
	lim.value = "stays@example.com";
	assert_int_equal(store_throttle_take(t->store, &lim, 1, NOW, &wait),
	    AUTH_OK);

	assert_int_equal(store_user_admin(t->store, STORE_ADMIN_REVOKE,
	    "gone@example.com", NOW + 1, &r), AUTH_OK);
	assert_int_equal(r.sessions, 1);
	assert_int_equal(r.changed, 1);
	assert_int_equal(session_col(t, a.sid, "revoked"), 1);
	assert_int_equal(fx_int(t->fx.db, "SELECT disabled FROM users WHERE "
	    "email = 'gone@example.com'"), 0);
	assert_int_equal(store_user_admin(t->store, STORE_ADMIN_REVOKE,
	    "gone@example.com", NOW + 1, &r), AUTH_OK);
	assert_int_equal(r.changed, 0);

	assert_int_equal(store_user_admin(t->store, STORE_ADMIN_DELETE,
	    "gone@example.com", NOW + 2, &r), AUTH_OK);
	assert_int_equal(r.changed, 1);
	assert_counts(counts(t), 1, 1, 1);
	assert_int_equal(fx_int(t->fx.db, "SELECT count(*) FROM login_attempts "
	    "WHERE key = 'email:gone@example.com'"), 0);
	assert_int_equal(fx_int(t->fx.db, "SELECT count(*) FROM login_attempts "
	    "WHERE key = 'email:stays@example.com'"), 1);
	assert_int_equal(fx_int(t->fx.db, "SELECT value FROM counters WHERE "
	    "name = 'users'"), 1);
	assert_int_equal(fx_int(t->fx.db, "SELECT value FROM counters WHERE "
	    "name = 'refresh_tokens_unrevoked'"), 1);
	assert_int_equal(store_user_admin(t->store, STORE_ADMIN_DELETE,
	    "gone@example.com", NOW + 2, &r), AUTH_ENOTFOUND);
	assert_int_equal(store_user_admin(t->store, STORE_ADMIN__MAX,
	    "stays@example.com", NOW + 2, &r), AUTH_EINTERNAL);
	assert_counts(counts(t), 1, 1, 1);
}

/* The list: LIKE pattern, order by email, limit and offset. */
static void test_admin_users(void **state)
{
	struct st *t = *state;
	struct ids a;
	struct store_user rows[4];
	size_t n = 9;

	do_register(t, "b@example.com", &a);
	do_register(t, "a@example.com", &a);
	do_register(t, "c@example.org", &a);
	do_register(t, "a_b@example.com", &a);

	assert_int_equal(store_users(t->store, "%", NOW, 10, 0, rows, 4, &n),
	    AUTH_OK);
	assert_int_equal(n, 4);
	assert_string_equal(rows[0].email, "a@example.com");
	assert_string_equal(rows[1].email, "a_b@example.com");
	assert_string_equal(rows[3].email, "c@example.org");
	assert_int_equal(rows[0].created_at, NOW);
	assert_int_equal(rows[0].sessions, 1);
	assert_int_equal(rows[0].disabled, 0);
	/* Past the tokens' expiry nothing is live. */
	assert_int_equal(store_users(t->store, "%", NOW + 3600, 10, 0, rows, 4,
	    &n), AUTH_OK);
	assert_int_equal(rows[0].sessions, 0);
	assert_int_equal(store_users(t->store, "%.com", NOW, 2, 1, rows, 4, &n),
	    AUTH_OK);
	assert_int_equal(n, 2);
	assert_string_equal(rows[0].email, "a_b@example.com");
	assert_string_equal(rows[1].email, "b@example.com");
	/* An escaped '_' is itself only. */
	assert_int_equal(store_users(t->store, "a\\_%", NOW, 10, 0, rows, 4,
	    &n), AUTH_OK);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].email, "a_b@example.com");
	assert_int_equal(store_users(t->store, "%", NOW, 10, 4, rows, 4, &n),
	    AUTH_OK);
	assert_int_equal(n, 0);
}

static void test_open_without_schema(void **state)
{
	struct st *t = *state;
	struct store *s = (struct store *)(uintptr_t)1;
	char path[FX_PATH_MAX + 16], err[512] = "";

	snprintf(path, sizeof(path), "%s/empty.db", t->fx.dir);
	assert_int_equal(fx_write_file(path, "", 0), 0);
	assert_int_equal(store_open(&s, DB_SQLITE, path, 50, err, sizeof(err)), -1);
	assert_null(s);
	assert_non_null(strstr(err, "DATABASE_URL"));
	assert_non_null(strstr(err, "migrate.sh"));
	assert_null(strchr(err, '\n'));
}

static void test_open_missing(void **state)
{
	struct st *t = *state;
	struct store *s = NULL;
	char path[FX_PATH_MAX + 16], err[512] = "";

	snprintf(path, sizeof(path), "%s/missing.db", t->fx.dir);
	assert_int_equal(store_open(&s, DB_SQLITE, path, 50, err, sizeof(err)), -1);
	assert_null(s);
	assert_non_null(strstr(err, "DATABASE_URL"));
}

static void test_register_and_lookup(void **state)
{
	struct st *t = *state;
	struct ids ids;
	char id[VALID_UUID_SIZE], hash[PASSWORD_HASH_MAX];
	char buf[128], sql[256];

	do_register(t, "alice@example.com", &ids);
	assert_int_equal(store_user_by_email(t->store, "alice@example.com", id,
	    hash), AUTH_OK);
	assert_string_equal(id, ids.user);
	assert_string_equal(hash, "$2b$04$hash");
	assert_counts(counts(t), 1, 1, 1);

	/* The session and its first token carry the grant. */
	assert_int_equal(session_col(t, ids.sid, "created_at"), NOW);
	assert_int_equal(last_used(t, &ids), NOW);
	assert_int_equal(session_col(t, ids.sid, "revoked"), 0);
	snprintf(sql, sizeof(sql), "SELECT user_agent || '|' || ip || '|' || "
	    "user_id FROM sessions WHERE id = '%s'", ids.sid);
	fx_text(t->fx.db, sql, buf, sizeof(buf));
	snprintf(sql, sizeof(sql), "ua/1|192.0.2.1|%s", ids.user);
	assert_string_equal(buf, sql);
	assert_int_equal(token_col(t, ids.jti, "issued_at"), NOW);
	assert_int_equal(token_col(t, ids.jti, "expires_at"), NOW + 3600);
	assert_int_equal(token_col(t, ids.jti, "revoked"), 0);
	token_replaced_by(t, ids.jti, buf, sizeof(buf));
	assert_string_equal(buf, "<null>");

	/* Lookup is exact: the store compares normalized emails as given. */
	assert_int_equal(store_user_by_email(t->store, "ALICE@example.com", id,
	    hash), AUTH_ENOTFOUND);
}

static void test_register_duplicate(void **state)
{
	struct st *t = *state;
	struct ids a, b;
	struct store_grant g;
	char id[VALID_UUID_SIZE], hash[PASSWORD_HASH_MAX];

	do_register(t, "dup@example.com", &a);
	assert_counts(counts(t), 1, 1, 1);

	new_ids(&b);
	g = grant(&b, b.jti, NOW + 1, NOW + 3600);
	assert_int_equal(store_register(t->store, "dup@example.com", "other",
	    &g), AUTH_EEXISTS);
	assert_counts(counts(t), 1, 1, 1);
	assert_int_equal(session_col(t, b.sid, "count(*)"), 0);
	assert_int_equal(token_col(t, b.jti, "count(*)"), 0);

	/* The first user is untouched. */
	assert_int_equal(store_user_by_email(t->store, "dup@example.com", id,
	    hash), AUTH_OK);
	assert_string_equal(id, a.user);
	assert_string_equal(hash, "$2b$04$hash");

	/* And the store still works after the rolled-back transaction. */
	do_register(t, "next@example.com", &b);
	assert_counts(counts(t), 2, 2, 2);
}

static void test_register_half_written(void **state)
{
	struct st *t = *state;
	struct ids a, b;
	struct store_grant g;
	char id[VALID_UUID_SIZE], hash[PASSWORD_HASH_MAX];

	do_register(t, "first@example.com", &a);

	/* The user insert succeeds, the session id collides: all undone. */
	new_ids(&b);
	memcpy(b.sid, a.sid, sizeof(b.sid));
	g = grant(&b, b.jti, NOW, NOW + 3600);
	assert_int_equal(store_register(t->store, "second@example.com", "h",
	    &g), AUTH_EINTERNAL);
	assert_counts(counts(t), 1, 1, 1);
	assert_int_equal(store_user_by_email(t->store, "second@example.com", id,
	    hash), AUTH_ENOTFOUND);

	/* Session fine, refresh jti collides: all undone as well. */
	new_ids(&b);
	memcpy(b.jti, a.jti, sizeof(b.jti));
	g = grant(&b, b.jti, NOW, NOW + 3600);
	assert_int_equal(store_register(t->store, "third@example.com", "h",
	    &g), AUTH_EINTERNAL);
	assert_counts(counts(t), 1, 1, 1);
	assert_int_equal(session_col(t, b.sid, "count(*)"), 0);
}

static void test_register_busy(void **state)
{
	struct st *t = *state;
	struct store *s = NULL;
	struct ids ids;
	struct store_grant g;
	sqlite3 *raw;
	char err[512] = "";

	assert_int_equal(store_open(&s, DB_SQLITE, t->fx.db, 50, err, sizeof(err)), 0);
	raw = fx_raw_open(t->fx.db);
	assert_non_null(raw);
	assert_int_equal(sqlite3_exec(raw, "BEGIN EXCLUSIVE", NULL, NULL, NULL),
	    SQLITE_OK);
	new_ids(&ids);
	g = grant(&ids, ids.jti, NOW, NOW + 3600);
	assert_int_equal(store_register(s, "busy@example.com", "h", &g),
	    AUTH_EUNAVAIL);
	assert_int_equal(store_login(s, &g), AUTH_EUNAVAIL);
	assert_int_equal(sqlite3_exec(raw, "ROLLBACK", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(raw);
	assert_counts(counts(t), 0, 0, 0);
	/* Once the lock is gone the same call succeeds. */
	assert_int_equal(store_register(s, "busy@example.com", "h", &g),
	    AUTH_OK);
	assert_counts(counts(t), 1, 1, 1);
	store_close(s);
}

static void test_user_unknown(void **state)
{
	struct st *t = *state;
	struct ids ids;
	char id[VALID_UUID_SIZE] = "untouched", hash[PASSWORD_HASH_MAX] = "x";

	assert_int_equal(store_user_by_email(t->store, "nobody@example.com", id,
	    hash), AUTH_ENOTFOUND);
	do_register(t, "somebody@example.com", &ids);
	assert_int_equal(store_user_by_email(t->store, "nobody@example.com", id,
	    hash), AUTH_ENOTFOUND);
	assert_int_equal(store_user_by_email(t->store, "", id, hash),
	    AUTH_ENOTFOUND);
	assert_string_equal(id, "untouched");
}

static void test_sql_looking_email(void **state)
{
	struct st *t = *state;
	static const char *const evil[] = {
		"x'); DROP TABLE users;--@a.b",
		"\" OR 1=1 --@a.b",
		"a' OR 'a'='a@b.c",
	};
	struct ids ids[3];
	char id[VALID_UUID_SIZE], hash[PASSWORD_HASH_MAX];
	char sql[128];
	size_t i;

	for (i = 0; i < 3; i++)
		do_register(t, evil[i], &ids[i]);
	assert_counts(counts(t), 3, 3, 3);
	for (i = 0; i < 3; i++) {
		assert_int_equal(store_user_by_email(t->store, evil[i], id,
		    hash), AUTH_OK);
		assert_string_equal(id, ids[i].user);
	}
	/* A pattern that would match everything matches nothing. */
	assert_int_equal(store_user_by_email(t->store, "' OR 1=1 --", id,
	    hash), AUTH_ENOTFOUND);
	assert_int_equal(store_user_by_email(t->store, "%", id, hash),
	    AUTH_ENOTFOUND);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM users WHERE email = "
	    "'x''); DROP TABLE users;--@a.b'");
	assert_int_equal(fx_int(t->fx.db, sql), 1);
}

static void test_login(void **state)
{
	struct st *t = *state;
	struct ids a, b;
	struct store_grant g;
	char buf[128], sql[256];

	do_register(t, "login@example.com", &a);
	memcpy(b.user, a.user, sizeof(b.user));
	assert_int_equal(valid_uuid_new(b.sid), 0);
	assert_int_equal(valid_uuid_new(b.jti), 0);
	g = grant(&b, b.jti, NOW + 10, NOW + 10 + 3600);
	/* user_agent and ip NULL: stored as SQL NULL. */
	assert_int_equal(store_login(t->store, &g), AUTH_OK);
	assert_counts(counts(t), 1, 2, 2);
	assert_int_equal(session_col(t, b.sid, "created_at"), NOW + 10);
	assert_int_equal(session_col(t, b.sid, "revoked"), 0);
	assert_int_equal(session_col(t, b.sid, "user_agent IS NULL AND "
	    "ip IS NULL"), 1);
	snprintf(sql, sizeof(sql), "SELECT user_id || '|' || session_id FROM "
	    "refresh_tokens WHERE jti = '%s'", b.jti);
	fx_text(t->fx.db, sql, buf, sizeof(buf));
	snprintf(sql, sizeof(sql), "%s|%s", a.user, b.sid);
	assert_string_equal(buf, sql);
	assert_int_equal(token_col(t, b.jti, "expires_at"), NOW + 10 + 3600);

	/* Login for a user that does not exist (deleted meanwhile) is refused,
	 * nothing written. */
	new_ids(&b);
	g = grant(&b, b.jti, NOW, NOW + 3600);
	assert_int_equal(store_login(t->store, &g), AUTH_ENOTFOUND);
	assert_counts(counts(t), 1, 2, 2);
}

static void test_set_password(void **state)
{
	struct st *t = *state;
	struct ids a, b;
	char id[VALID_UUID_SIZE], hash[PASSWORD_HASH_MAX];

	do_register(t, "pw@example.com", &a);
	do_register(t, "other@example.com", &b);
	assert_int_equal(store_set_password(t->store, a.user, "$y$new"),
	    AUTH_OK);
	assert_int_equal(store_user_by_email(t->store, "pw@example.com", id,
	    hash), AUTH_OK);
	assert_string_equal(hash, "$y$new");
	/* Only that user. */
	assert_int_equal(store_user_by_email(t->store, "other@example.com", id,
	    hash), AUTH_OK);
	assert_string_equal(hash, "$2b$04$hash");
}

static void test_rotate(void **state)
{
	struct st *t = *state;
	struct ids a;
	struct store_grant g;
	enum store_rotation how = STORE_DEAD;
	char jti2[VALID_UUID_SIZE], buf[64];

	do_register(t, "rot@example.com", &a);
	assert_int_equal(valid_uuid_new(jti2), 0);
	g = grant(&a, jti2, NOW + 5, NOW + 5 + 3600);
	assert_int_equal(store_rotate(t->store, a.jti, &g, 0, &how), AUTH_OK);
	assert_int_equal(how, STORE_ROTATED);

	assert_int_equal(token_col(t, a.jti, "revoked"), 1);
	assert_int_equal(token_col(t, a.jti, "revoked_at"), NOW + 5);
	token_replaced_by(t, a.jti, buf, sizeof(buf));
	assert_string_equal(buf, jti2);
	assert_int_equal(token_col(t, jti2, "revoked"), 0);
	assert_int_equal(token_col(t, jti2, "issued_at"), NOW + 5);
	assert_int_equal(token_col(t, jti2, "expires_at"), NOW + 5 + 3600);
	token_replaced_by(t, jti2, buf, sizeof(buf));
	assert_string_equal(buf, "<null>");
	assert_int_equal(last_used(t, &a), NOW + 5);
	assert_int_equal(session_col(t, a.sid, "revoked"), 0);
	assert_counts(counts(t), 1, 1, 2);

	/* The successor rotates in turn. */
	{
		char jti3[VALID_UUID_SIZE];

		assert_int_equal(valid_uuid_new(jti3), 0);
		g = grant(&a, jti3, NOW + 6, NOW + 6 + 3600);
		assert_int_equal(store_rotate(t->store, jti2, &g, 0, &how),
		    AUTH_OK);
		assert_int_equal(how, STORE_ROTATED);
		token_replaced_by(t, jti2, buf, sizeof(buf));
		assert_string_equal(buf, jti3);
		assert_counts(counts(t), 1, 1, 3);
	}
}

/* Rotation of who's session from old_jti to new_jti at now, in a batch. */
static struct store_rotation_req batch_req(const struct ids *who,
    const char *old_jti, const char *new_jti, long long now)
{
	struct store_rotation_req r;

	memset(&r, 0, sizeof(r));
	r.old_jti = old_jti;
	r.grant = grant(who, new_jti, now, now + 3600);
	return r;
}

/* What one rotation of a batch reported. */
static void assert_rotation(const struct store_rotation_req *r,
    enum auth_err rc, enum store_rotation how)
{
	assert_int_equal(r->rc, rc);
	assert_int_equal(r->how, how);
}

/*
 * A batch runs its rotations one after the other in one transaction: two
 * rotations of one token in a batch end as they would in two transactions
 * (the second is a replay that revokes the session the first rotated),
 * and a rotation of another session is unaffected.
 */
static void test_rotate_batch(void **state)
{
	struct st *t = *state;
	struct ids a, b;
	char ja[VALID_UUID_SIZE], ja2[VALID_UUID_SIZE], jb[VALID_UUID_SIZE];
	struct store_rotation_req r[3];

	do_register(t, "a@example.com", &a);
	do_register(t, "b@example.com", &b);
	assert_int_equal(valid_uuid_new(ja), 0);
	assert_int_equal(valid_uuid_new(ja2), 0);
	assert_int_equal(valid_uuid_new(jb), 0);
	r[0] = batch_req(&a, a.jti, ja, NOW + 1);
	r[1] = batch_req(&a, a.jti, ja2, NOW + 1);
	r[2] = batch_req(&b, b.jti, jb, NOW + 1);
	assert_int_equal(store_rotate_batch(t->store, r, 3), AUTH_OK);
	assert_rotation(&r[0], AUTH_OK, STORE_ROTATED);
	assert_rotation(&r[1], AUTH_OK, STORE_REPLAY);
	assert_rotation(&r[2], AUTH_OK, STORE_ROTATED);
	/* The replay revoked a's session, successor included; b's lives. */
	assert_int_equal(session_col(t, a.sid, "revoked"), 1);
	assert_int_equal(token_col(t, ja, "revoked"), 1);
	assert_int_equal(token_col(t, ja2, "revoked"), -999);
	assert_int_equal(token_col(t, jb, "revoked"), 0);
	assert_int_equal(session_col(t, b.sid, "revoked"), 0);
	assert_int_equal(last_used(t, &b), NOW + 1);

	/* Within the reuse interval the second one is a reuse instead. */
	do_register(t, "c@example.com", &a);
	assert_int_equal(valid_uuid_new(ja), 0);
	assert_int_equal(valid_uuid_new(ja2), 0);
	r[0] = batch_req(&a, a.jti, ja, NOW + 2);
	r[1] = batch_req(&a, a.jti, ja2, NOW + 2);
	r[1].reuse_interval = 10;
	assert_int_equal(store_rotate_batch(t->store, r, 2), AUTH_OK);
	assert_int_equal(r[0].how, STORE_ROTATED);
	assert_int_equal(r[1].how, STORE_REUSED);
	assert_int_equal(token_col(t, ja, "revoked"), 0);
	assert_int_equal(token_col(t, ja2, "revoked"), 0);
}

/*
 * One rotation failing (its new jti already exists: a broken RNG) undoes
 * only its own writes; the others of the batch are committed.
 */
static void test_rotate_batch_partial(void **state)
{
	struct st *t = *state;
	struct ids a, b;
	char ja[VALID_UUID_SIZE];
	struct store_rotation_req r[2];

	do_register(t, "a@example.com", &a);
	do_register(t, "b@example.com", &b);
	assert_int_equal(valid_uuid_new(ja), 0);
	r[0] = batch_req(&a, a.jti, b.jti, NOW + 1);   /* b.jti is taken */
	r[1] = batch_req(&b, b.jti, ja, NOW + 1);
	assert_int_equal(store_rotate_batch(t->store, r, 2), AUTH_OK);
	assert_rotation(&r[0], AUTH_EINTERNAL, STORE_DEAD);
	assert_rotation(&r[1], AUTH_OK, STORE_ROTATED);
	/* a's token was not marked rotated: its update was undone. */
	assert_int_equal(token_col(t, a.jti, "revoked"), 0);
	assert_int_equal(token_col(t, b.jti, "revoked"), 1);
	assert_int_equal(token_col(t, ja, "revoked"), 0);
	assert_counts(counts(t), 2, 2, 3);
}

/* A batch whose transaction cannot start reports that for every part. */
static void test_rotate_batch_unavailable(void **state)
{
	struct st *t = *state;
	struct ids a;
	char ja[VALID_UUID_SIZE];
	struct store_rotation_req r[1];
	sqlite3 *other;

	do_register(t, "a@example.com", &a);
	assert_int_equal(valid_uuid_new(ja), 0);
	r[0] = batch_req(&a, a.jti, ja, NOW + 1);
	/* Another connection holds the write lock past a short timeout. */
	store_close(t->store);
	assert_int_equal(store_open(&t->store, DB_SQLITE, t->fx.db, 50, NULL, 0), 0);
	assert_int_equal(sqlite3_open(t->fx.db, &other), SQLITE_OK);
	assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL,
	    NULL), SQLITE_OK);
	assert_int_equal(store_rotate_batch(t->store, r, 1), AUTH_EUNAVAIL);
	assert_rotation(&r[0], AUTH_EUNAVAIL, STORE_DEAD);
	sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(other);
	assert_int_equal(token_col(t, a.jti, "revoked"), 0);
}

static void test_rotate_replay(void **state)
{
	struct st *t = *state;
	struct ids a, other;
	struct store_grant g;
	enum store_rotation how = STORE_ROTATED;
	char jti2[VALID_UUID_SIZE], jti3[VALID_UUID_SIZE], buf[64];
	char email[VALID_EMAIL_MAX + 1];

	do_register(t, "replay@example.com", &a);
	do_register(t, "bystander@example.com", &other);
	assert_int_equal(valid_uuid_new(jti2), 0);
	assert_int_equal(valid_uuid_new(jti3), 0);
	g = grant(&a, jti2, NOW + 5, NOW + 5 + 3600);
	assert_int_equal(store_rotate(t->store, a.jti, &g, 0, &how), AUTH_OK);
	assert_int_equal(how, STORE_ROTATED);

	/* The old token again, even one second later: a replay. */
	g = grant(&a, jti3, NOW + 6, NOW + 6 + 3600);
	how = STORE_ROTATED;
	assert_int_equal(store_rotate(t->store, a.jti, &g, 0, &how), AUTH_OK);
	assert_int_equal(how, STORE_REPLAY);
	assert_int_equal(session_col(t, a.sid, "revoked"), 1);
	assert_int_equal(session_col(t, a.sid, "revoked_at"), NOW + 6);
	/* Every token of the session is dead, the newest included. */
	assert_int_equal(token_col(t, jti2, "revoked"), 1);
	assert_int_equal(token_col(t, jti2, "revoked_at"), NOW + 6);
	assert_int_equal(token_col(t, a.jti, "revoked"), 1);
	/* The replay keeps the record of the first rotation. */
	token_replaced_by(t, a.jti, buf, sizeof(buf));
	assert_string_equal(buf, jti2);
	/* No row for the replayer. */
	assert_int_equal(token_col(t, jti3, "count(*)"), 0);
	/* Other sessions are untouched. */
	assert_int_equal(session_col(t, other.sid, "revoked"), 0);
	assert_int_equal(token_col(t, other.jti, "revoked"), 0);

	/* The newest token no longer rotates. */
	g = grant(&a, jti3, NOW + 7, NOW + 7 + 3600);
	how = STORE_ROTATED;
	assert_int_equal(store_rotate(t->store, jti2, &g, 0, &how), AUTH_OK);
	assert_int_equal(how, STORE_DEAD);
	assert_int_equal(token_col(t, jti3, "count(*)"), 0);
	assert_int_equal(store_me(t->store, a.user, a.sid, email),
	    AUTH_ETOKEN);
}

static void test_rotate_reuse_interval(void **state)
{
	struct st *t = *state;
	struct ids a;
	struct store_grant g;
	enum store_rotation how = STORE_DEAD;
	char jti2[VALID_UUID_SIZE], jti3[VALID_UUID_SIZE];
	char jti4[VALID_UUID_SIZE], buf[64];

	do_register(t, "reuse@example.com", &a);
	assert_int_equal(valid_uuid_new(jti2), 0);
	assert_int_equal(valid_uuid_new(jti3), 0);
	assert_int_equal(valid_uuid_new(jti4), 0);
	g = grant(&a, jti2, NOW + 5, NOW + 5 + 3600);
	assert_int_equal(store_rotate(t->store, a.jti, &g, 60, &how), AUTH_OK);
	assert_int_equal(how, STORE_ROTATED);

	/* Retried 59 s later: a fresh token, the session lives on. */
	g = grant(&a, jti3, NOW + 5 + 59, NOW + 5 + 59 + 3600);
	how = STORE_DEAD;
	assert_int_equal(store_rotate(t->store, a.jti, &g, 60, &how), AUTH_OK);
	assert_int_equal(how, STORE_REUSED);
	assert_int_equal(token_col(t, jti3, "revoked"), 0);
	assert_int_equal(token_col(t, jti3, "issued_at"), NOW + 5 + 59);
	assert_int_equal(token_col(t, jti2, "revoked"), 0);
	assert_int_equal(session_col(t, a.sid, "revoked"), 0);
	assert_int_equal(last_used(t, &a), NOW + 5 + 59);
	/* The original successor link is kept. */
	token_replaced_by(t, a.jti, buf, sizeof(buf));
	assert_string_equal(buf, jti2);
	assert_counts(counts(t), 1, 1, 3);

	/* 60 s after the rotation is no longer "less than" 60: a replay. */
	g = grant(&a, jti4, NOW + 5 + 60, NOW + 5 + 60 + 3600);
	how = STORE_DEAD;
	assert_int_equal(store_rotate(t->store, a.jti, &g, 60, &how), AUTH_OK);
	assert_int_equal(how, STORE_REPLAY);
	assert_int_equal(token_col(t, jti4, "count(*)"), 0);
	assert_int_equal(session_col(t, a.sid, "revoked"), 1);
	assert_int_equal(token_col(t, jti2, "revoked"), 1);
	assert_int_equal(token_col(t, jti3, "revoked"), 1);
}

/* Within the interval a rotated token is exchanged once more, no more. */
static void test_rotate_reuse_once(void **state)
{
	struct st *t = *state;
	struct ids a;
	struct store_grant g;
	enum store_rotation how = STORE_DEAD;
	char jti2[VALID_UUID_SIZE], jti3[VALID_UUID_SIZE];
	char jti4[VALID_UUID_SIZE];

	do_register(t, "once@example.com", &a);
	assert_int_equal(valid_uuid_new(jti2), 0);
	assert_int_equal(valid_uuid_new(jti3), 0);
	assert_int_equal(valid_uuid_new(jti4), 0);
	g = grant(&a, jti2, NOW + 5, NOW + 5 + 3600);
	assert_int_equal(store_rotate(t->store, a.jti, &g, 60, &how), AUTH_OK);
	assert_int_equal(how, STORE_ROTATED);
	g = grant(&a, jti3, NOW + 6, NOW + 6 + 3600);
	assert_int_equal(store_rotate(t->store, a.jti, &g, 60, &how), AUTH_OK);
	assert_int_equal(how, STORE_REUSED);
	assert_int_equal(token_col(t, a.jti, "reused"), 1);

	/* A second reuse, still inside the interval, is a replay. */
	g = grant(&a, jti4, NOW + 7, NOW + 7 + 3600);
	assert_int_equal(store_rotate(t->store, a.jti, &g, 60, &how), AUTH_OK);
	assert_int_equal(how, STORE_REPLAY);
	assert_int_equal(token_col(t, jti4, "count(*)"), 0);
	assert_int_equal(session_col(t, a.sid, "revoked"), 1);
	assert_int_equal(token_col(t, jti2, "revoked"), 1);
	assert_int_equal(token_col(t, jti3, "revoked"), 1);
}

static void test_rotate_unknown(void **state)
{
	struct st *t = *state;
	struct ids a;
	struct store_grant g;
	enum store_rotation how = STORE_ROTATED;
	char ghost[VALID_UUID_SIZE], jti2[VALID_UUID_SIZE];

	do_register(t, "unknown@example.com", &a);
	assert_int_equal(valid_uuid_new(ghost), 0);
	assert_int_equal(valid_uuid_new(jti2), 0);
	g = grant(&a, jti2, NOW + 5, NOW + 5 + 3600);
	assert_int_equal(store_rotate(t->store, ghost, &g, 0, &how), AUTH_OK);
	assert_int_equal(how, STORE_DEAD);
	assert_int_equal(token_col(t, jti2, "count(*)"), 0);
	/* An unknown token is not a replay: the session survives. */
	assert_int_equal(session_col(t, a.sid, "revoked"), 0);
	assert_int_equal(token_col(t, a.jti, "revoked"), 0);
}

static void test_rotate_expired(void **state)
{
	struct st *t = *state;
	struct ids a;
	struct store_grant g;
	enum store_rotation how = STORE_ROTATED;
	char jti2[VALID_UUID_SIZE];

	do_register(t, "expired@example.com", &a);   /* expires NOW + 3600 */
	assert_int_equal(valid_uuid_new(jti2), 0);

	/* expires_at == now is already expired. */
	g = grant(&a, jti2, NOW + 3600, NOW + 7200);
	assert_int_equal(store_rotate(t->store, a.jti, &g, 0, &how), AUTH_OK);
	assert_int_equal(how, STORE_DEAD);
	g = grant(&a, jti2, NOW + 4000, NOW + 7200);
	how = STORE_ROTATED;
	assert_int_equal(store_rotate(t->store, a.jti, &g, 60, &how), AUTH_OK);
	assert_int_equal(how, STORE_DEAD);
	assert_int_equal(token_col(t, jti2, "count(*)"), 0);
	assert_int_equal(token_col(t, a.jti, "revoked"), 0);
	assert_int_equal(session_col(t, a.sid, "revoked"), 0);

	/* One second earlier it still rotates. */
	g = grant(&a, jti2, NOW + 3599, NOW + 7200);
	assert_int_equal(store_rotate(t->store, a.jti, &g, 0, &how), AUTH_OK);
	assert_int_equal(how, STORE_ROTATED);
}

static void test_rotate_wrong_owner(void **state)
{
	struct st *t = *state;
	struct ids a, b, wrong;
	struct store_grant g;
	enum store_rotation how = STORE_ROTATED;
	char jti2[VALID_UUID_SIZE];

	do_register(t, "owner@example.com", &a);
	do_register(t, "intruder@example.com", &b);
	assert_int_equal(valid_uuid_new(jti2), 0);

	/* Right user, another (existing) session. */
	memcpy(wrong.user, a.user, sizeof(wrong.user));
	memcpy(wrong.sid, b.sid, sizeof(wrong.sid));
	g = grant(&wrong, jti2, NOW + 5, NOW + 3600);
	assert_int_equal(store_rotate(t->store, a.jti, &g, 0, &how), AUTH_OK);
	assert_int_equal(how, STORE_DEAD);

	/* Right session, another (existing) user. */
	memcpy(wrong.user, b.user, sizeof(wrong.user));
	memcpy(wrong.sid, a.sid, sizeof(wrong.sid));
	g = grant(&wrong, jti2, NOW + 5, NOW + 3600);
	how = STORE_ROTATED;
	assert_int_equal(store_rotate(t->store, a.jti, &g, 0, &how), AUTH_OK);
	assert_int_equal(how, STORE_DEAD);

	/* A session id that does not exist at all. */
	memcpy(wrong.user, a.user, sizeof(wrong.user));
	assert_int_equal(valid_uuid_new(wrong.sid), 0);
	g = grant(&wrong, jti2, NOW + 5, NOW + 3600);
	how = STORE_ROTATED;
	assert_int_equal(store_rotate(t->store, a.jti, &g, 0, &how), AUTH_OK);
	assert_int_equal(how, STORE_DEAD);

	/* Nothing happened to either session. */
	assert_int_equal(token_col(t, jti2, "count(*)"), 0);
	assert_int_equal(token_col(t, a.jti, "revoked"), 0);
	assert_int_equal(token_col(t, b.jti, "revoked"), 0);
	assert_int_equal(session_col(t, a.sid, "revoked"), 0);
	assert_int_equal(session_col(t, b.sid, "revoked"), 0);

	/* A rotated token presented under another session is not a replay. */
	g = grant(&a, jti2, NOW + 5, NOW + 3600);
	assert_int_equal(store_rotate(t->store, a.jti, &g, 0, &how), AUTH_OK);
	assert_int_equal(how, STORE_ROTATED);
	memcpy(wrong.user, a.user, sizeof(wrong.user));
	memcpy(wrong.sid, b.sid, sizeof(wrong.sid));
	{
		char jti3[VALID_UUID_SIZE];

		assert_int_equal(valid_uuid_new(jti3), 0);
		g = grant(&wrong, jti3, NOW + 6, NOW + 3600);
		assert_int_equal(store_rotate(t->store, a.jti, &g, 0, &how),
		    AUTH_OK);
		assert_int_equal(how, STORE_DEAD);
	}
	assert_int_equal(session_col(t, a.sid, "revoked"), 0);
	assert_int_equal(session_col(t, b.sid, "revoked"), 0);
}

static void test_rotate_revoked_session(void **state)
{
	struct st *t = *state;
	struct ids a;
	struct store_grant g;
	enum store_rotation how = STORE_ROTATED;
	char jti2[VALID_UUID_SIZE], sql[128];

	do_register(t, "loggedout@example.com", &a);
	assert_int_equal(valid_uuid_new(jti2), 0);
	snprintf(sql, sizeof(sql), "UPDATE sessions SET revoked = 1, "
	    "revoked_at = 1 WHERE id = '%s'", a.sid);
	assert_int_equal(fx_exec(t->fx.db, sql), SQLITE_OK);
	g = grant(&a, jti2, NOW + 5, NOW + 3600);
	assert_int_equal(store_rotate(t->store, a.jti, &g, 60, &how), AUTH_OK);
	assert_int_equal(how, STORE_DEAD);
	assert_int_equal(token_col(t, jti2, "count(*)"), 0);
}

static void test_me(void **state)
{
	struct st *t = *state;
	struct ids a, b;
	char email[VALID_EMAIL_MAX + 1] = "";
	char sql[128];

	do_register(t, "me@example.com", &a);
	do_register(t, "you@example.com", &b);
	assert_int_equal(store_me(t->store, a.user, a.sid, email), AUTH_OK);
	assert_string_equal(email, "me@example.com");
	/* A session of another user does not vouch for this one. */
	assert_int_equal(store_me(t->store, a.user, b.sid, email),
	    AUTH_ETOKEN);
	assert_int_equal(store_me(t->store, b.user, a.sid, email),
	    AUTH_ETOKEN);

	/* Revoked session. */
	snprintf(sql, sizeof(sql), "UPDATE sessions SET revoked = 1, "
	    "revoked_at = 1 WHERE id = '%s'", a.sid);
	assert_int_equal(fx_exec(t->fx.db, sql), SQLITE_OK);
	assert_int_equal(store_me(t->store, a.user, a.sid, email),
	    AUTH_ETOKEN);
	assert_int_equal(store_me(t->store, b.user, b.sid, email), AUTH_OK);
	assert_string_equal(email, "you@example.com");
}

static void test_me_deleted_user(void **state)
{
	struct st *t = *state;
	struct ids a, b;
	char email[VALID_EMAIL_MAX + 1] = "";
	char sql[128];

	do_register(t, "gone@example.com", &a);
	do_register(t, "stays@example.com", &b);
	assert_int_equal(store_me(t->store, a.user, a.sid, email), AUTH_OK);

	/* fx_exec's connection has foreign_keys on: the delete cascades. */
	snprintf(sql, sizeof(sql), "DELETE FROM users WHERE id = '%s'", a.user);
	assert_int_equal(fx_exec(t->fx.db, sql), SQLITE_OK);
	assert_counts(counts(t), 1, 1, 1);
	assert_int_equal(session_col(t, a.sid, "count(*)"), 0);
	assert_int_equal(token_col(t, a.jti, "count(*)"), 0);

	assert_int_equal(store_me(t->store, a.user, a.sid, email),
	    AUTH_ETOKEN);
	assert_int_equal(store_me(t->store, b.user, b.sid, email), AUTH_OK);
	assert_string_equal(email, "stays@example.com");
}

/* ------------------------------------------------------------------ */
/* sessions: revoke one, revoke all, list                              */

/* A further session of user (ids->user kept, fresh sid and jti). */
static void do_login(struct st *t, struct ids *ids, long long now,
    long long expires_at, const char *ua, const char *ip)
{
	struct store_grant g;

	assert_int_equal(valid_uuid_new(ids->sid), 0);
	assert_int_equal(valid_uuid_new(ids->jti), 0);
	g = grant(ids, ids->jti, now, expires_at);
	g.user_agent = ua;
	g.ip = ip;
	assert_int_equal(store_login(t->store, &g), AUTH_OK);
}

/* Rotate ids->jti at now; ids->jti becomes the successor. */
static void do_rotate(struct st *t, struct ids *ids, long long now)
{
	struct store_grant g;
	enum store_rotation how = STORE_DEAD;
	char next[VALID_UUID_SIZE];

	assert_int_equal(valid_uuid_new(next), 0);
	g = grant(ids, next, now, now + 3600);
	assert_int_equal(store_rotate(t->store, ids->jti, &g, 0, &how),
	    AUTH_OK);
	assert_int_equal(how, STORE_ROTATED);
	memcpy(ids->jti, next, sizeof(next));
}

/* Tokens of session sid in state revoked (0 or 1). */
static long long session_tokens(struct st *t, const char *sid, int revoked)
{
	char sql[256];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM refresh_tokens WHERE "
	    "session_id = '%s' AND revoked = %d", sid, revoked);
	return fx_int(t->fx.db, sql);
}

static long long user_rows(struct st *t, const char *table,
    const char *user, const char *cond)
{
	char sql[256];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE user_id = "
	    "'%s' AND %s", table, user, cond);
	return fx_int(t->fx.db, sql);
}

static void test_session_revoke(void **state)
{
	struct st *t = *state;
	struct ids a, a2, b;
	char first[VALID_UUID_SIZE], ghost[VALID_UUID_SIZE];
	char email[VALID_EMAIL_MAX + 1];

	do_register(t, "rev@example.com", &a);
	memcpy(first, a.jti, sizeof(first));
	do_rotate(t, &a, NOW + 5);               /* a: 2 tokens, 1 live */
	memcpy(a2.user, a.user, sizeof(a2.user));
	do_login(t, &a2, NOW + 6, NOW + 3600, NULL, NULL);
	do_register(t, "victim@example.com", &b);
	assert_int_equal(session_tokens(t, a.sid, 0), 1);

	/* Own live session: it and all its tokens are revoked. */
	assert_int_equal(store_session_revoke(t->store, a.user, a.sid, NOW + 10),
	    AUTH_OK);
	assert_int_equal(session_col(t, a.sid, "revoked"), 1);
	assert_int_equal(session_col(t, a.sid, "revoked_at"), NOW + 10);
	assert_int_equal(session_tokens(t, a.sid, 0), 0);
	assert_int_equal(session_tokens(t, a.sid, 1), 2);
	assert_int_equal(token_col(t, a.jti, "revoked_at"), NOW + 10);
	/* The rotated one keeps the time of its rotation. */
	assert_int_equal(token_col(t, first, "revoked_at"), NOW + 5);
	assert_int_equal(store_me(t->store, a.user, a.sid, email),
	    AUTH_ETOKEN);
	/* The user's other session lives on. */
	assert_int_equal(session_col(t, a2.sid, "revoked"), 0);
	assert_int_equal(token_col(t, a2.jti, "revoked"), 0);
	assert_int_equal(store_me(t->store, a.user, a2.sid, email), AUTH_OK);

	/* Again: not found, and the first revocation time stays. */
	assert_int_equal(store_session_revoke(t->store, a.user, a.sid, NOW + 20),
	    AUTH_ENOTFOUND);
	assert_int_equal(session_col(t, a.sid, "revoked_at"), NOW + 10);
	assert_int_equal(token_col(t, a.jti, "revoked_at"), NOW + 10);

	/* Another user's session: not found, not touched. */
	assert_int_equal(store_session_revoke(t->store, a.user, b.sid, NOW + 30),
	    AUTH_ENOTFOUND);
	assert_int_equal(session_col(t, b.sid, "revoked"), 0);
	assert_int_equal(session_col(t, b.sid, "revoked_at IS NULL"), 1);
	assert_int_equal(token_col(t, b.jti, "revoked"), 0);
	assert_int_equal(store_me(t->store, b.user, b.sid, email), AUTH_OK);

	/* Unknown ids. */
	assert_int_equal(valid_uuid_new(ghost), 0);
	assert_int_equal(store_session_revoke(t->store, a.user, ghost, NOW + 40),
	    AUTH_ENOTFOUND);
	assert_int_equal(store_session_revoke(t->store, ghost, a2.sid, NOW + 40),
	    AUTH_ENOTFOUND);
	assert_int_equal(session_col(t, a2.sid, "revoked"), 0);

	/* The store still works after those rolled-back transactions. */
	assert_int_equal(store_session_revoke(t->store, a.user, a2.sid,
	    NOW + 50), AUTH_OK);
	assert_int_equal(session_col(t, a2.sid, "revoked_at"), NOW + 50);
	assert_int_equal(token_col(t, a2.jti, "revoked"), 1);
	assert_counts(counts(t), 2, 3, 4);
}

static void test_revoke_user(void **state)
{
	struct st *t = *state;
	struct ids a, a2, b, b2;
	char first[VALID_UUID_SIZE], ghost[VALID_UUID_SIZE];
	char email[VALID_EMAIL_MAX + 1];

	do_register(t, "all@example.com", &a);
	memcpy(first, a.jti, sizeof(first));
	do_rotate(t, &a, NOW + 5);
	memcpy(a2.user, a.user, sizeof(a2.user));
	do_login(t, &a2, NOW + 6, NOW + 3600, "ua/2", NULL);
	do_register(t, "keep@example.com", &b);
	memcpy(b2.user, b.user, sizeof(b2.user));
	do_login(t, &b2, NOW + 7, NOW + 3600, NULL, NULL);

	assert_int_equal(store_revoke_user(t->store, a.user, NOW + 30), AUTH_OK);
	assert_int_equal(user_rows(t, "sessions", a.user, "revoked = 0"), 0);
	assert_int_equal(user_rows(t, "sessions", a.user,
	    "revoked_at = 1700000030"), 2);
	assert_int_equal(user_rows(t, "refresh_tokens", a.user, "revoked = 0"),
	    0);
	assert_int_equal(user_rows(t, "refresh_tokens", a.user, "revoked = 1"),
	    3);
	assert_int_equal(token_col(t, a.jti, "revoked_at"), NOW + 30);
	assert_int_equal(token_col(t, a2.jti, "revoked_at"), NOW + 30);
	assert_int_equal(token_col(t, first, "revoked_at"), NOW + 5);
	assert_int_equal(store_me(t->store, a.user, a.sid, email), AUTH_ETOKEN);
	assert_int_equal(store_me(t->store, a.user, a2.sid, email),
	    AUTH_ETOKEN);

	/* The other user is untouched. */
	assert_int_equal(user_rows(t, "sessions", b.user, "revoked = 0"), 2);
	assert_int_equal(user_rows(t, "sessions", b.user, "revoked_at IS NULL"),
	    2);
	assert_int_equal(user_rows(t, "refresh_tokens", b.user, "revoked = 0"),
	    2);
	assert_int_equal(store_me(t->store, b.user, b2.sid, email), AUTH_OK);

	/* Again, or for nobody: nothing to do, not an error. */
	assert_int_equal(store_revoke_user(t->store, a.user, NOW + 40), AUTH_OK);
	assert_int_equal(token_col(t, a.jti, "revoked_at"), NOW + 30);
	assert_int_equal(valid_uuid_new(ghost), 0);
	assert_int_equal(store_revoke_user(t->store, ghost, NOW + 40), AUTH_OK);
	assert_int_equal(user_rows(t, "refresh_tokens", b.user, "revoked = 0"),
	    2);
	assert_counts(counts(t), 2, 4, 5);
}

static void test_sessions_list(void **state)
{
	struct st *t = *state;
	struct ids a, s2, s3, s4, s5, s6, s7, b;
	struct store_session rows[8];
	char ua[301], sql[256], ghost[VALID_UUID_SIZE];
	size_t n = 99;

	do_register(t, "list@example.com", &a);   /* NOW, ua/1, 192.0.2.1 */
	do_rotate(t, &a, NOW + 50);               /* last used NOW + 50 */
	memcpy(s2.user, a.user, sizeof(s2.user));
	memcpy(s3.user, a.user, sizeof(s3.user));
	memcpy(s4.user, a.user, sizeof(s4.user));
	memcpy(s5.user, a.user, sizeof(s5.user));
	memcpy(s6.user, a.user, sizeof(s6.user));
	memcpy(s7.user, a.user, sizeof(s7.user));
	do_login(t, &s2, NOW + 10, NOW + 3600, NULL, NULL);
	memset(ua, 'u', sizeof(ua) - 1);
	ua[sizeof(ua) - 1] = '\0';
	do_login(t, &s3, NOW + 20, NOW + 3600, ua, "2001:db8::1");
	do_login(t, &s4, NOW + 30, NOW + 3600, "revoked", NULL);
	assert_int_equal(store_session_revoke(t->store, a.user, s4.sid,
	    NOW + 31), AUTH_OK);
	do_login(t, &s5, NOW + 40, NOW + 100, "expires", NULL);
	do_login(t, &s6, NOW + 45, NOW + 3600, "token revoked", NULL);
	snprintf(sql, sizeof(sql), "UPDATE refresh_tokens SET revoked = 1, "
	    "revoked_at = 1 WHERE jti = '%s'", s6.jti);
	assert_int_equal(fx_exec(t->fx.db, sql), SQLITE_OK);
	/* Same second as s3, inserted later: newer. */
	do_login(t, &s7, NOW + 20, NOW + 3600, "same second", "192.0.2.7");
	do_register(t, "notmine@example.com", &b);

	/* At NOW + 99, s5's token (expires NOW + 100) still counts. */
	memset(rows, 0x5a, sizeof(rows));
	assert_int_equal(store_sessions(t->store, a.user, NOW + 99, rows, 8, &n),
	    AUTH_OK);
	assert_int_equal(n, 5);
	assert_string_equal(rows[0].id, s5.sid);
	assert_string_equal(rows[1].id, s7.sid);
	assert_string_equal(rows[2].id, s3.sid);
	assert_string_equal(rows[3].id, s2.sid);
	assert_string_equal(rows[4].id, a.sid);

	/* At NOW + 100 it has expired (expires_at == now). */
	memset(rows, 0x5a, sizeof(rows));
	assert_int_equal(store_sessions(t->store, a.user, NOW + 100, rows, 8,
	    &n), AUTH_OK);
	assert_int_equal(n, 4);
	assert_string_equal(rows[0].id, s7.sid);
	assert_string_equal(rows[1].id, s3.sid);
	assert_string_equal(rows[2].id, s2.sid);
	assert_string_equal(rows[3].id, a.sid);
	assert_int_equal(rows[4].id[0], 0x5a);   /* nothing past n */

	assert_int_equal(rows[0].created_at, NOW + 20);
	assert_int_equal(rows[0].last_used_at, NOW + 20);
	assert_string_equal(rows[0].user_agent, "same second");
	assert_string_equal(rows[0].ip, "192.0.2.7");
	/* A long user agent is cut to the field, NUL terminated. */
	assert_int_equal(strlen(rows[1].user_agent), sizeof(rows[1].user_agent)
	    - 1);
	assert_int_equal(strspn(rows[1].user_agent, "u"),
	    sizeof(rows[1].user_agent) - 1);
	assert_string_equal(rows[1].ip, "2001:db8::1");
	/* NULL columns read as "". */
	assert_string_equal(rows[2].user_agent, "");
	assert_string_equal(rows[2].ip, "");
	assert_int_equal(rows[2].created_at, NOW + 10);
	/* The rotated session: created at registration, used at rotation. */
	assert_int_equal(rows[3].created_at, NOW);
	assert_int_equal(rows[3].last_used_at, NOW + 50);
	assert_string_equal(rows[3].user_agent, "ua/1");
	assert_string_equal(rows[3].ip, "192.0.2.1");

	/* max is respected. */
	memset(rows, 0x5a, sizeof(rows));
	assert_int_equal(store_sessions(t->store, a.user, NOW + 100, rows, 2,
	    &n), AUTH_OK);
	assert_int_equal(n, 2);
	assert_string_equal(rows[0].id, s7.sid);
	assert_string_equal(rows[1].id, s3.sid);
	assert_int_equal(rows[2].id[0], 0x5a);
	memset(rows, 0x5a, sizeof(rows));
	n = 99;
	assert_int_equal(store_sessions(t->store, a.user, NOW + 100, rows, 0,
	    &n), AUTH_OK);
	assert_int_equal(n, 0);
	assert_int_equal(rows[0].id[0], 0x5a);
	n = 99;
	assert_int_equal(store_sessions(t->store, a.user, NOW + 100, rows, 1,
	    &n), AUTH_OK);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].id, s7.sid);

	/* Another user sees only its own; an unknown one sees none. */
	assert_int_equal(store_sessions(t->store, b.user, NOW + 100, rows, 8,
	    &n), AUTH_OK);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].id, b.sid);
	assert_int_equal(valid_uuid_new(ghost), 0);
	n = 99;
	assert_int_equal(store_sessions(t->store, ghost, NOW + 100, rows, 8,
	    &n), AUTH_OK);
	assert_int_equal(n, 0);

	/* Once everything expired, nothing is live. */
	assert_int_equal(store_sessions(t->store, a.user, NOW + 5000, rows, 8,
	    &n), AUTH_OK);
	assert_int_equal(n, 0);
}

/* ------------------------------------------------------------------ */
/* login throttling                                                    */

/* email: 3 per 300 s; ip: 5 per 300 s. */
static long take(struct st *t, const char *email, const char *ip,
    long long now, long max_email, long max_ip, long window,
    enum auth_err want)
{
	const struct store_limit lims[2] = {
		{ "email", email, max_email, window },
		{ "ip", ip, max_ip, window },
	};
	long retry = -77;

	assert_int_equal(store_throttle_take(t->store, lims, 2, now, &retry),
	    want);
	if (want == AUTH_OK)
		assert_int_equal(retry, 0);
	return retry;
}

#define TAKE(e, ip, now, want) take(t, (e), (ip), (now), 3, 5, 300, (want))

static long long attempts(struct st *t, const char *key, const char *col)
{
	char sql[256];

	snprintf(sql, sizeof(sql), "SELECT %s FROM login_attempts WHERE key = "
	    "'%s'", col, key);
	return fx_int(t->fx.db, sql);
}

static void test_throttle_email(void **state)
{
	struct st *t = *state;

	/* Every attempt is counted as it is taken, before any password work. */
	TAKE("t@example.com", "192.0.2.1", NOW, AUTH_OK);
	TAKE("t@example.com", "192.0.2.1", NOW + 10, AUTH_OK);
	assert_int_equal(attempts(t, "email:t@example.com", "failures"), 2);
	assert_int_equal(attempts(t, "email:t@example.com", "window_start"),
	    NOW);
	assert_int_equal(attempts(t, "ip:192.0.2.1", "failures"), 2);
	TAKE("t@example.com", "192.0.2.1", NOW + 20, AUTH_OK);

	/* At the limit: retry when the window (start NOW) ends; a refused
	 * attempt is not counted on any key. */
	assert_int_equal(TAKE("t@example.com", "192.0.2.1", NOW + 30,
	    AUTH_ETHROTTLED), 270);
	assert_int_equal(TAKE("t@example.com", NULL, NOW + 30,
	    AUTH_ETHROTTLED), 270);
	assert_int_equal(TAKE("t@example.com", "198.51.100.1", NOW + 299,
	    AUTH_ETHROTTLED), 1);
	assert_int_equal(attempts(t, "email:t@example.com", "failures"), 3);
	assert_int_equal(attempts(t, "ip:192.0.2.1", "failures"), 3);
	assert_int_equal(attempts(t, "ip:198.51.100.1", "count(*)"), 0);
	/* Other emails from the same address are not held back (3 < 5). */
	TAKE("u@example.com", "192.0.2.1", NOW + 30, AUTH_OK);
	/* Keys are exact. */
	TAKE("T@example.com", NULL, NOW + 30, AUTH_OK);

	/* The window has ended at NOW + 300: a new one counts from 1. */
	TAKE("t@example.com", NULL, NOW + 300, AUTH_OK);
	assert_int_equal(attempts(t, "email:t@example.com", "failures"), 1);
	assert_int_equal(attempts(t, "email:t@example.com", "window_start"),
	    NOW + 300);
	/* Without an ip, the ip row is left alone. */
	assert_int_equal(attempts(t, "ip:192.0.2.1", "failures"), 4);
	assert_int_equal(attempts(t, "ip:192.0.2.1", "window_start"), NOW);
	TAKE("t@example.com", NULL, NOW + 310, AUTH_OK);
	TAKE("t@example.com", NULL, NOW + 320, AUTH_OK);
	assert_int_equal(TAKE("t@example.com", NULL, NOW + 330,
	    AUTH_ETHROTTLED), 270);
	assert_int_equal(fx_count(t->fx.db, "login_attempts"), 4);

	/* A limit of 0 counts nothing and refuses nothing. */
	take(t, "z@example.com", "192.0.2.99", NOW, 0, 0, 300, AUTH_OK);
	assert_int_equal(attempts(t, "email:z@example.com", "count(*)"), 0);
	assert_int_equal(attempts(t, "ip:192.0.2.99", "count(*)"), 0);
}

static void test_throttle_ip(void **state)
{
	struct st *t = *state;

	take(t, "a@example.com", "203.0.113.5", NOW, 10, 2, 600, AUTH_OK);
	take(t, "b@example.com", "203.0.113.5", NOW + 100, 10, 2, 600, AUTH_OK);
	/* The address is at its limit though no email is. */
	assert_int_equal(take(t, "c@example.com", "203.0.113.5", NOW + 150, 10,
	    2, 600, AUTH_ETHROTTLED), 450);
	/* ip NULL skips the address check; another address is fine. */
	take(t, "c@example.com", NULL, NOW + 150, 10, 2, 600, AUTH_OK);
	take(t, "d@example.com", "203.0.113.6", NOW + 150, 10, 2, 600, AUTH_OK);
	/* An email equal to the address is another key. */
	take(t, "203.0.113.5", NULL, NOW + 150, 10, 2, 600, AUTH_OK);
	assert_int_equal(attempts(t, "email:a@example.com", "failures"), 1);
	assert_int_equal(attempts(t, "email:c@example.com", "failures"), 1);
	assert_int_equal(attempts(t, "ip:203.0.113.5", "failures"), 2);

	/* Both limits hit: the later of the two retry times. */
	take(t, "x@example.com", NULL, NOW, 1, 2, 300, AUTH_OK);
	take(t, "y@example.com", "198.51.100.9", NOW + 100, 1, 2, 300, AUTH_OK);
	take(t, "z@example.com", "198.51.100.9", NOW + 100, 1, 2, 300, AUTH_OK);
	assert_int_equal(take(t, "x@example.com", "198.51.100.9", NOW + 150, 1,
	    2, 300, AUTH_ETHROTTLED), 250);
	assert_int_equal(take(t, "x@example.com", NULL, NOW + 150, 1, 2, 300,
	    AUTH_ETHROTTLED), 150);
	assert_int_equal(take(t, "w@example.com", "198.51.100.9", NOW + 150, 1,
	    2, 300, AUTH_ETHROTTLED), 250);
	/* Email window over, address window not. */
	assert_int_equal(take(t, "x@example.com", "198.51.100.9", NOW + 350, 1,
	    2, 300, AUTH_ETHROTTLED), 50);
	take(t, "x@example.com", "198.51.100.9", NOW + 400, 1, 2, 300, AUTH_OK);
}

/* Kinds are separate counters: registrations do not eat login attempts. */
static void test_throttle_kinds(void **state)
{
	struct st *t = *state;
	const struct store_limit reg = { "register", "192.0.2.7", 2, 3600 };
	long retry = 0;

	assert_int_equal(store_throttle_take(t->store, &reg, 1, NOW, &retry),
	    AUTH_OK);
	assert_int_equal(store_throttle_take(t->store, &reg, 1, NOW + 1, &retry),
	    AUTH_OK);
	assert_int_equal(store_throttle_take(t->store, &reg, 1, NOW + 2, &retry),
	    AUTH_ETHROTTLED);
	assert_int_equal(retry, 3598);
	assert_int_equal(attempts(t, "register:192.0.2.7", "failures"), 2);
	TAKE("k@example.com", "192.0.2.7", NOW + 2, AUTH_OK);
	assert_int_equal(attempts(t, "ip:192.0.2.7", "failures"), 1);
}

static void test_throttle_reset_on_login(void **state)
{
	struct st *t = *state;
	struct ids a, a2, ghost;
	struct store_grant g;

	do_register(t, "reset@example.com", &a);
	TAKE("reset@example.com", "192.0.2.50", NOW, AUTH_OK);
	TAKE("reset@example.com", "192.0.2.50", NOW + 1, AUTH_OK);
	TAKE("other@example.com", NULL, NOW + 1, AUTH_OK);
	TAKE("reset@example.com", "192.0.2.50", NOW + 2, AUTH_OK);
	assert_int_equal(TAKE("reset@example.com", NULL, NOW + 3,
	    AUTH_ETHROTTLED), 297);

	/* A login that fails (no such user) rolls the reset back too. */
	new_ids(&ghost);
	g = grant(&ghost, ghost.jti, NOW + 3, NOW + 3600);
	g.email = "reset@example.com";
	g.refund_ip = "192.0.2.50";
	assert_int_equal(store_login(t->store, &g), AUTH_ENOTFOUND);
	assert_int_equal(attempts(t, "email:reset@example.com", "failures"), 3);
	assert_int_equal(attempts(t, "ip:192.0.2.50", "failures"), 3);

	/* A successful login clears that email's count, gives its address
	 * back the one attempt, and touches nothing else. */
	memcpy(a2.user, a.user, sizeof(a2.user));
	assert_int_equal(valid_uuid_new(a2.sid), 0);
	assert_int_equal(valid_uuid_new(a2.jti), 0);
	g = grant(&a2, a2.jti, NOW + 4, NOW + 3600);
	g.email = "reset@example.com";
	g.refund_ip = "192.0.2.50";
	assert_int_equal(store_login(t->store, &g), AUTH_OK);
	assert_int_equal(attempts(t, "email:reset@example.com", "count(*)"), 0);
	TAKE("reset@example.com", NULL, NOW + 5, AUTH_OK);
	assert_int_equal(attempts(t, "ip:192.0.2.50", "failures"), 2);
	assert_int_equal(attempts(t, "email:other@example.com", "failures"), 1);
	assert_int_equal(session_col(t, a2.sid, "revoked"), 0);

	/* Without g.email and g.refund_ip nothing is reset or refunded. */
	assert_int_equal(valid_uuid_new(a2.sid), 0);
	assert_int_equal(valid_uuid_new(a2.jti), 0);
	g = grant(&a2, a2.jti, NOW + 7, NOW + 3600);
	assert_int_equal(store_login(t->store, &g), AUTH_OK);
	assert_int_equal(attempts(t, "email:reset@example.com", "failures"), 1);
	assert_int_equal(attempts(t, "ip:192.0.2.50", "failures"), 2);

	/* A refund never goes below zero. */
	for (int i = 0; i < 3; i++) {
		assert_int_equal(valid_uuid_new(a2.sid), 0);
		assert_int_equal(valid_uuid_new(a2.jti), 0);
		g = grant(&a2, a2.jti, NOW + 8, NOW + 3600);
		g.refund_ip = "192.0.2.50";
		assert_int_equal(store_login(t->store, &g), AUTH_OK);
	}
	assert_int_equal(attempts(t, "ip:192.0.2.50", "failures"), 0);
}

/* ------------------------------------------------------------------ */
/* readiness and gauges                                                */

static int is_migration(const struct dirent *d)
{
	const char *n = d->d_name;
	size_t len = strlen(n);

	return len > 8 && n[0] >= '0' && n[0] <= '9' && n[1] >= '0' &&
	    n[1] <= '9' && n[2] >= '0' && n[2] <= '9' && n[3] == '_' &&
	    strcmp(n + len - 4, ".sql") == 0;
}

/* Version ("NNN") of the newest schema/NNN_*.sql (cwd: repository root). */
static void newest_migration(char *version, size_t cap)
{
	struct dirent **names = NULL;
	int n = scandir("schema", &names, is_migration, alphasort), i;

	assert_true(n > 0);
	snprintf(version, cap, "%.3s", names[n - 1]->d_name);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static void test_schema_version(void **state)
{
	struct st *t = *state;
	char want[8], version[8], moved[FX_PATH_MAX + 16];

	newest_migration(want, sizeof(want));
	assert_int_equal(strlen(want), 3);
	memset(version, 0, sizeof(version));
	assert_int_equal(store_schema_version(t->store, version), AUTH_OK);
	assert_string_equal(version, want);

	/* The file renamed away: the open connection no longer counts. */
	snprintf(moved, sizeof(moved), "%s.moved", t->fx.db);
	assert_int_equal(rename(t->fx.db, moved), 0);
	assert_int_equal(store_schema_version(t->store, version), AUTH_EUNAVAIL);
	assert_int_equal(rename(moved, t->fx.db), 0);
	assert_int_equal(store_schema_version(t->store, version), AUTH_OK);
	assert_string_equal(version, want);
}

static void test_counters(void **state)
{
	struct st *t = *state;
	struct ids a, a2, b;
	int64_t users = -1, tokens = -1;
	char sql[128];

	assert_int_equal(store_counters(t->store, &users, &tokens), AUTH_OK);
	assert_int_equal(users, 0);
	assert_int_equal(tokens, 0);

	do_register(t, "c1@example.com", &a);
	do_register(t, "c2@example.com", &b);
	memcpy(a2.user, a.user, sizeof(a2.user));
	do_login(t, &a2, NOW + 1, NOW + 3600, NULL, NULL);
	do_rotate(t, &a, NOW + 2);               /* one revoked, one new */
	assert_int_equal(store_counters(t->store, &users, &tokens), AUTH_OK);
	assert_int_equal(users, 2);
	assert_int_equal(tokens, 3);

	assert_int_equal(store_session_revoke(t->store, a.user, a2.sid, NOW + 3),
	    AUTH_OK);
	assert_int_equal(store_counters(t->store, &users, &tokens), AUTH_OK);
	assert_int_equal(users, 2);
	assert_int_equal(tokens, 2);

	/* Deleting a user (cascading to its tokens) is counted as well. */
	snprintf(sql, sizeof(sql), "DELETE FROM users WHERE id = '%s'", b.user);
	assert_int_equal(fx_exec(t->fx.db, sql), SQLITE_OK);
	assert_int_equal(store_counters(t->store, &users, &tokens), AUTH_OK);
	assert_int_equal(users, 1);
	assert_int_equal(tokens, 1);

	/* Always what the tables say. */
	assert_int_equal(users, fx_count(t->fx.db, "users"));
	assert_int_equal(tokens, fx_int(t->fx.db, "SELECT count(*) FROM "
	    "refresh_tokens WHERE revoked = 0"));
	assert_int_equal(store_revoke_user(t->store, a.user, NOW + 4), AUTH_OK);
	assert_int_equal(store_counters(t->store, &users, &tokens), AUTH_OK);
	assert_int_equal(users, 1);
	assert_int_equal(tokens, 0);
}

/* A database migrated to 001 only, at dir/old.db. */
static void make_db_001(struct st *t, char *path, size_t cap)
{
	char sdir[FX_PATH_MAX + 16], src[64], dst[FX_PATH_MAX + 48];
	char cmd[4 * FX_PATH_MAX];
	char *sql;
	size_t len = 0;

	snprintf(sdir, sizeof(sdir), "%s/schema001", t->fx.dir);
	assert_int_equal(mkdir(sdir, 0700), 0);
	snprintf(src, sizeof(src), "schema/001_initial.sql");
	snprintf(dst, sizeof(dst), "%s/001_initial.sql", sdir);
	sql = fx_read_file(src, &len);
	assert_non_null(sql);
	assert_int_equal(fx_write_file(dst, sql, len), 0);
	free(sql);
	snprintf(path, cap, "%s/old.db", t->fx.dir);
	snprintf(cmd, sizeof(cmd), "SCHEMA_DIR='%s' DATABASE_URL='sqlite:///%s' "
	    "ENV_FILE=/dev/null scripts/migrate.sh >/dev/null", sdir, path);
	assert_int_equal(system(cmd), 0);
}

static void test_counters_pending_migration(void **state)
{
	struct st *t = *state;
	struct store *s = NULL;
	struct ids a;
	struct store_grant g;
	char path[FX_PATH_MAX + 16], err[512] = "", version[8];
	int64_t users = -1, tokens = -1;

	make_db_001(t, path, sizeof(path));
	/* Every endpoint still starts on the older schema. */
	assert_int_equal(store_open(&s, DB_SQLITE, path, 2000, err, sizeof(err)), 0);
	assert_int_equal(store_schema_version(s, version), AUTH_OK);
	assert_string_equal(version, "001");
	assert_int_equal(store_counters(s, &users, &tokens), AUTH_EUNAVAIL);
	assert_int_equal(store_counters(s, &users, &tokens), AUTH_EUNAVAIL);
	new_ids(&a);
	g = grant(&a, a.jti, NOW, NOW + 3600);
	assert_int_equal(store_register(s, "old@example.com", "h", &g), AUTH_OK);

	/* Once 002 is applied, the same connection reads the gauges. */
	assert_int_equal(fx_make_db(path), 0);
	assert_int_equal(store_counters(s, &users, &tokens), AUTH_OK);
	assert_int_equal(users, 1);
	assert_int_equal(tokens, 1);
	store_close(s);
}

static void test_close_null(void **state)
{
	(void)state;
	store_close(NULL);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, st_setup, st_teardown)
	const struct CMUnitTest store[] = {
		T(test_open_without_schema),
		T(test_open_missing),
		T(test_register_and_lookup),
		T(test_register_duplicate),
		T(test_register_half_written),
		T(test_register_busy),
		T(test_user_unknown),
		T(test_sql_looking_email),
		T(test_login),
		T(test_set_password),
		T(test_rotate),
		T(test_rotate_replay),
		T(test_rotate_reuse_interval),
		T(test_rotate_reuse_once),
		T(test_rotate_unknown),
		T(test_rotate_expired),
		T(test_rotate_wrong_owner),
		T(test_rotate_revoked_session),
		T(test_me),
		T(test_me_deleted_user),
		T(test_session_revoke),
		T(test_revoke_user),
		T(test_sessions_list),
		T(test_throttle_email),
		T(test_throttle_ip),
		T(test_throttle_kinds),
		T(test_throttle_reset_on_login),
		T(test_schema_version),
		T(test_counters),
		T(test_counters_pending_migration),
		T(test_rotate_batch),
		T(test_rotate_batch_partial),
		T(test_rotate_batch_unavailable),
		T(test_admin_disable_enable),
		T(test_admin_revoke_delete),
		T(test_admin_users),
		cmocka_unit_test(test_close_null),
	};
#undef T

	return cmocka_run_group_tests(store, NULL, NULL);
}
