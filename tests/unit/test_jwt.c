/*
 * test_jwt: RS256 and HS256 sign/verify round trips, kid (RFC 7638), JWK,
 * key loading, and a catalogue of hostile tokens. Hostile tokens are built
 * here and, unless the point is a bad signature, signed with the right
 * private key, so that only the part under test is wrong.
 */
#include "unit.h"
#include "rsakey.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <ftw.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "b64url.h"
#include "err.h"
#include "json.h"
#include "jwt.h"
#include "valid.h"

#define ISS "taskhub-auth"
#define AUD "taskhub-api"
#define NOW 1700000000LL
#define SKEW 30
#define SUB "0b6f3c5e-8d2a-4f4b-9c1e-2a7d5e8f9a01"
#define JTI "5d1c7e2a-3b4f-4c6d-8e9f-0a1b2c3d4e5f"
#define SID "9e8d7c6b-5a49-4837-a625-140302f1e0d9"
#define Q(s) "\"" s "\""

/* RFC 7638 section 3.1 example key and its thumbprint. */
#define RFC_N "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT" \
    "86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc" \
    "5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgn" \
    "Yb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM" \
    "4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
#define RFC_E "AQAB"
#define RFC_KID "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"

#define TOKCAP (2 * JWT_MAX_LEN)

enum {
	F_A_PUB, F_A_PRIV, F_B_PUB, F_B_PRIV, F_C_PUB, F_C_PRIV,
	F_GARBAGE, F_EMPTY, F_RFC, F__N
};

static const char *const file_names[F__N] = {
	"a_pub.pem", "a_priv.pem", "b_pub.pem", "b_priv.pem", "c_pub.pem",
	"c_priv.pem", "garbage.pem", "empty.pem", "rfc7638.pem"
};

static struct {
	char dir[64];
	char path[F__N][128];
	EVP_PKEY *a, *b, *c;         /* RSA-2048, RSA-2048, RSA-1024 */
	struct jwt_keys *ks;         /* a signs; a verifies */
	char kid_a[JWT_KID_SIZE], kid_b[JWT_KID_SIZE];
	char kidq_a[JWT_KID_SIZE + 2], kidq_b[JWT_KID_SIZE + 2];
} fx;

static const struct jwt_policy pol_plain = { ISS, "", SKEW };
static const struct jwt_policy pol_aud = { ISS, AUD, SKEW };
static const struct jwt_policy pol_noskew = { ISS, "", 0 };

/* ------------------------------------------------------------------ */
/* fixture                                                             */

static int write_pem(const char *path, EVP_PKEY *k, int priv)
{
	FILE *f = fopen(path, "w");
	int ok;

	if (f == NULL)
		return -1;
	ok = priv ? PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL)
	    : PEM_write_PUBKEY(f, k);
	if (fclose(f) != 0)
		ok = 0;
	return ok == 1 ? 0 : -1;
}

static int write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	size_t n = strlen(text);

	if (f == NULL)
		return -1;
	if (fwrite(text, 1, n, f) != n) {
		fclose(f);
		return -1;
	}
	return fclose(f) == 0 ? 0 : -1;
}

/* The RFC 7638 example public key, built from its n and e. */
static EVP_PKEY *rfc7638_key(void)
{
	unsigned char nb[512], eb[8];
	long nlen = b64url_decode(nb, sizeof(nb), RFC_N, strlen(RFC_N));
	long elen = b64url_decode(eb, sizeof(eb), RFC_E, strlen(RFC_E));
	BIGNUM *n = NULL, *e = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;

	if (nlen != 256 || elen != 3)
		return NULL;
	n = BN_bin2bn(nb, (int)nlen, NULL);
	e = BN_bin2bn(eb, (int)elen, NULL);
	bld = OSSL_PARAM_BLD_new();
	if (n == NULL || e == NULL || bld == NULL ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) != 1 ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pkey = NULL;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	return pkey;
}

static int group_setup(void **state)
{
	char err[512] = "";
	EVP_PKEY *rfc;
	size_t i;

	(void)state;
	snprintf(fx.dir, sizeof(fx.dir), "/tmp/test_jwt.XXXXXX");
	if (mkdtemp(fx.dir) == NULL)
		return -1;
	for (i = 0; i < F__N; i++)
		snprintf(fx.path[i], sizeof(fx.path[i]), "%s/%s", fx.dir,
		    file_names[i]);
	fx.a = ut_rsa_key(2048);
	fx.b = ut_rsa_key(2048);
	fx.c = ut_rsa_key(1024);
	rfc = rfc7638_key();
	if (fx.a == NULL || fx.b == NULL || fx.c == NULL || rfc == NULL ||
	    write_pem(fx.path[F_A_PUB], fx.a, 0) != 0 ||
	    write_pem(fx.path[F_A_PRIV], fx.a, 1) != 0 ||
	    write_pem(fx.path[F_B_PUB], fx.b, 0) != 0 ||
	    write_pem(fx.path[F_B_PRIV], fx.b, 1) != 0 ||
	    write_pem(fx.path[F_C_PUB], fx.c, 0) != 0 ||
	    write_pem(fx.path[F_C_PRIV], fx.c, 1) != 0 ||
	    write_pem(fx.path[F_RFC], rfc, 0) != 0 ||
	    write_text(fx.path[F_GARBAGE], "-----BEGIN PUBLIC KEY-----\n"
	    "bm90IGEga2V5IGF0IGFsbA==\n-----END PUBLIC KEY-----\n"
	    "and some garbage\n") != 0 ||
	    write_text(fx.path[F_EMPTY], "") != 0) {
		EVP_PKEY_free(rfc);
		return -1;
	}
	EVP_PKEY_free(rfc);
	if (jwt_keys_load(&fx.ks, fx.path[F_A_PRIV], fx.path[F_A_PUB], "",
	    err, sizeof(err)) != 0) {
		fprintf(stderr, "group setup: %s\n", err);
		return -1;
	}
	/* kid_b from a verify-only set of b. */
	{
		struct jwt_keys *kb = NULL;

		if (jwt_keys_load(&kb, NULL, fx.path[F_B_PUB], NULL, err,
		    sizeof(err)) != 0)
			return -1;
		snprintf(fx.kid_b, sizeof(fx.kid_b), "%s", jwt_keys_kid(kb, 0));
		jwt_keys_free(kb);
	}
	snprintf(fx.kid_a, sizeof(fx.kid_a), "%s", jwt_keys_kid(fx.ks, 0));
	snprintf(fx.kidq_a, sizeof(fx.kidq_a), "\"%s\"", fx.kid_a);
	snprintf(fx.kidq_b, sizeof(fx.kidq_b), "\"%s\"", fx.kid_b);
	return 0;
}

static int group_teardown(void **state)
{
	size_t i;

	(void)state;
	jwt_keys_free(fx.ks);
	fx.ks = NULL;
	EVP_PKEY_free(fx.a);
	EVP_PKEY_free(fx.b);
	EVP_PKEY_free(fx.c);
	for (i = 0; i < F__N; i++)
		unlink(fx.path[i]);
	if (fx.dir[0] != '\0')
		rmdir(fx.dir);
	return 0;
}

/* ------------------------------------------------------------------ */
/* token builders                                                      */

/* Raw JSON value texts; NULL leaves the member out. extra is appended
 * verbatim as further members ("\"x\":1"). */
struct hdr {
	const char *alg, *typ, *kid, *extra;
};

struct pl {
	const char *iss, *sub, *iat, *exp, *jti, *sid, *extra;
};

static struct hdr hdr_std(enum jwt_typ typ)
{
	struct hdr h = {
		Q("RS256"), typ == JWT_TYP_ACCESS ? Q("at+jwt") : Q("rt+jwt"),
		fx.kidq_a, NULL
	};
	return h;
}

static struct pl pl_std(void)
{
	struct pl p = {
		Q(ISS), Q(SUB), "1700000000", "1700000900", Q(JTI), Q(SID), NULL
	};
	return p;
}

static void obj_add(char *out, size_t cap, size_t *pos, const char *name,
    const char *raw)
{
	int n;

	if (raw == NULL)
		return;
	if (name != NULL)
		n = snprintf(out + *pos, cap - *pos, "%s\"%s\":%s",
		    *pos > 1 ? "," : "", name, raw);
	else
		n = snprintf(out + *pos, cap - *pos, "%s%s",
		    *pos > 1 ? "," : "", raw);
	assert_true(n > 0 && (size_t)n < cap - *pos);
	*pos += (size_t)n;
}

static size_t obj_close(char *out, size_t cap, size_t pos)
{
	assert_true(pos + 2 <= cap);
	out[pos++] = '}';
	out[pos] = '\0';
	return pos;
}

static size_t hdr_text(char *out, size_t cap, const struct hdr *h)
{
	size_t pos = 1;

	out[0] = '{';
	out[1] = '\0';
	obj_add(out, cap, &pos, "alg", h->alg);
	obj_add(out, cap, &pos, "typ", h->typ);
	obj_add(out, cap, &pos, "kid", h->kid);
	obj_add(out, cap, &pos, NULL, h->extra);
	return obj_close(out, cap, pos);
}

static size_t pl_text(char *out, size_t cap, const struct pl *p)
{
	size_t pos = 1;

	out[0] = '{';
	out[1] = '\0';
	obj_add(out, cap, &pos, "iss", p->iss);
	obj_add(out, cap, &pos, "sub", p->sub);
	obj_add(out, cap, &pos, "iat", p->iat);
	obj_add(out, cap, &pos, "exp", p->exp);
	obj_add(out, cap, &pos, "jti", p->jti);
	obj_add(out, cap, &pos, "sid", p->sid);
	obj_add(out, cap, &pos, NULL, p->extra);
	return obj_close(out, cap, pos);
}

static void append_b64(char *out, size_t cap, size_t *pos, const void *in,
    size_t inlen)
{
	long n = b64url_encode(out + *pos, cap - *pos, in, inlen);

	assert_true(n >= 0);
	*pos += (size_t)n;
}

static void append_char(char *out, size_t cap, size_t *pos, char c)
{
	assert_true(*pos + 1 < cap);
	out[(*pos)++] = c;
	out[*pos] = '\0';
}

/* b64(h) "." b64(p) "." b64(signature with key over the first two parts,
 * digest md); an empty signature when key is NULL. */
static size_t sign_parts(char *out, size_t cap, EVP_PKEY *key,
    const EVP_MD *md, const void *h, size_t hlen, const void *p, size_t plen)
{
	unsigned char sig[1024];
	size_t siglen = sizeof(sig), pos = 0;
	EVP_MD_CTX *ctx;

	append_b64(out, cap, &pos, h, hlen);
	append_char(out, cap, &pos, '.');
	append_b64(out, cap, &pos, p, plen);
	if (key != NULL) {
		ctx = EVP_MD_CTX_new();
		assert_non_null(ctx);
		assert_int_equal(EVP_DigestSignInit(ctx, NULL, md, NULL, key), 1);
		assert_int_equal(EVP_DigestSign(ctx, sig, &siglen,
		    (const unsigned char *)out, pos), 1);
		EVP_MD_CTX_free(ctx);
	}
	append_char(out, cap, &pos, '.');
	if (key != NULL)
		append_b64(out, cap, &pos, sig, siglen);
	return pos;
}

static size_t forge_md(char *out, size_t cap, EVP_PKEY *key, const EVP_MD *md,
    const struct hdr *h, const struct pl *p)
{
	char ht[1024], pt[JWT_MAX_LEN];
	size_t hl = hdr_text(ht, sizeof(ht), h), pln = pl_text(pt, sizeof(pt), p);

	return sign_parts(out, cap, key, md, ht, hl, pt, pln);
}

static size_t forge(char *out, size_t cap, EVP_PKEY *key,
    const struct hdr *h, const struct pl *p)
{
	return forge_md(out, cap, key, EVP_sha256(), h, p);
}

/* Header as given, payload the standard one, signed RS256 by key a. */
static size_t forge_hdr(char *out, size_t cap, const struct hdr *h)
{
	struct pl p = pl_std();

	return forge(out, cap, fx.a, h, &p);
}

/* Standard access header, payload as given, signed RS256 by key a. */
static size_t forge_pl(char *out, size_t cap, const struct pl *p)
{
	struct hdr h = hdr_std(JWT_TYP_ACCESS);

	return forge(out, cap, fx.a, &h, p);
}

static void claims_std(struct jwt_claims *c, enum jwt_typ typ)
{
	memset(c, 0, sizeof(*c));
	c->typ = typ;
	memcpy(c->sub, SUB, sizeof(SUB));
	memcpy(c->jti, JTI, sizeof(JTI));
	memcpy(c->sid, SID, sizeof(SID));
	c->iat = NOW;
	c->exp = NOW + 900;
}

static size_t sign_std(char *out, size_t cap, enum jwt_typ typ,
    const struct jwt_policy *pol)
{
	struct jwt_claims c;
	long n;

	claims_std(&c, typ);
	n = jwt_sign(fx.ks, &c, pol, out, cap);
	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(out));
	return (size_t)n;
}

static enum auth_err vfy_at(const struct jwt_keys *ks, const char *tok,
    size_t len, enum jwt_typ typ, const struct jwt_policy *pol,
    long long now)
{
	struct jwt_claims c;

	return jwt_verify(ks, tok, len, typ, pol, now, &c);
}

/* Verify with the main key set at NOW under pol_plain. */
static enum auth_err vfy(const char *tok, size_t len, enum jwt_typ typ)
{
	return vfy_at(fx.ks, tok, len, typ, &pol_plain, NOW);
}

#define REFUSED(tok, len, typ) \
	assert_int_equal(vfy((tok), (len), (typ)), AUTH_ETOKEN)
#define ACCEPTED(tok, len, typ) \
	assert_int_equal(vfy((tok), (len), (typ)), AUTH_OK)

/* Start and length of segment idx (0..2) of a three-segment token. */
static size_t seg(const char *tok, size_t len, int idx, size_t *start)
{
	size_t i, s = 0;
	int k = 0;

	for (i = 0; i <= len; i++) {
		if (i == len || tok[i] == '.') {
			if (k == idx) {
				*start = s;
				return i - s;
			}
			k++;
			s = i + 1;
		}
	}
	fail_msg("token has no segment %d", idx);
	return 0;
}

/* Copy tok with segment idx replaced by rep[0..replen). */
static size_t splice(char *out, size_t cap, const char *tok, size_t len,
    int idx, const char *rep, size_t replen)
{
	size_t start = 0, sl = seg(tok, len, idx, &start);
	size_t total = len - sl + replen;

	assert_true(total < cap);
	memcpy(out, tok, start);
	memcpy(out + start, rep, replen);
	memcpy(out + start + replen, tok + start + sl, len - start - sl);
	out[total] = '\0';
	return total;
}

/* Decode segment idx of tok into out; returns its length. */
static size_t seg_decode(const char *tok, size_t len, int idx,
    unsigned char *out, size_t cap)
{
	size_t start = 0, sl = seg(tok, len, idx, &start);
	long n = b64url_decode(out, cap, tok + start, sl);

	assert_true(n >= 0);
	return (size_t)n;
}

/* Parse segment idx (0 header, 1 payload) as JSON; caller puts it. */
static struct json_object *seg_json(const char *tok, size_t len, int idx)
{
	unsigned char raw[JWT_MAX_LEN];
	size_t n = seg_decode(tok, len, idx, raw, sizeof(raw));
	struct json_object *o = NULL;

	assert_int_equal(json_parse((const char *)raw, n, &o), AUTH_OK);
	assert_true(json_object_is_type(o, json_type_object));
	return o;
}

