/*
 * jwt: RS256 and HS256 JWS compact tokens over OpenSSL EVP. The algorithm
 * is ours, never the token's: the header must name one the caller accepts
 * or the token is refused before any key is touched. Verification keys
 * are selected by kid among the keys of that algorithm loaded at start:
 * RSA keys by their RFC 7638 thumbprint, HS256 refresh keys by a
 * truncated hash of the key.
 */
#include "jwt.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <dirent.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "b64url.h"
#include "json.h"
#include "keyfile.h"

_Static_assert(JWT_HMAC_KEY_LEN == KEYFILE_KEY_LEN, "a refresh key is a key file");

#define JWT_HEADER_MAX 512       /* decoded header bytes we accept */
#define JWT_SIG_MAX 1024         /* RSA-8192 signature bytes */
#define JWT_JWK_MAX 2400
#define JWT_TIME_MAX 253402300799LL  /* 9999-12-31T23:59:59Z */
#define JWT_HMAC_LEN 32          /* HMAC-SHA-256 output */
#define JWT_HMAC_KID_BYTES 16    /* of the key's SHA-256, in its kid */

struct jwt_key {
	EVP_PKEY *pkey;
	EVP_PKEY_CTX *verify;        /* RS256 verification, set up once */
	size_t sig_len;
	char kid[JWT_KID_SIZE];
	char jwk[JWT_JWK_MAX];
};

/*
 * An HS256 key lives only inside its MAC context, keyed once at load:
 * every token re-initialises the context with that key instead of
 * handing the key over again, and our own copy is wiped.
 */
struct jwt_hkey {
	EVP_MAC_CTX *mac;
	char kid[JWT_HMAC_KID_SIZE];
};

/*
 * Contexts are set up once per key rather than per token: a DigestSign or
 * DigestVerify init fetches the algorithms and builds a context every
 * time (4-5 us of a 270 us signature, measured). SHA-256 is fetched once
 * and hashes through one reused context (SHA256() or EVP_Digest fetch or
 * allocate one per call).
 */
struct jwt_keys {
	EVP_PKEY *sign_key;          /* NULL in verify-only processes */
	EVP_PKEY_CTX *sign;          /* RS256 signing with sign_key */
	EVP_MD *sha256;
	EVP_MD_CTX *md;
	size_t count;
	struct jwt_key keys[JWT_MAX_KEYS];
	EVP_MAC *hmac;               /* fetched once, with the first HS256 key */
	int hsign;                   /* hkeys[0] is REFRESH_KEY_PATH's: it signs */
	size_t hcount;
	struct jwt_hkey hkeys[JWT_MAX_KEYS];
};

static const char *const jwt_typ_names[] = {
	[JWT_TYP_ACCESS] = "at+jwt",
	[JWT_TYP_REFRESH] = "rt+jwt",
	[JWT_TYP_MFA] = "mfa+jwt",
};

/* RFC 8176 names of the JWT_AMR_* bits, in bit order. */
static const char *const jwt_amr_names[] = { "pwd", "otp" };
#define JWT_AMR_COUNT (sizeof(jwt_amr_names) / sizeof(jwt_amr_names[0]))

/* base64url of a BIGNUM parameter of pkey ("n" or "e"). */
static int jwt_b64_param(EVP_PKEY *pkey, const char *name, char *out,
    size_t outcap)
{
	BIGNUM *bn = NULL;
	unsigned char buf[JWT_SIG_MAX];
	int n, rc = -1;

	if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1)
		goto out;
	n = BN_num_bytes(bn);
	if (n <= 0 || (size_t)n > sizeof(buf) || BN_bn2bin(bn, buf) != n)
		goto out;
	if (b64url_encode(out, outcap, buf, (size_t)n) < 0)
		goto out;
	rc = 0;
out:
	BN_free(bn);
	return rc;
}

