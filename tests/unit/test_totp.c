/* test_totp: RFC 6238/4226 codes, the check window, base32, URIs, recovery codes. */
#include "unit.h"

#include <stdio.h>
#include <string.h>

#include "totp.h"

static const unsigned char rfc_key[] = "12345678901234567890";
#define RFC_KEYLEN (sizeof(rfc_key) - 1)

static const char recovery_alpha[] = "abcdefghijklmnopqrstuvwxyz234567";

/* The current code of rfc_key at step, as the user would type it. */
static void code_at(int64_t step, char *code)
{
	uint32_t v;

	assert_int_equal(totp_value(rfc_key, RFC_KEYLEN, (uint64_t)step,
	    TOTP_DIGITS, &v), 0);
	snprintf(code, TOTP_DIGITS + 1, "%0*u", TOTP_DIGITS, (unsigned)v);
}

/* RFC 6238 Appendix B, SHA1 column: T0 = 0, X = 30, 8 digits. */
static void test_rfc6238_vectors(void **state)
{
	static const struct {
		int64_t t;
		uint32_t code;
	} v[] = {
		{59, 94287082},
		{1111111109, 7081804},
		{1111111111, 14050471},
		{1234567890, 89005924},
		{2000000000, 69279037},
		{20000000000LL, 65353130},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint32_t got = 0;

		assert_int_equal(totp_value(rfc_key, RFC_KEYLEN,
		    (uint64_t)(v[i].t / TOTP_STEP), 8, &got), 0);
		assert_int_equal(got, v[i].code);
	}
}

/* RFC 4226 Appendix D: HOTP, 6 digits, counters 0..9. */
static void test_rfc4226_vectors(void **state)
{
	static const uint32_t want[] = {755224, 287082, 359152, 969429, 338314,
	    254676, 287922, 162583, 399871, 520489};

	(void)state;
	for (uint64_t c = 0; c < 10; c++) {
		uint32_t got = 0;

		assert_int_equal(totp_value(rfc_key, RFC_KEYLEN, c, 6, &got), 0);
		assert_int_equal(got, want[c]);
	}
}

static void test_value_refuses_bad_arguments(void **state)
{
	uint32_t got;

	(void)state;
	assert_int_equal(totp_value(rfc_key, RFC_KEYLEN, 0, 5, &got), -1);
	assert_int_equal(totp_value(rfc_key, RFC_KEYLEN, 0, 9, &got), -1);
	assert_int_equal(totp_value(rfc_key, 0, 0, 6, &got), -1);
	assert_int_equal(totp_value(NULL, RFC_KEYLEN, 0, 6, &got), -1);
	assert_int_equal(totp_value(rfc_key, RFC_KEYLEN, 0, 6, NULL), -1);
	/* 7 digits: the same truncation, a different modulus. */
	assert_int_equal(totp_value(rfc_key, RFC_KEYLEN, 1, 7, &got), 0);
	assert_int_equal(got, 4287082);
}

static const int64_t now = 1111111111;   /* step 37037037, 1 s in */

static void test_check_window(void **state)
{
	int64_t base = now / TOTP_STEP, step;
	char code[TOTP_DIGITS + 1];

	(void)state;
	for (int64_t d = -1; d <= 1; d++) {
		code_at(base + d, code);
		step = -7;
		assert_int_equal(totp_check(rfc_key, RFC_KEYLEN, code,
		    TOTP_DIGITS, now, 0, &step), 0);
		assert_int_equal(step, base + d);
	}
	/* Two steps away either way: too much drift. */
	code_at(base - 2, code);
	assert_int_equal(totp_check(rfc_key, RFC_KEYLEN, code, TOTP_DIGITS,
	    now, 0, &step), -1);
	code_at(base + 2, code);
	assert_int_equal(totp_check(rfc_key, RFC_KEYLEN, code, TOTP_DIGITS,
	    now, 0, &step), -1);
	/* The same code 29 s later (next step, same window). */
	code_at(base, code);
	assert_int_equal(totp_check(rfc_key, RFC_KEYLEN, code, TOTP_DIGITS,
	    now + 29, 0, &step), 0);
	assert_int_equal(step, base);
}

