/* test_password: policy, hashing, verification and rehash decisions. */
#include "unit.h"

#include <string.h>

#include "config.h"
#include "err.h"
#include "password.h"

/* Made with passlib 1.7.4 (bcrypt backend), the original service's hasher:
 * passlib.hash.bcrypt.hash("secret123"), default ident $2b$, 12 rounds. */
#define PASSLIB_PW "secret123"
#define PASSLIB_HASH "$2b$12$ry.CznLncuoFerDOxCj3KOYBEfM9iQUdHtjUH7v.QybNEzgPeS1.C"

/* Classic crypt_blowfish / OpenBSD known answer. */
#define KAT_PW "U*U"
#define KAT_HASH "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"

static struct password_ctx *bc4;     /* bcrypt cost 4, with dummy */

static int group_setup(void **state)
{
	char err[256] = "";

	(void)state;
	if (password_init(&bc4, CONFIG_HASH_BCRYPT, 4, 1, err,
	    sizeof(err)) != 0 || bc4 == NULL)
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	password_free(bc4);
	bc4 = NULL;
	return 0;
}

static void test_init_ok(void **state)
{
	struct password_ctx *ctx = (struct password_ctx *)&ctx;
	char err[256] = "";

	(void)state;
	assert_int_equal(password_init(&ctx, CONFIG_HASH_BCRYPT, 4, 0, err,
	    sizeof(err)), 0);
	assert_non_null(ctx);
	password_free(ctx);
}

static void test_init_bad_cost(void **state)
{
	struct password_ctx *ctx = (struct password_ctx *)&ctx;
	char err[256] = "";

	(void)state;
	/* With dummy set, the cost is exercised at start and refused. */
	assert_int_equal(password_init(&ctx, CONFIG_HASH_BCRYPT, 3, 1, err,
	    sizeof(err)), -1);
	assert_null(ctx);
	assert_int_equal(strncmp(err, "BCRYPT_COST", 11), 0);

	ctx = (struct password_ctx *)&ctx;
	err[0] = '\0';
	assert_int_equal(password_init(&ctx, CONFIG_HASH_BCRYPT, 32, 1, err,
	    sizeof(err)), -1);
	assert_null(ctx);
	assert_int_equal(strncmp(err, "BCRYPT_COST", 11), 0);
}

static void test_hash_bcrypt(void **state)
{
	char h1[PASSWORD_HASH_MAX], h2[PASSWORD_HASH_MAX];

	(void)state;
	assert_int_equal(password_hash(bc4, "correct horse", h1), 0);
	assert_int_equal(strncmp(h1, "$2b$04$", 7), 0);
	assert_int_equal(strlen(h1), 60);
	assert_int_equal(password_hash(bc4, "correct horse", h2), 0);
	assert_int_equal(strncmp(h2, "$2b$04$", 7), 0);
	/* Fresh salt each time. */
	assert_string_not_equal(h1, h2);

	assert_int_equal(password_verify(bc4, "correct horse", h1), 1);
	assert_int_equal(password_verify(bc4, "correct horse", h2), 1);
	assert_int_equal(password_verify(bc4, "correct hors", h1), 0);
	assert_int_equal(password_verify(bc4, "correct horsf", h1), 0);
	assert_int_equal(password_verify(bc4, "Correct horse", h1), 0);
	assert_int_equal(password_verify(bc4, "", h1), 0);
}

static void test_hash_max_length(void **state)
{
	char pw[PASSWORD_MAX + 1], h[PASSWORD_HASH_MAX];

	(void)state;
	memset(pw, 'p', PASSWORD_MAX);
	pw[PASSWORD_MAX] = '\0';
	assert_int_equal(password_hash(bc4, pw, h), 0);
	assert_int_equal(password_verify(bc4, pw, h), 1);
	pw[PASSWORD_MAX - 1] = 'q';
	assert_int_equal(password_verify(bc4, pw, h), 0);
}

static void test_verify_dummy(void **state)
{
	(void)state;
	/* stored == NULL: the dummy hash is checked, the answer is always no. */
	assert_int_equal(password_verify(bc4, "anything at all", NULL), 0);
	assert_int_equal(password_verify(bc4, "", NULL), 0);
	assert_int_equal(password_verify(bc4, "aaaaaaaaaaaaaaaaaa", NULL), 0);
}

static void test_verify_garbage_stored(void **state)
{
	(void)state;
	assert_int_equal(password_verify(bc4, "password1", ""), 0);
	assert_int_equal(password_verify(bc4, "password1", "garbage"), 0);
	assert_int_equal(password_verify(bc4, "password1", "*0"), 0);
	assert_int_equal(password_verify(bc4, "password1", "*1"), 0);
	assert_int_equal(password_verify(bc4, "password1", "$2b$04$"), 0);
	/* A truncated hash must not verify. */
	assert_int_equal(password_verify(bc4, KAT_PW,
	    "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOe"), 0);
}

static void test_verify_known_answer(void **state)
{
	(void)state;
	assert_int_equal(password_verify(bc4, KAT_PW, KAT_HASH), 1);
	assert_int_equal(password_verify(bc4, "U*V", KAT_HASH), 0);
	assert_int_equal(password_verify(bc4, "U*U ", KAT_HASH), 0);
	assert_int_equal(password_verify(bc4, "", KAT_HASH), 0);
}