/* Fill kid (RFC 7638 thumbprint) and jwk text of k from its pkey. */
static int jwt_key_describe(struct jwt_key *k)
{
	char n[B64URL_ENCODED_SIZE(JWT_SIG_MAX)], e[64];
	char canon[sizeof(n) + sizeof(e) + 64];
	unsigned char md[32];
	unsigned int mdlen = 0;
	int len;

	if (jwt_b64_param(k->pkey, OSSL_PKEY_PARAM_RSA_N, n, sizeof(n)) != 0 ||
	    jwt_b64_param(k->pkey, OSSL_PKEY_PARAM_RSA_E, e, sizeof(e)) != 0)
		return -1;
	/* RFC 7638: required members only, lexicographic order, no spaces. */
	len = snprintf(canon, sizeof(canon),
	    "{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}", e, n);
	if (len < 0 || (size_t)len >= sizeof(canon))
		return -1;
	if (EVP_Digest(canon, (size_t)len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    b64url_encode(k->kid, sizeof(k->kid), md, mdlen) < 0)
		return -1;
	len = snprintf(k->jwk, sizeof(k->jwk),
	    "{\"kty\":\"RSA\",\"use\":\"sig\",\"alg\":\"RS256\",\"kid\":\"%s\","
	    "\"n\":\"%s\",\"e\":\"%s\"}", k->kid, n, e);
	if (len < 0 || (size_t)len >= sizeof(k->jwk))
		return -1;
	return 0;
}

/* Read one PEM key (public or private) from path; NULL on failure. */
static EVP_PKEY *jwt_read_pem(const char *path, int private)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *pkey;

	if (f == NULL)
		return NULL;
	pkey = private ? PEM_read_PrivateKey(f, NULL, NULL, NULL)
	    : PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	if (pkey != NULL && (!EVP_PKEY_is_a(pkey, "RSA") ||
	    EVP_PKEY_get_bits(pkey) < 2048)) {
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
	return pkey;
}

/* An RS256 (PKCS #1 v1.5, SHA-256) signing or verifying context for pkey. */
static EVP_PKEY_CTX *jwt_rs256_ctx(EVP_PKEY *pkey, int sign)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(pkey, NULL);

	if (c == NULL ||
	    (sign ? EVP_PKEY_sign_init(c) : EVP_PKEY_verify_init(c)) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_signature_md(c, EVP_sha256()) != 1) {
		EVP_PKEY_CTX_free(c);
		return NULL;
	}
	return c;
}

static int jwt_keys_add(struct jwt_keys *ks, const char *path,
    const char *setting, char *err, size_t errlen)
{
	struct jwt_key *k;
	size_t i;

	if (ks->count == JWT_MAX_KEYS) {
		snprintf(err, errlen, "%s: more than %d keys", setting,
		    JWT_MAX_KEYS);
		return -1;
	}
	k = &ks->keys[ks->count];
	k->pkey = jwt_read_pem(path, 0);
	if (k->pkey == NULL) {
		snprintf(err, errlen, "%s: cannot read an RSA public key of "
		    "2048 bits or more from %s", setting, path);
		return -1;
	}
	k->sig_len = (size_t)EVP_PKEY_get_size(k->pkey);
	if (k->sig_len > JWT_SIG_MAX || jwt_key_describe(k) != 0) {
		EVP_PKEY_free(k->pkey);
		k->pkey = NULL;
		snprintf(err, errlen, "%s: unusable key in %s", setting, path);
		return -1;
	}
	/* A key listed twice would shadow itself; keep the first. */
	for (i = 0; i < ks->count; i++) {
		if (strcmp(ks->keys[i].kid, k->kid) == 0) {
			EVP_PKEY_free(k->pkey);
			k->pkey = NULL;
			return 0;
		}
	}
	k->verify = jwt_rs256_ctx(k->pkey, 0);
	if (k->verify == NULL) {
		EVP_PKEY_free(k->pkey);
		k->pkey = NULL;
		snprintf(err, errlen, "%s: unusable key in %s", setting, path);
		return -1;
	}
	ks->count++;
	return 0;
}

/* 1 when name is visible and ends in suffix after at least one byte. */
static int jwt_has_suffix(const char *name, const char *suffix)
{
	size_t n = strlen(name), m = strlen(suffix);

	return name[0] != '.' && n > m && strcmp(name + n - m, suffix) == 0;
}

/* Only *.pem files of a retired-keys directory. */
static int jwt_pem_name(const struct dirent *d)
{
	return jwt_has_suffix(d->d_name, ".pem");
}

