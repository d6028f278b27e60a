/* test_valid: UTF-8, email, UUID checks of untrusted bytes. */
#include "unit.h"

#include <string.h>

#include "valid.h"

/* valid_utf8 over a string literal, NULs included. */
#define U8(lit) valid_utf8((lit), sizeof(lit) - 1)

/* Encode code point cp as UTF-8 (surrogates too, as the naive encoder). */
static size_t utf8_put(unsigned long cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* ---- valid_utf8 ---- */

static void test_utf8_ascii(void **state)
{
	(void)state;
	assert_int_equal(valid_utf8("", 0), 1);
	assert_int_equal(U8("hello, world"), 1);
	assert_int_equal(U8("\x01\x1f\x7f"), 1);
	/* NUL is U+0000: well-formed UTF-8 (other layers refuse it). */
	assert_int_equal(U8("a\0b"), 1);
	for (int c = 0; c < 0x80; c++) {
		char b = (char)c;
		assert_int_equal(valid_utf8(&b, 1), 1);
	}
}

static void test_utf8_multibyte_boundaries(void **state)
{
	(void)state;
	assert_int_equal(U8("\xc2\x80"), 1);            /* U+0080 */
	assert_int_equal(U8("\xc3\xa9"), 1);            /* e acute */
	assert_int_equal(U8("\xdf\xbf"), 1);            /* U+07FF */
	assert_int_equal(U8("\xe0\xa0\x80"), 1);        /* U+0800 */
	assert_int_equal(U8("\xe2\x82\xac"), 1);        /* euro sign */
	assert_int_equal(U8("\xed\x9f\xbf"), 1);        /* U+D7FF */
	assert_int_equal(U8("\xee\x80\x80"), 1);        /* U+E000 */
	assert_int_equal(U8("\xef\xbf\xbf"), 1);        /* U+FFFF */
	assert_int_equal(U8("\xf0\x90\x80\x80"), 1);    /* U+10000 */
	assert_int_equal(U8("\xf0\x9f\x98\x80"), 1);    /* emoji */
	assert_int_equal(U8("\xf4\x8f\xbf\xbf"), 1);    /* U+10FFFF */
	assert_int_equal(U8("a\xc3\xa9" "b\xe2\x82\xac" "c\xf0\x9f\x98\x80"),
	    1);
}

static void test_utf8_every_scalar_value(void **state)
{
	(void)state;
	for (unsigned long cp = 0; cp <= 0x10ffff; cp++) {
		char b[4];
		size_t n = utf8_put(cp, b);
		int want = !(cp >= 0xd800 && cp <= 0xdfff);

		if (valid_utf8(b, n) != want)
			fail_msg("U+%04lX: want %d", cp, want);
	}
}

static void test_utf8_overlongs(void **state)
{
	(void)state;
	assert_int_equal(U8("\xc0\x80"), 0);            /* NUL, 2 bytes */
	assert_int_equal(U8("\xc0\xaf"), 0);            /* '/' */
	assert_int_equal(U8("\xc1\xbf"), 0);            /* U+007F */
	assert_int_equal(U8("\xe0\x80\x80"), 0);
	assert_int_equal(U8("\xe0\x80\xaf"), 0);
	assert_int_equal(U8("\xe0\x9f\xbf"), 0);        /* U+07FF, 3 bytes */
	assert_int_equal(U8("\xf0\x80\x80\x80"), 0);
	assert_int_equal(U8("\xf0\x80\x80\xaf"), 0);
	assert_int_equal(U8("\xf0\x8f\xbf\xbf"), 0);    /* U+FFFF, 4 bytes */
	assert_int_equal(U8("a\xc0\x80" "b"), 0);
}

static void test_utf8_surrogates(void **state)
{
	(void)state;
	assert_int_equal(U8("\xed\xa0\x80"), 0);        /* U+D800 */
	assert_int_equal(U8("\xed\xaf\xbf"), 0);        /* U+DBFF */
	assert_int_equal(U8("\xed\xb0\x80"), 0);        /* U+DC00 */
	assert_int_equal(U8("\xed\xbf\xbf"), 0);        /* U+DFFF */
	/* CESU-8 style pair for U+10000. */
	assert_int_equal(U8("\xed\xa0\x80\xed\xb0\x80"), 0);
}

static void test_utf8_above_max(void **state)
{
	(void)state;
	assert_int_equal(U8("\xf4\x90\x80\x80"), 0);    /* U+110000 */
	assert_int_equal(U8("\xf4\xbf\xbf\xbf"), 0);
	assert_int_equal(U8("\xf5\x80\x80\x80"), 0);
	assert_int_equal(U8("\xf7\xbf\xbf\xbf"), 0);
	assert_int_equal(U8("\xf8\x88\x80\x80\x80"), 0); /* 5-byte form */
	assert_int_equal(U8("\xfc\x84\x80\x80\x80\x80"), 0);
}

static void test_utf8_truncated(void **state)
{
	(void)state;
	assert_int_equal(U8("\xc3"), 0);
	assert_int_equal(U8("\xe2\x82"), 0);
	assert_int_equal(U8("\xe2"), 0);
	assert_int_equal(U8("\xf0\x9f\x98"), 0);
	assert_int_equal(U8("\xf0\x9f"), 0);
	assert_int_equal(U8("\xf0"), 0);
	assert_int_equal(U8("abc\xc3"), 0);
	/* Lead byte followed by a non-continuation byte. */
	assert_int_equal(U8("\xc3" "A"), 0);
	assert_int_equal(U8("\xe2\x82" "A"), 0);
	assert_int_equal(U8("\xf0\x9f\x98" "A"), 0);
	assert_int_equal(U8("\xc3\xc3\xa9"), 0);
	/* len is honoured: the bytes after it are not read as a tail. */
	assert_int_equal(valid_utf8("\xc3\xa9", 1), 0);
	assert_int_equal(valid_utf8("\xe2\x82\xac", 2), 0);
	assert_int_equal(valid_utf8("\xf0\x9f\x98\x80", 3), 0);
	assert_int_equal(valid_utf8("a\xf0\x9f\x98\x80", 1), 1);
}

static void test_utf8_lone_continuation(void **state)
{
	(void)state;
	for (int c = 0x80; c <= 0xbf; c++) {
		char b[3] = {'a', (char)c, 'b'};
		assert_int_equal(valid_utf8(b, 1), 1);
		assert_int_equal(valid_utf8(b + 1, 1), 0);
		assert_int_equal(valid_utf8(b, 3), 0);
	}
	/* One continuation byte too many. */
	assert_int_equal(U8("\xc3\xa9\xa9"), 0);
	assert_int_equal(U8("\xe2\x82\xac\x80"), 0);
}

static void test_utf8_invalid_lead_bytes(void **state)
{
	(void)state;
	for (int c = 0xf5; c <= 0xff; c++) {
		char b[4] = {(char)c, (char)0x80, (char)0x80, (char)0x80};
		assert_int_equal(valid_utf8(b, 1), 0);
		assert_int_equal(valid_utf8(b, 4), 0);
	}
	assert_int_equal(U8("\xc0"), 0);
	assert_int_equal(U8("\xc1"), 0);
	assert_int_equal(U8("\xfe\xff"), 0);
	assert_int_equal(U8("\xff\xfe"), 0);
}

/* Every two-byte string against a direct statement of the rule. */
static void test_utf8_every_two_byte_string(void **state)
{
	(void)state;
	for (int a = 0; a < 256; a++) {
		for (int b = 0; b < 256; b++) {
			char s[2] = {(char)a, (char)b};
			int want = (a < 0x80 && b < 0x80) ||
			    (a >= 0xc2 && a <= 0xdf && b >= 0x80 && b <= 0xbf);

			if (valid_utf8(s, 2) != want)
				fail_msg("%02x %02x: want %d", a, b, want);
		}
	}
}

/* ---- valid_email ---- */

struct email_case {
	char out[VALID_EMAIL_MAX + 1 + 16];
	const char *why;
	int rc;
};

static void email(struct email_case *c, const char *in, size_t len)
{
	memset(c->out, 0x5a, sizeof(c->out));
	c->why = NULL;
	c->rc = valid_email(in, len, c->out, &c->why);
}

#define EMAIL(c, lit) email((c), (lit), sizeof(lit) - 1)

static void assert_email_ok(const char *in, size_t len, const char *want)
{
	struct email_case c;

	email(&c, in, len);
	if (c.rc != 0)
		fail_msg("'%s' refused: %s", in, c.why ? c.why : "(null)");
	assert_string_equal(c.out, want);
	/* out holds exactly len bytes and a NUL, nothing beyond. */
	assert_int_equal(c.out[len + 1], 0x5a);
}

static void assert_email_bad(const char *in, size_t len, const char *why)
{
	struct email_case c;

	email(&c, in, len);
	assert_int_equal(c.rc, -1);
	assert_non_null(c.why);
	assert_string_equal(c.why, why);
	/* Never write more than VALID_EMAIL_MAX + 1 bytes. */
	assert_int_equal(c.out[VALID_EMAIL_MAX + 1], 0x5a);
}

#define EMAIL_OK(lit, want) assert_email_ok((lit), sizeof(lit) - 1, (want))
#define EMAIL_BAD(lit, why) assert_email_bad((lit), sizeof(lit) - 1, (why))

#define WHY_LEN "must be 3 to 254 bytes"
#define WHY_ASCII "must be ASCII (internationalized addresses are not accepted)"
#define WHY_CTRL "must not contain whitespace or control characters"
#define WHY_AT "must contain exactly one @"
#define WHY_LOCAL "local part must be 1 to 64 bytes"
#define WHY_DOT "domain must contain a dot"

static void test_email_lowercases(void **state)
{
	(void)state;
	EMAIL_OK("A@X.com", "a@x.com");
	EMAIL_OK("a@x.com", "a@x.com");
	EMAIL_OK("Foo.Bar+Tag@Example.COM", "foo.bar+tag@example.com");
	EMAIL_OK("ABCDEFGHIJKLMNOPQRSTUVWXYZ@Z.Z",
	    "abcdefghijklmnopqrstuvwxyz@z.z");
	/* Only ASCII letters change; digits and punctuation stay. */
	EMAIL_OK("0_9-X!#$%&*@[x].y", "0_9-x!#$%&*@[x].y");
	/* Non-ASCII is refused, in the local part and in the domain
	 * (NFC/NFD spellings of one address would be two accounts). */
	EMAIL_BAD("\xc3\x89T\xc3\xa9@X.com", WHY_ASCII);
	EMAIL_BAD("e\xcc\x81@x.com", WHY_ASCII);
	EMAIL_BAD("a@b\xc3\xbc" "cher.de", WHY_ASCII);
	EMAIL_OK("a@xn--bcher-kva.de", "a@xn--bcher-kva.de");
}

static void test_email_exactly_one_at(void **state)
{
	(void)state;
	EMAIL_BAD("ab.com", WHY_AT);
	EMAIL_BAD("abc", WHY_AT);
	EMAIL_BAD("a@b@c.com", WHY_AT);
	EMAIL_BAD("a@@x.com", WHY_AT);
	EMAIL_BAD("@@@", WHY_AT);
	EMAIL_BAD("a@x.com@", WHY_AT);
}

static void test_email_local_part_length(void **state)
{
	char in[VALID_EMAIL_MAX + 1], want[VALID_EMAIL_MAX + 1];

	(void)state;
	EMAIL_BAD("@x.com", WHY_LOCAL);
	EMAIL_OK("a@x.com", "a@x.com");

	memset(in, 'A', 64);
	memcpy(in + 64, "@x.com", 7);
	memset(want, 'a', 64);
	memcpy(want + 64, "@x.com", 7);
	assert_email_ok(in, strlen(in), want);

	memset(in, 'a', 65);
	memcpy(in + 65, "@x.com", 7);
	assert_email_bad(in, strlen(in), WHY_LOCAL);
}

/* local@ddd...d.com of exactly total bytes (local part 64 bytes). */
static size_t make_long_email(char *buf, size_t total)
{
	size_t i = 0;

	memset(buf, 'l', 64);
	i = 64;
	buf[i++] = '@';
	while (i < total - 4)
		buf[i++] = 'd';
	memcpy(buf + i, ".com", 5);
	return strlen(buf);
}

static void test_email_total_length(void **state)
{
	char in[VALID_EMAIL_MAX + 8];

	(void)state;
	assert_int_equal(make_long_email(in, 254), 254);
	assert_email_ok(in, 254, in);
	assert_int_equal(make_long_email(in, 255), 255);
	assert_email_bad(in, 255, WHY_LEN);
	assert_int_equal(make_long_email(in, 256), 256);
	assert_email_bad(in, 256, WHY_LEN);
}

static void test_email_too_short(void **state)
{
	(void)state;
	assert_email_bad("", 0, WHY_LEN);
	EMAIL_BAD("a", WHY_LEN);
	EMAIL_BAD("a@", WHY_LEN);
	EMAIL_BAD("@.", WHY_LEN);
	/* Three bytes pass the length rule, then fail on the domain. */
	EMAIL_BAD("a@b", WHY_DOT);
	EMAIL_OK("a@b.c", "a@b.c");
}

static void test_email_domain_dot(void **state)
{
	(void)state;
	EMAIL_BAD("a@localhost", WHY_DOT);
	EMAIL_BAD("abc@", WHY_DOT);
	EMAIL_BAD("a@x.com.", WHY_DOT);
	EMAIL_BAD("a@x.", WHY_DOT);
	EMAIL_BAD("a@.com", WHY_DOT);
	EMAIL_BAD("a@.", WHY_DOT);
	EMAIL_BAD("a@..", WHY_DOT);
	/* A dot in the local part is not a dot in the domain. */
	EMAIL_BAD("a.b@localhost", WHY_DOT);
	EMAIL_OK("a@x.y.z", "a@x.y.z");
	EMAIL_OK("a@sub.Example.org", "a@sub.example.org");
}

static void test_email_whitespace_and_controls(void **state)
{
	(void)state;
	EMAIL_BAD("a b@x.com", WHY_CTRL);
	EMAIL_BAD(" a@x.com", WHY_CTRL);
	EMAIL_BAD("a@x.com ", WHY_CTRL);
	EMAIL_BAD("a@x .com", WHY_CTRL);
	EMAIL_BAD("a\t@x.com", WHY_CTRL);
	EMAIL_BAD("a@x.com\n", WHY_CTRL);
	EMAIL_BAD("a@x.com\r\n", WHY_CTRL);
	EMAIL_BAD("a\v@x.com", WHY_CTRL);
	EMAIL_BAD("a\f@x.com", WHY_CTRL);
	EMAIL_BAD("a\x01@x.com", WHY_CTRL);
	EMAIL_BAD("a\x1b[31m@x.com", WHY_CTRL);
	EMAIL_BAD("a\x1f@x.com", WHY_CTRL);
	EMAIL_BAD("a\x7f@x.com", WHY_CTRL);
	EMAIL_BAD("a@x.com\x7f", WHY_CTRL);
	/* An embedded NUL must not truncate the check. */
	EMAIL_BAD("a@x.com\0evil", WHY_CTRL);
	EMAIL_BAD("a\0@x.com", WHY_CTRL);
	for (int c = 0; c <= 0x20; c++) {
		char in[] = "ab?@x.com";
		in[2] = (char)c;
		assert_email_bad(in, sizeof(in) - 1, WHY_CTRL);
	}
}

static void test_email_invalid_utf8(void **state)
{
	(void)state;
	EMAIL_BAD("\xc3@x.com", WHY_ASCII);
	EMAIL_BAD("a\xc0\x80@x.com", WHY_ASCII);
	EMAIL_BAD("a@x.co\xed\xa0\x80", WHY_ASCII);
	EMAIL_BAD("\xff\xfe@x.com", WHY_ASCII);
	EMAIL_BAD("a@x.com\x80", WHY_ASCII);
	EMAIL_BAD("a\xf4\x90\x80\x80@x.com", WHY_ASCII);
}

static void test_email_utf8_refused(void **state)
{
	(void)state;
	/* Well-formed UTF-8 is still not ASCII: refused, not folded. */
	EMAIL_BAD("j\xc3\xb6rg@m\xc3\xbcller.de", WHY_ASCII);
	EMAIL_BAD("\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe4\xb8"
	    "\xad\xe5\x9b\xbd", WHY_ASCII);
	EMAIL_BAD("\xf0\x9f\x98\x80@X.com", WHY_ASCII);
	/* Fullwidth and Kelvin-sign look-alikes of ASCII letters too. */
	EMAIL_BAD("\xef\xbd\x81@x.com", WHY_ASCII);
	EMAIL_BAD("\xe2\x84\xaa@x.com", WHY_ASCII);
}

static void test_email_sql_is_data(void **state)
{
	(void)state;
	EMAIL_OK("a'--@x.com", "a'--@x.com");
	EMAIL_OK("A'OR'1'='1@X.com", "a'or'1'='1@x.com");
	EMAIL_OK("x\";--@y.com", "x\";--@y.com");
	EMAIL_OK("a@x.com';--", "a@x.com';--");
	EMAIL_OK("%27@x.com", "%27@x.com");
	/* A space makes the classic payload invalid for other reasons. */
	EMAIL_BAD("a');DROP TABLE users;--@x.com", WHY_CTRL);
}

/* ---- valid_uuid ---- */

#define UUID_OK "123e4567-e89b-42d3-a456-426614174000"

static int uuid(const char *s)
{
	return valid_uuid(s, strlen(s));
}

static void test_uuid_canonical(void **state)
{
	(void)state;
	assert_int_equal(uuid(UUID_OK), 1);
	assert_int_equal(uuid("00000000-0000-0000-0000-000000000000"), 1);
	assert_int_equal(uuid("ffffffff-ffff-ffff-ffff-ffffffffffff"), 1);
	assert_int_equal(uuid("0123abcd-4567-89ef-abcd-ef0123456789"), 1);
}

static void test_uuid_case(void **state)
{
	(void)state;
	assert_int_equal(uuid("123E4567-E89B-42D3-A456-426614174000"), 0);
	assert_int_equal(uuid("123e4567-e89b-42d3-a456-42661417400A"), 0);
	assert_int_equal(uuid("F23e4567-e89b-42d3-a456-426614174000"), 0);
}

static void test_uuid_dashes(void **state)
{
	(void)state;
	/* Dash moved one place. */
	assert_int_equal(uuid("123e456-7e89b-42d3-a456-426614174000"), 0);
	assert_int_equal(uuid("123e4567e-89b-42d3-a456-426614174000"), 0);
	assert_int_equal(uuid("123e4567-e89b4-2d3-a456-426614174000"), 0);
	assert_int_equal(uuid("123e4567-e89b-42d3a-456-426614174000"), 0);
	/* Dash replaced, or added where a digit belongs. */
	assert_int_equal(uuid("123e4567_e89b-42d3-a456-426614174000"), 0);
	assert_int_equal(uuid("123e4567-e89b-42d3-a456_426614174000"), 0);
	assert_int_equal(uuid("123e4567-e89b-42d3-a456-42661417400-"), 0);
	assert_int_equal(uuid("------------------------------------"), 0);
	/* No dashes at all (32 hex digits). */
	assert_int_equal(uuid("123e4567e89b42d3a456426614174000"), 0);
}

static void test_uuid_length(void **state)
{
	(void)state;
	assert_int_equal(valid_uuid("", 0), 0);
	assert_int_equal(uuid("123e4567-e89b-42d3-a456-42661417400"), 0);
	assert_int_equal(uuid("123e4567-e89b-42d3-a456-4266141740000"), 0);
	assert_int_equal(uuid("{123e4567-e89b-42d3-a456-426614174000}"), 0);
	assert_int_equal(uuid(UUID_OK "\n"), 0);
	assert_int_equal(valid_uuid(UUID_OK, 35), 0);
	/* Length is what the caller says, not strlen. */
	assert_int_equal(valid_uuid(UUID_OK "junk", 36), 1);
}

static void test_uuid_non_hex(void **state)
{
	(void)state;
	assert_int_equal(uuid("123g4567-e89b-42d3-a456-426614174000"), 0);
	assert_int_equal(uuid("123e4567-e89b-42d3-a456-42661417400z"), 0);
	assert_int_equal(uuid("123e4567-e89b-42d3-a456-42661417400 "), 0);
	assert_int_equal(uuid(" 23e4567-e89b-42d3-a456-426614174000"), 0);
	assert_int_equal(valid_uuid("123e4567-e89b-42d3-a456-42661417\0" "000",
	    36), 0);
	assert_int_equal(uuid("123e4567-e89b-42d3-a456-4266141740\xc3\xa9"), 0);
	/* Every byte value in a digit position, lower-case hex only. */
	for (int c = 0; c < 256; c++) {
		char s[] = UUID_OK;
		int want = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');

		s[0] = (char)c;
		assert_int_equal(valid_uuid(s, 36), want);
		s[0] = '1';
		s[8] = (char)c;
		assert_int_equal(valid_uuid(s, 36), c == '-');
	}
}

static void assert_uuid_v4(const char *u)
{
	assert_int_equal(strlen(u), VALID_UUID_LEN);
	assert_int_equal(valid_uuid(u, strlen(u)), 1);
	assert_int_equal(u[14], '4');                     /* version */
	assert_non_null(strchr("89ab", u[19]));           /* variant 10xx */
	assert_true(u[19] != '\0');
}

static void test_uuid_new_format(void **state)
{
	char u[VALID_UUID_SIZE + 4];

	(void)state;
	memset(u, 0x5a, sizeof(u));
	assert_int_equal(valid_uuid_new(u), 0);
	assert_uuid_v4(u);
	assert_int_equal(u[VALID_UUID_LEN], '\0');
	assert_int_equal(u[VALID_UUID_SIZE], 0x5a);
}

static void test_uuid_new_version_variant_many(void **state)
{
	static const char variants[] = "89ab";
	int seen[4] = {0, 0, 0, 0};

	(void)state;
	for (int i = 0; i < 256; i++) {
		char u[VALID_UUID_SIZE];

		assert_int_equal(valid_uuid_new(u), 0);
		assert_uuid_v4(u);
		seen[strchr(variants, u[19]) - variants]++;
	}
	/* The two free variant bits are random: all four values occur. */
	for (int i = 0; i < 4; i++)
		assert_true(seen[i] > 0);
}

static void test_uuid_new_differs(void **state)
{
	char a[VALID_UUID_SIZE], b[VALID_UUID_SIZE];

	(void)state;
	assert_int_equal(valid_uuid_new(a), 0);
	assert_int_equal(valid_uuid_new(b), 0);
	assert_string_not_equal(a, b);
}

int main(void)
{
	const struct CMUnitTest valid[] = {
		cmocka_unit_test(test_utf8_ascii),
		cmocka_unit_test(test_utf8_multibyte_boundaries),
		cmocka_unit_test(test_utf8_every_scalar_value),
		cmocka_unit_test(test_utf8_overlongs),
		cmocka_unit_test(test_utf8_surrogates),
		cmocka_unit_test(test_utf8_above_max),
		cmocka_unit_test(test_utf8_truncated),
		cmocka_unit_test(test_utf8_lone_continuation),
		cmocka_unit_test(test_utf8_invalid_lead_bytes),
		cmocka_unit_test(test_utf8_every_two_byte_string),
		cmocka_unit_test(test_email_lowercases),
		cmocka_unit_test(test_email_exactly_one_at),
		cmocka_unit_test(test_email_local_part_length),
		cmocka_unit_test(test_email_total_length),
		cmocka_unit_test(test_email_too_short),
		cmocka_unit_test(test_email_domain_dot),
		cmocka_unit_test(test_email_whitespace_and_controls),
		cmocka_unit_test(test_email_invalid_utf8),
		cmocka_unit_test(test_email_utf8_refused),
		cmocka_unit_test(test_email_sql_is_data),
		cmocka_unit_test(test_uuid_canonical),
		cmocka_unit_test(test_uuid_case),
		cmocka_unit_test(test_uuid_dashes),
		cmocka_unit_test(test_uuid_length),
		cmocka_unit_test(test_uuid_non_hex),
		cmocka_unit_test(test_uuid_new_format),
		cmocka_unit_test(test_uuid_new_version_variant_many),
		cmocka_unit_test(test_uuid_new_differs),
	};

	return cmocka_run_group_tests(valid, NULL, NULL);
}
