/*
 * mail: the messages of the account flows (RFC 5322, plain text UTF-8)
 * and the one-time tokens they carry: 32 random bytes as base64url, of
 * which only the SHA-256 is ever stored.
 */
#ifndef AUTH_MAIL_H
#define AUTH_MAIL_H

#include <stddef.h>
#include <stdint.h>

#define MAIL_TOKEN_BYTES 32
#define MAIL_TOKEN_LEN 43            /* base64url of 32 bytes, unpadded */
#define MAIL_HASH_HEX 65             /* 64 hex digits and NUL */
#define MAIL_LINK_MAX 2048
#define MAIL_MESSAGE_MAX 8192

/*
 * A fresh token (MAIL_TOKEN_LEN + 1 bytes) and its SHA-256 in hex
 * (MAIL_HASH_HEX bytes). Returns 0, or -1 when the CSPRNG fails.
 */
int mail_token_new(char *token, char *hash) __attribute__((warn_unused_result));

/*
 * The hash under which a presented token would be stored. -1 when it
 * cannot be one of ours (not 43 base64url characters): no lookup needed.
 */
int mail_token_hash(const char *token, size_t len, char *hash)
    __attribute__((warn_unused_result));

/*
 * The link of a template ("https://x/reset?token={token}": every {token}
 * replaced), or the bare token when the template is "". Returns 0, or
 * -1 when it does not fit in cap.
 */
int mail_link(char *out, size_t cap, const char *tmpl, const char *token)
    __attribute__((warn_unused_result));

/*
 * A whole message: From (display name encoded as RFC 2047 where it is
 * not ASCII), To, Subject (encoded likewise), Date (RFC 5322, UTC, of
 * now), Message-ID (random, at the domain of from), MIME-Version and a
 * text/plain UTF-8 8bit body with CRLF line ends. Returns its length, or
 * -1 when it does not fit in cap or the CSPRNG fails.
 */
long mail_compose(char *out, size_t cap, const char *from, const char *to,
    const char *subject, const char *text, int64_t now)
    __attribute__((warn_unused_result));

#endif