/* Only *.key files of a retired refresh keys directory. */
static int jwt_key_name(const struct dirent *d)
{
	return jwt_has_suffix(d->d_name, ".key");
}

typedef int (*jwt_add_fn)(struct jwt_keys *ks, const char *path,
    const char *setting, char *err, size_t errlen);

/* add(path), or add() of every file filter selects in it when it is a
 * directory, in name order. */
static int jwt_keys_add_entry(struct jwt_keys *ks, const char *path,
    const char *setting, int (*filter)(const struct dirent *), jwt_add_fn add,
    char *err, size_t errlen)
{
	struct dirent **names = NULL;
	struct stat st;
	char file[4096];
	int i, n, rc = 0;

	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
		return add(ks, path, setting, err, errlen);
	n = scandir(path, &names, filter, alphasort);
	if (n < 0) {
		snprintf(err, errlen, "%s: cannot list %s", setting, path);
		return -1;
	}
	for (i = 0; i < n; i++) {
		int len = snprintf(file, sizeof(file), "%s/%s", path,
		    names[i]->d_name);

		if (rc == 0 && (len < 0 || (size_t)len >= sizeof(file) ||
		    add(ks, file, setting, err, errlen) != 0))
			rc = -1;
		free(names[i]);
	}
	free(names);
	return rc;
}

/* Each entry of the colon-separated list, through jwt_keys_add_entry. */
static int jwt_keys_add_list(struct jwt_keys *ks, const char *list,
    const char *setting, int (*filter)(const struct dirent *), jwt_add_fn add,
    char *err, size_t errlen)
{
	char *copy, *save = NULL, *p;
	int rc = 0;

	if (list == NULL || *list == '\0')
		return 0;
	copy = strdup(list);
	if (copy == NULL) {
		snprintf(err, errlen, "%s: out of memory", setting);
		return -1;
	}
	for (p = strtok_r(copy, ":", &save); p != NULL && rc == 0;
	    p = strtok_r(NULL, ":", &save))
		rc = jwt_keys_add_entry(ks, p, setting, filter, add, err, errlen);
	free(copy);
	return rc;
}

int jwt_keys_load(struct jwt_keys **out, const char *private_path,
    const char *public_path, const char *extra_paths, char *err,
    size_t errlen)
{
	struct jwt_keys *ks = calloc(1, sizeof(*ks));

	*out = NULL;
	if (ks == NULL) {
		snprintf(err, errlen, "out of memory loading keys");
		return -1;
	}
	ks->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	ks->md = EVP_MD_CTX_new();
	if (ks->sha256 == NULL || ks->md == NULL) {
		snprintf(err, errlen, "SHA-256 is not available");
		goto fail;
	}
	if (jwt_keys_add(ks, public_path, "JWT_PUBLIC_KEY_PATH", err,
	    errlen) != 0)
		goto fail;
	if (jwt_keys_add_list(ks, extra_paths, "JWT_EXTRA_PUBLIC_KEYS",
	    jwt_pem_name, jwt_keys_add, err, errlen) != 0)
		goto fail;
	if (private_path != NULL) {
		ks->sign_key = jwt_read_pem(private_path, 1);
		if (ks->sign_key == NULL) {
			snprintf(err, errlen, "JWT_PRIVATE_KEY_PATH: cannot read "
			    "an RSA private key of 2048 bits or more from %s",
			    private_path);
			goto fail;
		}
		if (EVP_PKEY_eq(ks->sign_key, ks->keys[0].pkey) != 1) {
			snprintf(err, errlen, "JWT_PRIVATE_KEY_PATH: key does not "
			    "match JWT_PUBLIC_KEY_PATH");
			goto fail;
		}
		ks->sign = jwt_rs256_ctx(ks->sign_key, 1);
		if (ks->sign == NULL) {
			snprintf(err, errlen, "JWT_PRIVATE_KEY_PATH: cannot sign "
			    "RS256 with the key in %s", private_path);
			goto fail;
		}
	}
	*out = ks;
	return 0;
fail:
	jwt_keys_free(ks);
	return -1;
}