static const char *obj_str(struct json_object *o, const char *name)
{
	struct json_object *v = NULL;

	if (!json_object_object_get_ex(o, name, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* Replace segment idx by the base64url of raw[0..n). */
static size_t splice_raw(char *out, size_t cap, const char *tok, size_t len,
    int idx, const unsigned char *raw, size_t n)
{
	char b64[B64URL_ENCODED_SIZE(JWT_MAX_LEN)];
	long m = b64url_encode(b64, sizeof(b64), raw, n);

	assert_true(m >= 0);
	return splice(out, cap, tok, len, idx, b64, (size_t)m);
}

/* ------------------------------------------------------------------ */
/* round trips                                                         */

static void check_claims(const struct jwt_claims *got,
    const struct jwt_claims *want)
{
	assert_int_equal(got->typ, want->typ);
	assert_string_equal(got->sub, want->sub);
	assert_string_equal(got->jti, want->jti);
	assert_string_equal(got->sid, want->sid);
	assert_true(got->iat == want->iat);
	assert_true(got->exp == want->exp);
}

static void roundtrip(enum jwt_typ typ)
{
	char tok[TOKCAP];
	struct jwt_claims in, out;
	struct json_object *h, *p;
	long n;

	claims_std(&in, typ);
	in.iat = 1600000123;
	in.exp = 1600000123 + 2592000;
	n = jwt_sign(fx.ks, &in, &pol_plain, tok, sizeof(tok));
	assert_true(n > 0 && n <= JWT_MAX_LEN);
	assert_int_equal((size_t)n, strlen(tok));

	memset(&out, 0x5a, sizeof(out));
	assert_int_equal(jwt_verify(fx.ks, tok, (size_t)n, typ, &pol_plain,
	    1600000123 + 1000, &out), AUTH_OK);
	check_claims(&out, &in);

	/* Header: exactly alg, typ, kid. */
	h = seg_json(tok, (size_t)n, 0);
	assert_int_equal(json_object_object_length(h), 3);
	assert_string_equal(obj_str(h, "alg"), "RS256");
	assert_string_equal(obj_str(h, "typ"),
	    typ == JWT_TYP_ACCESS ? "at+jwt" : "rt+jwt");
	assert_string_equal(obj_str(h, "kid"), fx.kid_a);
	json_object_put(h);

	/* Payload: iss, sub, iat, exp, jti, sid, and amr on access tokens;
	 * no aud without policy aud. */
	p = seg_json(tok, (size_t)n, 1);
	assert_int_equal(json_object_object_length(p),
	    typ == JWT_TYP_ACCESS ? 7 : 6);
	assert_string_equal(obj_str(p, "iss"), ISS);
	assert_string_equal(obj_str(p, "sub"), SUB);
	assert_string_equal(obj_str(p, "jti"), JTI);
	assert_string_equal(obj_str(p, "sid"), SID);
	assert_false(json_object_object_get_ex(p, "aud", NULL));
	json_object_put(p);

	/* The other type never accepts it. */
	assert_int_equal(jwt_verify(fx.ks, tok, (size_t)n,
	    typ == JWT_TYP_ACCESS ? JWT_TYP_REFRESH : JWT_TYP_ACCESS,
	    &pol_plain, 1600000123 + 1000, &out), AUTH_ETOKEN);
}

static void test_roundtrip_access(void **state)
{
	(void)state;
	roundtrip(JWT_TYP_ACCESS);
}

static void test_roundtrip_refresh(void **state)
{
	(void)state;
	roundtrip(JWT_TYP_REFRESH);
}

/*
 * What jwt_sign produces verifies with a plain DigestVerify of the public
 * key (RSASSA-PKCS1-v1_5 with SHA-256 over "header.payload"): the wire
 * format does not depend on our own verifier.
 */
static void test_sign_verifies_independently(void **state)
{
	char tok[JWT_MAX_LEN + 1];
	unsigned char sig[1024];
	const char *dot;
	EVP_MD_CTX *ctx;
	size_t n;
	long sl;

	(void)state;
	n = sign_std(tok, sizeof(tok), JWT_TYP_REFRESH, &pol_plain);
	dot = strrchr(tok, '.');
	assert_non_null(dot);
	sl = b64url_decode(sig, sizeof(sig), dot + 1, n - (size_t)(dot + 1 - tok));
	assert_int_equal(sl, 256);
	ctx = EVP_MD_CTX_new();
	assert_non_null(ctx);
	assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL,
	    fx.a), 1);
	assert_int_equal(EVP_DigestVerify(ctx, sig, (size_t)sl,
	    (const unsigned char *)tok, (size_t)(dot - tok)), 1);
	EVP_MD_CTX_free(ctx);
}

static void test_aud_only_on_access(void **state)
{
	char tok[TOKCAP];
	struct jwt_claims out, want;
	struct json_object *p;
	size_t n;

	(void)state;
	n = sign_std(tok, sizeof(tok), JWT_TYP_ACCESS, &pol_aud);
	p = seg_json(tok, n, 1);
	assert_string_equal(obj_str(p, "aud"), AUD);
	assert_int_equal(json_object_object_length(p), 8);   /* with amr */
	json_object_put(p);
	assert_int_equal(jwt_verify(fx.ks, tok, n, JWT_TYP_ACCESS, &pol_aud,
	    NOW, &out), AUTH_OK);
	claims_std(&want, JWT_TYP_ACCESS);
	check_claims(&out, &want);

	n = sign_std(tok, sizeof(tok), JWT_TYP_REFRESH, &pol_aud);
	p = seg_json(tok, n, 1);
	assert_false(json_object_object_get_ex(p, "aud", NULL));
	json_object_put(p);
	/* Refresh tokens do not carry aud and need none. */
	assert_int_equal(jwt_verify(fx.ks, tok, n, JWT_TYP_REFRESH, &pol_aud,
	    NOW, &out), AUTH_OK);
	claims_std(&want, JWT_TYP_REFRESH);
	check_claims(&out, &want);

	/* An access token signed without aud fails a policy that wants one. */
	n = sign_std(tok, sizeof(tok), JWT_TYP_ACCESS, &pol_plain);
	assert_int_equal(vfy_at(fx.ks, tok, n, JWT_TYP_ACCESS, &pol_aud, NOW),
	    AUTH_ETOKEN);
}

static void test_forge_control(void **state)
{
	char tok[TOKCAP];
	struct hdr h = hdr_std(JWT_TYP_REFRESH);
	struct pl p = pl_std();
	size_t n;

	(void)state;
	/* The builders make tokens that verify: refusals below are due to
	 * the one thing each test changes. */
	n = forge_hdr(tok, sizeof(tok), &h);
	ACCEPTED(tok, n, JWT_TYP_REFRESH);
	n = forge_pl(tok, sizeof(tok), &p);
	ACCEPTED(tok, n, JWT_TYP_ACCESS);
	p.extra = "\"x\":[[1]],\"name\":\"p\xc3\xa4ss\"";
	n = forge_pl(tok, sizeof(tok), &p);
	ACCEPTED(tok, n, JWT_TYP_ACCESS);
	h.extra = "\"cty\":\"x\"";
	n = forge_hdr(tok, sizeof(tok), &h);
	ACCEPTED(tok, n, JWT_TYP_REFRESH);
}

static void test_typ_confusion(void **state)
{
	char tok[TOKCAP];
	size_t n;

	(void)state;
	n = sign_std(tok, sizeof(tok), JWT_TYP_ACCESS, &pol_plain);
	ACCEPTED(tok, n, JWT_TYP_ACCESS);
	REFUSED(tok, n, JWT_TYP_REFRESH);
	n = sign_std(tok, sizeof(tok), JWT_TYP_REFRESH, &pol_plain);
	ACCEPTED(tok, n, JWT_TYP_REFRESH);
	REFUSED(tok, n, JWT_TYP_ACCESS);
}

/* ------------------------------------------------------------------ */
/* amr and MFA tokens                                                  */

/* The decoded payload of tok into out (NUL terminated). */
static void payload_of(const char *tok, char *out, size_t cap)
{
	const char *d1 = strchr(tok, '.'), *d2 = strrchr(tok, '.');
	long n;

	assert_non_null(d1);
	n = b64url_decode((unsigned char *)out, cap - 1, d1 + 1,
	    (size_t)(d2 - d1 - 1));
	assert_true(n > 0);
	out[n] = '\0';
}

/* Sign claims of typ with amr; verify as typ; return the amr read. */
static unsigned amr_roundtrip(enum jwt_typ typ, unsigned amr, char *payload,
    size_t cap)
{
	char tok[TOKCAP];
	struct jwt_claims c;
	long n;

	claims_std(&c, typ);
	c.amr = amr;
	n = jwt_sign(fx.ks, &c, &pol_plain, tok, sizeof(tok));
	assert_true(n > 0);
	payload_of(tok, payload, cap);
	memset(&c, 0xff, sizeof(c));
	assert_int_equal(jwt_verify(fx.ks, tok, (size_t)n, typ, &pol_plain, NOW,
	    &c), AUTH_OK);
	return c.amr;
}

static void test_amr(void **state)
{
	char pl[1024];

	(void)state;
	/* Access tokens always say how: "pwd" when nothing else is set. */
	assert_int_equal(amr_roundtrip(JWT_TYP_ACCESS, 0, pl, sizeof(pl)),
	    JWT_AMR_PWD);
	assert_non_null(strstr(pl, "\"amr\":[\"pwd\"]"));
	assert_int_equal(amr_roundtrip(JWT_TYP_ACCESS,
	    JWT_AMR_PWD | JWT_AMR_OTP, pl, sizeof(pl)),
	    JWT_AMR_PWD | JWT_AMR_OTP);
	assert_non_null(strstr(pl, "\"amr\":[\"pwd\",\"otp\"]"));
	/* Refresh tokens carry it only past a second factor. */
	assert_int_equal(amr_roundtrip(JWT_TYP_REFRESH, JWT_AMR_PWD, pl,
	    sizeof(pl)), 0);
	assert_null(strstr(pl, "amr"));
	assert_int_equal(amr_roundtrip(JWT_TYP_REFRESH,
	    JWT_AMR_PWD | JWT_AMR_OTP, pl, sizeof(pl)),
	    JWT_AMR_PWD | JWT_AMR_OTP);
}

static void test_amr_forged(void **state)
{
	static const char *const bad[] = {
		"\"amr\":\"pwd\"", "\"amr\":[]", "\"amr\":[\"pwd\",\"pwd\"]",
		"\"amr\":[\"sms\"]", "\"amr\":[\"pwd\",\"otp\",\"mfa\"]",
		"\"amr\":[1]", "\"amr\":null", "\"amr\":[\"PWD\"]",
		"\"amr\":[\"pwd\\u0000\"]", NULL
	};
	char tok[TOKCAP];
	struct pl p = pl_std();
	struct jwt_claims c;
	size_t i, n;

	(void)state;
	for (i = 0; bad[i] != NULL; i++) {
		p.extra = bad[i];
		n = forge_pl(tok, sizeof(tok), &p);
		if (vfy(tok, n, JWT_TYP_ACCESS) != AUTH_ETOKEN)
			fail_msg("%s accepted", bad[i]);
	}
	p.extra = "\"amr\":[\"otp\",\"pwd\"]";
	n = forge_pl(tok, sizeof(tok), &p);
	assert_int_equal(jwt_verify(fx.ks, tok, n, JWT_TYP_ACCESS, &pol_plain,
	    NOW, &c), AUTH_OK);
	assert_int_equal(c.amr, JWT_AMR_PWD | JWT_AMR_OTP);
}

static void test_mfa_token(void **state)
{
	char tok[TOKCAP], pl[1024];
	struct jwt_claims c;
	size_t n;

	(void)state;
	n = sign_std(tok, sizeof(tok), JWT_TYP_MFA, &pol_plain);
	payload_of(tok, pl, sizeof(pl));
	/* No session yet, and no methods to claim. */
	assert_null(strstr(pl, "sid"));
	assert_null(strstr(pl, "amr"));
	assert_int_equal(jwt_verify(fx.ks, tok, n, JWT_TYP_MFA, &pol_plain, NOW,
	    &c), AUTH_OK);
	assert_string_equal(c.sub, SUB);
	assert_string_equal(c.jti, JTI);
	assert_string_equal(c.sid, "");
	/* Every other type refuses it, and it refuses every other type. */
	REFUSED(tok, n, JWT_TYP_ACCESS);
	REFUSED(tok, n, JWT_TYP_REFRESH);
	n = sign_std(tok, sizeof(tok), JWT_TYP_ACCESS, &pol_plain);
	REFUSED(tok, n, JWT_TYP_MFA);
	n = sign_std(tok, sizeof(tok), JWT_TYP_REFRESH, &pol_plain);
	REFUSED(tok, n, JWT_TYP_MFA);
	/* Never HS256, whatever key is loaded. */
	claims_std(&c, JWT_TYP_MFA);
	assert_true(jwt_sign_alg(fx.ks, JWT_ALG_HS256, &c, &pol_plain, tok,
	    sizeof(tok)) < 0);
}

/* ------------------------------------------------------------------ */
/* kid and JWK                                                         */

static void b64_bn_param(EVP_PKEY *k, const char *name, char *out,
    size_t cap)
{
	BIGNUM *bn = NULL;
	unsigned char buf[1024];
	int n;

	assert_int_equal(EVP_PKEY_get_bn_param(k, name, &bn), 1);
	n = BN_bn2bin(bn, buf);
	assert_true(n > 0);
	assert_true(b64url_encode(out, cap, buf, (size_t)n) > 0);
	BN_free(bn);
}

static void test_kid_rfc7638_example(void **state)
{
	struct jwt_keys *ks = NULL;
	struct json_object *o = NULL;
	char err[512] = "";
	const char *jwk;

	(void)state;
	assert_int_equal(jwt_keys_load(&ks, NULL, fx.path[F_RFC], NULL, err,
	    sizeof(err)), 0);
	assert_non_null(ks);
	assert_int_equal(jwt_keys_count(ks), 1);
	assert_string_equal(jwt_keys_kid(ks, 0), RFC_KID);
	assert_null(jwt_keys_kid(ks, 1));
	assert_null(jwt_keys_jwk(ks, 1));

	jwk = jwt_keys_jwk(ks, 0);
	assert_non_null(jwk);
	assert_int_equal(json_parse(jwk, strlen(jwk), &o), AUTH_OK);
	assert_true(json_object_is_type(o, json_type_object));
	assert_int_equal(json_object_object_length(o), 6);
	assert_string_equal(obj_str(o, "kty"), "RSA");
	assert_string_equal(obj_str(o, "use"), "sig");
	assert_string_equal(obj_str(o, "alg"), "RS256");
	assert_string_equal(obj_str(o, "kid"), RFC_KID);
	assert_string_equal(obj_str(o, "n"), RFC_N);
	assert_string_equal(obj_str(o, "e"), RFC_E);
	json_object_put(o);
	jwt_keys_free(ks);
}

static void test_kid_own_key(void **state)
{
	char n[600], e[16], canon[700], kid[JWT_KID_SIZE], tok[TOKCAP];
	unsigned char md[32];
	unsigned int mdlen = 0;
	struct json_object *o = NULL, *h;
	const char *jwk;
	size_t len;

	(void)state;
	b64_bn_param(fx.a, OSSL_PKEY_PARAM_RSA_N, n, sizeof(n));
	b64_bn_param(fx.a, OSSL_PKEY_PARAM_RSA_E, e, sizeof(e));
	snprintf(canon, sizeof(canon), "{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}",
	    e, n);
	assert_int_equal(EVP_Digest(canon, strlen(canon), md, &mdlen,
	    EVP_sha256(), NULL), 1);
	assert_int_equal(b64url_encode(kid, sizeof(kid), md, mdlen), 43);

	assert_int_equal(jwt_keys_count(fx.ks), 1);
	assert_string_equal(jwt_keys_kid(fx.ks, 0), kid);
	assert_string_not_equal(fx.kid_a, fx.kid_b);

	jwk = jwt_keys_jwk(fx.ks, 0);
	assert_int_equal(json_parse(jwk, strlen(jwk), &o), AUTH_OK);
	assert_string_equal(obj_str(o, "kty"), "RSA");
	assert_string_equal(obj_str(o, "use"), "sig");
	assert_string_equal(obj_str(o, "alg"), "RS256");
	assert_string_equal(obj_str(o, "kid"), kid);
	assert_string_equal(obj_str(o, "n"), n);
	assert_string_equal(obj_str(o, "e"), e);
	json_object_put(o);

	len = sign_std(tok, sizeof(tok), JWT_TYP_ACCESS, &pol_plain);
	h = seg_json(tok, len, 0);
	assert_string_equal(obj_str(h, "kid"), kid);
	json_object_put(h);
}

/* ------------------------------------------------------------------ */
/* hostile headers                                                     */

static void test_alg_none(void **state)
{
	char tok[TOKCAP];
	struct hdr h = hdr_std(JWT_TYP_ACCESS);
	struct pl p = pl_std();
	size_t n;

	(void)state;
	h.alg = Q("none");
	n = forge(tok, sizeof(tok), NULL, &h, &p);
	assert_int_equal(tok[n - 1], '.');
	REFUSED(tok, n, JWT_TYP_ACCESS);
	n = forge(tok, sizeof(tok), fx.a, &h, &p);
	REFUSED(tok, n, JWT_TYP_ACCESS);
	h.alg = Q("None");
	n = forge(tok, sizeof(tok), NULL, &h, &p);
	REFUSED(tok, n, JWT_TYP_ACCESS);
	h.alg = Q("");
	n = forge(tok, sizeof(tok), fx.a, &h, &p);
	REFUSED(tok, n, JWT_TYP_ACCESS);
	/* Two segments only, the "unsecured" form some libraries take. */
	h.alg = Q("none");
	n = forge(tok, sizeof(tok), NULL, &h, &p);
	tok[n - 1] = '\0';
	REFUSED(tok, n - 1, JWT_TYP_ACCESS);
}

static void test_alg_hs256_key_confusion(void **state)
{
	char tok[TOKCAP], ht[512], pt[1024], pem[4096];
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	struct hdr h = hdr_std(JWT_TYP_ACCESS);
	struct pl p = pl_std();
	size_t hl, pln, pos = 0, pemlen;
	FILE *f;

	(void)state;
	f = fopen(fx.path[F_A_PUB], "r");
	assert_non_null(f);
	pemlen = fread(pem, 1, sizeof(pem), f);
	fclose(f);
	assert_true(pemlen > 100 && pemlen < sizeof(pem));

	h.alg = Q("HS256");
	hl = hdr_text(ht, sizeof(ht), &h);
	pln = pl_text(pt, sizeof(pt), &p);
	append_b64(tok, sizeof(tok), &pos, ht, hl);
	append_char(tok, sizeof(tok), &pos, '.');
	append_b64(tok, sizeof(tok), &pos, pt, pln);
	assert_non_null(HMAC(EVP_sha256(), pem, (int)pemlen,
	    (const unsigned char *)tok, pos, mac, &maclen));
	assert_int_equal(maclen, 32);
	append_char(tok, sizeof(tok), &pos, '.');
	append_b64(tok, sizeof(tok), &pos, mac, maclen);
	REFUSED(tok, pos, JWT_TYP_ACCESS);

	/* Same attack keyed with the PEM without its final newline; and
	 * with alg HS512. */
	pos = 0;
	append_b64(tok, sizeof(tok), &pos, ht, hl);
	append_char(tok, sizeof(tok), &pos, '.');
	append_b64(tok, sizeof(tok), &pos, pt, pln);
	assert_non_null(HMAC(EVP_sha256(), pem, (int)pemlen - 1,
	    (const unsigned char *)tok, pos, mac, &maclen));
	append_char(tok, sizeof(tok), &pos, '.');
	append_b64(tok, sizeof(tok), &pos, mac, maclen);
	REFUSED(tok, pos, JWT_TYP_ACCESS);

	h.alg = Q("HS512");
	hl = hdr_text(ht, sizeof(ht), &h);
	pos = 0;
	append_b64(tok, sizeof(tok), &pos, ht, hl);
	append_char(tok, sizeof(tok), &pos, '.');
	append_b64(tok, sizeof(tok), &pos, pt, pln);
	assert_non_null(HMAC(EVP_sha512(), pem, (int)pemlen,
	    (const unsigned char *)tok, pos, mac, &maclen));
	append_char(tok, sizeof(tok), &pos, '.');
	append_b64(tok, sizeof(tok), &pos, mac, maclen);
	REFUSED(tok, pos, JWT_TYP_ACCESS);
}

static void test_alg_other(void **state)
{
	static const char *const algs[] = {
		Q("RS512"), Q("RS384"), Q("PS256"), Q("ES256"), Q("rs256"),
		Q("Rs256"), Q("RS256 "), Q(" RS256"), Q("RS2560"), Q("RS25"),
		Q("RS256\\u0000"), "256", "null", "true", "[\"RS256\"]",
		"{\"alg\":\"RS256\"}", NULL
	};
	char tok[TOKCAP];
	struct hdr h = hdr_std(JWT_TYP_ACCESS);
	struct pl p = pl_std();
	size_t i, n;

	(void)state;
	/* RS512 with a real RS512 signature. */
	h.alg = Q("RS512");
	n = forge_md(tok, sizeof(tok), fx.a, EVP_sha512(), &h, &p);
	REFUSED(tok, n, JWT_TYP_ACCESS);
	h.alg = Q("PS256");
	n = forge_md(tok, sizeof(tok), fx.a, EVP_sha256(), &h, &p);
	REFUSED(tok, n, JWT_TYP_ACCESS);

	/* Every other value, with a valid RS256 signature. */
	for (i = 0; algs[i] != NULL; i++) {
		h.alg = algs[i];
		n = forge_hdr(tok, sizeof(tok), &h);
		if (vfy(tok, n, JWT_TYP_ACCESS) != AUTH_ETOKEN)
			fail_msg("alg %s accepted", algs[i]);
	}
	/* Missing alg. */
	h.alg = NULL;
	n = forge_hdr(tok, sizeof(tok), &h);
	REFUSED(tok, n, JWT_TYP_ACCESS);
	/* Control. */
	h.alg = Q("RS256");
	n = forge_hdr(tok, sizeof(tok), &h);
	ACCEPTED(tok, n, JWT_TYP_ACCESS);
}

static void test_typ_header(void **state)
{
	static const char *const typs[] = {
		Q("JWT"), Q("at+JWT"), Q("AT+JWT"), Q("at+jwt "), Q("at"),
		Q("at+jwt\\u0000"), Q("application/at+jwt"), Q(""), "1",
		"null", "[\"at+jwt\"]", NULL
	};
	char tok[TOKCAP];
	struct hdr h = hdr_std(JWT_TYP_ACCESS);
	size_t i, n;

	(void)state;
	h.typ = NULL;
	n = forge_hdr(tok, sizeof(tok), &h);
	REFUSED(tok, n, JWT_TYP_ACCESS);
	REFUSED(tok, n, JWT_TYP_REFRESH);
	for (i = 0; typs[i] != NULL; i++) {
		h.typ = typs[i];
		n = forge_hdr(tok, sizeof(tok), &h);
		if (vfy(tok, n, JWT_TYP_ACCESS) != AUTH_ETOKEN ||
		    vfy(tok, n, JWT_TYP_REFRESH) != AUTH_ETOKEN)
			fail_msg("typ %s accepted", typs[i]);
	}
	/* A forged header swapping the typ of a valid-looking token. */
	h.typ = Q("rt+jwt");
	n = forge_hdr(tok, sizeof(tok), &h);
	REFUSED(tok, n, JWT_TYP_ACCESS);
	ACCEPTED(tok, n, JWT_TYP_REFRESH);
}

static void test_kid(void **state)
{
	char tok[TOKCAP], q[64];
	struct hdr h = hdr_std(JWT_TYP_ACCESS);
	struct pl p = pl_std();
	size_t n;

	(void)state;
	/* Unknown kid (key b is not loaded), signed by the key it names. */
	h.kid = fx.kidq_b;
	n = forge(tok, sizeof(tok), fx.b, &h, &p);
	REFUSED(tok, n, JWT_TYP_ACCESS);
	/* Unknown kid, signed by the one loaded key. */
	n = forge(tok, sizeof(tok), fx.a, &h, &p);
	REFUSED(tok, n, JWT_TYP_ACCESS);
	/* Missing kid. */
	h.kid = NULL;
	n = forge_hdr(tok, sizeof(tok), &h);
	REFUSED(tok, n, JWT_TYP_ACCESS);
	/* Not a string. */
	h.kid = "null";
	n = forge_hdr(tok, sizeof(tok), &h);
	REFUSED(tok, n, JWT_TYP_ACCESS);
	h.kid = "0";
	n = forge_hdr(tok, sizeof(tok), &h);
	REFUSED(tok, n, JWT_TYP_ACCESS);
	/* Prefix, extension, empty, case-changed. */
	snprintf(q, sizeof(q), "\"%.42s\"", fx.kid_a);
	h.kid = q;
	n = forge_hdr(tok, sizeof(tok), &h);
	REFUSED(tok, n, JWT_TYP_ACCESS);
	snprintf(q, sizeof(q), "\"%sA\"", fx.kid_a);
	n = forge_hdr(tok, sizeof(tok), &h);
	REFUSED(tok, n, JWT_TYP_ACCESS);
	snprintf(q, sizeof(q), "\"%s\\u0000\"", fx.kid_a);
	n = forge_hdr(tok, sizeof(tok), &h);
	REFUSED(tok, n, JWT_TYP_ACCESS);
	h.kid = Q("");
	n = forge_hdr(tok, sizeof(tok), &h);
	REFUSED(tok, n, JWT_TYP_ACCESS);
	h.kid = q;
	snprintf(q, sizeof(q), "\"%s\"", fx.kid_a);
	q[1] = (char)(q[1] == 'A' ? 'B' : 'A');
	n = forge_hdr(tok, sizeof(tok), &h);
	REFUSED(tok, n, JWT_TYP_ACCESS);
	h.kid = Q("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
	n = forge_hdr(tok, sizeof(tok), &h);
	REFUSED(tok, n, JWT_TYP_ACCESS);
}

static void test_crit(void **state)
{
	static const char *const crits[] = {
		"\"crit\":[\"exp\"]", "\"crit\":[]", "\"crit\":null",
		"\"crit\":[\"b64\"],\"b64\":false", "\"crit\":\"x\"", NULL
	};
	char tok[TOKCAP];
	struct hdr h = hdr_std(JWT_TYP_ACCESS);
	size_t i, n;

	(void)state;
	for (i = 0; crits[i] != NULL; i++) {
		h.extra = crits[i];
		n = forge_hdr(tok, sizeof(tok), &h);
		if (vfy(tok, n, JWT_TYP_ACCESS) != AUTH_ETOKEN)
			fail_msg("header with %s accepted", crits[i]);
	}
}

static void test_header_not_object(void **state)
{
	static const char *const hdrs[] = {
		"[]", "[\"RS256\"]", "\"RS256\"", "null", "1", "true", "",
		" ", "{", "}", "{}", "{\"alg\":\"RS256\",}",
		"{\"alg\":'RS256'}", NULL
	};
	char tok[TOKCAP], pt[1024], ht[512];
	struct pl p = pl_std();
	struct hdr h = hdr_std(JWT_TYP_ACCESS);
	size_t i, n, pln = pl_text(pt, sizeof(pt), &p), hl;

	(void)state;
	for (i = 0; hdrs[i] != NULL; i++) {
		n = sign_parts(tok, sizeof(tok), fx.a, EVP_sha256(), hdrs[i],
		    strlen(hdrs[i]), pt, pln);
		if (vfy(tok, n, JWT_TYP_ACCESS) != AUTH_ETOKEN)
			fail_msg("header '%s' accepted", hdrs[i]);
	}
	/* A valid header followed by trailing data. */
	hl = hdr_text(ht, sizeof(ht), &h);
	memcpy(ht + hl, "{}", 3);
	n = sign_parts(tok, sizeof(tok), fx.a, EVP_sha256(), ht, hl + 2, pt,
	    pln);
	REFUSED(tok, n, JWT_TYP_ACCESS);
	memcpy(ht + hl, " x", 3);
	n = sign_parts(tok, sizeof(tok), fx.a, EVP_sha256(), ht, hl + 2, pt,
	    pln);
	REFUSED(tok, n, JWT_TYP_ACCESS);
	/* A NUL after the header JSON. */
	ht[hl] = '\0';
	n = sign_parts(tok, sizeof(tok), fx.a, EVP_sha256(), ht, hl + 1, pt,
	    pln);
	REFUSED(tok, n, JWT_TYP_ACCESS);
	/* Trailing whitespace is still one JSON value: control. */
	memcpy(ht + hl, " \n", 3);
	n = sign_parts(tok, sizeof(tok), fx.a, EVP_sha256(), ht, hl + 2, pt,
	    pln);
	ACCEPTED(tok, n, JWT_TYP_ACCESS);
}

/* ------------------------------------------------------------------ */
/* hostile signatures and encodings                                    */

static void test_signature_other_key(void **state)
{
	char tok[TOKCAP];
	struct hdr h = hdr_std(JWT_TYP_ACCESS);
	struct pl p = pl_std();
	size_t n;

	(void)state;
	/* Right kid (a), signed by b. */
	n = forge(tok, sizeof(tok), fx.b, &h, &p);
	REFUSED(tok, n, JWT_TYP_ACCESS);
	/* Right kid, signed by the 1024-bit key (also wrong length). */
	n = forge(tok, sizeof(tok), fx.c, &h, &p);
	REFUSED(tok, n, JWT_TYP_ACCESS);
	/* Right kid, RS256 PKCS#1 v1.5 over SHA-1 / SHA-512. */
	n = forge_md(tok, sizeof(tok), fx.a, EVP_sha1(), &h, &p);
	REFUSED(tok, n, JWT_TYP_ACCESS);
	n = forge_md(tok, sizeof(tok), fx.a, EVP_sha512(), &h, &p);
	REFUSED(tok, n, JWT_TYP_ACCESS);
}

static void test_signature_length(void **state)
{
	char tok[TOKCAP], bad[TOKCAP];
	unsigned char sig[600];
	size_t n, m, sl;

	(void)state;
	n = sign_std(tok, sizeof(tok), JWT_TYP_ACCESS, &pol_plain);
	sl = seg_decode(tok, n, 2, sig, sizeof(sig));
	assert_int_equal(sl, 256);
	/* One byte short, one byte long (leading zero), empty, double. */
	m = splice_raw(bad, sizeof(bad), tok, n, 2, sig, 255);
	REFUSED(bad, m, JWT_TYP_ACCESS);
	m = splice_raw(bad, sizeof(bad), tok, n, 2, sig + 1, 255);
	REFUSED(bad, m, JWT_TYP_ACCESS);
	memmove(sig + 1, sig, 256);
	sig[0] = 0;
	m = splice_raw(bad, sizeof(bad), tok, n, 2, sig, 257);
	REFUSED(bad, m, JWT_TYP_ACCESS);
	memmove(sig, sig + 1, 256);
	m = splice_raw(bad, sizeof(bad), tok, n, 2, sig, 0);
	REFUSED(bad, m, JWT_TYP_ACCESS);
	memcpy(sig + 256, sig, 256);
	m = splice_raw(bad, sizeof(bad), tok, n, 2, sig, 512);
	REFUSED(bad, m, JWT_TYP_ACCESS);
	m = splice_raw(bad, sizeof(bad), tok, n, 2, sig, 128);
	REFUSED(bad, m, JWT_TYP_ACCESS);
	/* Control: the original bytes re-encoded verify. */
	m = splice_raw(bad, sizeof(bad), tok, n, 2, sig, 256);
	assert_string_equal(bad, tok);
	ACCEPTED(bad, m, JWT_TYP_ACCESS);
}

static void test_bit_flips(void **state)
{
	char tok[TOKCAP], bad[TOKCAP];
	unsigned char raw[JWT_MAX_LEN];
	size_t n, m, rl, i;
	int idx;

	(void)state;
	n = sign_std(tok, sizeof(tok), JWT_TYP_ACCESS, &pol_plain);
	ACCEPTED(tok, n, JWT_TYP_ACCESS);
	for (idx = 0; idx < 3; idx++) {
		rl = seg_decode(tok, n, idx, raw, sizeof(raw));
		assert_true(rl > 0);
		for (i = 0; i < rl; i++) {
			unsigned char bit = (unsigned char)(1u << (i % 8));

			raw[i] ^= bit;
			m = splice_raw(bad, sizeof(bad), tok, n, idx, raw, rl);
			if (vfy(bad, m, JWT_TYP_ACCESS) != AUTH_ETOKEN)
				fail_msg("segment %d byte %zu bit flip accepted",
				    idx, i);
			raw[i] ^= bit;
		}
	}
	/* Every bit of the first and last signature bytes too. */
	rl = seg_decode(tok, n, 2, raw, sizeof(raw));
	for (i = 0; i < 8; i++) {
		raw[0] ^= (unsigned char)(1u << i);
		m = splice_raw(bad, sizeof(bad), tok, n, 2, raw, rl);
		REFUSED(bad, m, JWT_TYP_ACCESS);
		raw[0] ^= (unsigned char)(1u << i);
		raw[rl - 1] ^= (unsigned char)(1u << i);
		m = splice_raw(bad, sizeof(bad), tok, n, 2, raw, rl);
		REFUSED(bad, m, JWT_TYP_ACCESS);
		raw[rl - 1] ^= (unsigned char)(1u << i);
	}
}

static void test_truncated(void **state)
{
	char tok[TOKCAP], cut[TOKCAP];
	size_t n, i;

	(void)state;
	n = sign_std(tok, sizeof(tok), JWT_TYP_REFRESH, &pol_plain);
	/* Every proper prefix, copied so nothing past it is readable. */
	for (i = 0; i < n; i++) {
		memcpy(cut, tok, i);
		cut[i] = '\0';
		if (vfy(cut, i, JWT_TYP_REFRESH) != AUTH_ETOKEN)
			fail_msg("prefix of %zu bytes accepted", i);
	}
	/* Every proper suffix. */
	for (i = 1; i < n; i++) {
		if (vfy(tok + i, n - i, JWT_TYP_REFRESH) != AUTH_ETOKEN)
			fail_msg("suffix from %zu accepted", i);
	}
	ACCEPTED(tok, n, JWT_TYP_REFRESH);
}

static void test_segments(void **state)
{
	char tok[TOKCAP], bad[2 * TOKCAP];
	size_t n, start = 0, sl;

	(void)state;
	n = sign_std(tok, sizeof(tok), JWT_TYP_ACCESS, &pol_plain);
	/* Two segments: header.payload */
	sl = seg(tok, n, 2, &start);
	assert_int_equal(start + sl, n);
	memcpy(bad, tok, start - 1);
	bad[start - 1] = '\0';
	REFUSED(bad, start - 1, JWT_TYP_ACCESS);
	/* Four segments. */
	snprintf(bad, sizeof(bad), "%s.%s", tok, tok + start);
	REFUSED(bad, strlen(bad), JWT_TYP_ACCESS);
	snprintf(bad, sizeof(bad), "%s.", tok);
	REFUSED(bad, strlen(bad), JWT_TYP_ACCESS);
	snprintf(bad, sizeof(bad), ".%s", tok);
	REFUSED(bad, strlen(bad), JWT_TYP_ACCESS);
	/* JWE-like five segments. */
	snprintf(bad, sizeof(bad), "%s.AAAA.AAAA", tok);
	REFUSED(bad, strlen(bad), JWT_TYP_ACCESS);
	/* One segment, empty segments, empty string. */
	REFUSED("eyJhbGciOiJSUzI1NiJ9", 20, JWT_TYP_ACCESS);
	REFUSED("..", 2, JWT_TYP_ACCESS);
	REFUSED(".", 1, JWT_TYP_ACCESS);
	REFUSED("...", 3, JWT_TYP_ACCESS);
	REFUSED("", 0, JWT_TYP_ACCESS);
	/* Empty header or payload segment, others intact. */
	n = splice(bad, sizeof(bad), tok, strlen(tok), 0, "", 0);
	REFUSED(bad, n, JWT_TYP_ACCESS);
	n = splice(bad, sizeof(bad), tok, strlen(tok), 1, "", 0);
	REFUSED(bad, n, JWT_TYP_ACCESS);
	/* Length counts bytes: a trailing NUL, newline or space is not ignored. */
	n = strlen(tok);
	REFUSED(tok, n + 1, JWT_TYP_ACCESS);
	snprintf(bad, sizeof(bad), "%s\n", tok);
	REFUSED(bad, n + 1, JWT_TYP_ACCESS);
	snprintf(bad, sizeof(bad), " %s", tok);
	REFUSED(bad, n + 1, JWT_TYP_ACCESS);
	snprintf(bad, sizeof(bad), "Bearer %s", tok);
	REFUSED(bad, n + 7, JWT_TYP_ACCESS);
	ACCEPTED(tok, n, JWT_TYP_ACCESS);
}

static size_t b64len(size_t n)
{
	return (n / 3) * 4 + (n % 3 ? n % 3 + 1 : 0);
}

/* A validly signed token of exactly total bytes (a header member and a
 * payload claim padded to fit); 0 if the builder cannot hit it. */
static size_t token_of_length(char *out, size_t cap, size_t total)
{
	static char pad[JWT_MAX_LEN], hx[40], ht[512], pt[JWT_MAX_LEN];
	struct hdr h = hdr_std(JWT_TYP_ACCESS);
	struct pl p = pl_std();
	size_t hp, pp, hl, pln, n;
	int k;

	for (hp = 0; hp < 4; hp++) {
		k = snprintf(hx, sizeof(hx), "\"x\":\"%.*s\"", (int)hp, "hhhh");
		assert_true(k > 0);
		h.extra = hx;
		hl = hdr_text(ht, sizeof(ht), &h);
		for (pp = 0; pp + 64 < sizeof(pad); pp++) {
			k = snprintf(pad, sizeof(pad), "\"pad\":\"");
			memset(pad + k, 'p', pp);
			memcpy(pad + (size_t)k + pp, "\"", 2);
			p.extra = pad;
			pln = pl_text(pt, sizeof(pt), &p);
			n = b64len(hl) + 1 + b64len(pln) + 1 + b64len(256);
			if (n > total)
				break;
			if (n == total) {
				n = sign_parts(out, cap, fx.a, EVP_sha256(), ht,
				    hl, pt, pln);
				assert_int_equal(n, total);
				return n;
			}
		}
	}
	return 0;
}

static void test_length_limit(void **state)
{
	static char tok[TOKCAP];
	static char big[3 * JWT_MAX_LEN];
	size_t n;

	(void)state;
	n = token_of_length(tok, sizeof(tok), JWT_MAX_LEN);
	assert_int_equal(n, JWT_MAX_LEN);
	ACCEPTED(tok, n, JWT_TYP_ACCESS);
	n = token_of_length(tok, sizeof(tok), JWT_MAX_LEN + 1);
	assert_int_equal(n, JWT_MAX_LEN + 1);
	REFUSED(tok, n, JWT_TYP_ACCESS);
	n = token_of_length(tok, sizeof(tok), JWT_MAX_LEN + 600);
	assert_int_equal(n, JWT_MAX_LEN + 600);
	REFUSED(tok, n, JWT_TYP_ACCESS);
	/* A valid token followed by bytes, given a length past the limit. */
	n = sign_std(tok, sizeof(tok), JWT_TYP_ACCESS, &pol_plain);
	memset(big, 'A', sizeof(big));
	memcpy(big, tok, n);
	REFUSED(big, sizeof(big), JWT_TYP_ACCESS);
	REFUSED(big, JWT_MAX_LEN + 1, JWT_TYP_ACCESS);
}

static void test_bad_base64(void **state)
{
	static const char bad_chars[] = {
		'+', '/', '=', ' ', '\n', '*', '.', '\0', '\x80', '\xff', '~',
		'\t', '\\', '%'
	};
	char tok[TOKCAP], bad[TOKCAP];
	size_t n, m, start, sl, i, pos;
	int idx;

	(void)state;
	n = sign_std(tok, sizeof(tok), JWT_TYP_ACCESS, &pol_plain);
	for (idx = 0; idx < 3; idx++) {
		start = 0;
		sl = seg(tok, n, idx, &start);
		for (i = 0; i < sizeof(bad_chars); i++) {
			/* At the start, in the middle, at the end. */
			size_t where[3] = { 0, sl / 2, sl - 1 };
			size_t w;

			for (w = 0; w < 3; w++) {
				memcpy(bad, tok, n + 1);
				pos = start + where[w];
				bad[pos] = bad_chars[i];
				if (vfy(bad, n, JWT_TYP_ACCESS) != AUTH_ETOKEN)
					fail_msg("segment %d char 0x%02x at %zu "
					    "accepted", idx,
					    (unsigned char)bad_chars[i], pos);
			}
		}
		/* The standard alphabet's '+' and '/' in place of '-' and '_'
		 * wherever the token has them. */
		memcpy(bad, tok, n + 1);
		for (pos = start; pos < start + sl; pos++) {
			if (bad[pos] == '-')
				bad[pos] = '+';
			else if (bad[pos] == '_')
				bad[pos] = '/';
		}
		if (memcmp(bad, tok, n) != 0)
			REFUSED(bad, n, JWT_TYP_ACCESS);
		/* Padding added: as many '=' as base64 would, and one more. */
		{
			size_t padn = (4 - sl % 4) % 4, k;

			for (k = (padn == 0 ? 1 : padn); k <= padn + 1; k++) {
				char eq[8] = "====";
				char rep[TOKCAP];

				memcpy(rep, tok + start, sl);
				memcpy(rep + sl, eq, k);
				m = splice(bad, sizeof(bad), tok, n, idx, rep,
				    sl + k);
				if (vfy(bad, m, JWT_TYP_ACCESS) != AUTH_ETOKEN)
					fail_msg("segment %d with %zu '=' "
					    "accepted", idx, k);
			}
		}
		/* Whitespace inserted (a line-wrapped encoding). */
		{
			char rep[TOKCAP];

			memcpy(rep, tok + start, sl / 2);
			rep[sl / 2] = '\n';
			memcpy(rep + sl / 2 + 1, tok + start + sl / 2,
			    sl - sl / 2);
			m = splice(bad, sizeof(bad), tok, n, idx, rep, sl + 1);
			REFUSED(bad, m, JWT_TYP_ACCESS);
		}
	}
	/* Non-canonical last character: same bytes, other encoding. The
	 * 256-byte signature ends in 4 unused bits. */
	start = 0;
	sl = seg(tok, n, 2, &start);
	assert_int_equal(sl % 4, 2);
	memcpy(bad, tok, n + 1);
	{
		static const char alpha[] =
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789-_";
		const char *at = strchr(alpha, bad[n - 1]);

		assert_non_null(at);
		assert_int_equal((at - alpha) & 15, 0);
		bad[n - 1] = alpha[(at - alpha) | 1];
		REFUSED(bad, n, JWT_TYP_ACCESS);
	}
	ACCEPTED(tok, n, JWT_TYP_ACCESS);
}

/* Forge tokens carrying bad (raw JSON string) in a header value, a
 * payload value and a payload member name; count and name those accepted. */
static int non_utf8_accepted(const char *const *bad, const char *const *why)
{
	char tok[TOKCAP], member[64];
	struct hdr h;
	struct pl p;
	size_t i, n;
	int accepted = 0, where;

	for (i = 0; bad[i] != NULL; i++) {
		for (where = 0; where < 3; where++) {
			h = hdr_std(JWT_TYP_ACCESS);
			p = pl_std();
			if (where == 2)
				snprintf(member, sizeof(member), "%s:1", bad[i]);
			else
				snprintf(member, sizeof(member), "\"x\":%s",
				    bad[i]);
			if (where == 0)
				h.extra = member;
			else
				p.extra = member;
			n = forge(tok, sizeof(tok), fx.a, &h, &p);
			if (vfy(tok, n, JWT_TYP_ACCESS) != AUTH_ETOKEN) {
				print_error("accepted: %s in the %s\n", why[i],
				    where == 0 ? "header (value)" : where == 1 ?
				    "payload (value)" : "payload (member name)");
				accepted++;
			}
		}
	}
	return accepted;
}

static void test_non_utf8(void **state)
{
	static const char *const bad[] = {
		"\"\xff\"", "\"\xfe\xff\"", "\"\xc3\x28\"", "\"abc\x80\"",
		"\"\xe2\x82\"", "\"\xf0\x9f\x94\"", NULL
	};
	static const char *const why[] = {
		"byte FF", "bytes FE FF", "C3 28 (bad continuation)",
		"lone continuation 80", "truncated E2 82",
		"truncated F0 9F 94"
	};
	char tok[TOKCAP];
	struct hdr h = hdr_std(JWT_TYP_ACCESS);
	struct pl p = pl_std();
	size_t n;

	(void)state;
	assert_int_equal(non_utf8_accepted(bad, why), 0);
	/* Inside a checked claim: iss with a stray byte. */
	p.iss = "\"taskhub-auth\xff\"";
	n = forge(tok, sizeof(tok), fx.a, &h, &p);
	REFUSED(tok, n, JWT_TYP_ACCESS);
	/* Raw bytes outside any string. */
	p = pl_std();
	p.extra = "\"x\":\xff";
	n = forge(tok, sizeof(tok), fx.a, &h, &p);
	REFUSED(tok, n, JWT_TYP_ACCESS);
	/* Control: valid multi-byte UTF-8 is fine. */
	p.extra = "\"x\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x94\x91\"";
	n = forge(tok, sizeof(tok), fx.a, &h, &p);
	ACCEPTED(tok, n, JWT_TYP_ACCESS);
}

/* Well-formed in shape (lead byte + right number of continuation bytes)
 * but not UTF-8 (RFC 3629 section 3): overlong forms, UTF-16 surrogates,
 * code points above U+10FFFF, lead bytes C0, C1, F5..F7. */
static void test_non_utf8_overlong_surrogate(void **state)
{
	static const char *const bad[] = {
		"\"\xc0\xaf\"", "\"\xc1\xbf\"", "\"\xe0\x80\xaf\"",
		"\"\xf0\x80\x80\xaf\"", "\"\xed\xa0\x80\"", "\"\xed\xbf\xbf\"",
		"\"\xf4\x90\x80\x80\"", "\"\xf5\x80\x80\x80\"",
		"\"\xf7\xbf\xbf\xbf\"", NULL
	};
	static const char *const why[] = {
		"overlong C0 AF", "overlong C1 BF", "overlong E0 80 AF",
		"overlong F0 80 80 AF", "surrogate ED A0 80 (U+D800)",
		"surrogate ED BF BF (U+DFFF)", "F4 90 80 80 (U+110000)",
		"F5 80 80 80", "F7 BF BF BF"
	};

	(void)state;
	assert_int_equal(non_utf8_accepted(bad, why), 0);
}

static void test_payload_not_object(void **state)
{
	static const char *const pls[] = {
		"[]", "\"x\"", "42", "null", "true", "", " ", "{",
		"{\"iss\":\"" ISS "\",}", "[{\"iss\":\"" ISS "\"}]", NULL
	};
	char tok[TOKCAP], ht[512], pt[1024];
	struct hdr h = hdr_std(JWT_TYP_ACCESS);
	struct pl p = pl_std();
	size_t i, n, hl = hdr_text(ht, sizeof(ht), &h), pln;

	(void)state;
	for (i = 0; pls[i] != NULL; i++) {
		n = sign_parts(tok, sizeof(tok), fx.a, EVP_sha256(), ht, hl,
		    pls[i], strlen(pls[i]));
		if (vfy(tok, n, JWT_TYP_ACCESS) != AUTH_ETOKEN)
			fail_msg("payload '%s' accepted", pls[i]);
	}
	/* Valid object then more: another object, garbage, a NUL. */
	pln = pl_text(pt, sizeof(pt), &p);
	memcpy(pt + pln, "{}", 3);
	n = sign_parts(tok, sizeof(tok), fx.a, EVP_sha256(), ht, hl, pt,
	    pln + 2);
	REFUSED(tok, n, JWT_TYP_ACCESS);
	memcpy(pt + pln, ",1", 3);
	n = sign_parts(tok, sizeof(tok), fx.a, EVP_sha256(), ht, hl, pt,
	    pln + 2);
	REFUSED(tok, n, JWT_TYP_ACCESS);
	pt[pln] = '\0';
	n = sign_parts(tok, sizeof(tok), fx.a, EVP_sha256(), ht, hl, pt,
	    pln + 1);
	REFUSED(tok, n, JWT_TYP_ACCESS);
}

static void test_deep_nesting(void **state)
{
	static char deep[2 * 1100 + 16], tok[TOKCAP];
	struct hdr h = hdr_std(JWT_TYP_ACCESS);
	struct pl p = pl_std();
	size_t depths[] = { 20, 100, 1000 }, d, i, k, n;

	(void)state;
	for (d = 0; d < sizeof(depths) / sizeof(depths[0]); d++) {
		k = (size_t)snprintf(deep, sizeof(deep), "\"x\":");
		for (i = 0; i < depths[d]; i++)
			deep[k++] = '[';
		for (i = 0; i < depths[d]; i++)
			deep[k++] = ']';
		deep[k] = '\0';
		p = pl_std();
		p.extra = deep;
		n = forge(tok, sizeof(tok), fx.a, &h, &p);
		assert_true(n <= JWT_MAX_LEN);
		if (vfy(tok, n, JWT_TYP_ACCESS) != AUTH_ETOKEN)
			fail_msg("payload nested %zu deep accepted", depths[d]);
		/* Objects instead of arrays, in the header. */
		k = (size_t)snprintf(deep, sizeof(deep), "\"x\":");
		for (i = 0; i < depths[d] && i < 60; i++)
			k += (size_t)snprintf(deep + k, sizeof(deep) - k,
			    "{\"a\":");
		deep[k++] = '1';
		for (i = 0; i < depths[d] && i < 60; i++)
			deep[k++] = '}';
		deep[k] = '\0';
		p = pl_std();
		h.extra = deep;
		n = forge(tok, sizeof(tok), fx.a, &h, &p);
		if (n <= JWT_MAX_LEN && vfy(tok, n, JWT_TYP_ACCESS) != AUTH_ETOKEN)
			fail_msg("header nested %zu deep accepted", depths[d]);
		h.extra = NULL;
	}
	/* Control: shallow nesting is fine. */
	p = pl_std();
	p.extra = "\"x\":{\"a\":[1,[2]]}";
	n = forge(tok, sizeof(tok), fx.a, &h, &p);
	ACCEPTED(tok, n, JWT_TYP_ACCESS);
}

/* ------------------------------------------------------------------ */
/* claims                                                              */

static void test_iss(void **state)
{
	static const char *const isss[] = {
		Q("taskhub-auth2"), Q("taskhub-aut"), Q("Taskhub-auth"), Q(""),
		Q("taskhub-auth "), Q("taskhub-auth\\u0000"), Q("other"), "1",
		"null", "[\"" ISS "\"]", NULL
	};
	char tok[TOKCAP];
	struct pl p = pl_std();
	size_t i, n;

	(void)state;
	p.iss = NULL;
	n = forge_pl(tok, sizeof(tok), &p);
	REFUSED(tok, n, JWT_TYP_ACCESS);
	for (i = 0; isss[i] != NULL; i++) {
		p.iss = isss[i];
		n = forge_pl(tok, sizeof(tok), &p);
		if (vfy(tok, n, JWT_TYP_ACCESS) != AUTH_ETOKEN)
			fail_msg("iss %s accepted", isss[i]);
	}
	/* jwt_sign with another issuer: refused under ours. */
	{
		struct jwt_policy other = { "someone-else", "", SKEW };

		n = sign_std(tok, sizeof(tok), JWT_TYP_REFRESH, &other);
		REFUSED(tok, n, JWT_TYP_REFRESH);
		assert_int_equal(vfy_at(fx.ks, tok, n, JWT_TYP_REFRESH, &other,
		    NOW), AUTH_OK);
	}
}

static long sign_claims(char *out, size_t cap, long long iat, long long exp)
{
	struct jwt_claims c;

	claims_std(&c, JWT_TYP_ACCESS);
	c.iat = iat;
	c.exp = exp;
	return jwt_sign(fx.ks, &c, &pol_plain, out, cap);
}

static void test_exp_skew(void **state)
{
	char tok[TOKCAP];
	long n;
	const long long exp = NOW + 900;

	(void)state;
	n = sign_claims(tok, sizeof(tok), NOW, exp);
	assert_true(n > 0);
	assert_int_equal(vfy_at(fx.ks, tok, (size_t)n, JWT_TYP_ACCESS,
	    &pol_plain, exp - 1), AUTH_OK);
	assert_int_equal(vfy_at(fx.ks, tok, (size_t)n, JWT_TYP_ACCESS,
	    &pol_plain, exp), AUTH_OK);
	/* Within the skew: accepted. */
	assert_int_equal(vfy_at(fx.ks, tok, (size_t)n, JWT_TYP_ACCESS,
	    &pol_plain, exp + SKEW - 1), AUTH_OK);
	/* now >= exp + skew: refused. */
	assert_int_equal(vfy_at(fx.ks, tok, (size_t)n, JWT_TYP_ACCESS,
	    &pol_plain, exp + SKEW), AUTH_ETOKEN);
	assert_int_equal(vfy_at(fx.ks, tok, (size_t)n, JWT_TYP_ACCESS,
	    &pol_plain, exp + SKEW + 1), AUTH_ETOKEN);
	assert_int_equal(vfy_at(fx.ks, tok, (size_t)n, JWT_TYP_ACCESS,
	    &pol_plain, exp + 86400 * 365LL), AUTH_ETOKEN);
	/* Without skew the boundary is exp itself. */
	assert_int_equal(vfy_at(fx.ks, tok, (size_t)n, JWT_TYP_ACCESS,
	    &pol_noskew, exp - 1), AUTH_OK);
	assert_int_equal(vfy_at(fx.ks, tok, (size_t)n, JWT_TYP_ACCESS,
	    &pol_noskew, exp), AUTH_ETOKEN);
}

static void test_iat_skew(void **state)
{
	char tok[TOKCAP];
	long n;

	(void)state;
	/* iat in the future within the skew: accepted. */
	n = sign_claims(tok, sizeof(tok), NOW + SKEW, NOW + 900);
	assert_true(n > 0);
	ACCEPTED(tok, (size_t)n, JWT_TYP_ACCESS);
	assert_int_equal(vfy_at(fx.ks, tok, (size_t)n, JWT_TYP_ACCESS,
	    &pol_noskew, NOW), AUTH_ETOKEN);
	assert_int_equal(vfy_at(fx.ks, tok, (size_t)n, JWT_TYP_ACCESS,
	    &pol_noskew, NOW + SKEW), AUTH_OK);
	/* Beyond it: refused. */
	n = sign_claims(tok, sizeof(tok), NOW + SKEW + 1, NOW + 900);
	assert_true(n > 0);
	REFUSED(tok, (size_t)n, JWT_TYP_ACCESS);
	n = sign_claims(tok, sizeof(tok), NOW + 86400, NOW + 86400 + 900);
	assert_true(n > 0);
	REFUSED(tok, (size_t)n, JWT_TYP_ACCESS);
	/* iat in the past is fine while exp holds. */
	n = sign_claims(tok, sizeof(tok), NOW - 86400, NOW + 900);
	assert_true(n > 0);
	ACCEPTED(tok, (size_t)n, JWT_TYP_ACCESS);
}

static void test_time_types(void **state)
{
	static const char *const bad[] = {
		"\"1700000900\"", "1700000900.0", "1.7000009e9", "1700000900e0",
		"true", "null", "[1700000900]", "{}", "-1700000900",
		"0x6553F484", "1700000900.5", NULL
	};
	char tok[TOKCAP];
	struct pl p = pl_std();
	size_t i, n;

	(void)state;
	for (i = 0; bad[i] != NULL; i++) {
		p = pl_std();
		p.exp = bad[i];
		n = forge_pl(tok, sizeof(tok), &p);
		if (vfy(tok, n, JWT_TYP_ACCESS) != AUTH_ETOKEN)
			fail_msg("exp %s accepted", bad[i]);
		p = pl_std();
		p.iat = bad[i];
		n = forge_pl(tok, sizeof(tok), &p);
		if (vfy(tok, n, JWT_TYP_ACCESS) != AUTH_ETOKEN)
			fail_msg("iat %s accepted", bad[i]);
	}
	p = pl_std();
	p.exp = NULL;
	n = forge_pl(tok, sizeof(tok), &p);
	REFUSED(tok, n, JWT_TYP_ACCESS);
	p = pl_std();
	p.iat = NULL;
	n = forge_pl(tok, sizeof(tok), &p);
	REFUSED(tok, n, JWT_TYP_ACCESS);
}

static void test_exp_not_after_iat(void **state)
{
	char tok[TOKCAP];
	struct pl p = pl_std();
	long n;
	size_t m;

	(void)state;
	/* exp == iat, exp < iat: refused even while "unexpired". */
	n = sign_claims(tok, sizeof(tok), NOW, NOW);
	assert_true(n > 0);
	assert_int_equal(vfy_at(fx.ks, tok, (size_t)n, JWT_TYP_ACCESS,
	    &pol_plain, NOW - 10), AUTH_ETOKEN);
	n = sign_claims(tok, sizeof(tok), NOW, NOW - 1);
	assert_true(n > 0);
	assert_int_equal(vfy_at(fx.ks, tok, (size_t)n, JWT_TYP_ACCESS,
	    &pol_plain, NOW - 10), AUTH_ETOKEN);
	n = sign_claims(tok, sizeof(tok), NOW + 10, NOW + 5);
	assert_true(n > 0);
	REFUSED(tok, (size_t)n, JWT_TYP_ACCESS);
	/* Control: exp = iat + 1. */
	n = sign_claims(tok, sizeof(tok), NOW, NOW + 1);
	assert_true(n > 0);
	ACCEPTED(tok, (size_t)n, JWT_TYP_ACCESS);
	/* Negative iat. */
	p.iat = "-5";
	m = forge_pl(tok, sizeof(tok), &p);
	REFUSED(tok, m, JWT_TYP_ACCESS);
}

static void test_huge_exp(void **state)
{
	static const char *const huge[] = {
		"9000000000000000000", "9223372036854775807",
		"9223372036854775808", "18446744073709551615",
		"99999999999999999999999999", "9e18", "1e400", NULL
	};
	char tok[TOKCAP];
	struct pl p = pl_std();
	struct jwt_policy wide = { ISS, "", 0x7fffffffL };
	long n;
	size_t i, m;

	(void)state;
	/* From jwt_sign itself: an integer claim, no overflow on exp+skew. */
	n = sign_claims(tok, sizeof(tok), NOW, 9000000000000000000LL);
	assert_true(n > 0);
	REFUSED(tok, (size_t)n, JWT_TYP_ACCESS);
	assert_int_equal(vfy_at(fx.ks, tok, (size_t)n, JWT_TYP_ACCESS, &wide,
	    NOW), AUTH_ETOKEN);
	n = sign_claims(tok, sizeof(tok), NOW, 9223372036854775807LL);
	assert_true(n > 0);
	REFUSED(tok, (size_t)n, JWT_TYP_ACCESS);
	assert_int_equal(vfy_at(fx.ks, tok, (size_t)n, JWT_TYP_ACCESS, &wide,
	    NOW), AUTH_ETOKEN);
	for (i = 0; huge[i] != NULL; i++) {
		p = pl_std();
		p.exp = huge[i];
		m = forge_pl(tok, sizeof(tok), &p);
		if (vfy(tok, m, JWT_TYP_ACCESS) != AUTH_ETOKEN ||
		    vfy_at(fx.ks, tok, m, JWT_TYP_ACCESS, &wide, NOW) !=
		    AUTH_ETOKEN)
			fail_msg("exp %s accepted", huge[i]);
		/* Huge iat with huge exp. */
		p.iat = "8999999999999999999";
		m = forge_pl(tok, sizeof(tok), &p);
		if (vfy(tok, m, JWT_TYP_ACCESS) != AUTH_ETOKEN)
			fail_msg("iat/exp %s accepted", huge[i]);
	}
	/* Hugely negative times. */
	p = pl_std();
	p.iat = "-9223372036854775808";
	m = forge_pl(tok, sizeof(tok), &p);
	REFUSED(tok, m, JWT_TYP_ACCESS);
	p = pl_std();
	p.exp = "-9223372036854775808";
	m = forge_pl(tok, sizeof(tok), &p);
	REFUSED(tok, m, JWT_TYP_ACCESS);
}

static void test_nbf(void **state)
{
	char tok[TOKCAP];
	struct pl p = pl_std();
	size_t n;

	(void)state;
	p.extra = "\"nbf\":1700086400";                  /* a day ahead */
	n = forge_pl(tok, sizeof(tok), &p);
	REFUSED(tok, n, JWT_TYP_ACCESS);
	p.extra = "\"nbf\":1700000031";                  /* skew + 1 */
	n = forge_pl(tok, sizeof(tok), &p);
	REFUSED(tok, n, JWT_TYP_ACCESS);
	p.extra = "\"nbf\":9000000000000000000";
	n = forge_pl(tok, sizeof(tok), &p);
	REFUSED(tok, n, JWT_TYP_ACCESS);
	/* Not an integer. */
	p.extra = "\"nbf\":\"1700000000\"";
	n = forge_pl(tok, sizeof(tok), &p);
	REFUSED(tok, n, JWT_TYP_ACCESS);
	p.extra = "\"nbf\":1700000000.0";
	n = forge_pl(tok, sizeof(tok), &p);
	REFUSED(tok, n, JWT_TYP_ACCESS);
	p.extra = "\"nbf\":null";
	n = forge_pl(tok, sizeof(tok), &p);
	REFUSED(tok, n, JWT_TYP_ACCESS);
	/* In the past, or now: accepted. */
	p.extra = "\"nbf\":1700000000";
	n = forge_pl(tok, sizeof(tok), &p);
	ACCEPTED(tok, n, JWT_TYP_ACCESS);
	p.extra = "\"nbf\":1600000000";
	n = forge_pl(tok, sizeof(tok), &p);
	ACCEPTED(tok, n, JWT_TYP_ACCESS);
}

static void test_uuid_claims(void **state)
{
	static const char *const bad[] = {
		Q("0B6F3C5E-8D2A-4F4B-9C1E-2A7D5E8F9A01"),     /* upper case */
		Q("0b6f3c5e8d2a4f4b9c1e2a7d5e8f9a01"),         /* no dashes */
		Q("{0b6f3c5e-8d2a-4f4b-9c1e-2a7d5e8f9a01}"),   /* braces */
		Q("0b6f3c5e-8d2a-4f4b-9c1e-2a7d5e8f9a0"),      /* 35 */
		Q("0b6f3c5e-8d2a-4f4b-9c1e-2a7d5e8f9a012"),    /* 37 */
		Q("0b6f3c5e-8d2a-4f4b-9c1e-2a7d5e8f9a01\\u0000"),
		Q("0b6f3c5e-8d2a-4f4b-9c1e-2a7d5e8f9a0\\u0000"),
		Q("0b6f3c5e-8d2a-4f4b-9c1e-2a7d5e8f9a0g"),
		Q("0b6f3c5e_8d2a-4f4b-9c1e-2a7d5e8f9a01"),
		Q("0b6f3c5e-8d2a4-f4b-9c1e-2a7d5e8f9a01"),
		Q(" 0b6f3c5e-8d2a-4f4b-9c1e-2a7d5e8f9a0"),
		Q("urn:uuid:0b6f3c5e-8d2a-4f4b-9c1e-2a7d5e8f9a01"),
		Q(""), "1", "null", "[\"" SUB "\"]", NULL
	};
	char tok[TOKCAP];
	struct pl p;
	size_t i, n;
	int which;

	(void)state;
	for (which = 0; which < 3; which++) {
		const char **field;

		p = pl_std();
		field = which == 0 ? &p.sub : which == 1 ? &p.jti : &p.sid;
		*field = NULL;
		n = forge_pl(tok, sizeof(tok), &p);
		if (vfy(tok, n, JWT_TYP_ACCESS) != AUTH_ETOKEN)
			fail_msg("claim %d missing accepted", which);
		for (i = 0; bad[i] != NULL; i++) {
			*field = bad[i];
			n = forge_pl(tok, sizeof(tok), &p);
			if (vfy(tok, n, JWT_TYP_ACCESS) != AUTH_ETOKEN)
				fail_msg("claim %d = %s accepted", which,
				    bad[i]);
		}
	}
}

static void test_aud(void **state)
{
	static const struct { const char *aud; enum auth_err want; } cases[] = {
		{ NULL, AUTH_ETOKEN },
		{ Q(AUD), AUTH_OK },
		{ "[\"" AUD "\"]", AUTH_OK },
		{ "[\"other\",\"" AUD "\"]", AUTH_OK },
		{ Q("other"), AUTH_ETOKEN },
		{ Q("taskhub-ap"), AUTH_ETOKEN },
		{ Q("taskhub-api2"), AUTH_ETOKEN },
		{ Q("TASKHUB-API"), AUTH_ETOKEN },
		{ Q(""), AUTH_ETOKEN },
		{ "[\"other\"]", AUTH_ETOKEN },
		{ "[]", AUTH_ETOKEN },
		{ "[[\"" AUD "\"]]", AUTH_ETOKEN },
		{ "{\"aud\":\"" AUD "\"}", AUTH_ETOKEN },
		{ "1", AUTH_ETOKEN },
		{ "null", AUTH_ETOKEN },
		{ "true", AUTH_ETOKEN },
	};
	char tok[TOKCAP], member[128];
	struct pl p;
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		p = pl_std();
		if (cases[i].aud != NULL) {
			snprintf(member, sizeof(member), "\"aud\":%s",
			    cases[i].aud);
			p.extra = member;
		}
		n = forge_pl(tok, sizeof(tok), &p);
		if (vfy_at(fx.ks, tok, n, JWT_TYP_ACCESS, &pol_aud, NOW) !=
		    cases[i].want)
			fail_msg("aud %s: expected %s", cases[i].aud ?
			    cases[i].aud : "(absent)",
			    cases[i].want == AUTH_OK ? "accepted" : "refused");
	}
}

/* aud must equal the policy's exactly: a NUL (\u0000) inside the JSON
 * string must not let a longer audience pass as ours. */
static void test_aud_embedded_nul(void **state)
{
	static const char *const auds[] = {
		"\"" AUD "\\u0000evil\"", "[\"" AUD "\\u0000evil\"]",
		"\"" AUD "\\u0000\"", NULL
	};
	char tok[TOKCAP], member[128];
	struct pl p;
	size_t i, n;
	int accepted = 0;

	(void)state;
	for (i = 0; auds[i] != NULL; i++) {
		p = pl_std();
		snprintf(member, sizeof(member), "\"aud\":%s", auds[i]);
		p.extra = member;
		n = forge_pl(tok, sizeof(tok), &p);
		if (vfy_at(fx.ks, tok, n, JWT_TYP_ACCESS, &pol_aud, NOW) !=
		    AUTH_ETOKEN) {
			print_error("accepted: aud %s\n", auds[i]);
			accepted++;
		}
	}
	assert_int_equal(accepted, 0);
}

/* ------------------------------------------------------------------ */
/* key loading                                                         */

static void expect_load_fail(const char *priv, const char *pub,
    const char *extra, const char *setting)
{
	struct jwt_keys *ks = (struct jwt_keys *)&ks;
	char err[1024];

	memset(err, 0, sizeof(err));
	assert_int_equal(jwt_keys_load(&ks, priv, pub, extra, err,
	    sizeof(err)), -1);
	assert_null(ks);
	if (strstr(err, setting) == NULL)
		fail_msg("error '%s' does not name %s", err, setting);
	assert_null(strchr(err, '\n'));
}

static void test_load_missing(void **state)
{
	char missing[256];

	(void)state;
	snprintf(missing, sizeof(missing), "%s/does-not-exist.pem", fx.dir);
	expect_load_fail(NULL, missing, NULL, "JWT_PUBLIC_KEY_PATH");
	expect_load_fail(fx.path[F_A_PRIV], missing, NULL,
	    "JWT_PUBLIC_KEY_PATH");
	expect_load_fail(missing, fx.path[F_A_PUB], NULL,
	    "JWT_PRIVATE_KEY_PATH");
	expect_load_fail(NULL, fx.dir, NULL, "JWT_PUBLIC_KEY_PATH");
	expect_load_fail(NULL, "", NULL, "JWT_PUBLIC_KEY_PATH");
}

static void test_load_small_key(void **state)
{
	char list[512];

	(void)state;
	expect_load_fail(NULL, fx.path[F_C_PUB], NULL, "JWT_PUBLIC_KEY_PATH");
	expect_load_fail(fx.path[F_C_PRIV], fx.path[F_C_PUB], NULL,
	    "JWT_PUBLIC_KEY_PATH");
	expect_load_fail(fx.path[F_C_PRIV], fx.path[F_A_PUB], NULL,
	    "JWT_PRIVATE_KEY_PATH");
	snprintf(list, sizeof(list), "%s:%s", fx.path[F_B_PUB],
	    fx.path[F_C_PUB]);
	expect_load_fail(fx.path[F_A_PRIV], fx.path[F_A_PUB], list,
	    "JWT_EXTRA_PUBLIC_KEYS");
}

static void test_load_mismatch(void **state)
{
	(void)state;
	expect_load_fail(fx.path[F_B_PRIV], fx.path[F_A_PUB], NULL,
	    "JWT_PRIVATE_KEY_PATH");
	expect_load_fail(fx.path[F_A_PRIV], fx.path[F_B_PUB],
	    fx.path[F_A_PUB], "JWT_PRIVATE_KEY_PATH");
}

static void test_load_garbage(void **state)
{
	(void)state;
	expect_load_fail(NULL, fx.path[F_GARBAGE], NULL, "JWT_PUBLIC_KEY_PATH");
	expect_load_fail(NULL, fx.path[F_EMPTY], NULL, "JWT_PUBLIC_KEY_PATH");
	expect_load_fail(fx.path[F_GARBAGE], fx.path[F_A_PUB], NULL,
	    "JWT_PRIVATE_KEY_PATH");
	expect_load_fail(fx.path[F_EMPTY], fx.path[F_A_PUB], NULL,
	    "JWT_PRIVATE_KEY_PATH");
	/* A public key where the private one belongs. */
	expect_load_fail(fx.path[F_A_PUB], fx.path[F_A_PUB], NULL,
	    "JWT_PRIVATE_KEY_PATH");
	expect_load_fail(NULL, fx.path[F_A_PUB], fx.path[F_GARBAGE],
	    "JWT_EXTRA_PUBLIC_KEYS");
}

static void test_load_extra_missing(void **state)
{
	char list[512];

	(void)state;
	snprintf(list, sizeof(list), "%s:%s/nope.pem", fx.path[F_B_PUB],
	    fx.dir);
	expect_load_fail(fx.path[F_A_PRIV], fx.path[F_A_PUB], list,
	    "JWT_EXTRA_PUBLIC_KEYS");
	snprintf(list, sizeof(list), "%s/nope.pem:%s", fx.dir,
	    fx.path[F_B_PUB]);
	expect_load_fail(NULL, fx.path[F_A_PUB], list,
	    "JWT_EXTRA_PUBLIC_KEYS");
}

static void test_extra_key_rotation(void **state)
{
	struct jwt_keys *with = NULL, *old = NULL;
	struct jwt_claims c, out;
	char err[512] = "", tok[TOKCAP];
	struct json_object *o = NULL;
	long n;

	(void)state;
	assert_int_equal(jwt_keys_load(&with, fx.path[F_A_PRIV],
	    fx.path[F_A_PUB], fx.path[F_B_PUB], err, sizeof(err)), 0);
	assert_int_equal(jwt_keys_count(with), 2);
	assert_string_equal(jwt_keys_kid(with, 0), fx.kid_a);
	assert_string_equal(jwt_keys_kid(with, 1), fx.kid_b);
	assert_int_equal(json_parse(jwt_keys_jwk(with, 1),
	    strlen(jwt_keys_jwk(with, 1)), &o), AUTH_OK);
	assert_string_equal(obj_str(o, "kid"), fx.kid_b);
	json_object_put(o);

	/* A token signed earlier by the old key b. */
	assert_int_equal(jwt_keys_load(&old, fx.path[F_B_PRIV],
	    fx.path[F_B_PUB], NULL, err, sizeof(err)), 0);
	claims_std(&c, JWT_TYP_REFRESH);
	n = jwt_sign(old, &c, &pol_plain, tok, sizeof(tok));
	assert_true(n > 0);

	assert_int_equal(jwt_verify(with, tok, (size_t)n, JWT_TYP_REFRESH,
	    &pol_plain, NOW, &out), AUTH_OK);
	check_claims(&out, &c);
	/* Not once b is dropped from the list. */
	REFUSED(tok, (size_t)n, JWT_TYP_REFRESH);
	/* New tokens are signed by a, which both sets accept. */
	n = jwt_sign(with, &c, &pol_plain, tok, sizeof(tok));
	assert_true(n > 0);
	ACCEPTED(tok, (size_t)n, JWT_TYP_REFRESH);
	assert_int_equal(vfy_at(with, tok, (size_t)n, JWT_TYP_REFRESH,
	    &pol_plain, NOW), AUTH_OK);
	assert_int_equal(vfy_at(old, tok, (size_t)n, JWT_TYP_REFRESH,
	    &pol_plain, NOW), AUTH_ETOKEN);
	/* b's signature under a's kid, with b loaded: still refused. */
	{
		struct hdr h = hdr_std(JWT_TYP_ACCESS);
		struct pl p = pl_std();
		size_t m = forge(tok, sizeof(tok), fx.b, &h, &p);

		assert_int_equal(vfy_at(with, tok, m, JWT_TYP_ACCESS,
		    &pol_plain, NOW), AUTH_ETOKEN);
		h.kid = fx.kidq_b;
		m = forge(tok, sizeof(tok), fx.a, &h, &p);
		assert_int_equal(vfy_at(with, tok, m, JWT_TYP_ACCESS,
		    &pol_plain, NOW), AUTH_ETOKEN);
		m = forge(tok, sizeof(tok), fx.b, &h, &p);
		assert_int_equal(vfy_at(with, tok, m, JWT_TYP_ACCESS,
		    &pol_plain, NOW), AUTH_OK);
	}
	jwt_keys_free(old);
	jwt_keys_free(with);
}

static void test_verify_only(void **state)
{
	struct jwt_keys *vo = NULL;
	struct jwt_claims c;
	char err[512] = "", tok[TOKCAP];
	long n;

	(void)state;
	assert_int_equal(jwt_keys_load(&vo, NULL, fx.path[F_A_PUB], NULL, err,
	    sizeof(err)), 0);
	assert_non_null(vo);
	assert_int_equal(jwt_keys_count(vo), 1);
	assert_string_equal(jwt_keys_kid(vo, 0), fx.kid_a);
	claims_std(&c, JWT_TYP_ACCESS);
	assert_int_equal(jwt_sign(vo, &c, &pol_plain, tok, sizeof(tok)), -1);
	/* It verifies what the signing process issues. */
	n = jwt_sign(fx.ks, &c, &pol_plain, tok, sizeof(tok));
	assert_true(n > 0);
	assert_int_equal(vfy_at(vo, tok, (size_t)n, JWT_TYP_ACCESS, &pol_plain,
	    NOW), AUTH_OK);
	jwt_keys_free(vo);
	jwt_keys_free(NULL);
}

static void test_sign_small_buffer(void **state)
{
	char tok[TOKCAP], small[TOKCAP];
	struct jwt_claims c;
	size_t n, cap;

	(void)state;
	n = sign_std(tok, sizeof(tok), JWT_TYP_ACCESS, &pol_aud);
	claims_std(&c, JWT_TYP_ACCESS);
	/* Every capacity up to and including the length (no room for NUL). */
	for (cap = 0; cap <= n; cap++) {
		if (cap > 16 && cap < n - 16 && cap % 7 != 0)
			continue;
		memset(small, 'Z', sizeof(small));
		if (jwt_sign(fx.ks, &c, &pol_aud, small, cap) != -1)
			fail_msg("jwt_sign fit in %zu bytes", cap);
		/* Nothing written past the capacity. */
		assert_int_equal(small[cap], 'Z');
	}
	assert_int_equal(jwt_sign(fx.ks, &c, &pol_aud, small, n + 1), (long)n);
	assert_string_equal(small, tok);
}

/* ------------------------------------------------------------------ */
/* retired-key directories in JWT_EXTRA_PUBLIC_KEYS                    */

static int rm_cb(const char *path, const struct stat *sb, int flag,
    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* dir/name under the fixture dir, created empty (0700). */
static void sub_dir(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s/%s", fx.dir, name);
	assert_int_equal(mkdir(out, 0700), 0);
}

static void rm_tree(const char *dir)
{
	assert_int_equal(nftw(dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS), 0);
}

/* After each directory test, even a failed one: no subdirectory stays. */
static int extra_dir_teardown(void **state)
{
	static const char *const names[] = {
		"retired", "empty", "bad", "bad2", "bad3", "dups",
	};
	char dir[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(dir, sizeof(dir), "%s/%s", fx.dir, names[i]);
		if (access(dir, F_OK) == 0)
			(void)nftw(dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
	}
	return 0;
}

/* Copy the fixture file src into dir/name. */
static void put_copy(const char *dir, const char *name, const char *src)
{
	char path[256], buf[8192];
	FILE *in = fopen(src, "r"), *out;
	size_t n;

	assert_non_null(in);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	out = fopen(path, "w");
	assert_non_null(out);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		assert_int_equal(fwrite(buf, 1, n, out), n);
	fclose(in);
	assert_int_equal(fclose(out), 0);
}

static void put_text(const char *dir, const char *name, const char *text)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(write_text(path, text), 0);
}

/* Load a's key pair with extra; fails the test unless it loads. */
static struct jwt_keys *load_extra(const char *extra)
{
	struct jwt_keys *ks = NULL;
	char err[1024] = "";

	if (jwt_keys_load(&ks, fx.path[F_A_PRIV], fx.path[F_A_PUB], extra, err,
	    sizeof(err)) != 0)
		fail_msg("load with extra '%s': %s", extra, err);
	assert_non_null(ks);
	return ks;
}

static void test_extra_dir(void **state)
{
	struct jwt_keys *ks;
	char dir[128], rfc_kid[JWT_KID_SIZE], tok[TOKCAP];
	struct jwt_claims c, out;
	struct jwt_keys *old = NULL;
	char err[512] = "";
	long n;

	(void)state;
	sub_dir(dir, sizeof(dir), "retired");
	put_copy(dir, "b.pem", fx.path[F_B_PUB]);
	put_copy(dir, "rfc.pem", fx.path[F_RFC]);
	/* Not *.pem: ignored, however unreadable as keys. */
	put_text(dir, "notes.txt", "not a key\n");
	put_text(dir, "b.pem.bak", "not a key\n");
	put_text(dir, "pem", "not a key\n");
	put_text(dir, ".pem", "not a key\n");
	put_text(dir, ".hidden.pem", "not a key\n");
	put_copy(dir, "c.PEM", fx.path[F_C_PUB]);

	ks = load_extra(dir);
	assert_int_equal(jwt_keys_count(ks), 3);
	assert_string_equal(jwt_keys_kid(ks, 0), fx.kid_a);
	/* In name order. */
	assert_string_equal(jwt_keys_kid(ks, 1), fx.kid_b);
	assert_string_equal(jwt_keys_kid(ks, 2), RFC_KID);
	assert_null(jwt_keys_kid(ks, 3));
	snprintf(rfc_kid, sizeof(rfc_kid), "%s", jwt_keys_kid(ks, 2));

	/* A token of the retired key b verifies through the directory. */
	assert_int_equal(jwt_keys_load(&old, fx.path[F_B_PRIV],
	    fx.path[F_B_PUB], NULL, err, sizeof(err)), 0);
	claims_std(&c, JWT_TYP_ACCESS);
	n = jwt_sign(old, &c, &pol_plain, tok, sizeof(tok));
	assert_true(n > 0);
	assert_int_equal(jwt_verify(ks, tok, (size_t)n, JWT_TYP_ACCESS,
	    &pol_plain, NOW, &out), AUTH_OK);
	check_claims(&out, &c);
	jwt_keys_free(old);
	jwt_keys_free(ks);

	/* A trailing slash names the same directory. */
	{
		char slash[160];

		snprintf(slash, sizeof(slash), "%s/", dir);
		ks = load_extra(slash);
		assert_int_equal(jwt_keys_count(ks), 3);
		jwt_keys_free(ks);
	}
	/* A directory beside a file in the list. */
	{
		char list[512];

		snprintf(list, sizeof(list), "%s:%s", fx.path[F_B_PUB], dir);
		ks = load_extra(list);
		assert_int_equal(jwt_keys_count(ks), 3);
		assert_string_equal(jwt_keys_kid(ks, 1), fx.kid_b);
		assert_string_equal(jwt_keys_kid(ks, 2), rfc_kid);
		jwt_keys_free(ks);
	}
	rm_tree(dir);
}

static void test_extra_dir_empty(void **state)
{
	struct jwt_keys *ks;
	char dir[128], list[512];

	(void)state;
	sub_dir(dir, sizeof(dir), "empty");
	ks = load_extra(dir);
	assert_int_equal(jwt_keys_count(ks), 1);
	assert_string_equal(jwt_keys_kid(ks, 0), fx.kid_a);
	jwt_keys_free(ks);

	/* Only other files: nothing added either. */
	put_text(dir, "README", "retired keys go here\n");
	put_text(dir, "old.pub", "-----BEGIN PUBLIC KEY-----\n");
	ks = load_extra(dir);
	assert_int_equal(jwt_keys_count(ks), 1);
	jwt_keys_free(ks);

	/* An empty directory does not stop the rest of the list. */
	snprintf(list, sizeof(list), "%s:%s", dir, fx.path[F_B_PUB]);
	ks = load_extra(list);
	assert_int_equal(jwt_keys_count(ks), 2);
	assert_string_equal(jwt_keys_kid(ks, 1), fx.kid_b);
	jwt_keys_free(ks);
	rm_tree(dir);
}

static void test_extra_dir_garbage(void **state)
{
	struct jwt_keys *ks = NULL;
	char dir[128], err[1024];

	(void)state;
	sub_dir(dir, sizeof(dir), "bad");
	put_copy(dir, "a-good.pem", fx.path[F_B_PUB]);
	put_copy(dir, "z-bad.pem", fx.path[F_GARBAGE]);
	expect_load_fail(fx.path[F_A_PRIV], fx.path[F_A_PUB], dir,
	    "JWT_EXTRA_PUBLIC_KEYS");
	expect_load_fail(NULL, fx.path[F_A_PUB], dir, "JWT_EXTRA_PUBLIC_KEYS");
	memset(err, 0, sizeof(err));
	assert_int_equal(jwt_keys_load(&ks, NULL, fx.path[F_A_PUB], dir, err,
	    sizeof(err)), -1);
	assert_null(ks);
	/* The message names the offending file. */
	if (strstr(err, "z-bad.pem") == NULL)
		fail_msg("error '%s' does not name z-bad.pem", err);
	rm_tree(dir);

	/* An empty .pem and a too-small key are refused the same way. */
	sub_dir(dir, sizeof(dir), "bad2");
	put_text(dir, "empty.pem", "");
	expect_load_fail(NULL, fx.path[F_A_PUB], dir, "JWT_EXTRA_PUBLIC_KEYS");
	rm_tree(dir);
	sub_dir(dir, sizeof(dir), "bad3");
	put_copy(dir, "small.pem", fx.path[F_C_PUB]);
	expect_load_fail(NULL, fx.path[F_A_PUB], dir, "JWT_EXTRA_PUBLIC_KEYS");
	rm_tree(dir);
}

static void test_extra_duplicates(void **state)
{
	struct jwt_keys *ks;
	char dir[128], list[512];

	(void)state;
	/* The same file twice. */
	snprintf(list, sizeof(list), "%s:%s", fx.path[F_B_PUB],
	    fx.path[F_B_PUB]);
	ks = load_extra(list);
	assert_int_equal(jwt_keys_count(ks), 2);
	assert_string_equal(jwt_keys_kid(ks, 0), fx.kid_a);
	assert_string_equal(jwt_keys_kid(ks, 1), fx.kid_b);
	jwt_keys_free(ks);

	/* The current key listed again as a retired one. */
	ks = load_extra(fx.path[F_A_PUB]);
	assert_int_equal(jwt_keys_count(ks), 1);
	jwt_keys_free(ks);

	/* Copies under other names, in a directory and beside it. */
	sub_dir(dir, sizeof(dir), "dups");
	put_copy(dir, "b1.pem", fx.path[F_B_PUB]);
	put_copy(dir, "b2.pem", fx.path[F_B_PUB]);
	put_copy(dir, "current.pem", fx.path[F_A_PUB]);
	snprintf(list, sizeof(list), "%s:%s:%s:%s", fx.path[F_B_PUB], dir,
	    fx.path[F_RFC], dir);
	ks = load_extra(list);
	assert_int_equal(jwt_keys_count(ks), 3);
	assert_string_equal(jwt_keys_kid(ks, 0), fx.kid_a);
	assert_string_equal(jwt_keys_kid(ks, 1), fx.kid_b);
	assert_string_equal(jwt_keys_kid(ks, 2), RFC_KID);
	jwt_keys_free(ks);
	rm_tree(dir);
}

/* ------------------------------------------------------------------ */
/* HS256 refresh tokens                                                */

#define HK_DIR "hs"
#define ALL_ALGS (JWT_ALG_RS256 | JWT_ALG_HS256)

/* Two fixed refresh keys, so that their kids are known answers. */
static const unsigned char hk_one[JWT_HMAC_KEY_LEN] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a,
	0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
	0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f
};
static const unsigned char hk_two[JWT_HMAC_KEY_LEN] = {
	0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa,
	0xab, 0xac, 0xad, 0xae, 0xaf, 0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5,
	0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf
};

/* After each HS256 test, even a failed one: its directory goes. */
static int hk_teardown(void **state)
{
	char dir[128];

	(void)state;
	snprintf(dir, sizeof(dir), "%s/%s", fx.dir, HK_DIR);
	if (access(dir, F_OK) == 0)
		(void)nftw(dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
	return 0;
}

/* dir/name holding text exactly, with mode (whatever the umask). */
static void hk_put_text(char *path, size_t cap, const char *dir,
    const char *name, const char *text, size_t len, mode_t mode)
{
	FILE *f;

	snprintf(path, cap, "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

/* dir/name holding key as scripts/gen-keys.sh writes it, with mode. */
static void hk_put(char *path, size_t cap, const char *dir, const char *name,
    const unsigned char *key, mode_t mode)
{
	char text[64];
	long n = b64url_encode(text, sizeof(text), key, JWT_HMAC_KEY_LEN);

	assert_int_equal(n, 43);
	text[n++] = '\n';
	hk_put_text(path, cap, dir, name, text, (size_t)n, mode);
}

/* The kid of key, computed here: base64url of 16 bytes of its SHA-256. */
static void hk_kid(const unsigned char *key, char *kid, size_t cap)
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	assert_int_equal(EVP_Digest(key, JWT_HMAC_KEY_LEN, md, &mdlen,
	    EVP_sha256(), NULL), 1);
	assert_int_equal(b64url_encode(kid, cap, md, 16), 22);
}

/* Key pair a plus the refresh keys; fails the test unless it loads. */
static struct jwt_keys *hk_load(const char *path, int optional,
    const char *extra)
{
	struct jwt_keys *ks = NULL;
	char err[1024] = "";

	if (jwt_keys_load(&ks, fx.path[F_A_PRIV], fx.path[F_A_PUB], NULL, err,
	    sizeof(err)) != 0 ||
	    jwt_keys_load_hmac(ks, path, optional, extra, err,
	    sizeof(err)) != 0)
		fail_msg("load %s + %s: %s", path ? path : "-",
		    extra ? extra : "-", err);
	return ks;
}

/* The error of loading refresh keys that must not load. */
static void hk_load_fail(const char *path, int optional, const char *extra,
    const char *setting, char *err, size_t cap)
{
	struct jwt_keys *ks = NULL;

	memset(err, 0, cap);
	assert_int_equal(jwt_keys_load(&ks, NULL, fx.path[F_A_PUB], NULL, err,
	    cap), 0);
	assert_int_equal(jwt_keys_load_hmac(ks, path, optional, extra, err,
	    cap), -1);
	jwt_keys_free(ks);
	if (strstr(err, setting) == NULL)
		fail_msg("error '%s' does not name %s", err, setting);
	assert_null(strchr(err, '\n'));
}

/* b64(h) "." b64(p) "." b64(HMAC md under key). */
static size_t hs_forge(char *out, size_t cap, const void *key, size_t keylen,
    const EVP_MD *md, const struct hdr *h, const struct pl *p)
{
	char ht[1024], pt[JWT_MAX_LEN];
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	size_t hl = hdr_text(ht, sizeof(ht), h), pln = pl_text(pt, sizeof(pt), p);
	size_t pos = 0;

	append_b64(out, cap, &pos, ht, hl);
	append_char(out, cap, &pos, '.');
	append_b64(out, cap, &pos, pt, pln);
	assert_non_null(HMAC(md, key, (int)keylen, (const unsigned char *)out,
	    pos, mac, &maclen));
	append_char(out, cap, &pos, '.');
	append_b64(out, cap, &pos, mac, maclen);
	return pos;
}

/* A refresh header naming HS256 and the kid of key (quoted into q). */
static struct hdr hs_hdr(const unsigned char *key, char *q, size_t cap)
{
	char kid[JWT_HMAC_KID_SIZE];
	struct hdr h = hdr_std(JWT_TYP_REFRESH);

	hk_kid(key, kid, sizeof(kid));
	snprintf(q, cap, "\"%s\"", kid);
	h.alg = Q("HS256");
	h.kid = q;
	return h;
}

static enum auth_err vfy_algs(const struct jwt_keys *ks, const char *tok,
    size_t len, enum jwt_typ typ, unsigned algs)
{
	struct jwt_claims c;

	return jwt_verify_algs(ks, tok, len, typ, algs, &pol_plain, NOW, &c);
}

static void test_hs256_roundtrip(void **state)
{
	struct jwt_keys *ks;
	struct jwt_claims in, out;
	struct json_object *h;
	char dir[128], path[256], kid[JWT_HMAC_KID_SIZE], tok[TOKCAP];
	unsigned char mac[EVP_MAX_MD_SIZE], sig[64];
	unsigned int maclen = 0;
	const char *dot;
	long n, sl;

	(void)state;
	sub_dir(dir, sizeof(dir), HK_DIR);
	hk_put(path, sizeof(path), dir, "refresh.key", hk_one, 0600);
	ks = hk_load(path, 0, NULL);
	hk_kid(hk_one, kid, sizeof(kid));
	assert_int_equal(jwt_keys_hmac_count(ks), 1);
	assert_string_equal(jwt_keys_hmac_kid(ks, 0), kid);
	assert_null(jwt_keys_hmac_kid(ks, 1));
	/* Known answer: the first 16 bytes of SHA-256(00 01 .. 1f),
	 * 630dcd2966c4336691125448bbb25b4f, base64url. */
	assert_string_equal(kid, "Yw3NKWbEM2aRElRIu7JbTw");
	/* Never published: the RSA key set (the JWKS) is unchanged. */
	assert_int_equal(jwt_keys_count(ks), 1);

	claims_std(&in, JWT_TYP_REFRESH);
	n = jwt_sign_alg(ks, JWT_ALG_HS256, &in, &pol_plain, tok, sizeof(tok));
	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(tok));
	h = seg_json(tok, (size_t)n, 0);
	assert_int_equal(json_object_object_length(h), 3);
	assert_string_equal(obj_str(h, "alg"), "HS256");
	assert_string_equal(obj_str(h, "typ"), "rt+jwt");
	assert_string_equal(obj_str(h, "kid"), kid);
	json_object_put(h);

	/* The MAC is HMAC-SHA-256 of "header.payload" under the raw key. */
	dot = strrchr(tok, '.');
	assert_non_null(dot);
	assert_non_null(HMAC(EVP_sha256(), hk_one, sizeof(hk_one),
	    (const unsigned char *)tok, (size_t)(dot - tok), mac, &maclen));
	sl = b64url_decode(sig, sizeof(sig), dot + 1,
	    (size_t)n - (size_t)(dot + 1 - tok));
	assert_int_equal(sl, 32);
	assert_memory_equal(sig, mac, 32);

	memset(&out, 0x5a, sizeof(out));
	assert_int_equal(jwt_verify_algs(ks, tok, (size_t)n, JWT_TYP_REFRESH,
	    ALL_ALGS, &pol_plain, NOW, &out), AUTH_OK);
	check_claims(&out, &in);
	assert_int_equal(vfy_algs(ks, tok, (size_t)n, JWT_TYP_REFRESH,
	    JWT_ALG_HS256), AUTH_OK);
	/* Many in a row: the MAC context re-keys itself every time. */
	for (int i = 0; i < 3; i++)
		assert_int_equal(vfy_algs(ks, tok, (size_t)n, JWT_TYP_REFRESH,
		    JWT_ALG_HS256), AUTH_OK);
	/* RS256 signing is unaffected by the refresh key. */
	n = jwt_sign(ks, &in, &pol_plain, tok, sizeof(tok));
	assert_true(n > 0);
	assert_int_equal(vfy_algs(ks, tok, (size_t)n, JWT_TYP_REFRESH,
	    ALL_ALGS), AUTH_OK);
	jwt_keys_free(ks);
}

/* The accepted set is the caller's: nothing outside it verifies. */
static void test_hs256_accepted_algs(void **state)
{
	struct jwt_keys *ks;
	struct jwt_claims c;
	char dir[128], path[256], hs[TOKCAP], rs[TOKCAP];
	long hn, rn;

	(void)state;
	sub_dir(dir, sizeof(dir), HK_DIR);
	hk_put(path, sizeof(path), dir, "refresh.key", hk_one, 0600);
	ks = hk_load(path, 0, NULL);
	claims_std(&c, JWT_TYP_REFRESH);
	hn = jwt_sign_alg(ks, JWT_ALG_HS256, &c, &pol_plain, hs, sizeof(hs));
	rn = jwt_sign_alg(ks, JWT_ALG_RS256, &c, &pol_plain, rs, sizeof(rs));
	assert_true(hn > 0 && rn > 0);

	assert_int_equal(vfy_algs(ks, hs, (size_t)hn, JWT_TYP_REFRESH,
	    JWT_ALG_RS256), AUTH_ETOKEN);
	assert_int_equal(vfy_algs(ks, rs, (size_t)rn, JWT_TYP_REFRESH,
	    JWT_ALG_HS256), AUTH_ETOKEN);
	assert_int_equal(vfy_algs(ks, hs, (size_t)hn, JWT_TYP_REFRESH, 0),
	    AUTH_ETOKEN);
	assert_int_equal(vfy_algs(ks, rs, (size_t)rn, JWT_TYP_REFRESH, 0),
	    AUTH_ETOKEN);
	/* jwt_verify is RS256 only. */
	REFUSED(hs, (size_t)hn, JWT_TYP_REFRESH);
	ACCEPTED(rs, (size_t)rn, JWT_TYP_REFRESH);
	assert_int_equal(vfy_algs(ks, hs, (size_t)hn, JWT_TYP_REFRESH,
	    ALL_ALGS), AUTH_OK);
	assert_int_equal(vfy_algs(ks, rs, (size_t)rn, JWT_TYP_REFRESH,
	    ALL_ALGS), AUTH_OK);
	jwt_keys_free(ks);
}

/* An access token is never HS256: not signed, not accepted. */
static void test_hs256_never_access(void **state)
{
	struct jwt_keys *ks;
	struct jwt_claims c;
	char dir[128], path[256], tok[TOKCAP], q[32];
	struct hdr h;
	struct pl p = pl_std();
	size_t n;

	(void)state;
	sub_dir(dir, sizeof(dir), HK_DIR);
	hk_put(path, sizeof(path), dir, "refresh.key", hk_one, 0600);
	ks = hk_load(path, 0, NULL);
	claims_std(&c, JWT_TYP_ACCESS);
	memset(tok, 'Z', sizeof(tok));
	assert_int_equal(jwt_sign_alg(ks, JWT_ALG_HS256, &c, &pol_plain, tok,
	    sizeof(tok)), -1);
	assert_int_equal(tok[0], '\0');

	/* MACed with the refresh key, as an access token: every alg set. */
	h = hs_hdr(hk_one, q, sizeof(q));
	h.typ = Q("at+jwt");
	n = hs_forge(tok, sizeof(tok), hk_one, sizeof(hk_one), EVP_sha256(),
	    &h, &p);
	assert_int_equal(vfy_algs(ks, tok, n, JWT_TYP_ACCESS, ALL_ALGS),
	    AUTH_ETOKEN);
	assert_int_equal(vfy_algs(ks, tok, n, JWT_TYP_ACCESS, JWT_ALG_HS256),
	    AUTH_ETOKEN);
	assert_int_equal(vfy_algs(ks, tok, n, JWT_TYP_REFRESH, ALL_ALGS),
	    AUTH_ETOKEN);
	/* Control: the same forgery as a refresh token verifies, so what
	 * refused it above is its use. */
	h.typ = Q("rt+jwt");
	n = hs_forge(tok, sizeof(tok), hk_one, sizeof(hk_one), EVP_sha256(),
	    &h, &p);
	assert_int_equal(vfy_algs(ks, tok, n, JWT_TYP_REFRESH, ALL_ALGS),
	    AUTH_OK);
	assert_int_equal(vfy_algs(ks, tok, n, JWT_TYP_ACCESS, ALL_ALGS),
	    AUTH_ETOKEN);
	jwt_keys_free(ks);
}

/* HS256 keyed with what an attacker has (the public key), under either
 * kid; a MAC under the right key with the wrong kid; other HMACs. */
static void test_hs256_key_confusion(void **state)
{
	static const char *const algs[] = {
		Q("HS384"), Q("HS512"), Q("hs256"), Q("HS256 "), Q("HS2560"),
		Q("HS256\\u0000"), Q("none"), Q("RS256"), NULL
	};
	struct jwt_keys *ks;
	char dir[128], path[256], path2[256], tok[TOKCAP], pem[4096], q[32];
	char q2[32];
	struct hdr h;
	struct pl p = pl_std();
	size_t n, pemlen, i;
	FILE *f;

	(void)state;
	f = fopen(fx.path[F_A_PUB], "r");
	assert_non_null(f);
	pemlen = fread(pem, 1, sizeof(pem), f);
	fclose(f);
	assert_true(pemlen > 100 && pemlen < sizeof(pem));
	sub_dir(dir, sizeof(dir), HK_DIR);
	hk_put(path, sizeof(path), dir, "refresh.key", hk_one, 0600);
	hk_put(path2, sizeof(path2), dir, "other.key", hk_two, 0600);
	ks = hk_load(path, 0, NULL);

	/* The public key PEM as the secret: with the RSA kid, with the
	 * refresh kid; as refresh and as access tokens. */
	h = hs_hdr(hk_one, q, sizeof(q));
	h.kid = fx.kidq_a;
	n = hs_forge(tok, sizeof(tok), pem, pemlen, EVP_sha256(), &h, &p);
	assert_int_equal(vfy_algs(ks, tok, n, JWT_TYP_REFRESH, ALL_ALGS),
	    AUTH_ETOKEN);
	h.typ = Q("at+jwt");
	n = hs_forge(tok, sizeof(tok), pem, pemlen, EVP_sha256(), &h, &p);
	assert_int_equal(vfy_algs(ks, tok, n, JWT_TYP_ACCESS, ALL_ALGS),
	    AUTH_ETOKEN);
	h = hs_hdr(hk_one, q, sizeof(q));
	n = hs_forge(tok, sizeof(tok), pem, pemlen, EVP_sha256(), &h, &p);
	assert_int_equal(vfy_algs(ks, tok, n, JWT_TYP_REFRESH, ALL_ALGS),
	    AUTH_ETOKEN);
	/* The PEM without its final newline: no better. */
	n = hs_forge(tok, sizeof(tok), pem, pemlen - 1, EVP_sha256(), &h, &p);
	assert_int_equal(vfy_algs(ks, tok, n, JWT_TYP_REFRESH, ALL_ALGS),
	    AUTH_ETOKEN);

	/* The right key under the RSA kid: kids are looked up per alg. */
	h.kid = fx.kidq_a;
	n = hs_forge(tok, sizeof(tok), hk_one, sizeof(hk_one), EVP_sha256(),
	    &h, &p);
	assert_int_equal(vfy_algs(ks, tok, n, JWT_TYP_REFRESH, ALL_ALGS),
	    AUTH_ETOKEN);
	/* RS256 under the refresh kid, really RS256-signed. */
	h = hdr_std(JWT_TYP_REFRESH);
	h.kid = q;
	n = forge(tok, sizeof(tok), fx.a, &h, &p);
	assert_int_equal(vfy_algs(ks, tok, n, JWT_TYP_REFRESH, ALL_ALGS),
	    AUTH_ETOKEN);
	/* A key that is not loaded, under its own kid and under ours. */
	h = hs_hdr(hk_two, q2, sizeof(q2));
	n = hs_forge(tok, sizeof(tok), hk_two, sizeof(hk_two), EVP_sha256(),
	    &h, &p);
	assert_int_equal(vfy_algs(ks, tok, n, JWT_TYP_REFRESH, ALL_ALGS),
	    AUTH_ETOKEN);
	h.kid = q;
	n = hs_forge(tok, sizeof(tok), hk_two, sizeof(hk_two), EVP_sha256(),
	    &h, &p);
	assert_int_equal(vfy_algs(ks, tok, n, JWT_TYP_REFRESH, ALL_ALGS),
	    AUTH_ETOKEN);
	/* Other algorithms and spellings, MACed with the real key. */
	for (i = 0; algs[i] != NULL; i++) {
		const EVP_MD *md = strstr(algs[i], "384") ? EVP_sha384() :
		    strstr(algs[i], "512") ? EVP_sha512() : EVP_sha256();

		h = hs_hdr(hk_one, q, sizeof(q));
		h.alg = algs[i];
		n = hs_forge(tok, sizeof(tok), hk_one, sizeof(hk_one), md, &h,
		    &p);
		if (vfy_algs(ks, tok, n, JWT_TYP_REFRESH, ALL_ALGS) !=
		    AUTH_ETOKEN)
			fail_msg("alg %s accepted", algs[i]);
	}
	/* Control: the right key, kid and alg. */
	h = hs_hdr(hk_one, q, sizeof(q));
	n = hs_forge(tok, sizeof(tok), hk_one, sizeof(hk_one), EVP_sha256(),
	    &h, &p);
	assert_int_equal(vfy_algs(ks, tok, n, JWT_TYP_REFRESH, ALL_ALGS),
	    AUTH_OK);
	jwt_keys_free(ks);
}

/* A MAC of the wrong length or with one bit changed. */
static void test_hs256_mac_tampered(void **state)
{
	struct jwt_keys *ks;
	struct jwt_claims c;
	char dir[128], path[256], tok[TOKCAP], bad[TOKCAP];
	unsigned char sig[64];
	size_t n, start = 0, sl;
	long m;

	(void)state;
	sub_dir(dir, sizeof(dir), HK_DIR);
	hk_put(path, sizeof(path), dir, "refresh.key", hk_one, 0600);
	ks = hk_load(path, 0, NULL);
	claims_std(&c, JWT_TYP_REFRESH);
	m = jwt_sign_alg(ks, JWT_ALG_HS256, &c, &pol_plain, tok, sizeof(tok));
	assert_true(m > 0);
	n = (size_t)m;
	sl = seg(tok, n, 2, &start);
	assert_int_equal(b64url_decode(sig, sizeof(sig), tok + start, sl), 32);

	/* 31, 33 and 0 bytes. */
	m = (long)splice_raw(bad, sizeof(bad), tok, n, 2, sig, 31);
	assert_int_equal(vfy_algs(ks, bad, (size_t)m, JWT_TYP_REFRESH,
	    ALL_ALGS), AUTH_ETOKEN);
	sig[32] = 0;
	m = (long)splice_raw(bad, sizeof(bad), tok, n, 2, sig, 33);
	assert_int_equal(vfy_algs(ks, bad, (size_t)m, JWT_TYP_REFRESH,
	    ALL_ALGS), AUTH_ETOKEN);
	m = (long)splice(bad, sizeof(bad), tok, n, 2, "", 0);
	assert_int_equal(vfy_algs(ks, bad, (size_t)m, JWT_TYP_REFRESH,
	    ALL_ALGS), AUTH_ETOKEN);
	/* Every bit of the MAC, one at a time. */
	for (size_t bit = 0; bit < 256; bit++) {
		unsigned char flipped[32];

		memcpy(flipped, sig, 32);
		flipped[bit / 8] ^= (unsigned char)(1u << (bit % 8));
		m = (long)splice_raw(bad, sizeof(bad), tok, n, 2, flipped, 32);
		if (vfy_algs(ks, bad, (size_t)m, JWT_TYP_REFRESH, ALL_ALGS) !=
		    AUTH_ETOKEN)
			fail_msg("MAC bit %zu flipped accepted", bit);
	}
	/* One payload bit: the MAC no longer matches. */
	memcpy(bad, tok, n + 1);
	bad[seg(tok, n, 1, &start) / 2 + start] ^= 1;
	assert_int_equal(vfy_algs(ks, bad, n, JWT_TYP_REFRESH, ALL_ALGS),
	    AUTH_ETOKEN);
	assert_int_equal(vfy_algs(ks, tok, n, JWT_TYP_REFRESH, ALL_ALGS),
	    AUTH_OK);
	jwt_keys_free(ks);
}

/* Retired refresh keys verify; only REFRESH_KEY_PATH's key signs. */
static void test_hs256_retired_keys(void **state)
{
	struct jwt_keys *old, *now, *vo;
	struct jwt_claims c, out;
	char dir[128], path[256], ret[160], list[512], tok[TOKCAP];
	char kid1[JWT_HMAC_KID_SIZE], kid2[JWT_HMAC_KID_SIZE];
	long n;

	(void)state;
	sub_dir(dir, sizeof(dir), HK_DIR);
	snprintf(ret, sizeof(ret), "%s/retired-refresh", dir);
	assert_int_equal(mkdir(ret, 0700), 0);
	hk_put(path, sizeof(path), ret, "refresh-1700000000.key", hk_one, 0600);
	old = hk_load(path, 0, NULL);
	hk_put(path, sizeof(path), dir, "refresh.key", hk_two, 0600);
	now = hk_load(path, 0, ret);
	hk_kid(hk_one, kid1, sizeof(kid1));
	hk_kid(hk_two, kid2, sizeof(kid2));
	assert_int_equal(jwt_keys_hmac_count(now), 2);
	assert_string_equal(jwt_keys_hmac_kid(now, 0), kid2);
	assert_string_equal(jwt_keys_hmac_kid(now, 1), kid1);

	/* A token of the retired key verifies; new ones carry the new kid. */
	claims_std(&c, JWT_TYP_REFRESH);
	n = jwt_sign_alg(old, JWT_ALG_HS256, &c, &pol_plain, tok, sizeof(tok));
	assert_true(n > 0);
	assert_int_equal(jwt_verify_algs(now, tok, (size_t)n, JWT_TYP_REFRESH,
	    ALL_ALGS, &pol_plain, NOW, &out), AUTH_OK);
	check_claims(&out, &c);
	n = jwt_sign_alg(now, JWT_ALG_HS256, &c, &pol_plain, tok, sizeof(tok));
	assert_true(n > 0);
	assert_int_equal(vfy_algs(old, tok, (size_t)n, JWT_TYP_REFRESH,
	    ALL_ALGS), AUTH_ETOKEN);
	{
		struct json_object *h = seg_json(tok, (size_t)n, 0);

		assert_string_equal(obj_str(h, "kid"), kid2);
		json_object_put(h);
	}

	/* Retired keys alone (REFRESH_KEY_PATH absent and optional):
	 * they verify, nothing signs. */
	snprintf(list, sizeof(list), "%s/none.key", dir);
	vo = hk_load(list, 1, ret);
	assert_int_equal(jwt_keys_hmac_count(vo), 1);
	assert_int_equal(jwt_sign_alg(vo, JWT_ALG_HS256, &c, &pol_plain, tok,
	    sizeof(tok)), -1);
	n = jwt_sign_alg(old, JWT_ALG_HS256, &c, &pol_plain, tok, sizeof(tok));
	assert_int_equal(vfy_algs(vo, tok, (size_t)n, JWT_TYP_REFRESH,
	    ALL_ALGS), AUTH_OK);
	jwt_keys_free(vo);

	/* The current key listed again among the retired: one key. */
	snprintf(list, sizeof(list), "%s:%s", ret, path);
	vo = hk_load(path, 0, list);
	assert_int_equal(jwt_keys_hmac_count(vo), 2);
	jwt_keys_free(vo);
	jwt_keys_free(now);
	jwt_keys_free(old);
}

static void test_hs256_load_optional(void **state)
{
	struct jwt_keys *ks;
	struct jwt_claims c;
	char missing[256], err[512], tok[TOKCAP];

	(void)state;
	snprintf(missing, sizeof(missing), "%s/no-such.key", fx.dir);
	/* Optional and absent: no key, no HS256. */
	ks = hk_load(missing, 1, "");
	assert_int_equal(jwt_keys_hmac_count(ks), 0);
	claims_std(&c, JWT_TYP_REFRESH);
	assert_int_equal(jwt_sign_alg(ks, JWT_ALG_HS256, &c, &pol_plain, tok,
	    sizeof(tok)), -1);
	jwt_keys_free(ks);
	ks = hk_load(NULL, 0, NULL);
	assert_int_equal(jwt_keys_hmac_count(ks), 0);
	jwt_keys_free(ks);
	/* Required and absent: one line naming the setting and the file. */
	hk_load_fail(missing, 0, NULL, "REFRESH_KEY_PATH", err, sizeof(err));
	assert_non_null(strstr(err, missing));
	/* A listed retired key is never optional. */
	hk_load_fail(NULL, 1, missing, "REFRESH_EXTRA_KEYS", err, sizeof(err));
	hk_load_fail(missing, 1, missing, "REFRESH_EXTRA_KEYS", err,
	    sizeof(err));
}

static void test_hs256_load_twice(void **state)
{
	struct jwt_keys *ks;
	char dir[128], path[256], err[512];

	(void)state;
	sub_dir(dir, sizeof(dir), HK_DIR);
	hk_put(path, sizeof(path), dir, "refresh.key", hk_one, 0600);
	ks = hk_load(path, 0, NULL);
	assert_int_equal(jwt_keys_load_hmac(ks, path, 0, NULL, err,
	    sizeof(err)), -1);
	assert_int_equal(jwt_keys_hmac_count(ks), 1);
	jwt_keys_free(ks);
}

/* Group or others may touch it: refused, whatever it holds. */
static void test_hs256_load_mode(void **state)
{
	static const mode_t bad[] = {
		0644, 0640, 0604, 0620, 0602, 0660, 0666, 0610, 0601
	};
	struct jwt_keys *ks;
	char dir[128], path[256], err[512];
	size_t i;

	(void)state;
	sub_dir(dir, sizeof(dir), HK_DIR);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		hk_put(path, sizeof(path), dir, "refresh.key", hk_one, bad[i]);
		hk_load_fail(path, 0, NULL, "REFRESH_KEY_PATH", err,
		    sizeof(err));
		assert_non_null(strstr(err, "chmod 600"));
		/* Optional only means absent: a bad key still stops it. */
		hk_load_fail(path, 1, NULL, "REFRESH_KEY_PATH", err,
		    sizeof(err));
		assert_int_equal(unlink(path), 0);
	}
	/* The same in a retired-keys directory. */
	hk_put(path, sizeof(path), dir, "old.key", hk_one, 0644);
	hk_load_fail(NULL, 0, dir, "REFRESH_EXTRA_KEYS", err, sizeof(err));
	assert_non_null(strstr(err, "old.key"));
	assert_int_equal(unlink(path), 0);
	/* Owner-only modes load. */
	hk_put(path, sizeof(path), dir, "refresh.key", hk_one, 0400);
	ks = hk_load(path, 0, NULL);
	jwt_keys_free(ks);
	assert_int_equal(chmod(path, 0600), 0);
	ks = hk_load(path, 0, NULL);
	jwt_keys_free(ks);
	/* A directory where the key belongs. */
	hk_load_fail(dir, 0, NULL, "REFRESH_KEY_PATH", err, sizeof(err));
}

/* Exactly 43 base64url characters and one optional newline; the error
 * never shows what the file holds. */
static void test_hs256_load_content(void **state)
{
	static const char *const texts[] = {
		"", "\n",
		/* 42 and 44 characters */
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg",
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8A",
		/* padded, standard alphabet, whitespace around */
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+",
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\n\n",
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\r\n",
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8 ",
		" AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
		/* non-zero trailing bits: a second spelling of one key */
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9",
		NULL
	};
	struct jwt_keys *ks;
	char dir[128], path[256], err[512], big[300];
	size_t i;

	(void)state;
	sub_dir(dir, sizeof(dir), HK_DIR);
	for (i = 0; texts[i] != NULL; i++) {
		hk_put_text(path, sizeof(path), dir, "refresh.key", texts[i],
		    strlen(texts[i]), 0600);
		hk_load_fail(path, 0, NULL, "REFRESH_KEY_PATH", err,
		    sizeof(err));
		if (strlen(texts[i]) > 8 &&
		    strstr(err, "AAECAwQFBgcICQoLDA0O") != NULL)
			fail_msg("error shows the key: %s", err);
	}
	/* A file too long to be a key. */
	memset(big, 'A', sizeof(big));
	hk_put_text(path, sizeof(path), dir, "refresh.key", big, sizeof(big),
	    0600);
	hk_load_fail(path, 0, NULL, "REFRESH_KEY_PATH", err, sizeof(err));
	/* Control: the text gen-keys.sh writes, with and without newline. */
	hk_put_text(path, sizeof(path), dir, "refresh.key",
	    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", 43, 0600);
	ks = hk_load(path, 0, NULL);
	assert_string_equal(jwt_keys_hmac_kid(ks, 0), "Yw3NKWbEM2aRElRIu7JbTw");
	jwt_keys_free(ks);
	hk_put(path, sizeof(path), dir, "refresh.key", hk_one, 0600);
	ks = hk_load(path, 0, NULL);
	assert_string_equal(jwt_keys_hmac_kid(ks, 0), "Yw3NKWbEM2aRElRIu7JbTw");
	jwt_keys_free(ks);
}

static void test_hs256_extra_dir(void **state)
{
	struct jwt_keys *ks;
	char dir[128], ret[160], path[256], err[512], list[512];
	unsigned char key[JWT_HMAC_KEY_LEN];
	int i;

	(void)state;
	sub_dir(dir, sizeof(dir), HK_DIR);
	snprintf(ret, sizeof(ret), "%s/retired-refresh", dir);
	assert_int_equal(mkdir(ret, 0700), 0);
	hk_put(path, sizeof(path), ret, "b.key", hk_two, 0600);
	hk_put(path, sizeof(path), ret, "a.key", hk_one, 0600);
	/* Not *.key, or hidden: ignored, however unreadable as keys. */
	hk_put_text(path, sizeof(path), ret, "notes.txt", "x", 1, 0644);
	hk_put_text(path, sizeof(path), ret, "a.key.bak", "x", 1, 0644);
	hk_put_text(path, sizeof(path), ret, ".hidden.key", "x", 1, 0644);
	hk_put_text(path, sizeof(path), ret, "key", "x", 1, 0644);
	ks = hk_load(NULL, 0, ret);
	assert_int_equal(jwt_keys_hmac_count(ks), 2);
	/* In name order. */
	{
		char k1[JWT_HMAC_KID_SIZE], k2[JWT_HMAC_KID_SIZE];

		hk_kid(hk_one, k1, sizeof(k1));
		hk_kid(hk_two, k2, sizeof(k2));
		assert_string_equal(jwt_keys_hmac_kid(ks, 0), k1);
		assert_string_equal(jwt_keys_hmac_kid(ks, 1), k2);
	}
	jwt_keys_free(ks);

	/* A broken *.key stops the load, named. */
	hk_put_text(path, sizeof(path), ret, "c.key", "garbage\n", 8, 0600);
	hk_load_fail(NULL, 0, ret, "REFRESH_EXTRA_KEYS", err, sizeof(err));
	assert_non_null(strstr(err, "c.key"));
	assert_int_equal(unlink(path), 0);

	/* At most JWT_MAX_KEYS keys. */
	memcpy(key, hk_one, sizeof(key));
	for (i = 0; i < JWT_MAX_KEYS; i++) {
		char name[32];

		key[0] = (unsigned char)(0x40 + i);
		snprintf(name, sizeof(name), "k%02d.key", i);
		hk_put(path, sizeof(path), ret, name, key, 0600);
	}
	snprintf(list, sizeof(list), "%s", ret);
	hk_load_fail(NULL, 0, list, "REFRESH_EXTRA_KEYS", err, sizeof(err));
	assert_non_null(strstr(err, "more than"));
}

int main(void)
{
	const struct CMUnitTest jwt[] = {
		cmocka_unit_test(test_roundtrip_access),
		cmocka_unit_test(test_roundtrip_refresh),
		cmocka_unit_test(test_sign_verifies_independently),
		cmocka_unit_test(test_aud_only_on_access),
		cmocka_unit_test(test_forge_control),
		cmocka_unit_test(test_typ_confusion),
		cmocka_unit_test(test_amr),
		cmocka_unit_test(test_amr_forged),
		cmocka_unit_test(test_mfa_token),
		cmocka_unit_test(test_kid_rfc7638_example),
		cmocka_unit_test(test_kid_own_key),
		cmocka_unit_test(test_alg_none),
		cmocka_unit_test(test_alg_hs256_key_confusion),
		cmocka_unit_test(test_alg_other),
		cmocka_unit_test(test_typ_header),
		cmocka_unit_test(test_kid),
		cmocka_unit_test(test_crit),
		cmocka_unit_test(test_header_not_object),
		cmocka_unit_test(test_signature_other_key),
		cmocka_unit_test(test_signature_length),
		cmocka_unit_test(test_bit_flips),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_segments),
		cmocka_unit_test(test_length_limit),
		cmocka_unit_test(test_bad_base64),
		cmocka_unit_test(test_non_utf8),
		cmocka_unit_test(test_non_utf8_overlong_surrogate),
		cmocka_unit_test(test_payload_not_object),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_iss),
		cmocka_unit_test(test_exp_skew),
		cmocka_unit_test(test_iat_skew),
		cmocka_unit_test(test_time_types),
		cmocka_unit_test(test_exp_not_after_iat),
		cmocka_unit_test(test_huge_exp),
		cmocka_unit_test(test_nbf),
		cmocka_unit_test(test_uuid_claims),
		cmocka_unit_test(test_aud),
		cmocka_unit_test(test_aud_embedded_nul),
		cmocka_unit_test(test_load_missing),
		cmocka_unit_test(test_load_small_key),
		cmocka_unit_test(test_load_mismatch),
		cmocka_unit_test(test_load_garbage),
		cmocka_unit_test(test_load_extra_missing),
		cmocka_unit_test(test_extra_key_rotation),
		cmocka_unit_test(test_verify_only),
		cmocka_unit_test(test_sign_small_buffer),
		cmocka_unit_test_teardown(test_extra_dir,
		    extra_dir_teardown),
		cmocka_unit_test_teardown(test_extra_dir_empty,
		    extra_dir_teardown),
		cmocka_unit_test_teardown(test_extra_dir_garbage,
		    extra_dir_teardown),
		cmocka_unit_test_teardown(test_extra_duplicates,
		    extra_dir_teardown),
		cmocka_unit_test_teardown(test_hs256_roundtrip, hk_teardown),
		cmocka_unit_test_teardown(test_hs256_accepted_algs, hk_teardown),
		cmocka_unit_test_teardown(test_hs256_never_access, hk_teardown),
		cmocka_unit_test_teardown(test_hs256_key_confusion, hk_teardown),
		cmocka_unit_test_teardown(test_hs256_mac_tampered, hk_teardown),
		cmocka_unit_test_teardown(test_hs256_retired_keys, hk_teardown),
		cmocka_unit_test_teardown(test_hs256_load_optional, hk_teardown),
		cmocka_unit_test_teardown(test_hs256_load_twice, hk_teardown),
		cmocka_unit_test_teardown(test_hs256_load_mode, hk_teardown),
		cmocka_unit_test_teardown(test_hs256_load_content, hk_teardown),
		cmocka_unit_test_teardown(test_hs256_extra_dir, hk_teardown),
	};

	return cmocka_run_group_tests(jwt, group_setup, group_teardown);
}
