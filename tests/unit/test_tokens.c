/* test_tokens: token pairs signed, recorded, rotated and checked end to end. */
#include "unit.h"

#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include "b64url.h"
#include "jwt.h"
#include "store.h"
#include "tokens.h"
#include "fixture.h"

struct tt {
	struct fx fx;
	struct jwt_keys *keys;       /* the RSA pair only */
	struct jwt_keys *hkeys;      /* the same pair and a refresh key */
	unsigned char rkey[JWT_HMAC_KEY_LEN];
	struct store *store;
	struct tokens t;
};

/* A random refresh key into x->rkey and dir/refresh.key (0600). */
static int tt_refresh_key(struct tt *x, char *path, size_t cap)
{
	char text[64];
	long n;

	snprintf(path, cap, "%s/refresh.key", x->fx.dir);
	if (RAND_bytes(x->rkey, sizeof(x->rkey)) != 1)
		return -1;
	n = b64url_encode(text, sizeof(text), x->rkey, sizeof(x->rkey));
	if (n < 0)
		return -1;
	text[n++] = '\n';
	return fx_write_file(path, text, (size_t)n);
}

static int tt_setup(void **state)
{
	struct tt *x = calloc(1, sizeof(*x));
	char err[512] = "", rpath[FX_PATH_MAX];

	if (x == NULL || fx_init(&x->fx) != 0)
		goto fail;
	if (fx_make_keys(x->fx.priv, x->fx.pub) != 0 ||
	    tt_refresh_key(x, rpath, sizeof(rpath)) != 0 ||
	    jwt_keys_load(&x->keys, x->fx.priv, x->fx.pub, NULL, err,
	    sizeof(err)) != 0 ||
	    jwt_keys_load(&x->hkeys, x->fx.priv, x->fx.pub, NULL, err,
	    sizeof(err)) != 0 ||
	    jwt_keys_load_hmac(x->hkeys, rpath, 0, NULL, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "keys: %s\n", err);
		goto fail;
	}
	if (fx_make_db(x->fx.db) != 0 ||
	    store_open(&x->store, DB_SQLITE, x->fx.db, 5000, err, sizeof(err)) != 0) {
		fprintf(stderr, "store: %s\n", err);
		goto fail;
	}
	x->t.keys = x->keys;
	x->t.refresh_alg = JWT_ALG_RS256;
	x->t.refresh_algs = tokens_refresh_algs(x->keys);
	x->t.pol.iss = "test-iss";
	x->t.pol.aud = "";
	x->t.pol.skew = 30;
	x->t.store = x->store;
	x->t.access_ttl = 900;
	x->t.refresh_ttl = 3600;
	x->t.reuse_interval = 0;
	*state = x;
	return 0;
fail:
	if (x != NULL) {
		store_close(x->store);
		jwt_keys_free(x->hkeys);
		jwt_keys_free(x->keys);
		fx_fini(&x->fx);
	}
	free(x);
	return -1;
}

static int tt_teardown(void **state)
{
	struct tt *x = *state;

	store_close(x->store);
	jwt_keys_free(x->hkeys);
	jwt_keys_free(x->keys);
	fx_fini(&x->fx);
	free(x);
	return 0;
}

/*
 * Configure x->t as an endpoint would be for REFRESH_TOKEN_SIGNING=alg,
 * with the refresh key configured (hkeys) or not (keys).
 */
static void tt_mode(struct tt *x, enum jwt_alg alg, int with_key)
{
	x->t.keys = with_key ? x->hkeys : x->keys;
	x->t.refresh_alg = alg;
	x->t.refresh_algs = tokens_refresh_algs(x->t.keys);
}

static enum auth_err verify(struct tt *x, const char *tok, enum jwt_typ typ,
    struct jwt_claims *c)
{
	memset(c, 0, sizeof(*c));
	return jwt_verify_algs(x->hkeys, tok, strlen(tok), typ,
	    JWT_ALG_RS256 | JWT_ALG_HS256, &x->t.pol, (long long)time(NULL), c);
}

