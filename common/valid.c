/* valid: small, exact checks of untrusted bytes, before any crypto or SQL. */
#include "valid.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

int valid_utf8(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		unsigned char c = p[i];
		size_t n;
		unsigned long cp;

		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return 0;
		}
		if (len - i <= n)
			return 0;
		for (size_t k = 1; k <= n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += n + 1;
	}
	return 1;
}

int valid_email(const char *in, size_t len, char *out, const char **why)
{
	const char *at = NULL;
	size_t i;

	if (len < 3 || len > VALID_EMAIL_MAX) {
		*why = "must be 3 to 254 bytes";
		return -1;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		/*
		 * One mailbox, one account: an address with non-ASCII bytes
		 * has several spellings (NFC or NFD, Unicode case, U-labels
		 * or A-labels) that one lower-casing cannot fold into one
		 * key, so it is refused rather than half-normalized.
		 */
		if (c >= 0x80) {
			*why = "must be ASCII (internationalized addresses "
			    "are not accepted)";
			return -1;
		}
		if (c <= 0x20 || c == 0x7f) {
			*why = "must not contain whitespace or control characters";
			return -1;
		}
		if (c == '@') {
			if (at != NULL) {
				*why = "must contain exactly one @";
				return -1;
			}
			at = in + i;
		}
		out[i] = in[i];
		if (c >= 'A' && c <= 'Z')
			out[i] = (char)(in[i] - 'A' + 'a');
	}
	out[len] = '\0';
	if (at == NULL) {
		*why = "must contain exactly one @";
		return -1;
	}
	if (at == in || (size_t)(at - in) > VALID_EMAIL_LOCAL_MAX) {
		*why = "local part must be 1 to 64 bytes";
		return -1;
	}
	{
		const char *dom = at + 1;
		size_t dlen = len - (size_t)(dom - in);
		const char *dot = memchr(dom, '.', dlen);

		/* The domain needs a dot with a label on each side. */
		if (dot == NULL || dot == dom || dom[dlen - 1] == '.') {
			*why = "domain must contain a dot";
			return -1;
		}
	}
	return 0;
}

void valid_printable(char *dst, size_t cap, const char *src)
{
	size_t i;

	for (i = 0; src != NULL && src[i] != '\0' && i + 1 < cap; i++) {
		dst[i] = src[i];
		if (src[i] < ' ' || src[i] > '~')
			dst[i] = '?';
	}
	dst[i] = '\0';
}

int valid_uuid(const char *s, size_t len)
{
	size_t i;

	if (len != VALID_UUID_LEN)
		return 0;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return 0;
		} else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
			return 0;
		}
	}
	return 1;
}

int valid_uuid_new(char *out)
{
	unsigned char b[16];

	if (RAND_bytes(b, sizeof(b)) != 1)
		return -1;
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, VALID_UUID_SIZE,
	    "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x",
	    b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
	    b[10], b[11], b[12], b[13], b[14], b[15]);
	return 0;
}