/* Key path's HS256 key into the next slot; ENOENT as keyfile_read. */
static int jwt_hmac_add(struct jwt_keys *ks, const char *path,
    const char *setting, char *err, size_t errlen)
{
	unsigned char key[JWT_HMAC_KEY_LEN], md[JWT_SHA256_LEN];
	OSSL_PARAM params[2];
	struct jwt_hkey *k;
	size_t i;
	int rc;

	if (ks->hcount == JWT_MAX_KEYS) {
		snprintf(err, errlen, "%s: more than %d keys", setting,
		    JWT_MAX_KEYS);
		return -1;
	}
	k = &ks->hkeys[ks->hcount];
	rc = keyfile_read(path, setting, key, err, errlen);
	if (rc != 0)
		goto out;
	rc = -1;
	if (jwt_sha256(ks, key, sizeof(key), md) != 0 ||
	    b64url_encode(k->kid, sizeof(k->kid), md, JWT_HMAC_KID_BYTES) < 0) {
		snprintf(err, errlen, "%s: cannot name the key in %s", setting,
		    path);
		goto out;
	}
	/* A key listed twice would shadow itself; keep the first. */
	for (i = 0; i < ks->hcount; i++) {
		if (strcmp(ks->hkeys[i].kid, k->kid) == 0) {
			rc = 0;
			goto out;
		}
	}
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (ks->hmac == NULL)
		ks->hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	k->mac = ks->hmac != NULL ? EVP_MAC_CTX_new(ks->hmac) : NULL;
	if (k->mac == NULL ||
	    EVP_MAC_init(k->mac, key, sizeof(key), params) != 1) {
		EVP_MAC_CTX_free(k->mac);
		k->mac = NULL;
		snprintf(err, errlen, "%s: HMAC-SHA-256 is not available",
		    setting);
		goto out;
	}
	ks->hcount++;
	rc = 0;
out:
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(md, sizeof(md));
	return rc;
}

int jwt_keys_load_hmac(struct jwt_keys *ks, const char *path, int optional,
    const char *extra, char *err, size_t errlen)
{
	/* hsign says that hkeys[0] is path's key: true of a first load only. */
	if (ks->hcount > 0 || ks->hsign) {
		snprintf(err, errlen, "REFRESH_KEY_PATH: keys loaded twice");
		return -1;
	}
	if (path != NULL) {
		int rc = jwt_hmac_add(ks, path, "REFRESH_KEY_PATH", err, errlen);

		if (rc != 0 && !(rc == ENOENT && optional))
			return -1;
		ks->hsign = rc == 0;
	}
	return jwt_keys_add_list(ks, extra, "REFRESH_EXTRA_KEYS", jwt_key_name,
	    jwt_hmac_add, err, errlen) == 0 ? 0 : -1;
}

void jwt_keys_free(struct jwt_keys *ks)
{
	size_t i;

	if (ks == NULL)
		return;
	for (i = 0; i < ks->count; i++) {
		EVP_PKEY_CTX_free(ks->keys[i].verify);
		EVP_PKEY_free(ks->keys[i].pkey);
	}
	for (i = 0; i < ks->hcount; i++)
		EVP_MAC_CTX_free(ks->hkeys[i].mac);
	EVP_MAC_free(ks->hmac);
	EVP_PKEY_CTX_free(ks->sign);
	EVP_PKEY_free(ks->sign_key);
	EVP_MD_CTX_free(ks->md);
	EVP_MD_free(ks->sha256);
	free(ks);
}

int jwt_sha256(const struct jwt_keys *ks, const void *data, size_t len,
    unsigned char *out)
{
	return EVP_DigestInit_ex2(ks->md, ks->sha256, NULL) == 1 &&
	    EVP_DigestUpdate(ks->md, data, len) == 1 &&
	    EVP_DigestFinal_ex(ks->md, out, NULL) == 1 ? 0 : -1;
}

size_t jwt_keys_count(const struct jwt_keys *ks)
{
	return ks->count;
}

const char *jwt_keys_kid(const struct jwt_keys *ks, size_t i)
{
	return i < ks->count ? ks->keys[i].kid : NULL;
}

const char *jwt_keys_jwk(const struct jwt_keys *ks, size_t i)
{
	return i < ks->count ? ks->keys[i].jwk : NULL;
}