/* Both tokens of p verify with their own type, for p's user and session. */
static void assert_pair(struct tt *x, const struct tokens_pair *p)
{
	struct jwt_claims a, r;

	assert_int_equal(p->expires_in, 900);
	assert_int_equal(valid_uuid(p->user_id, strlen(p->user_id)), 1);
	assert_int_equal(valid_uuid(p->session_id, strlen(p->session_id)), 1);

	assert_int_equal(verify(x, p->access, JWT_TYP_ACCESS, &a), AUTH_OK);
	assert_int_equal(a.typ, JWT_TYP_ACCESS);
	assert_string_equal(a.sub, p->user_id);
	assert_string_equal(a.sid, p->session_id);
	assert_true(a.exp - a.iat == 900);

	assert_int_equal(verify(x, p->refresh, JWT_TYP_REFRESH, &r), AUTH_OK);
	assert_int_equal(r.typ, JWT_TYP_REFRESH);
	assert_string_equal(r.sub, p->user_id);
	assert_string_equal(r.sid, p->session_id);
	assert_true(r.exp - r.iat == 3600);
	assert_string_not_equal(r.jti, a.jti);

	/* Never the other way round. */
	assert_int_equal(verify(x, p->access, JWT_TYP_REFRESH, &r),
	    AUTH_ETOKEN);
	assert_int_equal(verify(x, p->refresh, JWT_TYP_ACCESS, &a),
	    AUTH_ETOKEN);
}

/* jti of the refresh token of p. */
static void refresh_jti(struct tt *x, const struct tokens_pair *p, char *jti)
{
	struct jwt_claims r;

	assert_int_equal(verify(x, p->refresh, JWT_TYP_REFRESH, &r), AUTH_OK);
	memcpy(jti, r.jti, VALID_UUID_SIZE);
}

static void do_register(struct tt *x, const char *email,
    struct tokens_pair *p)
{
	struct tokens_client cl = { "ua/1", "192.0.2.7", NULL, NULL, 0, NULL };

	memset(p, 0, sizeof(*p));
	assert_int_equal(tokens_register(&x->t, email, "$2b$04$hash", &cl, p),
	    AUTH_OK);
}

static void test_register(void **state)
{
	struct tt *x = *state;
	struct tokens_pair p;
	char id[VALID_UUID_SIZE], hash[PASSWORD_HASH_MAX], jti[VALID_UUID_SIZE];
	char sql[256], buf[128];

	do_register(x, "reg@example.com", &p);
	assert_pair(x, &p);

	/* What was recorded matches what was signed. */
	assert_int_equal(store_user_by_email(x->store, "reg@example.com", id,
	    hash), AUTH_OK);
	assert_string_equal(id, p.user_id);
	refresh_jti(x, &p, jti);
	snprintf(sql, sizeof(sql), "SELECT session_id || '|' || user_id || "
	    "'|' || revoked FROM refresh_tokens WHERE jti = '%s'", jti);
	fx_text(x->fx.db, sql, buf, sizeof(buf));
	snprintf(sql, sizeof(sql), "%s|%s|0", p.session_id, p.user_id);
	assert_string_equal(buf, sql);
	snprintf(sql, sizeof(sql), "SELECT user_agent || '|' || ip FROM "
	    "sessions WHERE id = '%s'", p.session_id);
	fx_text(x->fx.db, sql, buf, sizeof(buf));
	assert_string_equal(buf, "ua/1|192.0.2.7");
}

static void test_register_duplicate(void **state)
{
	struct tt *x = *state;
	struct tokens_pair p, q;

	do_register(x, "twice@example.com", &p);
	memset(&q, 0, sizeof(q));
	assert_int_equal(tokens_register(&x->t, "twice@example.com", "h", NULL,
	    &q), AUTH_EEXISTS);
	assert_int_equal(fx_count(x->fx.db, "users"), 1);
	assert_int_equal(fx_count(x->fx.db, "sessions"), 1);
	assert_int_equal(fx_count(x->fx.db, "refresh_tokens"), 1);
}

static void test_login(void **state)
{
	struct tt *x = *state;
	struct tokens_pair p, q;
	char sql[256];

	do_register(x, "login@example.com", &p);
	memset(&q, 0, sizeof(q));
	/* No client: the session records NULLs. */
	assert_int_equal(tokens_login(&x->t, p.user_id, NULL, &q), AUTH_OK);
	assert_pair(x, &q);
	assert_string_equal(q.user_id, p.user_id);
	assert_string_not_equal(q.session_id, p.session_id);
	assert_int_equal(fx_count(x->fx.db, "sessions"), 2);
	snprintf(sql, sizeof(sql), "SELECT user_agent IS NULL AND ip IS NULL "
	    "FROM sessions WHERE id = '%s'", q.session_id);
	assert_int_equal(fx_int(x->fx.db, sql), 1);
}

