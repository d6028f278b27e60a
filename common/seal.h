/*
 * seal: secrets at rest under the MFA key (MFA_KEY_PATH). TOTP secrets
 * are sealed with AES-256-GCM, a random 96-bit nonce each and the user id
 * as associated data (a row copied to another user does not open);
 * recovery codes, being short, are stored as an HMAC-SHA256 under a key
 * derived from the same file, so a copy of the database alone cannot be
 * searched for them.
 */
#ifndef AUTH_SEAL_H
#define AUTH_SEAL_H

#include <stddef.h>

#include "keyfile.h"

#define SEAL_NONCE_LEN 12
#define SEAL_TAG_LEN 16
/* base64url text of nonce || ciphertext || tag for n plaintext bytes. */
#define SEAL_TEXT_SIZE(n) (((SEAL_NONCE_LEN + (n) + SEAL_TAG_LEN) * 4 + 2) / 3 + 1)
#define SEAL_MAC_HEX 65              /* HMAC-SHA256 in hex + NUL */

struct seal_key {
	unsigned char enc[KEYFILE_KEY_LEN];   /* AES-256-GCM */
	unsigned char mac[KEYFILE_KEY_LEN];   /* HMAC-SHA256 */
};

/*
 * Load the key file (keyfile_read's rules) and derive the two keys from
 * it. Returns 0, or -1 with one line naming setting in err.
 */
int seal_key_load(struct seal_key *key, const char *path, const char *setting,
    char *err, size_t errlen) __attribute__((warn_unused_result));

/* Wipe a loaded key. */
void seal_key_wipe(struct seal_key *key);

/*
 * Seal in[0..len) bound to aad (a NUL-terminated string) into out (cap
 * bytes, SEAL_TEXT_SIZE(len) suffice) as base64url text. 0, or -1.
 */
int seal_close(const struct seal_key *key, const char *aad,
    const unsigned char *in, size_t len, char *out, size_t cap)
    __attribute__((warn_unused_result));

/*
 * Open text[0..len) sealed for aad into out (cap bytes); *outlen gets the
 * plaintext length. -1 when it does not open: another key, another aad,
 * or the text altered (nothing of out is then meaningful).
 */
int seal_open(const struct seal_key *key, const char *aad, const char *text,
    size_t len, unsigned char *out, size_t cap, size_t *outlen)
    __attribute__((warn_unused_result));

/* HMAC-SHA256 of data[0..len) under the MAC key, in hex. 0, or -1. */
int seal_mac(const struct seal_key *key, const char *data, size_t len,
    char *hex) __attribute__((warn_unused_result));

#endif