size_t jwt_keys_hmac_count(const struct jwt_keys *ks)
{
	return ks->hcount;
}

const char *jwt_keys_hmac_kid(const struct jwt_keys *ks, size_t i)
{
	return i < ks->hcount ? ks->hkeys[i].kid : NULL;
}

/* HMAC-SHA-256 of data[0..len) under k into out (JWT_HMAC_LEN bytes). */
static int jwt_hmac(const struct jwt_hkey *k, const void *data, size_t len,
    unsigned char *out)
{
	size_t n = 0;

	/* A NULL key re-initialises the context with the key it holds. */
	return EVP_MAC_init(k->mac, NULL, 0, NULL) == 1 &&
	    EVP_MAC_update(k->mac, data, len) == 1 &&
	    EVP_MAC_final(k->mac, out, &n, JWT_HMAC_LEN) == 1 &&
	    n == JWT_HMAC_LEN ? 0 : -1;
}

/* Append base64url(in) at out + *pos. */
static int jwt_append_b64(char *out, size_t outcap, size_t *pos,
    const void *in, size_t inlen)
{
	long n = b64url_encode(out + *pos, outcap - *pos, in, inlen);

	if (n < 0)
		return -1;
	*pos += (size_t)n;
	return 0;
}

/* The payload JSON of claims; caller puts the returned object. */
static struct json_object *jwt_payload(const struct jwt_claims *c,
    const struct jwt_policy *pol)
{
	struct json_object *o = json_object_new_object();

	if (o == NULL)
		return NULL;
	json_object_object_add(o, "iss", json_object_new_string(pol->iss));
	json_object_object_add(o, "sub", json_object_new_string(c->sub));
	if (c->typ == JWT_TYP_ACCESS && pol->aud != NULL && *pol->aud != '\0')
		json_object_object_add(o, "aud",
		    json_object_new_string(pol->aud));
	json_object_object_add(o, "iat", json_object_new_int64(c->iat));
	json_object_object_add(o, "exp", json_object_new_int64(c->exp));
	json_object_object_add(o, "jti", json_object_new_string(c->jti));
	if (c->typ != JWT_TYP_MFA)
		json_object_object_add(o, "sid", json_object_new_string(c->sid));
	if (c->typ == JWT_TYP_ACCESS ||
	    (c->typ == JWT_TYP_REFRESH && (c->amr & JWT_AMR_OTP))) {
		struct json_object *a = json_object_new_array();
		unsigned amr = c->amr != 0 ? c->amr : JWT_AMR_PWD;
		size_t i;

		for (i = 0; i < JWT_AMR_COUNT; i++)
			if (amr & (1u << i))
				json_object_array_add(a,
				    json_object_new_string(jwt_amr_names[i]));
		json_object_object_add(o, "amr", a);
	}
	return o;
}

long jwt_sign(const struct jwt_keys *ks, const struct jwt_claims *c,
    const struct jwt_policy *pol, char *out, size_t outcap)
{
	return jwt_sign_alg(ks, JWT_ALG_RS256, c, pol, out, outcap);
}

/* The signature of out[0..pos) under alg into sig; 0 or -1. */
static int jwt_signature(const struct jwt_keys *ks, enum jwt_alg alg,
    const char *out, size_t pos, unsigned char *sig, size_t *siglen)
{
	unsigned char digest[JWT_SHA256_LEN];

	if (alg == JWT_ALG_HS256) {
		*siglen = JWT_HMAC_LEN;
		return jwt_hmac(&ks->hkeys[0], out, pos, sig);
	}
	return jwt_sha256(ks, out, pos, digest) == 0 &&
	    EVP_PKEY_sign(ks->sign, sig, siglen, digest, JWT_SHA256_LEN) == 1 ?
	    0 : -1;
}