static void test_refresh_rotates(void **state)
{
	struct tt *x = *state;
	struct tokens_pair p, q;
	enum store_rotation how = STORE_DEAD;
	char old_jti[VALID_UUID_SIZE], new_jti[VALID_UUID_SIZE], sql[256];
	char buf[64];

	do_register(x, "refresh@example.com", &p);
	refresh_jti(x, &p, old_jti);
	memset(&q, 0, sizeof(q));
	assert_int_equal(tokens_refresh(&x->t, p.refresh, strlen(p.refresh),
	    &q, &how), AUTH_OK);
	assert_int_equal(how, STORE_ROTATED);
	assert_pair(x, &q);
	assert_string_equal(q.user_id, p.user_id);
	assert_string_equal(q.session_id, p.session_id);
	assert_string_not_equal(q.refresh, p.refresh);
	refresh_jti(x, &q, new_jti);
	assert_string_not_equal(new_jti, old_jti);
	snprintf(sql, sizeof(sql), "SELECT replaced_by FROM refresh_tokens "
	    "WHERE jti = '%s' AND revoked = 1", old_jti);
	fx_text(x->fx.db, sql, buf, sizeof(buf));
	assert_string_equal(buf, new_jti);

	/* The new refresh token rotates in turn. */
	{
		struct tokens_pair r;

		assert_int_equal(tokens_refresh(&x->t, q.refresh,
		    strlen(q.refresh), &r, &how), AUTH_OK);
		assert_int_equal(how, STORE_ROTATED);
		assert_string_equal(r.session_id, p.session_id);
	}
}

static void test_refresh_replay(void **state)
{
	struct tt *x = *state;
	struct tokens_pair p, q, r, other;
	struct jwt_claims c;
	enum store_rotation how = STORE_DEAD;
	char email[VALID_EMAIL_MAX + 1];

	do_register(x, "replay@example.com", &p);
	do_register(x, "bystander@example.com", &other);
	assert_int_equal(tokens_refresh(&x->t, p.refresh, strlen(p.refresh),
	    &q, &how), AUTH_OK);
	assert_int_equal(how, STORE_ROTATED);
	assert_int_equal(tokens_check_access(&x->t, q.access, strlen(q.access),
	    (long long)time(NULL), &c, email), AUTH_OK);

	/* The rotated token again: a replay, the session dies. */
	how = STORE_ROTATED;
	assert_int_equal(tokens_refresh(&x->t, p.refresh, strlen(p.refresh),
	    &r, &how), AUTH_EREVOKED);
	assert_int_equal(how, STORE_REPLAY);

	/* The newest refresh token of the session is dead too. */
	how = STORE_ROTATED;
	assert_int_equal(tokens_refresh(&x->t, q.refresh, strlen(q.refresh),
	    &r, &how), AUTH_EREVOKED);
	assert_int_equal(how, STORE_DEAD);

	/* So are the session's access tokens, old and new. */
	assert_int_equal(tokens_check_access(&x->t, q.access, strlen(q.access),
	    (long long)time(NULL), &c, email), AUTH_ETOKEN);
	assert_int_equal(tokens_check_access(&x->t, p.access, strlen(p.access),
	    (long long)time(NULL), &c, email), AUTH_ETOKEN);

	/* Another user's session is unaffected. */
	assert_int_equal(tokens_check_access(&x->t, other.access,
	    strlen(other.access), (long long)time(NULL), &c, email), AUTH_OK);
	assert_string_equal(email, "bystander@example.com");
	assert_int_equal(tokens_refresh(&x->t, other.refresh,
	    strlen(other.refresh), &r, &how), AUTH_OK);
	assert_int_equal(how, STORE_ROTATED);
}

