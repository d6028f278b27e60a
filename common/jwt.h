/* jwt: RS256 JWS compact tokens (sign, strict verify), key set, kid, JWK. */
#ifndef AUTH_JWT_H
#define AUTH_JWT_H

#include <stddef.h>

#include "err.h"
#include "valid.h"

/* Longest token we sign or accept; anything longer is refused unparsed. */
#define JWT_MAX_LEN 4096
#define JWT_KID_SIZE 44          /* base64url SHA-256 (43) + NUL */
#define JWT_MAX_KEYS 16

enum jwt_typ {
	JWT_TYP_ACCESS,          /* header typ "at+jwt" */
	JWT_TYP_REFRESH          /* header typ "rt+jwt" */
};

struct jwt_claims {
	enum jwt_typ typ;
	char sub[VALID_UUID_SIZE];
	char jti[VALID_UUID_SIZE];
	char sid[VALID_UUID_SIZE];
	long long iat;
	long long exp;
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

/* SHA-256 of data into out (JWT_SHA256_LEN bytes), with the keys' own
 * digest context; 0 on success. */
#define JWT_SHA256_LEN 32
int jwt_sha256(const struct jwt_keys *keys, const void *data, size_t len,
    unsigned char *out) __attribute__((warn_unused_result));

/* Number of verification keys; the signing key's is index 0. */
size_t jwt_keys_count(const struct jwt_keys *keys);
/* RFC 7638 thumbprint of key i (base64url SHA-256), NUL terminated. */
const char *jwt_keys_kid(const struct jwt_keys *keys, size_t i);
/*
 * RFC 7517 JWK of public key i as a JSON object text
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
 * Verify token[0..len) as a token of type want at time now (Unix
 * seconds): alg exactly RS256 (checked before any crypto), typ, known
 * kid, signature, iss, aud (access tokens, when configured), exp > now -
 * skew, iat <= now + skew, and sub/jti/sid canonical UUIDs. Fills *out
 * and returns AUTH_OK, else AUTH_ETOKEN (AUTH_EINTERNAL on allocation
 * failure). Never says which check failed: callers answer alike.
 */
enum auth_err jwt_verify(const struct jwt_keys *keys, const char *token,
    size_t len, enum jwt_typ want, const struct jwt_policy *pol,
    long long now, struct jwt_claims *out) __attribute__((warn_unused_result));

#endif