static void test_check_refuses_replay(void **state)
{
	int64_t base = now / TOTP_STEP, step = -7;
	char code[TOTP_DIGITS + 1];

	(void)state;
	code_at(base, code);
	assert_int_equal(totp_check(rfc_key, RFC_KEYLEN, code, TOTP_DIGITS,
	    now, base, &step), -1);
	assert_int_equal(step, -7);   /* untouched on failure */
	assert_int_equal(totp_check(rfc_key, RFC_KEYLEN, code, TOTP_DIGITS,
	    now, base + 1, &step), -1);
	/* An earlier step in the window is refused once a later one was used. */
	code_at(base - 1, code);
	assert_int_equal(totp_check(rfc_key, RFC_KEYLEN, code, TOTP_DIGITS,
	    now, base - 1, &step), -1);
	assert_int_equal(totp_check(rfc_key, RFC_KEYLEN, code, TOTP_DIGITS,
	    now, base - 2, &step), 0);
	assert_int_equal(step, base - 1);
	/* The next step is still open after the current one was used. */
	code_at(base + 1, code);
	assert_int_equal(totp_check(rfc_key, RFC_KEYLEN, code, TOTP_DIGITS,
	    now, base, &step), 0);
	assert_int_equal(step, base + 1);
}

static void test_check_refuses_malformed(void **state)
{
	static const char *bad[] = {"12345", "1234567", "12a456", "", " 12345",
	    "12345 ", "-12345", "+12345"};
	int64_t step = -7;
	char code[TOTP_DIGITS + 2];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(totp_check(rfc_key, RFC_KEYLEN, bad[i],
		    strlen(bad[i]), now, 0, &step), -1);
	assert_int_equal(totp_check(rfc_key, RFC_KEYLEN, "12\0" "456", 6, now,
	    0, &step), -1);
	/* The right digits with a seventh after them. */
	code_at(now / TOTP_STEP, code);
	strcat(code, "0");
	assert_int_equal(totp_check(rfc_key, RFC_KEYLEN, code, TOTP_DIGITS + 1,
	    now, 0, &step), -1);
	assert_int_equal(totp_check(rfc_key, RFC_KEYLEN, NULL, TOTP_DIGITS, now,
	    0, &step), -1);
	assert_int_equal(step, -7);
}

/*
 * Steps 37079356 and 37079357 of rfc_key both give 186519 (found by
 * search, confirmed with oathtool): when two candidates match, the later
 * step is the one recorded, so the earlier cannot be replayed after it.
 */
static void test_check_takes_latest_match(void **state)
{
	const int64_t s = 37079357;
	int64_t step = -7;
	char code[TOTP_DIGITS + 1];

	(void)state;
	code_at(s - 1, code);
	assert_string_equal(code, "186519");
	code_at(s, code);
	assert_string_equal(code, "186519");
	for (int64_t base = s - 1; base <= s + 1; base++) {
		step = -7;
		assert_int_equal(totp_check(rfc_key, RFC_KEYLEN, "186519", 6,
		    base * TOTP_STEP, 0, &step), 0);
		assert_int_equal(step, s);
	}
	assert_int_equal(totp_check(rfc_key, RFC_KEYLEN, "186519", 6,
	    s * TOTP_STEP, s - 1, &step), 0);
	assert_int_equal(step, s);
	assert_int_equal(totp_check(rfc_key, RFC_KEYLEN, "186519", 6,
	    s * TOTP_STEP, s, &step), -1);
}

static void test_check_refuses_negative_now(void **state)
{
	int64_t step = -7;
	char code[TOTP_DIGITS + 1];

	(void)state;
	code_at(0, code);
	assert_int_equal(totp_check(rfc_key, RFC_KEYLEN, code, TOTP_DIGITS, -1,
	    -1, &step), -1);
	assert_int_equal(totp_check(rfc_key, RFC_KEYLEN, code, TOTP_DIGITS,
	    INT64_MIN, -1, &step), -1);
	/* Step 0 itself is a step like any other. */
	assert_int_equal(totp_check(rfc_key, RFC_KEYLEN, code, TOTP_DIGITS, 0,
	    -1, &step), 0);
	assert_int_equal(step, 0);
}