static void test_refresh_reuse_interval(void **state)
{
	struct tt *x = *state;
	struct tokens_pair p, q, r;
	enum store_rotation how = STORE_DEAD;

	x->t.reuse_interval = 60;
	do_register(x, "reuse@example.com", &p);
	assert_int_equal(tokens_refresh(&x->t, p.refresh, strlen(p.refresh),
	    &q, &how), AUTH_OK);
	assert_int_equal(how, STORE_ROTATED);
	assert_int_equal(tokens_refresh(&x->t, p.refresh, strlen(p.refresh),
	    &r, &how), AUTH_OK);
	assert_int_equal(how, STORE_REUSED);
	assert_pair(x, &r);
	assert_string_equal(r.session_id, p.session_id);
	assert_string_not_equal(r.refresh, q.refresh);
}

static void test_refresh_bad_tokens(void **state)
{
	struct tt *x = *state;
	struct tokens_pair p, q;
	enum store_rotation how = STORE_ROTATED;
	static const char garbage[] = "not.a.token";
	char tampered[JWT_MAX_LEN + 1];
	size_t n;

	do_register(x, "bad@example.com", &p);

	/* An access token is not a refresh token. */
	assert_int_equal(tokens_refresh(&x->t, p.access, strlen(p.access), &q,
	    &how), AUTH_ETOKEN);
	assert_int_equal(how, STORE_DEAD);
	how = STORE_ROTATED;
	assert_int_equal(tokens_refresh(&x->t, garbage, strlen(garbage), &q,
	    &how), AUTH_ETOKEN);
	assert_int_equal(how, STORE_DEAD);
	assert_int_equal(tokens_refresh(&x->t, "", 0, &q, &how), AUTH_ETOKEN);

	/* A flipped signature byte. */
	n = strlen(p.refresh);
	memcpy(tampered, p.refresh, n + 1);
	tampered[n - 2] = tampered[n - 2] == 'A' ? 'B' : 'A';
	assert_int_equal(tokens_refresh(&x->t, tampered, n, &q, &how),
	    AUTH_ETOKEN);

	/* Another issuer's policy does not accept our tokens. */
	x->t.pol.iss = "someone-else";
	assert_int_equal(tokens_refresh(&x->t, p.refresh, strlen(p.refresh),
	    &q, &how), AUTH_ETOKEN);
	x->t.pol.iss = "test-iss";

	/* None of that touched the session: the real token still rotates. */
	assert_int_equal(tokens_refresh(&x->t, p.refresh, strlen(p.refresh),
	    &q, &how), AUTH_OK);
	assert_int_equal(how, STORE_ROTATED);
	assert_int_equal(fx_count(x->fx.db, "refresh_tokens"), 2);
}

static void test_check_access(void **state)
{
	struct tt *x = *state;
	struct tokens_pair p;
	struct jwt_claims c;
	char email[VALID_EMAIL_MAX + 1] = "";
	char sql[128];
	long long now = (long long)time(NULL);

	do_register(x, "check@example.com", &p);
	assert_int_equal(tokens_check_access(&x->t, p.access, strlen(p.access),
	    now, &c, email), AUTH_OK);
	assert_string_equal(email, "check@example.com");
	assert_string_equal(c.sub, p.user_id);
	assert_string_equal(c.sid, p.session_id);
	assert_int_equal(c.typ, JWT_TYP_ACCESS);

	/* A refresh token is not an access token. */
	assert_int_equal(tokens_check_access(&x->t, p.refresh,
	    strlen(p.refresh), now, &c, email), AUTH_ETOKEN);
	assert_int_equal(tokens_check_access(&x->t, "garbage", 7, now, &c,
	    email), AUTH_ETOKEN);

	/* A user deleted behind the service's back (sqlite3 by hand, no
	 * epoch bump): refused from the next second on. */
	snprintf(sql, sizeof(sql), "DELETE FROM users WHERE id = '%s'",
	    p.user_id);
	assert_int_equal(fx_exec(x->fx.db, sql), SQLITE_OK);
	assert_int_equal(tokens_check_access(&x->t, p.access, strlen(p.access),
	    now + 1, &c, email), AUTH_ETOKEN);
}

/* Count the slots in use. */
static size_t slots_used(const struct tokens *t)
{
	size_t i, n = 0;

	for (i = 0; i < TOKENS_CACHE_SLOTS; i++)
		n += (size_t)t->cache[i].used;
	return n;
}

