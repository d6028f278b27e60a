/*
 * keyfile: the 256-bit secret keys the service keeps in files of their
 * own (the HS256 refresh key, the MFA key that seals TOTP secrets), read
 * and checked one way. Written here rather than with a library because
 * it is one small function whose refusals (mode, length, alphabet) are
 * this project's rules.
 */
#include "keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "b64url.h"

#define KEYFILE_B64 43               /* base64url of KEYFILE_KEY_LEN bytes */
#define KEYFILE_TEXT_MAX 128         /* bytes of a key file we read */

int keyfile_read(const char *path, const char *setting,
    unsigned char *key, char *err, size_t errlen)
{
	char text[KEYFILE_TEXT_MAX + 1];
	struct stat st;
	ssize_t n = 0, got;
	int fd, rc = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		rc = errno == ENOENT ? ENOENT : -1;
		snprintf(err, errlen, "%s: cannot open %s: %s", setting, path,
		    strerror(errno));
		return rc;
	}
	/* fstat, not stat: the file checked is the file read. */
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: %s is not a regular file", setting,
		    path);
		goto out;
	}
	if ((st.st_mode & 077) != 0) {
		snprintf(err, errlen, "%s: %s is a secret key, but group or "
		    "others may access it (mode %04o): chmod 600 it", setting,
		    path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	while ((size_t)n < sizeof(text) - 1 &&
	    (got = read(fd, text + n, sizeof(text) - 1 - (size_t)n)) != 0) {
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			snprintf(err, errlen, "%s: cannot read %s", setting, path);
			goto out;
		}
		n += got;
	}
	if (n > 0 && text[n - 1] == '\n')
		n--;
	if (n != KEYFILE_B64 ||
	    b64url_decode(key, KEYFILE_KEY_LEN, text, (size_t)n) !=
	    KEYFILE_KEY_LEN) {
		snprintf(err, errlen, "%s: %s does not hold a %d-bit key as "
		    "%d base64url characters (scripts/gen-keys.sh makes one)",
		    setting, path, 8 * KEYFILE_KEY_LEN, KEYFILE_B64);
		goto out;
	}
	rc = 0;
out:
	OPENSSL_cleanse(text, sizeof(text));
	close(fd);
	return rc;
}

