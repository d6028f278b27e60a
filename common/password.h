/* password: policy, hashing and verification over libcrypt. */
#ifndef AUTH_PASSWORD_H
#define AUTH_PASSWORD_H

#include <stddef.h>

#include "config.h"
#include "err.h"

#define PASSWORD_MIN 8
#define PASSWORD_MAX 72          /* bcrypt reads 72 bytes; longer is refused */
#define PASSWORD_HASH_MAX 256    /* CRYPT_OUTPUT_SIZE is 384; ours are < 128 */

struct password_ctx;

/*
 * Set up hashing with method and cost (bcrypt cost 4..31; yescrypt uses
 * libcrypt's default cost). With dummy != 0 also computes a hash of a
 * random secret, so that a login for an unknown email costs what a
 * real one does. Returns 0, or -1 with a reason in err.
 */
int password_init(struct password_ctx **out, enum config_hash method,
    long cost, int dummy, char *err, size_t errlen)
    __attribute__((warn_unused_result));
void password_free(struct password_ctx *ctx);

/*
 * Check pw[0..len) against the policy: 8-72 bytes, valid UTF-8, no NUL.
 * Returns AUTH_OK, or AUTH_EINVAL with "password: ..." in detail.
 */
enum auth_err password_policy(const char *pw, size_t len, char *detail,
    size_t detlen) __attribute__((warn_unused_result));

/* Hash pw with a fresh salt into out (PASSWORD_HASH_MAX). 0 or -1. */
int password_hash(struct password_ctx *ctx, const char *pw, char *out)
    __attribute__((warn_unused_result));

/*
 * 1 when pw matches stored (any libcrypt method, including passlib's
 * $2b$ hashes), 0 otherwise. Compares in constant time. With stored ==
 * NULL it checks against the dummy hash and returns 0 after the same work.
 */
int password_verify(struct password_ctx *ctx, const char *pw,
    const char *stored);

/* 1 when stored is weaker than the configured method and cost. */
int password_needs_rehash(const struct password_ctx *ctx, const char *stored);

#endif