/* The verified-token cache: a hit still checks expiry; the session answer
 * stands until a commit moves the epoch, or the second ends. */
static void test_check_access_cache(void **state)
{
	struct tt *x = *state;
	struct tokens_pair p;
	struct jwt_claims c;
	char email[VALID_EMAIL_MAX + 1] = "", forged[JWT_MAX_LEN + 1];
	char sql[160];
	long long now = (long long)time(NULL);
	size_t n;

	x->t.access_ttl = 1;
	x->t.pol.skew = 0;
	do_register(x, "cache@example.com", &p);
	n = strlen(p.access);
	assert_int_equal(tokens_check_access(&x->t, p.access, n, now, &c, email),
	    AUTH_OK);
	assert_int_equal(slots_used(&x->t), 1);
	/* Second time from the cache: same claims, same email. */
	memset(&c, 0, sizeof(c));
	memset(email, 0, sizeof(email));
	assert_int_equal(tokens_check_access(&x->t, p.access, n, now, &c, email),
	    AUTH_OK);
	assert_string_equal(c.sub, p.user_id);
	assert_string_equal(c.sid, p.session_id);
	assert_string_equal(email, "cache@example.com");
	/* One byte of signature changed is another token: verified, refused. */
	memcpy(forged, p.access, n + 1);
	forged[n - 2] = forged[n - 2] == 'A' ? 'B' : 'A';
	assert_int_equal(tokens_check_access(&x->t, forged, n, now, &c, email),
	    AUTH_ETOKEN);
	/* Revoked by hand, without the epoch: the answer read this second
	 * stands to its end (the cache is in use), not a second longer. */
	snprintf(sql, sizeof(sql), "UPDATE sessions SET revoked = 1 WHERE id = '%s'",
	    p.session_id);
	assert_int_equal(fx_exec(x->fx.db, sql), SQLITE_OK);
	assert_int_equal(tokens_check_access(&x->t, p.access, n, now, &c, email),
	    AUTH_OK);
	assert_int_equal(tokens_check_access(&x->t, p.access, n, now + 1, &c,
	    email), AUTH_ETOKEN);
	snprintf(sql, sizeof(sql), "UPDATE sessions SET revoked = 0 WHERE id = '%s'",
	    p.session_id);
	assert_int_equal(fx_exec(x->fx.db, sql), SQLITE_OK);
	/* Live again, but past its exp (TTL 1 s, no skew): refused. */
	assert_int_equal(tokens_check_access(&x->t, p.access, n, now + 2, &c,
	    email), AUTH_ETOKEN);
}

/* Revocations through the service move the epoch: a cached answer is
 * dropped at once, whichever connection (process) revoked. */
static void test_check_access_epoch(void **state)
{
	struct tt *x = *state;
	struct tokens_pair p, q;
	struct jwt_claims c;
	struct store *other = NULL;
	char email[VALID_EMAIL_MAX + 1], err[256];
	long long now = (long long)time(NULL);
	uint64_t before = 0, after = 0;

	do_register(x, "epoch1@example.com", &p);
	do_register(x, "epoch2@example.com", &q);
	assert_int_equal(tokens_check_access(&x->t, p.access, strlen(p.access),
	    now, &c, email), AUTH_OK);
	assert_int_equal(tokens_check_access(&x->t, q.access, strlen(q.access),
	    now, &c, email), AUTH_OK);

	/* This process logs p's session out. */
	assert_int_equal(store_epoch(x->t.store, &before), 0);
	assert_int_equal(tokens_logout(&x->t, p.refresh, strlen(p.refresh), &c),
	    AUTH_OK);
	assert_int_equal(store_epoch(x->t.store, &after), 0);
	assert_true(after > before);
	assert_int_equal(tokens_check_access(&x->t, p.access, strlen(p.access),
	    now, &c, email), AUTH_ETOKEN);

	/* Another connection to the same file revokes q's session. */
	assert_int_equal(store_open(&other, DB_SQLITE, x->fx.db, 1000, err, sizeof(err)),
	    0);
	assert_int_equal(store_session_revoke(other, q.user_id, q.session_id,
	    now), AUTH_OK);
	store_close(other);
	assert_int_equal(tokens_check_access(&x->t, q.access, strlen(q.access),
	    now, &c, email), AUTH_ETOKEN);
}

