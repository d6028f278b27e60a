/* keyfile: read a 256-bit secret key from a file only its owner may read. */
#ifndef AUTH_KEYFILE_H
#define AUTH_KEYFILE_H

#include <stddef.h>

#define KEYFILE_KEY_LEN 32           /* 256 random bits */

/*
 * Read the key file path into key (KEYFILE_KEY_LEN bytes). Refused: a
 * file that is not regular, one group or others may access, anything but
 * 43 base64url characters and one optional newline. Returns 0, -1 with
 * one line naming setting and path (never the key) in err, or ENOENT as
 * is (err set too) so that an optional key may be absent.
 */
int keyfile_read(const char *path, const char *setting, unsigned char *key,
    char *err, size_t errlen) __attribute__((warn_unused_result));

#endif
