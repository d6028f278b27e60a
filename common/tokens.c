/*
 * tokens: every token pair is signed here and recorded through store,
 * refresh rotation included. Signing (the expensive part) happens before
 * the write transaction, so concurrent processes sign in parallel and
 * hold the database lock only for a few row writes.
 */
#include "tokens.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"

/*
 * Sign an access/refresh pair of session sid with refresh id jti, for a
 * session authenticated by amr (JWT_AMR_* bits).
 */
static enum auth_err tokens_sign_pair(struct tokens *t, const char *sub,
    const char *sid, const char *jti, long long now, unsigned amr,
    struct tokens_pair *out)
{
	struct jwt_claims c;

	memset(&c, 0, sizeof(c));
	c.typ = JWT_TYP_ACCESS;
	c.amr = amr;
	memcpy(c.sub, sub, VALID_UUID_SIZE);
	memcpy(c.sid, sid, VALID_UUID_SIZE);
	c.iat = now;
	c.exp = now + t->access_ttl;
	if (valid_uuid_new(c.jti) != 0 ||
	    jwt_sign(t->keys, &c, &t->pol, out->access, sizeof(out->access)) < 0)
		return AUTH_EINTERNAL;
	c.typ = JWT_TYP_REFRESH;
	c.exp = now + t->refresh_ttl;
	memcpy(c.jti, jti, VALID_UUID_SIZE);
	if (jwt_sign_alg(t->keys, t->refresh_alg, &c, &t->pol, out->refresh,
	    sizeof(out->refresh)) < 0)
		return AUTH_EINTERNAL;
	memcpy(out->user_id, sub, VALID_UUID_SIZE);
	memcpy(out->session_id, sid, VALID_UUID_SIZE);
	out->expires_in = t->access_ttl;
	return AUTH_OK;
}

/*
 * A new refresh id (into jti), the signed pair of session sid, and the
 * store grant that records it: what every issuing path shares.
 */
static enum auth_err tokens_issue(struct tokens *t, const char *sub,
    const char *sid, long long now, unsigned amr,
    const struct tokens_client *cl, struct tokens_pair *out,
    struct store_grant *g, char *jti)
{
	enum auth_err rc;

	if (valid_uuid_new(jti) != 0)
		return AUTH_EINTERNAL;
	rc = tokens_sign_pair(t, sub, sid, jti, now, amr, out);
	if (rc != AUTH_OK)
		return rc;
	memset(g, 0, sizeof(*g));
	g->user_id = out->user_id;
	g->session_id = out->session_id;
	g->jti = jti;
	g->now = now;
	g->expires_at = now + t->refresh_ttl;
	g->user_agent = cl ? cl->user_agent : NULL;
	g->ip = cl ? cl->ip : NULL;
	g->email = cl ? cl->email : NULL;
	g->refund_ip = cl ? cl->refund_ip : NULL;
	g->mfa = cl ? cl->mfa : NULL;
	return AUTH_OK;
}

/* Ids, signatures and the store grant for a brand-new session. */
static enum auth_err tokens_new_session(struct tokens *t, const char *user_id,
    const struct tokens_client *cl, struct tokens_pair *out,
    struct store_grant *g, char *jti)
{
	char sid[VALID_UUID_SIZE];

	if (valid_uuid_new(sid) != 0)
		return AUTH_EINTERNAL;
	return tokens_issue(t, user_id, sid, (long long)time(NULL),
	    cl ? cl->amr : 0, cl, out, g, jti);
}

enum auth_err tokens_register(struct tokens *t, const char *email,
    const char *hash, const struct tokens_client *cl, struct tokens_pair *out)
{
	struct store_grant g;
	char user_id[VALID_UUID_SIZE], jti[VALID_UUID_SIZE];
	enum auth_err rc;

	if (valid_uuid_new(user_id) != 0)
		return AUTH_EINTERNAL;
	rc = tokens_new_session(t, user_id, cl, out, &g, jti);
	if (rc != AUTH_OK)
		return rc;
	return store_register(t->store, email, hash, &g);
}