static void test_pair_json(void **state)
{
	struct tt *x = *state;
	struct tokens_pair p;
	struct json_object *o, *v;
	char buf[2 * JWT_MAX_LEN + 128];
	long n;

	do_register(x, "json@example.com", &p);
	n = tokens_pair_json(&p, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(buf));
	o = json_tokener_parse(buf);
	assert_non_null(o);
	assert_true(json_object_is_type(o, json_type_object));
	assert_int_equal(json_object_object_length(o), 4);
	assert_true(json_object_object_get_ex(o, "access_token", &v));
	assert_true(json_object_is_type(v, json_type_string));
	assert_string_equal(json_object_get_string(v), p.access);
	assert_true(json_object_object_get_ex(o, "refresh_token", &v));
	assert_true(json_object_is_type(v, json_type_string));
	assert_string_equal(json_object_get_string(v), p.refresh);
	assert_true(json_object_object_get_ex(o, "token_type", &v));
	assert_true(json_object_is_type(v, json_type_string));
	assert_string_equal(json_object_get_string(v), "bearer");
	assert_true(json_object_object_get_ex(o, "expires_in", &v));
	assert_true(json_object_is_type(v, json_type_int));
	assert_int_equal(json_object_get_int64(v), 900);
	json_object_put(o);

	/* Exactly enough room (with the NUL) works; one byte less does not. */
	assert_int_equal(tokens_pair_json(&p, buf, (size_t)n + 1), n);
	assert_int_equal(tokens_pair_json(&p, buf, (size_t)n), -1);
	assert_int_equal(tokens_pair_json(&p, buf, 16), -1);
}

/* ---- REFRESH_TOKEN_SIGNING ---- */

/* The header member name of tok (a string) into out. */
static void header_str(const char *tok, const char *name, char *out,
    size_t cap)
{
	unsigned char raw[512];
	const char *dot = strchr(tok, '.');
	struct json_object *h, *v = NULL;
	long n;

	assert_non_null(dot);
	n = b64url_decode(raw, sizeof(raw) - 1, tok, (size_t)(dot - tok));
	assert_true(n > 0);
	raw[n] = '\0';
	h = json_tokener_parse((const char *)raw);
	assert_non_null(h);
	assert_true(json_object_object_get_ex(h, name, &v));
	snprintf(out, cap, "%s", json_object_get_string(v));
	json_object_put(h);
}

static void assert_algs(const struct tokens_pair *p, const char *access,
    const char *refresh)
{
	char alg[16];

	header_str(p->access, "alg", alg, sizeof(alg));
	assert_string_equal(alg, access);
	header_str(p->refresh, "alg", alg, sizeof(alg));
	assert_string_equal(alg, refresh);
}

/* An HS256 token of type typ ("at+jwt", "rt+jwt") with claims c, MACed
 * with the refresh key under its kid: what only a key holder can make. */
static void forge_hs256(struct tt *x, const char *typ,
    const struct jwt_claims *c, char *out, size_t cap)
{
	char hdr[160], pl[512];
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	long n, m;
	int hl, pln;

	hl = snprintf(hdr, sizeof(hdr),
	    "{\"alg\":\"HS256\",\"typ\":\"%s\",\"kid\":\"%s\"}", typ,
	    jwt_keys_hmac_kid(x->hkeys, 0));
	pln = snprintf(pl, sizeof(pl), "{\"iss\":\"test-iss\",\"sub\":\"%s\","
	    "\"iat\":%lld,\"exp\":%lld,\"jti\":\"%s\",\"sid\":\"%s\"}", c->sub,
	    c->iat, c->exp, c->jti, c->sid);
	assert_true(hl > 0 && pln > 0);
	n = b64url_encode(out, cap, (const unsigned char *)hdr, (size_t)hl);
	assert_true(n > 0);
	out[n++] = '.';
	m = b64url_encode(out + n, cap - (size_t)n, (const unsigned char *)pl,
	    (size_t)pln);
	assert_true(m > 0);
	n += m;
	assert_non_null(HMAC(EVP_sha256(), x->rkey, sizeof(x->rkey),
	    (const unsigned char *)out, (size_t)n, mac, &maclen));
	out[n++] = '.';
	assert_true(b64url_encode(out + n, cap - (size_t)n, mac, maclen) > 0);
}