long jwt_sign_alg(const struct jwt_keys *ks, enum jwt_alg alg,
    const struct jwt_claims *c, const struct jwt_policy *pol, char *out,
    size_t outcap)
{
	struct json_object *payload = NULL;
	unsigned char sig[JWT_SIG_MAX];
	char header[160];
	const char *body, *name, *kid;
	size_t bodylen, siglen = sizeof(sig), pos = 0;
	long rc = -1;
	int hlen;

	if (ks == NULL || outcap == 0)
		return -1;
	if (alg == JWT_ALG_RS256 && ks->sign_key != NULL) {
		name = "RS256";
		kid = ks->keys[0].kid;
	} else if (alg == JWT_ALG_HS256 && ks->hsign &&
	    c->typ == JWT_TYP_REFRESH) {
		name = "HS256";
		kid = ks->hkeys[0].kid;
	} else {
		out[0] = '\0';
		return -1;
	}
	hlen = snprintf(header, sizeof(header),
	    "{\"alg\":\"%s\",\"typ\":\"%s\",\"kid\":\"%s\"}",
	    name, jwt_typ_names[c->typ], kid);
	if (hlen < 0 || (size_t)hlen >= sizeof(header))
		goto out;
	payload = jwt_payload(c, pol);
	if (payload == NULL)
		goto out;
	body = json_compact(payload, &bodylen);
	if (body == NULL ||
	    jwt_append_b64(out, outcap, &pos, header, (size_t)hlen) != 0 ||
	    pos + 1 >= outcap)
		goto out;
	out[pos++] = '.';
	if (jwt_append_b64(out, outcap, &pos, body, bodylen) != 0)
		goto out;
	if (jwt_signature(ks, alg, out, pos, sig, &siglen) != 0 ||
	    pos + 1 >= outcap)
		goto out;
	out[pos++] = '.';
	if (jwt_append_b64(out, outcap, &pos, sig, siglen) != 0)
		goto out;
	rc = (long)pos;
out:
	json_object_put(payload);
	if (rc < 0 && outcap > 0)
		out[0] = '\0';
	return rc;
}