enum auth_err tokens_login(struct tokens *t, const char *user_id,
    const struct tokens_client *cl, struct tokens_pair *out)
{
	struct store_grant g;
	char jti[VALID_UUID_SIZE];
	enum auth_err rc;

	rc = tokens_new_session(t, user_id, cl, out, &g, jti);
	if (rc != AUTH_OK)
		return rc;
	return store_login(t->store, &g);
}

enum auth_err tokens_refresh(struct tokens *t, const char *token, size_t len,
    struct tokens_pair *out, enum store_rotation *how)
{
	struct jwt_claims old;
	struct store_grant g;
	char jti[VALID_UUID_SIZE];
	long long now = (long long)time(NULL);
	enum auth_err rc;

	*how = STORE_DEAD;
	rc = jwt_verify_algs(t->keys, token, len, JWT_TYP_REFRESH,
	    t->refresh_algs, &t->pol, now, &old);
	if (rc != AUTH_OK)
		return rc;
	/* The session's methods ride on its refresh tokens (jwt.h). */
	rc = tokens_issue(t, old.sub, old.sid, now, old.amr, NULL, out, &g, jti);
	if (rc != AUTH_OK)
		return rc;
	rc = t->batch != NULL ?
	    batch_rotate(t->batch, old.jti, &g, t->reuse_interval, how) :
	    store_rotate(t->store, old.jti, &g, t->reuse_interval, how);
	if (rc != AUTH_OK)
		return rc;
	if (*how == STORE_REPLAY)
		log_event(LOG_WARN, "refresh_replay", LOG_STR("user_id", old.sub),
		    LOG_STR("session_id", old.sid));
	if (*how != STORE_ROTATED && *how != STORE_REUSED)
		return AUTH_EREVOKED;
	return AUTH_OK;
}

/* Verify an access token (RS256 only, whatever signs refresh tokens),
 * through the per-process cache of verified ones; on success *slotp is
 * the token's slot. */
static enum auth_err tokens_verify_access(struct tokens *t, const char *token,
    size_t len, long long now, struct jwt_claims *claims,
    struct tokens_cache_slot **slotp)
{
	unsigned char digest[JWT_SHA256_LEN];
	struct tokens_cache_slot *slot;
	enum auth_err rc;

	if (len == 0 || len > JWT_MAX_LEN ||
	    jwt_sha256(t->keys, token, len, digest) != 0)
		return AUTH_ETOKEN;
	slot = &t->cache[digest[0] % TOKENS_CACHE_SLOTS];
	if (slot->used && CRYPTO_memcmp(slot->digest, digest, sizeof(digest)) == 0) {
		/* The same time checks jwt_verify makes; the rest cannot change. */
		if (now >= slot->claims.exp + t->pol.skew ||
		    slot->claims.iat > now + t->pol.skew)
			return AUTH_ETOKEN;
		*claims = slot->claims;
		*slotp = slot;
		return AUTH_OK;
	}
	rc = jwt_verify(t->keys, token, len, JWT_TYP_ACCESS, &t->pol, now, claims);
	if (rc == AUTH_OK) {
		memcpy(slot->digest, digest, sizeof(digest));
		slot->claims = *claims;
		slot->used = 1;
		slot->live = 0;
		*slotp = slot;
	}
	return rc;
}

