/* valid: input rules of the contract (UTF-8, email, identifiers). */
#ifndef AUTH_VALID_H
#define AUTH_VALID_H

#include <stddef.h>

#define VALID_EMAIL_MAX 254
#define VALID_EMAIL_LOCAL_MAX 64
#define VALID_UUID_LEN 36
#define VALID_UUID_SIZE (VALID_UUID_LEN + 1)

/* 1 if s[0..len) is well-formed UTF-8 (no overlongs, no surrogates). */
int valid_utf8(const char *s, size_t len);

/*
 * Check an email against the contract (3-254 bytes, one '@', local part
 * 1-64 bytes, a dot in the domain, no whitespace or control bytes, valid
 * UTF-8) and write it lower-cased (ASCII letters) into out, which must
 * hold VALID_EMAIL_MAX + 1 bytes. Returns 0, or -1 with *why set to a
 * static reason.
 */
int valid_email(const char *in, size_t len, char *out, const char **why);

/*
 * Copy src (NULL is read as "") into dst of capacity cap >= 1, at most
 * cap - 1 bytes, each byte outside printable ASCII replaced by '?'.
 * For echoing untrusted text into one-line messages and logs.
 */
void valid_printable(char *dst, size_t cap, const char *src);

/* 1 if s[0..len) is a canonical lower-case UUID (8-4-4-4-12 hex). */
int valid_uuid(const char *s, size_t len);

/* Write a random UUID v4 into out (VALID_UUID_SIZE bytes). 0 or -1. */
int valid_uuid_new(char *out) __attribute__((warn_unused_result));

#endif