static void test_refresh_algs_per_mode(void **state)
{
	struct tt *x = *state;

	/* Whatever REFRESH_TOKEN_SIGNING says, the keys decide. */
	assert_int_equal(tokens_refresh_algs(x->keys), JWT_ALG_RS256);
	assert_int_equal(tokens_refresh_algs(x->hkeys),
	    JWT_ALG_RS256 | JWT_ALG_HS256);
	tt_mode(x, JWT_ALG_HS256, 1);
	assert_int_equal(x->t.refresh_algs, JWT_ALG_RS256 | JWT_ALG_HS256);
	tt_mode(x, JWT_ALG_RS256, 1);
	assert_int_equal(x->t.refresh_algs, JWT_ALG_RS256 | JWT_ALG_HS256);
	tt_mode(x, JWT_ALG_RS256, 0);
	assert_int_equal(x->t.refresh_algs, JWT_ALG_RS256);
}

static void test_hs256_pairs(void **state)
{
	struct tt *x = *state;
	struct tokens_pair p, q, r;
	struct jwt_claims c;
	enum store_rotation how = STORE_DEAD;
	char kid[JWT_HMAC_KID_SIZE], email[VALID_EMAIL_MAX + 1];

	tt_mode(x, JWT_ALG_HS256, 1);
	do_register(x, "hs@example.com", &p);
	assert_pair(x, &p);
	assert_algs(&p, "RS256", "HS256");
	header_str(p.refresh, "kid", kid, sizeof(kid));
	assert_string_equal(kid, jwt_keys_hmac_kid(x->hkeys, 0));
	/* The access token is what other services verify: RS256, public. */
	assert_int_equal(jwt_verify(x->keys, p.access, strlen(p.access),
	    JWT_TYP_ACCESS, &x->t.pol, (long long)time(NULL), &c), AUTH_OK);
	assert_int_equal(tokens_check_access(&x->t, p.access, strlen(p.access),
	    (long long)time(NULL), &c, email), AUTH_OK);

	assert_int_equal(tokens_login(&x->t, p.user_id, NULL, &q), AUTH_OK);
	assert_algs(&q, "RS256", "HS256");
	assert_int_equal(tokens_refresh(&x->t, p.refresh, strlen(p.refresh),
	    &r, &how), AUTH_OK);
	assert_int_equal(how, STORE_ROTATED);
	assert_pair(x, &r);
	assert_algs(&r, "RS256", "HS256");
	/* Replay of an HS256 token is a replay like any other. */
	assert_int_equal(tokens_refresh(&x->t, p.refresh, strlen(p.refresh),
	    &r, &how), AUTH_EREVOKED);
	assert_int_equal(how, STORE_REPLAY);
	/* Logout reads HS256 refresh tokens. */
	assert_int_equal(tokens_logout(&x->t, q.refresh, strlen(q.refresh), &c),
	    AUTH_OK);
	assert_string_equal(c.sid, q.session_id);
	assert_int_equal(tokens_refresh(&x->t, q.refresh, strlen(q.refresh),
	    &r, &how), AUTH_EREVOKED);
}

/* Tokens of the previous setting rotate and log out after a switch. */
static void test_switch_rs256_to_hs256(void **state)
{
	struct tt *x = *state;
	struct tokens_pair p, q, r;
	struct jwt_claims c;
	enum store_rotation how = STORE_DEAD;
	char email[VALID_EMAIL_MAX + 1];

	tt_mode(x, JWT_ALG_RS256, 0);
	do_register(x, "before@example.com", &p);
	do_register(x, "before2@example.com", &q);
	assert_algs(&p, "RS256", "RS256");

	tt_mode(x, JWT_ALG_HS256, 1);
	assert_int_equal(tokens_refresh(&x->t, p.refresh, strlen(p.refresh),
	    &r, &how), AUTH_OK);
	assert_int_equal(how, STORE_ROTATED);
	assert_algs(&r, "RS256", "HS256");
	assert_string_equal(r.session_id, p.session_id);
	/* The successor rotates in its turn. */
	assert_int_equal(tokens_refresh(&x->t, r.refresh, strlen(r.refresh),
	    &r, &how), AUTH_OK);
	assert_int_equal(tokens_logout(&x->t, q.refresh, strlen(q.refresh), &c),
	    AUTH_OK);
	assert_int_equal(tokens_check_access(&x->t, p.access, strlen(p.access),
	    (long long)time(NULL), &c, email), AUTH_OK);
}

