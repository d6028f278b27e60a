/*
 * seal: AES-256-GCM sealing of stored secrets and HMAC of recovery codes
 * under the MFA key, through OpenSSL EVP. See seal.h.
 */
#include "seal.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "b64url.h"

#define SEAL_RAW_MAX 256             /* sealed bytes we ever open */

/*
 * One file, two keys: HKDF-SHA256 with a label each, so the cipher key
 * and the MAC key are independent though one file is kept.
 */
static int seal_derive(const unsigned char *ikm, const char *label,
    unsigned char *out)
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *ctx = kdf != NULL ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM params[4];
	int rc = -1;

	if (ctx == NULL)
		goto out;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
	    (void *)(size_t)ikm, KEYFILE_KEY_LEN);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
	    (void *)(size_t)label, strlen(label));
	params[3] = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(ctx, out, KEYFILE_KEY_LEN, params) == 1)
		rc = 0;
out:
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return rc;
}

int seal_key_load(struct seal_key *key, const char *path, const char *setting,
    char *err, size_t errlen)
{
	unsigned char ikm[KEYFILE_KEY_LEN];
	int rc = -1;

	memset(key, 0, sizeof(*key));
	if (keyfile_read(path, setting, ikm, err, errlen) != 0)
		goto out;
	if (seal_derive(ikm, "auth-svc mfa secret", key->enc) != 0 ||
	    seal_derive(ikm, "auth-svc mfa recovery", key->mac) != 0) {
		snprintf(err, errlen, "%s: cannot derive keys from %s", setting,
		    path);
		goto out;
	}
	rc = 0;
out:
	OPENSSL_cleanse(ikm, sizeof(ikm));
	if (rc != 0)
		seal_key_wipe(key);
	return rc;
}

void seal_key_wipe(struct seal_key *key)
{
	OPENSSL_cleanse(key, sizeof(*key));
}

int seal_close(const struct seal_key *key, const char *aad,
    const unsigned char *in, size_t len, char *out, size_t cap)
{
	unsigned char raw[SEAL_RAW_MAX];
	EVP_CIPHER_CTX *ctx = NULL;
	size_t n = SEAL_NONCE_LEN;
	int outl = 0, rc = -1;

	if (len > SEAL_RAW_MAX - SEAL_NONCE_LEN - SEAL_TAG_LEN ||
	    RAND_bytes(raw, SEAL_NONCE_LEN) != 1 ||
	    (ctx = EVP_CIPHER_CTX_new()) == NULL)
		goto out;
	/* GCM's default IV length is the 96 bits used here. */
	if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key->enc, raw) != 1 ||
	    EVP_EncryptUpdate(ctx, NULL, &outl, (const unsigned char *)aad,
	    (int)strlen(aad)) != 1 ||
	    EVP_EncryptUpdate(ctx, raw + n, &outl, in, (int)len) != 1)
		goto out;
	n += (size_t)outl;
	if (EVP_EncryptFinal_ex(ctx, raw + n, &outl) != 1)
		goto out;
	n += (size_t)outl;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SEAL_TAG_LEN,
	    raw + n) != 1)
		goto out;
	n += SEAL_TAG_LEN;
	if (b64url_encode(out, cap, raw, n) < 0)
		goto out;
	rc = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	OPENSSL_cleanse(raw, sizeof(raw));
	return rc;
}

int seal_open(const struct seal_key *key, const char *aad, const char *text,
    size_t len, unsigned char *out, size_t cap, size_t *outlen)
{
	unsigned char raw[SEAL_RAW_MAX];
	EVP_CIPHER_CTX *ctx = NULL;
	long n = b64url_decode(raw, sizeof(raw), text, len);
	size_t clen;
	int outl = 0, rc = -1;

	*outlen = 0;
	if (n < SEAL_NONCE_LEN + SEAL_TAG_LEN)
		goto out;
	clen = (size_t)n - SEAL_NONCE_LEN - SEAL_TAG_LEN;
	if (clen > cap || (ctx = EVP_CIPHER_CTX_new()) == NULL)
		goto out;
	if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key->enc, raw) != 1 ||
	    EVP_DecryptUpdate(ctx, NULL, &outl, (const unsigned char *)aad,
	    (int)strlen(aad)) != 1 ||
	    EVP_DecryptUpdate(ctx, out, &outl, raw + SEAL_NONCE_LEN,
	    (int)clen) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SEAL_TAG_LEN,
	    raw + SEAL_NONCE_LEN + clen) != 1)
		goto out;
	/* The tag is checked here: nothing is trusted before it passed. */
	if (EVP_DecryptFinal_ex(ctx, out + outl, &outl) != 1)
		goto out;
	*outlen = clen;
	rc = 0;
out:
	if (rc != 0)
		OPENSSL_cleanse(out, cap);
	EVP_CIPHER_CTX_free(ctx);
	OPENSSL_cleanse(raw, sizeof(raw));
	return rc;
}

int seal_mac(const struct seal_key *key, const char *data, size_t len,
    char *hex)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[32];
	size_t mdlen = 0, i;
	int rc = -1;

	if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key->mac,
	    sizeof(key->mac), (const unsigned char *)data, len, md, sizeof(md),
	    &mdlen) == NULL || mdlen != sizeof(md))
		goto out;
	for (i = 0; i < mdlen; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[2 * mdlen] = '\0';
	rc = 0;
out:
	OPENSSL_cleanse(md, sizeof(md));
	return rc;
}
