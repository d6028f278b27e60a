/*
 * fuzz_jwt: JWT verification on hostile input. The first input byte picks
 * the mode:
 *   0: the rest is a compact token, verified as access and as refresh
 *      (RS256 and HS256 accepted);
 *   1: the rest is "<header JSON>\n<payload JSON>", signed with the
 *      fuzzer's own key so that verification gets past the signature and
 *      into the header and claim checks with arbitrary JSON. "KID" in the
 *      header stands for the key's real kid (random per run);
 *   2: the same, MACed with the fuzzer's HS256 refresh key ("KID": its
 *      kid).
 * The keys are generated at start (no key is committed).
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "b64url.h"
#include "jwt.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct jwt_keys *fz_keys;
static EVP_PKEY *fz_pkey;
static unsigned char fz_hkey[JWT_HMAC_KEY_LEN];
#define FZ_ALGS (JWT_ALG_RS256 | JWT_ALG_HS256)
static const struct jwt_policy fz_pol = { "fuzz-iss", "fuzz-aud", 30 };

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char dir[] = "/tmp/fuzz_jwt.XXXXXX", priv[64], pub[64], hk[64];
	char err[256], text[64];
	FILE *f;
	long n;

	(void)argc;
	(void)argv;
	fz_pkey = EVP_RSA_gen(2048);
	if (fz_pkey == NULL || mkdtemp(dir) == NULL)
		abort();
	snprintf(priv, sizeof(priv), "%s/priv.pem", dir);
	snprintf(pub, sizeof(pub), "%s/pub.pem", dir);
	f = fopen(priv, "w");
	if (f == NULL || !PEM_write_PrivateKey(f, fz_pkey, NULL, NULL, 0, NULL,
	    NULL))
		abort();
	fclose(f);
	f = fopen(pub, "w");
	if (f == NULL || !PEM_write_PUBKEY(f, fz_pkey))
		abort();
	fclose(f);
	snprintf(hk, sizeof(hk), "%s/refresh.key", dir);
	f = fopen(hk, "w");
	if (RAND_bytes(fz_hkey, sizeof(fz_hkey)) != 1 || f == NULL ||
	    (n = b64url_encode(text, sizeof(text), fz_hkey,
	    sizeof(fz_hkey))) < 0 || fwrite(text, 1, (size_t)n, f) != (size_t)n)
		abort();
	/* A refresh key others may read is refused. */
	if (fclose(f) != 0 || chmod(hk, 0600) != 0)
		abort();
	if (jwt_keys_load(&fz_keys, priv, pub, "", err, sizeof(err)) != 0 ||
	    jwt_keys_load_hmac(fz_keys, hk, 0, NULL, err, sizeof(err)) != 0)
		abort();
	unlink(priv);
	unlink(pub);
	unlink(hk);
	rmdir(dir);
	return 0;
}

/* Sign header.payload (each base64url-encoded here) into out, RS256 or
 * (hmac) HS256. */
static size_t fz_sign(const uint8_t *h, size_t hl, const uint8_t *p,
    size_t pl, int hmac, char *out, size_t cap)
{
	unsigned char sig[512];
	unsigned int maclen = 0;
	size_t siglen = sizeof(sig), pos;
	EVP_MD_CTX *md;
	long n;

	if (B64URL_ENCODED_SIZE(hl) + B64URL_ENCODED_SIZE(pl) + 400 > cap)
		return 0;
	n = b64url_encode(out, cap, h, hl);
	pos = (size_t)n;
	out[pos++] = '.';
	n = b64url_encode(out + pos, cap - pos, p, pl);
	pos += (size_t)n;
	if (hmac) {
		if (HMAC(EVP_sha256(), fz_hkey, sizeof(fz_hkey),
		    (unsigned char *)out, pos, sig, &maclen) == NULL)
			return 0;
		out[pos++] = '.';
		n = b64url_encode(out + pos, cap - pos, sig, maclen);
		return pos + (size_t)n;
	}
	md = EVP_MD_CTX_new();
	if (md == NULL ||
	    EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, fz_pkey) != 1 ||
	    EVP_DigestSign(md, sig, &siglen, (unsigned char *)out, pos) != 1) {
		EVP_MD_CTX_free(md);
		return 0;
	}
	EVP_MD_CTX_free(md);
	out[pos++] = '.';
	n = b64url_encode(out + pos, cap - pos, sig, siglen);
	return pos + (size_t)n;
}

/* Copy h into out with its first "KID" replaced by the real kid. */
static size_t fz_header(const uint8_t *h, size_t hl, int hmac, uint8_t *out)
{
	const char *kid = hmac ? jwt_keys_hmac_kid(fz_keys, 0) :
	    jwt_keys_kid(fz_keys, 0);
	size_t i, kl = strlen(kid);

	for (i = 0; i + 3 <= hl; i++) {
		if (memcmp(h + i, "KID", 3) == 0) {
			memcpy(out, h, i);
			memcpy(out + i, kid, kl);
			memcpy(out + i + kl, h + i + 3, hl - i - 3);
			return hl - 3 + kl;
		}
	}
	memcpy(out, h, hl);
	return hl;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char token[3 * JWT_MAX_LEN];
	static uint8_t header[JWT_MAX_LEN + JWT_KID_SIZE];
	struct jwt_claims c;
	const uint8_t *nl;
	size_t len, hl;

	if (size < 1)
		return 0;
	if (data[0] == 0) {
		(void)jwt_verify_algs(fz_keys, (const char *)data + 1, size - 1,
		    JWT_TYP_ACCESS, FZ_ALGS, &fz_pol, 1700000000, &c);
		(void)jwt_verify_algs(fz_keys, (const char *)data + 1, size - 1,
		    JWT_TYP_REFRESH, FZ_ALGS, &fz_pol, 1700000000, &c);
		return 0;
	}
	nl = memchr(data + 1, '\n', size - 1);
	if (nl == NULL || size > JWT_MAX_LEN)
		return 0;
	hl = fz_header(data + 1, (size_t)(nl - data - 1), data[0] == 2, header);
	len = fz_sign(header, hl, nl + 1, size - (size_t)(nl + 1 - data),
	    data[0] == 2, token, sizeof(token));
	if (len == 0)
		return 0;
	(void)jwt_verify_algs(fz_keys, token, len, JWT_TYP_ACCESS, FZ_ALGS,
	    &fz_pol, 1700000000, &c);
	(void)jwt_verify_algs(fz_keys, token, len, JWT_TYP_REFRESH, FZ_ALGS,
	    &fz_pol, 1700000000, &c);
	return 0;
}
