/*
 * totp: the second factor. Codes are RFC 6238 over RFC 4226 (HMAC-SHA1,
 * the only algorithm every authenticator app accepts), checked with one
 * step of clock drift either way and never twice for the same step; the
 * base32 secret and otpauth:// URI are how a secret reaches the app, and
 * recovery codes are the way in when the app is lost.
 */
#include "totp.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

/* The URI below states these; a change here must change it too. */
_Static_assert(TOTP_DIGITS == 6 && TOTP_STEP == 30,
    "totp_uri hard-codes digits=6 and period=30");

#define TOTP_SHA1_LEN 20
#define TOTP_RECOVERY_IN_MAX 64

static const char totp_b32_upper[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
/* Lower case: recovery codes are read aloud and typed, not scanned. */
static const char totp_b32_lower[] = "abcdefghijklmnopqrstuvwxyz234567";

int totp_value(const unsigned char *key, size_t keylen, uint64_t step,
    int digits, uint32_t *out)
{
	static const uint32_t mod[] = {1000000, 10000000, 100000000};
	unsigned char msg[8], mac[TOTP_SHA1_LEN];
	size_t maclen = 0;
	uint32_t bin;
	unsigned off;
	int i, rc = -1;

	if (key == NULL || keylen == 0 || out == NULL || digits < 6 ||
	    digits > 8)
		return -1;
	for (i = 7; i >= 0; i--, step >>= 8)
		msg[i] = (unsigned char)(step & 0xff);
	/* One-shot: a MAC per code is cheap, and no context outlives it. */
	if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA1", NULL, key, keylen, msg,
	    sizeof(msg), mac, sizeof(mac), &maclen) == NULL ||
	    maclen != sizeof(mac))
		goto out;
	off = mac[TOTP_SHA1_LEN - 1] & 0x0f;
	bin = ((uint32_t)(mac[off] & 0x7f) << 24) |
	    ((uint32_t)mac[off + 1] << 16) | ((uint32_t)mac[off + 2] << 8) |
	    mac[off + 3];
	*out = bin % mod[digits - 6];
	rc = 0;
out:
	OPENSSL_cleanse(mac, sizeof(mac));
	return rc;
}

int totp_check(const unsigned char *key, size_t keylen, const char *code,
    size_t len, int64_t now, int64_t last, int64_t *step)
{
	char want[TOTP_DIGITS + 1];
	int64_t base, found = -1;
	uint32_t v = 0;
	int i, rc = -1;

	if (code == NULL || step == NULL || len != TOTP_DIGITS || now < 0)
		return -1;
	for (size_t k = 0; k < len; k++)
		if (code[k] < '0' || code[k] > '9')
			return -1;
	base = now / TOTP_STEP;
	/*
	 * All three candidates are computed and compared whatever last says
	 * and whichever matched, so the time taken tells nothing; the latest
	 * match wins so that last moves as far forward as it can.
	 */
	for (i = -1; i <= 1; i++) {
		int64_t c = base + i;
		int eq;

		if (totp_value(key, keylen, (uint64_t)(c < 0 ? 0 : c),
		    TOTP_DIGITS, &v) != 0)
			goto out;
		snprintf(want, sizeof(want), "%0*u", TOTP_DIGITS, (unsigned)v);
		eq = CRYPTO_memcmp(want, code, TOTP_DIGITS) == 0;
		if (eq && c >= 0 && c > last)
			found = c;
	}
	if (found < 0)
		goto out;
	*step = found;
	rc = 0;
out:
	OPENSSL_cleanse(want, sizeof(want));
	OPENSSL_cleanse(&v, sizeof(v));
	return rc;
}

/*
 * Base32 and the URI's percent-encoding are written here: thirty lines
 * each are not worth a dependency, and OpenSSL has neither.
 */