static void test_verify_passlib(void **state)
{
	(void)state;
	assert_int_equal(password_verify(bc4, PASSLIB_PW, PASSLIB_HASH), 1);
	assert_int_equal(password_verify(bc4, "secret124", PASSLIB_HASH), 0);
	assert_int_equal(password_verify(bc4, "Secret123", PASSLIB_HASH), 0);
	/* Cost 12 >= configured 4: kept as it is. */
	assert_int_equal(password_needs_rehash(bc4, PASSLIB_HASH), 0);
}

static void expect_policy_refused(const char *pw, size_t len)
{
	char detail[128];

	memset(detail, 'X', sizeof(detail));
	detail[sizeof(detail) - 1] = '\0';
	assert_int_equal(password_policy(pw, len, detail, sizeof(detail)),
	    AUTH_EINVAL);
	assert_int_equal(strncmp(detail, "password: ", 10), 0);
	assert_true(strlen(detail) > 10);
}

static void expect_policy_ok(const char *pw, size_t len)
{
	char detail[128] = "";

	assert_int_equal(password_policy(pw, len, detail, sizeof(detail)),
	    AUTH_OK);
}

static void test_policy_length(void **state)
{
	char pw[PASSWORD_MAX + 2];

	(void)state;
	memset(pw, 'a', sizeof(pw));
	expect_policy_refused(pw, 0);
	expect_policy_refused(pw, 1);
	expect_policy_refused(pw, 7);
	expect_policy_ok(pw, 8);
	expect_policy_ok(pw, 9);
	expect_policy_ok(pw, 71);
	expect_policy_ok(pw, 72);
	expect_policy_refused(pw, 73);
	expect_policy_refused(pw, 74);
	expect_policy_refused(pw, sizeof(pw));
}

static void test_policy_bytes_not_chars(void **state)
{
	/* 36 two-byte characters are 72 bytes: accepted; 37 are 74: refused.
	 * 4 characters of 2 bytes are 8 bytes: accepted; 3.5 is impossible,
	 * and 3 are 6 bytes: refused. */
	char pw[2 * 37 + 1];
	size_t i;

	(void)state;
	for (i = 0; i < 37; i++) {
		pw[2 * i] = (char)0xc3;
		pw[2 * i + 1] = (char)0xa9;     /* U+00E9 */
	}
	pw[74] = '\0';
	expect_policy_ok(pw, 72);
	expect_policy_refused(pw, 74);
	expect_policy_ok(pw, 8);
	expect_policy_refused(pw, 6);
	/* Cut in the middle of a character: invalid UTF-8. */
	expect_policy_refused(pw, 9);
	expect_policy_refused(pw, 71);
}

static void test_policy_nul(void **state)
{
	(void)state;
	expect_policy_refused("abcd\0efgh", 9);
	expect_policy_refused("\0bcdefghi", 9);
	expect_policy_refused("abcdefgh\0", 9);
	expect_policy_ok("abcdefgh\0", 8);
}

static void test_policy_utf8(void **state)
{
	(void)state;
	expect_policy_refused("abcdefg\xff", 8);
	expect_policy_refused("\xfe\xff" "abcdefgh", 10);
	expect_policy_refused("abcdef\xc0\xaf", 8);         /* overlong '/' */
	expect_policy_refused("abcde\xe0\x80\xaf", 8);      /* overlong */
	expect_policy_refused("abcde\xed\xa0\x80", 8);      /* surrogate */
	expect_policy_refused("abcd\xf4\x90\x80\x80", 8);   /* > U+10FFFF */
	expect_policy_refused("abcdefg\x80", 8);            /* lone continuation */
	expect_policy_refused("abcdefgh\xc3", 9);           /* truncated */
	expect_policy_ok("p\xc3\xa4ssw\xc3\xb6rd", 10);     /* "pässwörd" */
	expect_policy_ok("abcd\xf0\x9f\x94\x91", 8);        /* emoji */
	expect_policy_ok("abc\xe2\x82\xac" "de", 8);        /* euro sign */
}

static void test_policy_detail_small_buffer(void **state)
{
	char detail[8];

	(void)state;
	memset(detail, 'X', sizeof(detail));
	assert_int_equal(password_policy("short", 5, detail, sizeof(detail)),
	    AUTH_EINVAL);
	assert_int_equal(detail[sizeof(detail) - 1], '\0');
	assert_string_equal(detail, "passwor");
}