/* obj[name] as a string, or NULL when absent or not a string. */
static const char *jwt_str(struct json_object *obj, const char *name,
    size_t *len)
{
	struct json_object *v;

	if (!json_object_object_get_ex(obj, name, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	*len = (size_t)json_object_get_string_len(v);
	return json_object_get_string(v);
}

/* obj[name] as an integer (not a float, not a string); 0 or -1. */
static int jwt_int(struct json_object *obj, const char *name, long long *out)
{
	struct json_object *v;

	if (!json_object_object_get_ex(obj, name, &v) ||
	    !json_object_is_type(v, json_type_int))
		return -1;
	*out = (long long)json_object_get_int64(v);
	return 0;
}

/* Copy obj[name] into out if it is a canonical UUID; 0 or -1. */
static int jwt_uuid(struct json_object *obj, const char *name, char *out)
{
	size_t len = 0;
	const char *s = jwt_str(obj, name, &len);

	if (s == NULL || !valid_uuid(s, len))
		return -1;
	memcpy(out, s, len + 1);
	return 0;
}

/* 1 when v is a string exactly equal to want (an escaped NUL included). */
static int jwt_str_eq(struct json_object *v, const char *want)
{
	size_t n = strlen(want);

	return json_object_is_type(v, json_type_string) &&
	    (size_t)json_object_get_string_len(v) == n &&
	    memcmp(json_object_get_string(v), want, n) == 0;
}

/*
 * obj's amr, when present, into *out: an array of 1..JWT_AMR_COUNT
 * distinct known method names; 0 or -1. Absent: *out 0.
 */
static int jwt_amr(struct json_object *obj, unsigned *out)
{
	struct json_object *a;
	size_t i, j, n;

	*out = 0;
	if (!json_object_object_get_ex(obj, "amr", &a))
		return 0;
	if (!json_object_is_type(a, json_type_array))
		return -1;
	n = json_object_array_length(a);
	if (n == 0 || n > JWT_AMR_COUNT)
		return -1;
	for (i = 0; i < n; i++) {
		struct json_object *v = json_object_array_get_idx(a, i);

		for (j = 0; j < JWT_AMR_COUNT; j++)
			if (jwt_str_eq(v, jwt_amr_names[j]))
				break;
		if (j == JWT_AMR_COUNT || (*out & (1u << j)))
			return -1;
		*out |= 1u << j;
	}
	return 0;
}

/* 1 when the aud claim (string or array of strings) contains want. */
static int jwt_aud_ok(struct json_object *payload, const char *want)
{
	struct json_object *v;
	size_t i, n;

	if (!json_object_object_get_ex(payload, "aud", &v))
		return 0;
	if (json_object_is_type(v, json_type_string))
		return jwt_str_eq(v, want);
	if (!json_object_is_type(v, json_type_array))
		return 0;
	n = json_object_array_length(v);
	for (i = 0; i < n; i++)
		if (jwt_str_eq(json_object_array_get_idx(v, i), want))
			return 1;
	return 0;
}

/* The key a verified header names: one of the two, by its alg. */
struct jwt_vkey {
	const struct jwt_key *rsa;
	const struct jwt_hkey *hmac;
};

/* The member of algs that the header's alg string names exactly, or 0. */
static enum jwt_alg jwt_header_alg(struct json_object *hdr, unsigned algs)
{
	size_t slen = 0;
	const char *s = jwt_str(hdr, "alg", &slen);

	if (s == NULL || slen != 5)
		return 0;
	if ((algs & JWT_ALG_RS256) && memcmp(s, "RS256", 5) == 0)
		return JWT_ALG_RS256;
	if ((algs & JWT_ALG_HS256) && memcmp(s, "HS256", 5) == 0)
		return JWT_ALG_HS256;
	return 0;
}

/* Check the decoded header against the accepted algs; fills the key it
 * names and returns 0, or -1. */
static int jwt_check_header(const struct jwt_keys *ks, const char *b64,
    size_t len, enum jwt_typ want, unsigned algs, struct jwt_vkey *key)
{
	unsigned char raw[JWT_HEADER_MAX];
	struct json_object *hdr = NULL;
	enum jwt_alg alg;
	const char *s;
	size_t slen = 0, i;
	long n;

	memset(key, 0, sizeof(*key));
	n = b64url_decode(raw, sizeof(raw), b64, len);
	if (n <= 0 || json_parse((const char *)raw, (size_t)n, &hdr) != AUTH_OK ||
	    !json_object_is_type(hdr, json_type_object))
		goto out;
	alg = jwt_header_alg(hdr, algs);
	if (alg == 0)
		goto out;
	/* We implement no extension, so any critical one is refused. */
	if (json_object_object_get_ex(hdr, "crit", NULL))
		goto out;
	s = jwt_str(hdr, "typ", &slen);
	if (s == NULL || strlen(jwt_typ_names[want]) != slen ||
	    memcmp(s, jwt_typ_names[want], slen) != 0)
		goto out;
	s = jwt_str(hdr, "kid", &slen);
	if (s == NULL)
		goto out;
	if (alg == JWT_ALG_RS256 && slen == JWT_KID_SIZE - 1) {
		for (i = 0; i < ks->count && key->rsa == NULL; i++)
			if (memcmp(ks->keys[i].kid, s, slen) == 0)
				key->rsa = &ks->keys[i];
	} else if (alg == JWT_ALG_HS256 && slen == JWT_HMAC_KID_SIZE - 1) {
		for (i = 0; i < ks->hcount && key->hmac == NULL; i++)
			if (memcmp(ks->hkeys[i].kid, s, slen) == 0)
				key->hmac = &ks->hkeys[i];
	}
out:
	json_object_put(hdr);
	return key->rsa != NULL || key->hmac != NULL ? 0 : -1;
}

static int jwt_check_signature(const struct jwt_keys *ks,
    const struct jwt_vkey *key, const char *signed_part, size_t signed_len,
    const char *b64sig, size_t siglen)
{
	unsigned char sig[JWT_SIG_MAX], digest[JWT_SHA256_LEN];
	long n;

	n = b64url_decode(sig, sizeof(sig), b64sig, siglen);
	if (n < 0)
		return 0;
	if (key->hmac != NULL) {
		unsigned char mac[JWT_HMAC_LEN];

		/* Constant time: a forger learns nothing from how long. */
		return (size_t)n == JWT_HMAC_LEN &&
		    jwt_hmac(key->hmac, signed_part, signed_len, mac) == 0 &&
		    CRYPTO_memcmp(mac, sig, JWT_HMAC_LEN) == 0;
	}
	if ((size_t)n != key->rsa->sig_len)
		return 0;
	return jwt_sha256(ks, signed_part, signed_len, digest) == 0 &&
	    EVP_PKEY_verify(key->rsa->verify, sig, (size_t)n, digest,
	    sizeof(digest)) == 1;
}

static int jwt_check_claims(struct json_object *p, enum jwt_typ want,
    const struct jwt_policy *pol, long long now, struct jwt_claims *out)
{
	const char *iss;
	size_t isslen = 0;
	long long nbf;

	if (!json_object_is_type(p, json_type_object))
		return -1;
	iss = jwt_str(p, "iss", &isslen);
	if (iss == NULL || isslen != strlen(pol->iss) ||
	    memcmp(iss, pol->iss, isslen) != 0)
		return -1;
	if (jwt_int(p, "exp", &out->exp) != 0 || jwt_int(p, "iat", &out->iat) != 0)
		return -1;
	/* Bounded first so that the arithmetic below cannot overflow. */
	if (out->iat < 0 || out->exp > JWT_TIME_MAX || out->exp <= out->iat ||
	    now >= out->exp + pol->skew ||
	    out->iat > now + pol->skew)
		return -1;
	if (json_object_object_get_ex(p, "nbf", NULL) &&
	    (jwt_int(p, "nbf", &nbf) != 0 || nbf > JWT_TIME_MAX ||
	    nbf > now + pol->skew))
		return -1;
	if (jwt_uuid(p, "sub", out->sub) != 0 || jwt_uuid(p, "jti", out->jti) != 0 ||
	    (want != JWT_TYP_MFA && jwt_uuid(p, "sid", out->sid) != 0) ||
	    jwt_amr(p, &out->amr) != 0)
		return -1;
	if (want == JWT_TYP_ACCESS && pol->aud != NULL && *pol->aud != '\0' &&
	    !jwt_aud_ok(p, pol->aud))
		return -1;
	out->typ = want;
	return 0;
}

enum auth_err jwt_verify(const struct jwt_keys *ks, const char *token,
    size_t len, enum jwt_typ want, const struct jwt_policy *pol,
    long long now, struct jwt_claims *out)
{
	return jwt_verify_algs(ks, token, len, want, JWT_ALG_RS256, pol, now,
	    out);
}

enum auth_err jwt_verify_algs(const struct jwt_keys *ks, const char *token,
    size_t len, enum jwt_typ want, unsigned algs, const struct jwt_policy *pol,
    long long now, struct jwt_claims *out)
{
	unsigned char raw[JWT_MAX_LEN];
	struct json_object *payload = NULL;
	struct jwt_vkey key;
	const char *dot1, *dot2;
	enum auth_err rc = AUTH_ETOKEN;
	long n;

	memset(out, 0, sizeof(*out));
	/* Others verify access tokens with the public keys: never a MAC. */
	if (want == JWT_TYP_ACCESS)
		algs &= JWT_ALG_RS256;
	if (token == NULL || len == 0 || len > JWT_MAX_LEN)
		return AUTH_ETOKEN;
	dot1 = memchr(token, '.', len);
	if (dot1 == NULL)
		return AUTH_ETOKEN;
	dot2 = memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token));
	if (dot2 == NULL || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)))
		return AUTH_ETOKEN;
	if (jwt_check_header(ks, token, (size_t)(dot1 - token), want, algs,
	    &key) != 0)
		return AUTH_ETOKEN;
	if (!jwt_check_signature(ks, &key, token, (size_t)(dot2 - token), dot2 + 1,
	    len - (size_t)(dot2 + 1 - token)))
		return AUTH_ETOKEN;
	n = b64url_decode(raw, sizeof(raw), dot1 + 1, (size_t)(dot2 - dot1 - 1));
	if (n <= 0 || json_parse((const char *)raw, (size_t)n, &payload) != AUTH_OK)
		goto out;
	if (jwt_check_claims(payload, want, pol, now, out) == 0)
		rc = AUTH_OK;
out:
	json_object_put(payload);
	if (rc != AUTH_OK)
		memset(out, 0, sizeof(*out));
	return rc;
}