long totp_base32(const unsigned char *in, size_t len, char *out, size_t cap)
{
	unsigned acc = 0;
	int bits = 0;
	size_t o = 0;

	if (out == NULL || (in == NULL && len > 0) || len > (SIZE_MAX - 5) / 8 ||
	    cap < (len * 8 + 4) / 5 + 1)
		return -1;
	for (size_t i = 0; i < len; i++) {
		acc = ((acc << 8) | in[i]) & 0xfff;
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			out[o++] = totp_b32_upper[(acc >> bits) & 31];
		}
	}
	if (bits > 0)
		out[o++] = totp_b32_upper[(acc << (5 - bits)) & 31];
	out[o] = '\0';
	return (long)o;
}

/* Append s to out at *pos, percent-encoding all but RFC 3986 unreserved. */
static int totp_uri_put(char *out, size_t cap, size_t *pos, const char *s,
    int encode)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		int plain = !encode || (c >= 'A' && c <= 'Z') ||
		    (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~';

		if (cap - *pos < (plain ? 2u : 4u))   /* room for the NUL */
			return -1;
		if (plain) {
			out[(*pos)++] = (char)c;
		} else {
			out[(*pos)++] = '%';
			out[(*pos)++] = hex[c >> 4];
			out[(*pos)++] = hex[c & 15];
		}
	}
	out[*pos] = '\0';
	return 0;
}

int totp_uri(const char *issuer, const char *account, const char *b32,
    char *out, size_t cap)
{
	size_t pos = 0;

	if (issuer == NULL || account == NULL || b32 == NULL || out == NULL ||
	    cap == 0)
		return -1;
	out[0] = '\0';
	if (totp_uri_put(out, cap, &pos, "otpauth://totp/", 0) != 0 ||
	    totp_uri_put(out, cap, &pos, issuer, 1) != 0 ||
	    totp_uri_put(out, cap, &pos, ":", 0) != 0 ||
	    totp_uri_put(out, cap, &pos, account, 1) != 0 ||
	    totp_uri_put(out, cap, &pos, "?secret=", 0) != 0 ||
	    totp_uri_put(out, cap, &pos, b32, 1) != 0 ||
	    totp_uri_put(out, cap, &pos, "&issuer=", 0) != 0 ||
	    totp_uri_put(out, cap, &pos, issuer, 1) != 0 ||
	    totp_uri_put(out, cap, &pos, "&algorithm=SHA1&digits=6&period=30",
	    0) != 0) {
		/* The URI carries the secret: leave none of it behind. */
		OPENSSL_cleanse(out, pos);
		out[0] = '\0';
		return -1;
	}
	return 0;
}

int totp_recovery_new(char *code)
{
	unsigned char rnd[8];
	uint64_t acc = 0;
	int i, o = 0, rc = -1;

	if (code == NULL)
		return -1;
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		goto out;
	for (i = 0; i < (int)sizeof(rnd); i++)
		acc = (acc << 8) | rnd[i];
	/* Whole 5-bit chunks index the 32 letters: no modulo bias. */
	for (i = 0; i < TOTP_RECOVERY_LEN; i++, acc >>= 5) {
		if (i == TOTP_RECOVERY_LEN / 2)
			code[o++] = '-';
		code[o++] = totp_b32_lower[acc & 31];
	}
	code[o] = '\0';
	rc = 0;
out:
	if (rc != 0)
		code[0] = '\0';
	OPENSSL_cleanse(rnd, sizeof(rnd));
	OPENSSL_cleanse(&acc, sizeof(acc));
	return rc;
}

int totp_recovery_normalize(const char *in, size_t len, char *out)
{
	char buf[TOTP_RECOVERY_LEN + 1];
	size_t n = 0;
	int rc = -1;

	if (in == NULL || out == NULL || len > TOTP_RECOVERY_IN_MAX)
		return -1;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		/* People copy the dash, or type the halves apart. */
		if (c == '-' || c == ' ')
			continue;
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '2' && c <= '7')) ||
		    n == TOTP_RECOVERY_LEN)
			goto out;
		buf[n++] = (char)c;
	}
	if (n != TOTP_RECOVERY_LEN)
		goto out;
	buf[n] = '\0';
	memcpy(out, buf, sizeof(buf));
	rc = 0;
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	return rc;
}
