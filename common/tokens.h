/* tokens: issue, rotate and check token pairs; the only module joining jwt and store. */
#ifndef AUTH_TOKENS_H
#define AUTH_TOKENS_H

#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "err.h"
#include "jwt.h"
#include "store.h"
#include "valid.h"

/*
 * Access tokens this process verified, by SHA-256 of the token: a client
 * presents the same token for its whole lifetime, and its signature and
 * claims cannot change, so only its expiry needs checking again. Keys and
 * policy are fixed for the life of the process (a reload re-executes it).
 *
 * A slot also keeps the database's answer that the token's session lives
 * (and its user's email), with the database epoch it was read at: it
 * stands while no write has been committed since (every revocation is
 * one) and, for writers that bypass the service (sqlite3 by hand), for
 * the rest of the second it was read in at most.
 */
#define TOKENS_CACHE_SLOTS 256

struct tokens_cache_slot {
	unsigned char digest[JWT_SHA256_LEN];
	struct jwt_claims claims;
	int used;
	int live;                    /* the session answer below holds */
	uint64_t epoch;
	long long checked;           /* second it was read in */
	char email[VALID_EMAIL_MAX + 1];
	int verified;                /* email_verified, when verified_known */
	int mfa;                     /* TOTP enabled, when verified_known */
	int verified_known;          /* read with this session answer */
};

struct tokens {
	const struct jwt_keys *keys;
	enum jwt_alg refresh_alg;    /* signs refresh tokens; access: RS256 */
	unsigned refresh_algs;       /* accepted: tokens_refresh_algs() */
	struct jwt_policy pol;
	struct store *store;
	struct batch_client *batch;  /* rotations go to the master; NULL: own store */
	long access_ttl;
	long refresh_ttl;
	long reuse_interval;
	struct tokens_cache_slot cache[TOKENS_CACHE_SLOTS];
	struct tokens_cache_slot *last;  /* tokens_check_access' last token */
};

struct tokens_pair {
	char access[JWT_MAX_LEN + 1];
	char refresh[JWT_MAX_LEN + 1];
	char user_id[VALID_UUID_SIZE];
	char session_id[VALID_UUID_SIZE];
	long expires_in;
};

/* Who asked, recorded on the session. Fields may be NULL. */
struct tokens_client {
	const char *user_agent;
	const char *ip;
	const char *email;           /* login: reset its failure count */
	const char *refund_ip;       /* login: give this address's attempt back */
	unsigned amr;                /* JWT_AMR_* the session starts with; 0: pwd */
	const struct store_mfa_proof *mfa;  /* login: second factor to use up */
};

/*
 * Create the user (email normalized, hash made) with a new session and
 * sign its first pair. Tokens are signed before the transaction so the
 * write lock is held for the inserts only. AUTH_EEXISTS when the email
 * is taken.
 */
enum auth_err tokens_register(struct tokens *t, const char *email,
    const char *hash, const struct tokens_client *cl, struct tokens_pair *out)
    __attribute__((warn_unused_result));

/* Start a new session for user_id and sign its first pair. */
enum auth_err tokens_login(struct tokens *t, const char *user_id,
    const struct tokens_client *cl, struct tokens_pair *out)
    __attribute__((warn_unused_result));

/*
 * A login owes its second factor: sign an mfa_token for user_id (typ
 * mfa+jwt, TOKENS_MFA_TTL seconds) into out (JWT_MAX_LEN + 1) and record
 * its jti, which the login that uses it deletes (single use).
 */
#define TOKENS_MFA_TTL 300
enum auth_err tokens_mfa_challenge(struct tokens *t, const char *user_id,
    char *out) __attribute__((warn_unused_result));
/*
 * Verify an mfa_token (RS256, typ mfa+jwt, not expired): AUTH_OK with
 * claims (sub, jti), else AUTH_ETOKEN. Whether it is still unused is
 * decided when it is used (struct store_mfa_proof).
 */
enum auth_err tokens_mfa_check(struct tokens *t, const char *token,
    size_t len, struct jwt_claims *claims) __attribute__((warn_unused_result));
/*
 * Rotate a refresh token: AUTH_ETOKEN when it does not verify,
 * AUTH_EREVOKED when it is expired, revoked or replayed (a replay also
 * revokes its session; *how says which), AUTH_OK with a new pair.
 */
enum auth_err tokens_refresh(struct tokens *t, const char *token, size_t len,
    struct tokens_pair *out, enum store_rotation *how)
    __attribute__((warn_unused_result));

/*
 * Check a bearer access token at time now and that its session and user
 * still live; fills claims and email (VALID_EMAIL_MAX + 1). AUTH_ETOKEN
 * otherwise. A token verified before by this process skips the signature
 * check, never the expiry check; its session check is reused as the
 * cache above says.
 */
/*
 * email_verified and the second factor being on (*mfa) of user_id, the
 * subject of the last tokens_check_access:
 * read from the database once per cached session answer, and kept as
 * long as it (/auth/me would otherwise query twice on every request).
 * AUTH_ENOTFOUND when the account is gone.
 */
enum auth_err tokens_account_flags(struct tokens *t, const char *user_id,
    int *verified, int *mfa) __attribute__((warn_unused_result));

enum auth_err tokens_check_access(struct tokens *t, const char *token,
    size_t len, long long now, struct jwt_claims *claims, char *email)
    __attribute__((warn_unused_result));

/*
 * Revoke the session of a refresh token (logout). AUTH_ETOKEN when the
 * token does not verify; a session already revoked is AUTH_OK (logout is
 * idempotent). Fills claims.
 */
enum auth_err tokens_logout(struct tokens *t, const char *token, size_t len,
    struct jwt_claims *claims) __attribute__((warn_unused_result));

/*
 * The algorithms a refresh token may be signed with to be rotated or
 * logged out, whatever REFRESH_TOKEN_SIGNING says now: RS256 always, and
 * HS256 while keys holds an HS256 refresh key. So a switch either way
 * keeps every token issued under the previous setting working until it
 * expires. A token only ever rotates while its row in the database is
 * live, and that row expires REFRESH_TTL after the token was issued, so
 * the old algorithm's tokens die out by themselves; no switch time needs
 * recording (which nodes switching one by one could not share anyway).
 * RS256 staying accepted after a switch to hs256 gives a holder of the
 * RSA private key nothing: that key signs access tokens already.
 */
unsigned tokens_refresh_algs(const struct jwt_keys *keys);

/* The contract's token pair JSON into out; its length, or -1. */
long tokens_pair_json(const struct tokens_pair *p, char *out, size_t cap)
    __attribute__((warn_unused_result));

#endif
