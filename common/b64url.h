/* b64url: unpadded base64url (RFC 4648 section 5), as JWS needs it. */
#ifndef AUTH_B64URL_H
#define AUTH_B64URL_H

#include <stddef.h>

/* Bytes needed to encode n bytes, including the terminating NUL. */
#define B64URL_ENCODED_SIZE(n) ((((n) + 2) / 3) * 4 + 1)
/* Upper bound of bytes decoded from n characters. */
#define B64URL_DECODED_MAX(n) (((n) / 4) * 3 + 2)

/*
 * Encode in[0..inlen) into out (capacity outcap) without padding, NUL
 * terminated. Returns the encoded length, or -1 if out is too small.
 */
long b64url_encode(char *out, size_t outcap, const unsigned char *in,
    size_t inlen) __attribute__((warn_unused_result));

/*
 * Decode in[0..inlen) into out (capacity outcap). Strict: only the
 * base64url alphabet, no padding, no whitespace, no impossible length
 * (len % 4 == 1), and unused trailing bits must be zero so that every
 * byte string has exactly one accepted encoding. Returns the decoded
 * length, or -1 on any violation or if out is too small.
 */
long b64url_decode(unsigned char *out, size_t outcap, const char *in,
    size_t inlen) __attribute__((warn_unused_result));

#endif