enum auth_err tokens_check_access(struct tokens *t, const char *token,
    size_t len, long long now, struct jwt_claims *claims, char *email)
{
	struct tokens_cache_slot *slot = NULL;
	uint64_t epoch = 0;
	enum auth_err rc;
	int cacheable;

	rc = tokens_verify_access(t, token, len, now, claims, &slot);
	if (rc != AUTH_OK)
		return rc;
	t->last = slot;
	/* The epoch is read before the database: a write committed between
	 * the two moves it past what the slot records. */
	cacheable = store_epoch(t->store, &epoch) == 0;
	if (cacheable && slot->live && slot->epoch == epoch &&
	    slot->checked == now) {
		memcpy(email, slot->email, sizeof(slot->email));
		return AUTH_OK;
	}
	rc = store_me(t->store, claims->sub, claims->sid, email);
	slot->live = rc == AUTH_OK && cacheable;
	slot->verified_known = 0;
	if (slot->live) {
		memcpy(slot->email, email, sizeof(slot->email));
		slot->epoch = epoch;
		slot->checked = now;
	}
	return rc;
}

enum auth_err tokens_account_flags(struct tokens *t, const char *user_id,
    int *verified, int *mfa)
{
	struct tokens_cache_slot *slot = t->last;
	struct store_account acc;
	struct store_mfa m;
	enum auth_err rc;
	int ours = slot != NULL && slot->live &&
	    strcmp(slot->claims.sub, user_id) == 0;

	if (ours && slot->verified_known) {
		*verified = slot->verified;
		*mfa = slot->mfa;
		return AUTH_OK;
	}
	*verified = *mfa = 0;
	rc = store_account(t->store, user_id, &acc);
	if (rc == AUTH_OK)
		rc = store_mfa_get(t->store, user_id, &m);
	if (rc != AUTH_OK)
		return rc;
	*verified = acc.email_verified != 0;
	*mfa = m.state == STORE_MFA_ENABLED;
	OPENSSL_cleanse(m.secret, sizeof(m.secret));
	if (ours) {
		slot->verified = *verified;
		slot->mfa = *mfa;
		slot->verified_known = 1;
	}
	return AUTH_OK;
}

enum auth_err tokens_mfa_challenge(struct tokens *t, const char *user_id,
    char *out)
{
	struct jwt_claims c;
	long long now = (long long)time(NULL);

	memset(&c, 0, sizeof(c));
	c.typ = JWT_TYP_MFA;
	memcpy(c.sub, user_id, VALID_UUID_SIZE);
	c.iat = now;
	c.exp = now + TOKENS_MFA_TTL;
	if (valid_uuid_new(c.jti) != 0 ||
	    jwt_sign(t->keys, &c, &t->pol, out, JWT_MAX_LEN + 1) < 0)
		return AUTH_EINTERNAL;
	return store_mfa_challenge(t->store, user_id, c.jti, c.exp);
}

enum auth_err tokens_mfa_check(struct tokens *t, const char *token,
    size_t len, struct jwt_claims *claims)
{
	return jwt_verify(t->keys, token, len, JWT_TYP_MFA, &t->pol,
	    (long long)time(NULL), claims);
}

enum auth_err tokens_logout(struct tokens *t, const char *token, size_t len,
    struct jwt_claims *claims)
{
	long long now = (long long)time(NULL);
	enum auth_err rc;

	rc = jwt_verify_algs(t->keys, token, len, JWT_TYP_REFRESH,
	    t->refresh_algs, &t->pol, now, claims);
	if (rc != AUTH_OK)
		return rc;
	rc = store_session_revoke(t->store, claims->sub, claims->sid, now);
	return rc == AUTH_ENOTFOUND ? AUTH_OK : rc;
}

unsigned tokens_refresh_algs(const struct jwt_keys *keys)
{
	return JWT_ALG_RS256 |
	    (jwt_keys_hmac_count(keys) > 0 ? JWT_ALG_HS256 : 0u);
}

long tokens_pair_json(const struct tokens_pair *p, char *out, size_t cap)
{
	/* Both tokens are base64url and dots: nothing to escape. */
	int n = snprintf(out, cap,
	    "{\"access_token\":\"%s\",\"refresh_token\":\"%s\","
	    "\"token_type\":\"bearer\",\"expires_in\":%ld}",
	    p->access, p->refresh, p->expires_in);

	if (n < 0 || (size_t)n >= cap)
		return -1;
	return n;
}