static void test_switch_hs256_to_rs256(void **state)
{
	struct tt *x = *state;
	struct tokens_pair p, q, s, r;
	struct jwt_claims c;
	enum store_rotation how = STORE_DEAD;

	tt_mode(x, JWT_ALG_HS256, 1);
	do_register(x, "hs1@example.com", &p);
	do_register(x, "hs2@example.com", &q);
	do_register(x, "hs3@example.com", &s);

	/* Back to rs256, the refresh key still configured. */
	tt_mode(x, JWT_ALG_RS256, 1);
	assert_int_equal(tokens_refresh(&x->t, p.refresh, strlen(p.refresh),
	    &r, &how), AUTH_OK);
	assert_algs(&r, "RS256", "RS256");
	assert_int_equal(tokens_logout(&x->t, q.refresh, strlen(q.refresh), &c),
	    AUTH_OK);

	/* Without the key, HS256 is not accepted: refused as a bad token,
	 * the session untouched. */
	tt_mode(x, JWT_ALG_RS256, 0);
	how = STORE_ROTATED;
	assert_int_equal(tokens_refresh(&x->t, s.refresh, strlen(s.refresh),
	    &r, &how), AUTH_ETOKEN);
	assert_int_equal(how, STORE_DEAD);
	assert_int_equal(tokens_logout(&x->t, s.refresh, strlen(s.refresh), &c),
	    AUTH_ETOKEN);
	tt_mode(x, JWT_ALG_RS256, 1);
	assert_int_equal(tokens_refresh(&x->t, s.refresh, strlen(s.refresh),
	    &r, &how), AUTH_OK);
	assert_int_equal(how, STORE_ROTATED);
}

/* No HS256 token ever passes as an access token, even MACed right. */
static void test_access_never_hs256(void **state)
{
	struct tt *x = *state;
	struct tokens_pair p, r;
	struct jwt_claims c, rc;
	enum store_rotation how = STORE_DEAD;
	char email[VALID_EMAIL_MAX + 1], tok[JWT_MAX_LEN + 1];
	long long now = (long long)time(NULL);

	tt_mode(x, JWT_ALG_HS256, 1);
	do_register(x, "noconf@example.com", &p);
	assert_int_equal(verify(x, p.refresh, JWT_TYP_REFRESH, &rc), AUTH_OK);

	/* The user's live session, as an access token MACed with the
	 * refresh key. */
	c = rc;
	c.iat = now;
	c.exp = now + 900;
	assert_int_equal(valid_uuid_new(c.jti), 0);
	forge_hs256(x, "at+jwt", &c, tok, sizeof(tok));
	assert_int_equal(tokens_check_access(&x->t, tok, strlen(tok), now, &c,
	    email), AUTH_ETOKEN);
	/* The real HS256 refresh token as a bearer token. */
	assert_int_equal(tokens_check_access(&x->t, p.refresh,
	    strlen(p.refresh), now, &c, email), AUTH_ETOKEN);
	/* Control: the forger is right; as a refresh token of that jti, the
	 * same construction rotates. */
	forge_hs256(x, "rt+jwt", &rc, tok, sizeof(tok));
	assert_int_equal(tokens_refresh(&x->t, tok, strlen(tok), &r, &how),
	    AUTH_OK);
	assert_int_equal(how, STORE_ROTATED);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, tt_setup, tt_teardown)
	const struct CMUnitTest tokens[] = {
		T(test_register),
		T(test_register_duplicate),
		T(test_login),
		T(test_refresh_rotates),
		T(test_refresh_replay),
		T(test_refresh_reuse_interval),
		T(test_refresh_bad_tokens),
		T(test_check_access),
		T(test_check_access_cache),
		T(test_check_access_epoch),
		T(test_pair_json),
		T(test_refresh_algs_per_mode),
		T(test_hs256_pairs),
		T(test_switch_rs256_to_hs256),
		T(test_switch_hs256_to_rs256),
		T(test_access_never_hs256),
	};
#undef T

	return cmocka_run_group_tests(tokens, NULL, NULL);
}
