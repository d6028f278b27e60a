/* jwt: RS256 and HS256 JWS compact tokens (sign, strict verify), key set, kid, JWK. */
#ifndef AUTH_JWT_H
#define AUTH_JWT_H

#include <stddef.h>

#include "err.h"
#include "valid.h"

/* Longest token we sign or accept; anything longer is refused unparsed. */
#define JWT_MAX_LEN 4096
#define JWT_KID_SIZE 44          /* base64url SHA-256 (43) + NUL */
#define JWT_MAX_KEYS 16
#define JWT_HMAC_KEY_LEN 32      /* a refresh key: 256 random bits */
#define JWT_HMAC_KID_SIZE 23     /* base64url of 16 bytes (22) + NUL */

/*
 * Signature algorithms; a set of accepted ones is their bitwise or.
 * RS256 is the contract's, for every token. HS256 is a MAC under a key
 * only this service holds, so it is only ever for refresh tokens, which
 * nobody else reads (REFRESH_TOKEN_SIGNING=hs256).
 */
enum jwt_alg {
	JWT_ALG_RS256 = 1 << 0,
	JWT_ALG_HS256 = 1 << 1
};

enum jwt_typ {
	JWT_TYP_ACCESS,          /* header typ "at+jwt" */
	JWT_TYP_REFRESH,         /* header typ "rt+jwt" */
	JWT_TYP_MFA              /* header typ "mfa+jwt": a password passed,
	                          * the second factor is owed; no sid */
};

/*
 * Authentication methods (RFC 8176 "amr") of a session, fixed when it
 * starts. Access tokens always say them ("pwd" when none is set); a
 * refresh token carries them only when a second factor was passed, so
 * that a rotation hands them on without reading the session.
 */
#define JWT_AMR_PWD (1u << 0)
#define JWT_AMR_OTP (1u << 1)

struct jwt_claims {
	enum jwt_typ typ;
	char sub[VALID_UUID_SIZE];
	char jti[VALID_UUID_SIZE];
	char sid[VALID_UUID_SIZE];
	long long iat;
	long long exp;
	unsigned amr;            /* JWT_AMR_* bits; 0 in a token without amr */
};

/* What a verifier insists on, besides the key set. */
struct jwt_policy {
	const char *iss;         /* required, exact */
	const char *aud;         /* access tokens: required when non-empty */
	long skew;               /* seconds of clock leeway on exp and iat */
};

struct jwt_keys;

/*
 * Load the verification keys (public_path, then each entry of the
 * colon-separated extra list: a PEM file, or a directory whose *.pem
 * files are all taken) and, when private_path is not NULL, the
 * signing key, which must match public_path. Keys must be RSA >= 2048
 * bits. On failure writes one line naming the setting into err and
 * returns -1. Free with jwt_keys_free.
 */
int jwt_keys_load(struct jwt_keys **out, const char *private_path,
    const char *public_path, const char *extra_paths, char *err,
    size_t errlen) __attribute__((warn_unused_result));
void jwt_keys_free(struct jwt_keys *keys);

/*
 * Add the HS256 refresh-token keys to keys: the key in path, which signs
 * and verifies (NULL for none; when optional, a path that does not exist
 * is none too), and each entry of the colon-separated extra list (a key
 * file, or a directory whose *.key files are all taken), which only
 * verify. A key file holds JWT_HMAC_KEY_LEN bytes as unpadded base64url
 * (43 characters, a newline after them allowed) and must be a regular
 * file that group and others cannot access (0600 or 0400). Call at most
 * once per key set. On failure writes one line naming the setting and
 * the file (never the key) into err and returns -1; keys must then be
 * freed.
 */
int jwt_keys_load_hmac(struct jwt_keys *keys, const char *path, int optional,
    const char *extra, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Number of HS256 keys; the signing one, when loaded, is index 0. */
size_t jwt_keys_hmac_count(const struct jwt_keys *keys);
/*
 * kid of HS256 key i: base64url of the first 16 bytes of the key's
 * SHA-256 (names the key, reveals nothing of it), NUL terminated.
 */
const char *jwt_keys_hmac_kid(const struct jwt_keys *keys, size_t i);

/* SHA-256 of data into out (JWT_SHA256_LEN bytes), with the keys' own
 * digest context; 0 on success. */
#define JWT_SHA256_LEN 32
int jwt_sha256(const struct jwt_keys *keys, const void *data, size_t len,
    unsigned char *out) __attribute__((warn_unused_result));

/*
 * Number of RSA verification keys; the signing key's is index 0. HS256
 * keys are never among them (the JWKS lists these).
 */
size_t jwt_keys_count(const struct jwt_keys *keys);
/* RFC 7638 thumbprint of RSA key i (base64url SHA-256), NUL terminated. */
const char *jwt_keys_kid(const struct jwt_keys *keys, size_t i);
/*
 * RFC 7517 JWK of RSA public key i as a JSON object text
 * {"kty","use","alg","kid","n","e"}. Returns a string owned by keys.
 */
const char *jwt_keys_jwk(const struct jwt_keys *keys, size_t i);

/*
 * Sign claims as an RS256 JWS with header {alg,typ,kid}. iss is always
 * set; aud only on access tokens and only when non-empty. Writes a NUL
 * terminated token into out (capacity outcap). Returns its length, or
 * -1 (no signing key, buffer too small, crypto failure).
 */
long jwt_sign(const struct jwt_keys *keys, const struct jwt_claims *claims,
    const struct jwt_policy *pol, char *out, size_t outcap)
    __attribute__((warn_unused_result));

/*
 * jwt_sign with the algorithm alg: RS256 with the private key, or HS256
 * with the refresh key loaded from jwt_keys_load_hmac's path. -1 as
 * jwt_sign, and for HS256 on an access token or without that key.
 */
long jwt_sign_alg(const struct jwt_keys *keys, enum jwt_alg alg,
    const struct jwt_claims *claims, const struct jwt_policy *pol, char *out,
    size_t outcap) __attribute__((warn_unused_result));

/*
 * Verify token[0..len) as a token of type want at time now (Unix
 * seconds): alg exactly RS256 (checked before any crypto), typ, known
 * kid, signature, iss, aud (access tokens, when configured), exp > now -
 * skew, iat <= now + skew, sub/jti/sid canonical UUIDs (no sid in an
 * MFA token), and amr, when present, an array of known methods. Fills *out
 * and returns AUTH_OK, else AUTH_ETOKEN (AUTH_EINTERNAL on allocation
 * failure). Never says which check failed: callers answer alike.
 */
enum auth_err jwt_verify(const struct jwt_keys *keys, const char *token,
    size_t len, enum jwt_typ want, const struct jwt_policy *pol,
    long long now, struct jwt_claims *out) __attribute__((warn_unused_result));

/*
 * jwt_verify accepting the algorithms of the set algs: the header's alg
 * must be exactly one of them (checked before any crypto), and its kid
 * must name a key of that algorithm (an RSA thumbprint for RS256, an
 * HS256 key id for HS256; neither is ever looked up among the other's).
 * NOTE: HS256 is refused for JWT_TYP_ACCESS whatever algs says: an
 * access token is verified by other services, with public keys only.
 */
enum auth_err jwt_verify_algs(const struct jwt_keys *keys, const char *token,
    size_t len, enum jwt_typ want, unsigned algs, const struct jwt_policy *pol,
    long long now, struct jwt_claims *out) __attribute__((warn_unused_result));

#endif
