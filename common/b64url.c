/*
 * b64url: unpadded base64url. Written here rather than taken from OpenSSL
 * because EVP_EncodeBlock speaks the '+/' alphabet with padding and is
 * lenient on decode; JWS needs '-_', no padding, and a strict decoder.
 */
#include "b64url.h"

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Value of c in the alphabet, or -1. */
static int b64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

long b64url_encode(char *out, size_t outcap, const unsigned char *in,
    size_t inlen)
{
	size_t need = (inlen / 3) * 4 + (inlen % 3 ? inlen % 3 + 1 : 0) + 1;
	size_t i, o = 0;

	if (outcap < need)
		return -1;
	for (i = 0; i + 2 < inlen; i += 3) {
		unsigned long v = ((unsigned long)in[i] << 16) |
		    ((unsigned long)in[i + 1] << 8) | in[i + 2];
		out[o++] = b64url_alphabet[(v >> 18) & 63];
		out[o++] = b64url_alphabet[(v >> 12) & 63];
		out[o++] = b64url_alphabet[(v >> 6) & 63];
		out[o++] = b64url_alphabet[v & 63];
	}
	if (inlen - i == 1) {
		unsigned long v = (unsigned long)in[i] << 16;
		out[o++] = b64url_alphabet[(v >> 18) & 63];
		out[o++] = b64url_alphabet[(v >> 12) & 63];
	} else if (inlen - i == 2) {
		unsigned long v = ((unsigned long)in[i] << 16) |
		    ((unsigned long)in[i + 1] << 8);
		out[o++] = b64url_alphabet[(v >> 18) & 63];
		out[o++] = b64url_alphabet[(v >> 12) & 63];
		out[o++] = b64url_alphabet[(v >> 6) & 63];
	}
	out[o] = '\0';
	return (long)o;
}

long b64url_decode(unsigned char *out, size_t outcap, const char *in,
    size_t inlen)
{
	size_t rem = inlen % 4;
	size_t need = (inlen / 4) * 3 + (rem ? rem - 1 : 0);
	size_t i, o = 0;
	unsigned long acc = 0;
	int bits = 0;

	if (rem == 1 || outcap < need)
		return -1;
	for (i = 0; i < inlen; i++) {
		int v = b64url_value((unsigned char)in[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (unsigned long)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)((acc >> bits) & 0xff);
		}
	}
	/* Leftover bits (2 or 4) must be zero: one encoding per value. */
	if (bits > 0 && (acc & ((1UL << bits) - 1)) != 0)
		return -1;
	return (long)o;
}