static void test_needs_rehash_bcrypt(void **state)
{
	struct password_ctx *c5 = NULL;
	char err[256] = "", h4[PASSWORD_HASH_MAX], h5[PASSWORD_HASH_MAX];

	(void)state;
	assert_int_equal(password_init(&c5, CONFIG_HASH_BCRYPT, 5, 0, err,
	    sizeof(err)), 0);
	assert_non_null(c5);
	assert_int_equal(password_hash(bc4, "password4", h4), 0);
	assert_int_equal(password_hash(c5, "password5", h5), 0);
	assert_int_equal(strncmp(h5, "$2b$05$", 7), 0);

	/* Lower cost than configured. */
	assert_int_equal(password_needs_rehash(c5, h4), 1);
	/* Equal and higher. */
	assert_int_equal(password_needs_rehash(c5, h5), 0);
	assert_int_equal(password_needs_rehash(bc4, h4), 0);
	assert_int_equal(password_needs_rehash(bc4, h5), 0);
	/* $2a$ and $2y$ are the same algorithm. */
	assert_int_equal(password_needs_rehash(c5, KAT_HASH), 0);
	assert_int_equal(password_needs_rehash(c5,
	    "$2y$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"), 0);
	assert_int_equal(password_needs_rehash(c5,
	    "$2a$04$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"), 1);
	assert_int_equal(password_needs_rehash(c5,
	    "$2b$31$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"), 0);
	/* Another method. */
	assert_int_equal(password_needs_rehash(c5,
	    "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$X3DX6M94c7o.9agCG9G317fhZg9SqC.5i5rd.RhAtQ7"),
	    1);
	assert_int_equal(password_needs_rehash(c5,
	    "$6$saltsalt$qFmFH.bQmmtXzyBY0s9v7Oicd2z4XSIecDzlB5KiA2/jctKu9YterLp8wwnSq.qc.eoxqOmSuNp2xS0ktL3nh/"),
	    1);
	/* Garbage and malformed costs. */
	assert_int_equal(password_needs_rehash(c5, ""), 1);
	assert_int_equal(password_needs_rehash(c5, "garbage"), 1);
	assert_int_equal(password_needs_rehash(c5, "$2"), 1);
	assert_int_equal(password_needs_rehash(c5, "$2b"), 1);
	assert_int_equal(password_needs_rehash(c5, "$2b$"), 1);
	assert_int_equal(password_needs_rehash(c5, "$2b$5"), 1);
	assert_int_equal(password_needs_rehash(c5, "$2b$5$abc"), 1);
	assert_int_equal(password_needs_rehash(c5, "$2b$0a$abc"), 1);
	assert_int_equal(password_needs_rehash(c5, "$2b$05"), 1);
	assert_int_equal(password_needs_rehash(c5, "$2b$05x"), 1);
	assert_int_equal(password_needs_rehash(c5, "*0"), 1);
	password_free(c5);
}

static void test_yescrypt(void **state)
{
	struct password_ctx *y = NULL;
	char err[256] = "", h[PASSWORD_HASH_MAX], hb[PASSWORD_HASH_MAX];

	(void)state;
	assert_int_equal(password_init(&y, CONFIG_HASH_YESCRYPT, 12, 1, err,
	    sizeof(err)), 0);
	assert_non_null(y);
	assert_int_equal(password_hash(y, "yes password", h), 0);
	assert_int_equal(strncmp(h, "$y$", 3), 0);
	assert_true(strlen(h) < 128);
	assert_int_equal(password_verify(y, "yes password", h), 1);
	assert_int_equal(password_verify(y, "yes passwore", h), 0);
	assert_int_equal(password_verify(y, "yes password", NULL), 0);
	assert_int_equal(password_needs_rehash(y, h), 0);

	/* A bcrypt hash still verifies but is to be replaced. */
	assert_int_equal(password_hash(bc4, "yes password", hb), 0);
	assert_int_equal(password_verify(y, "yes password", hb), 1);
	assert_int_equal(password_needs_rehash(y, hb), 1);
	assert_int_equal(password_needs_rehash(y, KAT_HASH), 1);
	assert_int_equal(password_needs_rehash(y, PASSLIB_HASH), 1);
	assert_int_equal(password_needs_rehash(y, "garbage"), 1);
	assert_int_equal(password_verify(y, KAT_PW, KAT_HASH), 1);
	/* And the bcrypt context verifies the yescrypt hash. */
	assert_int_equal(password_verify(bc4, "yes password", h), 1);
	assert_int_equal(password_needs_rehash(bc4, h), 1);
	password_free(y);
}

static void test_free_null(void **state)
{
	(void)state;
	password_free(NULL);
}

int main(void)
{
	const struct CMUnitTest password[] = {
		cmocka_unit_test(test_init_ok),
		cmocka_unit_test(test_init_bad_cost),
		cmocka_unit_test(test_hash_bcrypt),
		cmocka_unit_test(test_hash_max_length),
		cmocka_unit_test(test_verify_dummy),
		cmocka_unit_test(test_verify_garbage_stored),
		cmocka_unit_test(test_verify_known_answer),
		cmocka_unit_test(test_verify_passlib),
		cmocka_unit_test(test_policy_length),
		cmocka_unit_test(test_policy_bytes_not_chars),
		cmocka_unit_test(test_policy_nul),
		cmocka_unit_test(test_policy_utf8),
		cmocka_unit_test(test_policy_detail_small_buffer),
		cmocka_unit_test(test_needs_rehash_bcrypt),
		cmocka_unit_test(test_yescrypt),
		cmocka_unit_test(test_free_null),
	};

	return cmocka_run_group_tests(password, group_setup, group_teardown);
}
