/* test_store: users, sessions and refresh-token rotation over a real database. */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	if (store_open(&t->store, t->fx.db, 5000, err, sizeof(err)) != 0) {
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

static void test_open_without_schema(void **state)
{
	struct st *t = *state;
	struct store *s = (struct store *)(uintptr_t)1;
	char path[FX_PATH_MAX + 16], err[512] = "";

	snprintf(path, sizeof(path), "%s/empty.db", t->fx.dir);
	assert_int_equal(fx_write_file(path, "", 0), 0);
	assert_int_equal(store_open(&s, path, 50, err, sizeof(err)), -1);
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
	assert_int_equal(store_open(&s, path, 50, err, sizeof(err)), -1);
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
	assert_int_equal(session_col(t, ids.sid, "last_used_at"), NOW);
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

	assert_int_equal(store_open(&s, t->fx.db, 50, err, sizeof(err)), 0);
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

	/* Login for a user that does not exist is refused, nothing written. */
	new_ids(&b);
	g = grant(&b, b.jti, NOW, NOW + 3600);
	assert_int_equal(store_login(t->store, &g), AUTH_EINTERNAL);
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
	assert_int_equal(session_col(t, a.sid, "last_used_at"), NOW + 5);
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
	assert_int_equal(session_col(t, a.sid, "last_used_at"), NOW + 5 + 59);
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
		T(test_rotate_unknown),
		T(test_rotate_expired),
		T(test_rotate_wrong_owner),
		T(test_rotate_revoked_session),
		T(test_me),
		T(test_me_deleted_user),
		cmocka_unit_test(test_close_null),
	};
#undef T

	return cmocka_run_group_tests(store, NULL, NULL);
}
