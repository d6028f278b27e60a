/*
 * jwt: RS256 JWS compact tokens over OpenSSL EVP. The algorithm is ours,
 * never the token's: the header must say RS256 or the token is refused
 * before any key is touched. Verification keys are selected by kid (the
 * RFC 7638 thumbprint) among the keys loaded at start.
 */
#include "jwt.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <dirent.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "b64url.h"
#include "json.h"

#define JWT_HEADER_MAX 512       /* decoded header bytes we accept */
#define JWT_SIG_MAX 1024         /* RSA-8192 signature bytes */
#define JWT_JWK_MAX 2400
#define JWT_TIME_MAX 253402300799LL  /* 9999-12-31T23:59:59Z */

struct jwt_key {
	EVP_PKEY *pkey;
	EVP_PKEY_CTX *verify;        /* RS256 verification, set up once */
	size_t sig_len;
	char kid[JWT_KID_SIZE];
	char jwk[JWT_JWK_MAX];
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
};

static const char *const jwt_typ_names[] = {
	[JWT_TYP_ACCESS] = "at+jwt",
	[JWT_TYP_REFRESH] = "rt+jwt",
};

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

/* Only *.pem files of a retired-keys directory. */
static int jwt_pem_name(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return d->d_name[0] != '.' && n > 4 &&
	    strcmp(d->d_name + n - 4, ".pem") == 0;
}

/* Add path, or every *.pem in it when it is a directory. */
static int jwt_keys_add_entry(struct jwt_keys *ks, const char *path,
    char *err, size_t errlen)
{
	struct dirent **names = NULL;
	struct stat st;
	char file[4096];
	int i, n, rc = 0;

	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
		return jwt_keys_add(ks, path, "JWT_EXTRA_PUBLIC_KEYS", err, errlen);
	n = scandir(path, &names, jwt_pem_name, alphasort);
	if (n < 0) {
		snprintf(err, errlen, "JWT_EXTRA_PUBLIC_KEYS: cannot list %s",
		    path);
		return -1;
	}
	for (i = 0; i < n; i++) {
		int len = snprintf(file, sizeof(file), "%s/%s", path,
		    names[i]->d_name);

		if (rc == 0 && (len < 0 || (size_t)len >= sizeof(file) ||
		    jwt_keys_add(ks, file, "JWT_EXTRA_PUBLIC_KEYS", err,
		    errlen) != 0))
			rc = -1;
		free(names[i]);
	}
	free(names);
	return rc;
}

int jwt_keys_load(struct jwt_keys **out, const char *private_path,
    const char *public_path, const char *extra_paths, char *err,
    size_t errlen)
{
	struct jwt_keys *ks = calloc(1, sizeof(*ks));
	char *list = NULL, *save = NULL, *p;

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
	if (extra_paths != NULL && *extra_paths != '\0') {
		list = strdup(extra_paths);
		if (list == NULL)
			goto fail;
		for (p = strtok_r(list, ":", &save); p != NULL;
		    p = strtok_r(NULL, ":", &save)) {
			if (jwt_keys_add_entry(ks, p, err, errlen) != 0)
				goto fail;
		}
	}
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
	free(list);
	*out = ks;
	return 0;
fail:
	free(list);
	jwt_keys_free(ks);
	return -1;
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
	json_object_object_add(o, "sid", json_object_new_string(c->sid));
	return o;
}

long jwt_sign(const struct jwt_keys *ks, const struct jwt_claims *c,
    const struct jwt_policy *pol, char *out, size_t outcap)
{
	struct json_object *payload = NULL;
	unsigned char sig[JWT_SIG_MAX], digest[JWT_SHA256_LEN];
	char header[160];
	const char *body;
	size_t bodylen, siglen = sizeof(sig), pos = 0;
	long rc = -1;
	int hlen;

	if (ks == NULL || ks->sign_key == NULL || outcap == 0)
		return -1;
	hlen = snprintf(header, sizeof(header),
	    "{\"alg\":\"RS256\",\"typ\":\"%s\",\"kid\":\"%s\"}",
	    jwt_typ_names[c->typ], ks->keys[0].kid);
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
	if (jwt_sha256(ks, out, pos, digest) != 0 ||
	    EVP_PKEY_sign(ks->sign, sig, &siglen, digest, JWT_SHA256_LEN) != 1 ||
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

/* Check the decoded header; returns the key it names or NULL. */
static const struct jwt_key *jwt_check_header(const struct jwt_keys *ks,
    const char *b64, size_t len, enum jwt_typ want)
{
	unsigned char raw[JWT_HEADER_MAX];
	struct json_object *hdr = NULL;
	const struct jwt_key *key = NULL;
	const char *s;
	size_t slen = 0, i;
	long n;

	n = b64url_decode(raw, sizeof(raw), b64, len);
	if (n <= 0 || json_parse((const char *)raw, (size_t)n, &hdr) != AUTH_OK ||
	    !json_object_is_type(hdr, json_type_object))
		goto out;
	s = jwt_str(hdr, "alg", &slen);
	if (s == NULL || slen != 5 || memcmp(s, "RS256", 5) != 0)
		goto out;
	/* We implement no extension, so any critical one is refused. */
	if (json_object_object_get_ex(hdr, "crit", NULL))
		goto out;
	s = jwt_str(hdr, "typ", &slen);
	if (s == NULL || strlen(jwt_typ_names[want]) != slen ||
	    memcmp(s, jwt_typ_names[want], slen) != 0)
		goto out;
	s = jwt_str(hdr, "kid", &slen);
	if (s == NULL || slen != JWT_KID_SIZE - 1)
		goto out;
	for (i = 0; i < ks->count; i++) {
		if (memcmp(ks->keys[i].kid, s, slen) == 0) {
			key = &ks->keys[i];
			break;
		}
	}
out:
	json_object_put(hdr);
	return key;
}

static int jwt_check_signature(const struct jwt_keys *ks,
    const struct jwt_key *key, const char *signed_part, size_t signed_len,
    const char *b64sig, size_t siglen)
{
	unsigned char sig[JWT_SIG_MAX], digest[JWT_SHA256_LEN];
	long n;

	n = b64url_decode(sig, sizeof(sig), b64sig, siglen);
	if (n < 0 || (size_t)n != key->sig_len)
		return 0;
	return jwt_sha256(ks, signed_part, signed_len, digest) == 0 &&
	    EVP_PKEY_verify(key->verify, sig, (size_t)n, digest,
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
	    jwt_uuid(p, "sid", out->sid) != 0)
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
	unsigned char raw[JWT_MAX_LEN];
	struct json_object *payload = NULL;
	const struct jwt_key *key;
	const char *dot1, *dot2;
	enum auth_err rc = AUTH_ETOKEN;
	long n;

	memset(out, 0, sizeof(*out));
	if (token == NULL || len == 0 || len > JWT_MAX_LEN)
		return AUTH_ETOKEN;
	dot1 = memchr(token, '.', len);
	if (dot1 == NULL)
		return AUTH_ETOKEN;
	dot2 = memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token));
	if (dot2 == NULL || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)))
		return AUTH_ETOKEN;
	key = jwt_check_header(ks, token, (size_t)(dot1 - token), want);
	if (key == NULL)
		return AUTH_ETOKEN;
	if (!jwt_check_signature(ks, key, token, (size_t)(dot2 - token), dot2 + 1,
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