/* RFC 4648 section 10, base32 without the padding. */
static void test_base32_rfc4648_vectors(void **state)
{
	static const struct {
		const char *plain;
		const char *enc;
	} v[] = {
		{"", ""},
		{"f", "MY"},
		{"fo", "MZXQ"},
		{"foo", "MZXW6"},
		{"foob", "MZXW6YQ"},
		{"fooba", "MZXW6YTB"},
		{"foobar", "MZXW6YTBOI"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		size_t n = strlen(v[i].enc);
		char out[16];

		memset(out, 'X', sizeof(out));
		assert_int_equal(totp_base32((const unsigned char *)v[i].plain,
		    strlen(v[i].plain), out, sizeof(out)), (long)n);
		assert_string_equal(out, v[i].enc);
		/* Exactly the length and its NUL, and not one byte less. */
		assert_int_equal(totp_base32((const unsigned char *)v[i].plain,
		    strlen(v[i].plain), out, n + 1), (long)n);
		assert_int_equal(totp_base32((const unsigned char *)v[i].plain,
		    strlen(v[i].plain), out, n), -1);
	}
}

static void test_base32_secret(void **state)
{
	unsigned char secret[TOTP_SECRET_LEN];
	char out[TOTP_B32_SIZE];

	(void)state;
	for (size_t i = 0; i < sizeof(secret); i++)
		secret[i] = (unsigned char)(i * 37 + 255);
	assert_int_equal(totp_base32(secret, sizeof(secret), out, sizeof(out)),
	    32);
	assert_int_equal(strlen(out), 32);
	assert_int_equal(strspn(out, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"), 32);
	assert_int_equal(totp_base32(secret, sizeof(secret), out,
	    sizeof(out) - 1), -1);
	assert_int_equal(totp_base32(rfc_key, RFC_KEYLEN, out, sizeof(out)),
	    32);
	assert_string_equal(out, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
}

static void test_uri_exact(void **state)
{
	char out[TOTP_URI_MAX];

	(void)state;
	assert_int_equal(totp_uri("auth-svc", "a@example.com",
	    "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", out, sizeof(out)), 0);
	assert_string_equal(out, "otpauth://totp/auth-svc:a%40example.com"
	    "?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=auth-svc"
	    "&algorithm=SHA1&digits=6&period=30");
}

static void test_uri_encodes_issuer(void **state)
{
	char out[TOTP_URI_MAX];

	(void)state;
	assert_int_equal(totp_uri("Acme Co: Auth", "bob+x@ex.org", "MY", out,
	    sizeof(out)), 0);
	assert_string_equal(out, "otpauth://totp/Acme%20Co%3A%20Auth:"
	    "bob%2Bx%40ex.org?secret=MY&issuer=Acme%20Co%3A%20Auth"
	    "&algorithm=SHA1&digits=6&period=30");
	/* Unreserved characters pass; 8-bit bytes are encoded one by one. */
	assert_int_equal(totp_uri("a-b.c_d~e", "\xc3\xa9/?&=#%", "MY", out,
	    sizeof(out)), 0);
	assert_string_equal(out, "otpauth://totp/a-b.c_d~e:"
	    "%C3%A9%2F%3F%26%3D%23%25?secret=MY&issuer=a-b.c_d~e"
	    "&algorithm=SHA1&digits=6&period=30");
}

static void test_uri_too_small(void **state)
{
	char out[TOTP_URI_MAX], want[TOTP_URI_MAX];
	size_t n;

	(void)state;
	assert_int_equal(totp_uri("auth-svc", "a@example.com", "MZXW6YTBOI",
	    want, sizeof(want)), 0);
	n = strlen(want);
	assert_int_equal(totp_uri("auth-svc", "a@example.com", "MZXW6YTBOI",
	    out, n + 1), 0);
	assert_string_equal(out, want);
	/* One byte short, on a plain byte and inside a %XX. */
	memset(out, 'X', sizeof(out));
	assert_int_equal(totp_uri("auth-svc", "a@example.com", "MZXW6YTBOI",
	    out, n), -1);
	assert_string_equal(out, "");
	assert_int_equal(totp_uri("auth-svc", "a@example.com", "MZXW6YTBOI",
	    out, strlen("otpauth://totp/auth-svc:a%4") + 1), -1);
	assert_string_equal(out, "");
	assert_int_equal(totp_uri("auth-svc", "a@example.com", "MZXW6YTBOI",
	    out, 1), -1);
	assert_int_equal(totp_uri("auth-svc", "a@example.com", "MZXW6YTBOI",
	    out, 0), -1);
}

static void test_recovery_format(void **state)
{
	char a[TOTP_RECOVERY_SIZE], b[TOTP_RECOVERY_SIZE];
	char norm[TOTP_RECOVERY_LEN + 1];

	(void)state;
	for (int i = 0; i < 100; i++) {
		assert_int_equal(totp_recovery_new(a), 0);
		assert_int_equal(strlen(a), 11);
		assert_int_equal(a[5], '-');
		assert_int_equal(strspn(a, recovery_alpha), 5);
		assert_int_equal(strspn(a + 6, recovery_alpha), 5);
		/* What it prints, normalize reads back. */
		assert_int_equal(totp_recovery_normalize(a, strlen(a), norm), 0);
		assert_memory_equal(norm, a, 5);
		assert_memory_equal(norm + 5, a + 6, 5);
	}
	assert_int_equal(totp_recovery_new(b), 0);
	assert_string_not_equal(a, b);
}

static void test_recovery_normalize_accepts(void **state)
{
	static const char *ok[] = {"ABCDE-fghij", "abcde fghij", "abcdefghij",
	    " abcde-fghij ", "a-b-c-d-e-f-g-h-i-j", "ABCDEFGHIJ", "abc de-fgh ij"};
	char out[TOTP_RECOVERY_LEN + 1];

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		memset(out, 'X', sizeof(out));
		assert_int_equal(totp_recovery_normalize(ok[i], strlen(ok[i]),
		    out), 0);
		assert_string_equal(out, "abcdefghij");
	}
	assert_int_equal(totp_recovery_normalize("zz234-567zz", 11, out), 0);
	assert_string_equal(out, "zz234567zz");
}

static void test_recovery_normalize_refuses(void **state)
{
	static const char *bad[] = {"", "abcde", "abcdefghi", "abcdefghijk",
	    "abcde-fghijk", "abcd1-fghij", "abcd0-fghij", "abcd8-fghij",
	    "abcd9-fghij", "abcd\303\251fghij", "abcde_fghij", "abcde\tfghij",
	    "abcde.fghij", "----------", "          "};
	char out[TOTP_RECOVERY_LEN + 1], long_in[200];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(out, 'X', sizeof(out));
		assert_int_equal(totp_recovery_normalize(bad[i], strlen(bad[i]),
		    out), -1);
		assert_int_equal(out[0], 'X');   /* nothing written */
	}
	/* A NUL inside counts as a byte like any other. */
	assert_int_equal(totp_recovery_normalize("abcde\0fghij", 11, out), -1);
	/* Ten letters padded past the bound with separators. */
	memset(long_in, ' ', sizeof(long_in));
	memcpy(long_in, "abcdefghij", 10);
	assert_int_equal(totp_recovery_normalize(long_in, 64, out), 0);
	assert_int_equal(totp_recovery_normalize(long_in, 65, out), -1);
	assert_int_equal(totp_recovery_normalize(long_in, sizeof(long_in), out),
	    -1);
	assert_int_equal(totp_recovery_normalize(NULL, 0, out), -1);
}

int main(void)
{
	const struct CMUnitTest totp[] = {
		cmocka_unit_test(test_rfc6238_vectors),
		cmocka_unit_test(test_rfc4226_vectors),
		cmocka_unit_test(test_value_refuses_bad_arguments),
		cmocka_unit_test(test_check_window),
		cmocka_unit_test(test_check_refuses_replay),
		cmocka_unit_test(test_check_refuses_malformed),
		cmocka_unit_test(test_check_takes_latest_match),
		cmocka_unit_test(test_check_refuses_negative_now),
		cmocka_unit_test(test_base32_rfc4648_vectors),
		cmocka_unit_test(test_base32_secret),
		cmocka_unit_test(test_uri_exact),
		cmocka_unit_test(test_uri_encodes_issuer),
		cmocka_unit_test(test_uri_too_small),
		cmocka_unit_test(test_recovery_format),
		cmocka_unit_test(test_recovery_normalize_accepts),
		cmocka_unit_test(test_recovery_normalize_refuses),
	};

	return cmocka_run_group_tests(totp, NULL, NULL);
}
