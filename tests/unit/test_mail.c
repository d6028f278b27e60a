/* test_mail: one-time tokens and their hashes, links, RFC 5322 messages. */
#include "unit.h"

#include <string.h>

#include "mail.h"

static void test_token_shape_and_hash(void **state)
{
	char tok[MAIL_TOKEN_LEN + 1], hash[MAIL_HASH_HEX], again[MAIL_HASH_HEX];
	char tok2[MAIL_TOKEN_LEN + 1], hash2[MAIL_HASH_HEX];
	size_t i;

	(void)state;
	assert_int_equal(mail_token_new(tok, hash), 0);
	assert_int_equal(strlen(tok), 43);
	assert_int_equal(strlen(hash), 64);
	for (i = 0; i < 43; i++)
		assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", tok[i]));
	for (i = 0; i < 64; i++)
		assert_non_null(strchr("0123456789abcdef", hash[i]));
	/* The presented token hashes to what was stored. */
	assert_int_equal(mail_token_hash(tok, strlen(tok), again), 0);
	assert_string_equal(hash, again);
	/* Two tokens differ. */
	assert_int_equal(mail_token_new(tok2, hash2), 0);
	assert_string_not_equal(tok, tok2);
	assert_string_not_equal(hash, hash2);
}

/* SHA-256 known answer: the hash is of the token's text. */
static void test_token_hash_known_answer(void **state)
{
	/* 32 zero bytes in base64url, and sha256 of those 43 characters. */
	static const char tok[] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
	char hash[MAIL_HASH_HEX];

	(void)state;
	assert_int_equal(mail_token_hash(tok, strlen(tok), hash), 0);
	assert_string_equal(hash,
	    "0f007385b6f9d4b7eeb2748605afe1a984a0a3bfa3f014d09e2a784ce9e5cd1a");
}

static void test_token_hash_refuses_non_tokens(void **state)
{
	char hash[MAIL_HASH_HEX];
	static const char *const bad[] = {
		"", "short",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",      /* 42 */
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",    /* 44 */
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",     /* padding */
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+",     /* std alphabet */
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB",     /* trailing bits */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(mail_token_hash(bad[i], strlen(bad[i]), hash), -1);
}

static void test_link(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(mail_link(out, sizeof(out), "https://x/r?t={token}", "abc"), 0);
	assert_string_equal(out, "https://x/r?t=abc");
	assert_int_equal(mail_link(out, sizeof(out), "{token}/{token}", "ab"), 0);
	assert_string_equal(out, "ab/ab");
	/* No template: the bare token. */
	assert_int_equal(mail_link(out, sizeof(out), "", "tok"), 0);
	assert_string_equal(out, "tok");
	assert_int_equal(mail_link(out, 8, "https://x/{token}", "abc"), -1);
}

static void test_compose(void **state)
{
	char msg[MAIL_MESSAGE_MAX];
	long n;

	(void)state;
	/* 2026-01-02 03:04:05 UTC */
	n = mail_compose(msg, sizeof(msg), "Dépôt <noreply@auth.example>",
	    "u@x.example", "Reset your password", "line one\nline two\n",
	    1767323045);
	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(msg));
	assert_non_null(strstr(msg,
	    "From: =?UTF-8?B?RMOpcMO0dA==?= <noreply@auth.example>\r\n"));
	assert_non_null(strstr(msg, "\r\nTo: u@x.example\r\n"));
	assert_non_null(strstr(msg, "\r\nSubject: Reset your password\r\n"));
	assert_non_null(strstr(msg, "\r\nDate: Fri, 02 Jan 2026 03:04:05 +0000\r\n"));
	assert_non_null(strstr(msg, "@auth.example>\r\nMIME-Version: 1.0\r\n"));
	assert_non_null(strstr(msg, "\r\nMessage-ID: <"));
	assert_non_null(strstr(msg, "Content-Type: text/plain; charset=utf-8\r\n"));
	/* Body after one empty line, CRLF line ends. */
	assert_non_null(strstr(msg, "8bit\r\n\r\nline one\r\nline two\r\n"));
	assert_null(strstr(msg, "two\r\n\r\n"));
	/* A non-ASCII subject is encoded; a bare address as From. */
	n = mail_compose(msg, sizeof(msg), "a@b.example", "u@x.example", "Grüße",
	    "x", 0);
	assert_true(n > 0);
	assert_non_null(strstr(msg, "From: a@b.example\r\n"));
	assert_non_null(strstr(msg, "Subject: =?UTF-8?B?R3LDvMOfZQ==?=\r\n"));
	assert_non_null(strstr(msg, "\r\n\r\nx\r\n"));
	/* Does not fit; a From without an address. */
	assert_int_equal(mail_compose(msg, 64, "a@b.example", "u@x.example",
	    "s", "t", 0), -1);
	assert_int_equal(mail_compose(msg, sizeof(msg), "nobody", "u@x.example",
	    "s", "t", 0), -1);
}

int main(void)
{
	const struct CMUnitTest mail[] = {
		cmocka_unit_test(test_token_shape_and_hash),
		cmocka_unit_test(test_token_hash_known_answer),
		cmocka_unit_test(test_token_hash_refuses_non_tokens),
		cmocka_unit_test(test_link),
		cmocka_unit_test(test_compose),
	};

	return cmocka_run_group_tests(mail, NULL, NULL);
}
