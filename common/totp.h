/*
 * totp: RFC 6238 time-based one-time passwords (HMAC-SHA1 over OpenSSL,
 * 30 s steps, 6 digits), the base32 secrets and otpauth:// URIs that
 * authenticator apps read, and the text form of recovery codes.
 */
#ifndef AUTH_TOTP_H
#define AUTH_TOTP_H

#include <stddef.h>
#include <stdint.h>

#define TOTP_SECRET_LEN 20           /* 160 bits, as RFC 4226 recommends */
#define TOTP_B32_SIZE 33             /* base32 of 20 bytes (32) + NUL */
#define TOTP_STEP 30                 /* seconds */
#define TOTP_DIGITS 6
#define TOTP_URI_MAX 512
/* A recovery code as shown: 10 base32 letters as "xxxxx-xxxxx" + NUL. */
#define TOTP_RECOVERY_LEN 10
#define TOTP_RECOVERY_SIZE 12

/*
 * The RFC 4226 value of key at counter step, digits long (6..8), into
 * *out. Returns 0, or -1 on a bad argument (an empty key included) or
 * crypto failure.
 */
int totp_value(const unsigned char *key, size_t keylen, uint64_t step,
    int digits, uint32_t *out) __attribute__((warn_unused_result));

/*
 * Check code[0..len) (exactly TOTP_DIGITS ASCII digits) against the
 * steps of time now, one before and one after, skipping every step <=
 * last (a step once accepted is never accepted again). Every candidate
 * is computed and compared in constant time, so how long it takes says
 * nothing of which matched; when two match, the later step is returned.
 * Returns 0 with the matched step in *step, or -1 (no match, malformed
 * code, now < 0, crypto failure) with *step untouched.
 */
int totp_check(const unsigned char *key, size_t keylen, const char *code,
    size_t len, int64_t now, int64_t last, int64_t *step)
    __attribute__((warn_unused_result));

/*
 * RFC 4648 base32 (upper case, no padding) of in[0..len) into out of
 * cap bytes, NUL terminated. Returns the length, or -1 if cap is short.
 */
long totp_base32(const unsigned char *in, size_t len, char *out, size_t cap)
    __attribute__((warn_unused_result));

/*
 * The Key Uri Format URI authenticator apps read:
 * otpauth://totp/ISSUER:ACCOUNT?secret=B32&issuer=ISSUER&algorithm=SHA1&digits=6&period=30
 * with issuer and account percent-encoded (all but RFC 3986 unreserved),
 * into out (TOTP_URI_MAX). Returns 0, or -1 when it does not fit (out is
 * then the empty string: no partial secret is left in it).
 */
int totp_uri(const char *issuer, const char *account, const char *b32,
    char *out, size_t cap) __attribute__((warn_unused_result));

/*
 * A new random recovery code, "xxxxx-xxxxx" from the lower-case base32
 * alphabet (50 bits), into code (TOTP_RECOVERY_SIZE). Returns 0 or -1.
 */
int totp_recovery_new(char *code) __attribute__((warn_unused_result));

/*
 * The canonical form of a recovery code as typed (any case, '-' and
 * spaces anywhere ignored) into out (TOTP_RECOVERY_LEN + 1): the 10
 * lower-case letters. Returns 0, or -1 when it is not a recovery code
 * (len above 64 included; out untouched).
 */
int totp_recovery_normalize(const char *in, size_t len, char *out)
    __attribute__((warn_unused_result));

#endif
