/* mail: one-time tokens, their links, and RFC 5322 messages around them. */
#include "mail.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "b64url.h"

/* SHA-256 of data in lower-case hex into hash (MAIL_HASH_HEX). */
static int mail_sha256_hex(const void *data, size_t len, char *hash)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	size_t i;

	if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != 32)
		return -1;
	for (i = 0; i < mdlen; i++) {
		hash[2 * i] = hex[md[i] >> 4];
		hash[2 * i + 1] = hex[md[i] & 0x0f];
	}
	hash[(size_t)mdlen * 2] = '\0';
	return 0;
}

int mail_token_new(char *token, char *hash)
{
	unsigned char raw[MAIL_TOKEN_BYTES];
	int rc = -1;

	if (RAND_bytes(raw, sizeof(raw)) == 1 &&
	    b64url_encode(token, MAIL_TOKEN_LEN + 1, raw, sizeof(raw)) ==
	    MAIL_TOKEN_LEN &&
	    mail_sha256_hex(token, MAIL_TOKEN_LEN, hash) == 0)
		rc = 0;
	OPENSSL_cleanse(raw, sizeof(raw));
	return rc;
}

int mail_token_hash(const char *token, size_t len, char *hash)
{
	unsigned char raw[MAIL_TOKEN_BYTES + 2];

	/* Exactly what mail_token_new makes, canonical (strict decode). */
	if (len != MAIL_TOKEN_LEN ||
	    b64url_decode(raw, sizeof(raw), token, len) != MAIL_TOKEN_BYTES)
		return -1;
	OPENSSL_cleanse(raw, sizeof(raw));
	return mail_sha256_hex(token, len, hash);
}

int mail_link(char *out, size_t cap, const char *tmpl, const char *token)
{
	static const char mark[] = "{token}";
	size_t n = 0, tlen = strlen(token);
	const char *p = tmpl[0] != '\0' ? tmpl : mark;

	while (*p != '\0') {
		const char *add = p;
		size_t alen = 1;

		if (strncmp(p, mark, sizeof(mark) - 1) == 0) {
			add = token;
			alen = tlen;
			p += sizeof(mark) - 1;
		} else {
			p++;
		}
		if (n + alen >= cap)
			return -1;
		memcpy(out + n, add, alen);
		n += alen;
	}
	out[n] = '\0';
	return 0;
}

/* Whether s holds a byte outside printable ASCII. */
static int mail_needs_encoding(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return 1;
	return 0;
}

/* Append s[0..len) to out at *n, NUL-terminated; -1 when it does not fit. */
static int mail_put(char *out, size_t cap, size_t *n, const char *s,
    size_t len)
{
	if (len >= cap - *n)
		return -1;
	memcpy(out + *n, s, len);
	*n += len;
	out[*n] = '\0';
	return 0;
}

static int mail_puts(char *out, size_t cap, size_t *n, const char *s)
{
	return mail_put(out, cap, n, s, strlen(s));
}

/* s[0..len) as is, or as one RFC 2047 encoded-word (base64) when not ASCII. */
static int mail_add_phrase(char *out, size_t cap, size_t *n, const char *s,
    size_t len)
{
	unsigned char enc[4 * 256 / 3 + 8];

	if (!mail_needs_encoding(s, len))
		return mail_put(out, cap, n, s, len);
	if (len > 180 || EVP_EncodeBlock(enc, (const unsigned char *)s,
	    (int)len) <= 0)
		return -1;
	if (mail_puts(out, cap, n, "=?UTF-8?B?") != 0 ||
	    mail_puts(out, cap, n, (const char *)enc) != 0)
		return -1;
	return mail_puts(out, cap, n, "?=");
}

/* From: "Name <addr>" with Name encoded where needed, or a bare address. */
static int mail_add_from(char *out, size_t cap, size_t *n, const char *from)
{
	const char *lt = strchr(from, '<');
	size_t len;

	if (mail_puts(out, cap, n, "From: ") != 0)
		return -1;
	if (lt == NULL)
		return mail_puts(out, cap, n, from) != 0 ? -1 :
		    mail_puts(out, cap, n, "\r\n");
	len = (size_t)(lt - from);
	while (len > 0 && from[len - 1] == ' ')
		len--;
	if (mail_add_phrase(out, cap, n, from, len) != 0)
		return -1;
	if (mail_puts(out, cap, n, " ") != 0 || mail_puts(out, cap, n, lt) != 0)
		return -1;
	return mail_puts(out, cap, n, "\r\n");
}

long mail_compose(char *out, size_t cap, const char *from, const char *to,
    const char *subject, const char *text, int64_t now)
{
	unsigned char rnd[16];
	char date[64], id[33], hdr[512];
	const char *domain = strrchr(from, '@');
	time_t t = (time_t)now;
	struct tm tm;
	size_t n = 0, i, dlen;
	int k;
	const char *p;

	if (domain == NULL || gmtime_r(&t, &tm) == NULL ||
	    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000",
	    &tm) == 0 || RAND_bytes(rnd, sizeof(rnd)) != 1)
		return -1;
	for (i = 0; i < sizeof(rnd); i++)
		snprintf(id + 2 * i, 3, "%02x", rnd[i]);
	domain++;
	dlen = strcspn(domain, ">");
	k = snprintf(hdr, sizeof(hdr), "\r\nDate: %s\r\nMessage-ID: <%s@%.*s>\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n\r\n", date, id, (int)dlen,
	    domain);
	if (k < 0 || (size_t)k >= sizeof(hdr) ||
	    mail_add_from(out, cap, &n, from) != 0 ||
	    mail_puts(out, cap, &n, "To: ") != 0 ||
	    mail_puts(out, cap, &n, to) != 0 ||
	    mail_puts(out, cap, &n, "\r\nSubject: ") != 0 ||
	    mail_add_phrase(out, cap, &n, subject, strlen(subject)) != 0 ||
	    mail_puts(out, cap, &n, hdr) != 0)
		return -1;
	/* The body with CRLF line ends, whatever the text used. */
	for (p = text; *p != '\0'; p++) {
		if (*p == '\r')
			continue;
		if (*p == '\n' ? mail_puts(out, cap, &n, "\r\n") != 0 :
		    mail_put(out, cap, &n, p, 1) != 0)
			return -1;
	}
	if (n < 2 || strcmp(out + n - 2, "\r\n") != 0)
		if (mail_puts(out, cap, &n, "\r\n") != 0)
			return -1;
	return (long)n;
}
