/* test_b64url: unpadded base64url encode/decode, strict decoder. */
#include "unit.h"

#include <string.h>

#include "b64url.h"

static const char b64url_alpha[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* RFC 4648 section 10 vectors, padding removed. */
static const struct {
	const char *plain;
	const char *enc;
} rfc_vectors[] = {
	{"", ""},
	{"f", "Zg"},
	{"fo", "Zm8"},
	{"foo", "Zm9v"},
	{"foob", "Zm9vYg"},
	{"fooba", "Zm9vYmE"},
	{"foobar", "Zm9vYmFy"},
};

#define N_RFC (sizeof(rfc_vectors) / sizeof(rfc_vectors[0]))

/* Deterministic PRNG so that a failure is reproducible. */
static unsigned long long prng_state = 0x9e3779b97f4a7c15ULL;

static unsigned char prng_byte(void)
{
	prng_state ^= prng_state << 13;
	prng_state ^= prng_state >> 7;
	prng_state ^= prng_state << 17;
	return (unsigned char)(prng_state >> 24);
}

/* Decode a NUL-terminated string into a roomy buffer. */
static long dec(const char *s, unsigned char *out, size_t outcap)
{
	return b64url_decode(out, outcap, s, strlen(s));
}

static void test_encode_rfc4648_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_RFC; i++) {
		char out[32];
		size_t n = strlen(rfc_vectors[i].plain);
		long r;

		memset(out, 'X', sizeof(out));
		r = b64url_encode(out, sizeof(out),
		    (const unsigned char *)rfc_vectors[i].plain, n);
		assert_int_equal(r, (long)strlen(rfc_vectors[i].enc));
		assert_string_equal(out, rfc_vectors[i].enc);
	}
}

static void test_decode_rfc4648_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_RFC; i++) {
		unsigned char out[32];
		size_t n = strlen(rfc_vectors[i].plain);
		long r;

		memset(out, 0xAA, sizeof(out));
		r = dec(rfc_vectors[i].enc, out, sizeof(out));
		assert_int_equal(r, (long)n);
		assert_memory_equal(out, rfc_vectors[i].plain, n);
		/* Nothing written past the decoded length. */
		assert_int_equal(out[n], 0xAA);
	}
}

static void test_encode_url_alphabet(void **state)
{
	static const unsigned char fbff[] = {0xfb, 0xff};
	static const unsigned char ff3[] = {0xff, 0xff, 0xff};
	static const unsigned char fbefbe[] = {0xfb, 0xef, 0xbe};
	static const unsigned char zero3[] = {0x00, 0x00, 0x00};
	char out[16];

	(void)state;
	assert_int_equal(b64url_encode(out, sizeof(out), fbff, 2), 3);
	assert_string_equal(out, "-_8");
	assert_int_equal(b64url_encode(out, sizeof(out), ff3, 3), 4);
	assert_string_equal(out, "____");
	assert_int_equal(b64url_encode(out, sizeof(out), fbefbe, 3), 4);
	assert_string_equal(out, "----");
	assert_int_equal(b64url_encode(out, sizeof(out), zero3, 3), 4);
	assert_string_equal(out, "AAAA");
	/* The standard alphabet's '+' and '/' never appear. */
	assert_null(strpbrk(out, "+/="));
}

static void test_decode_url_alphabet(void **state)
{
	unsigned char out[8];

	(void)state;
	assert_int_equal(dec("-_8", out, sizeof(out)), 2);
	assert_int_equal(out[0], 0xfb);
	assert_int_equal(out[1], 0xff);
	assert_int_equal(dec("____", out, sizeof(out)), 3);
	assert_int_equal(out[0], 0xff);
	assert_int_equal(out[1], 0xff);
	assert_int_equal(out[2], 0xff);
	assert_int_equal(dec("----", out, sizeof(out)), 3);
	assert_int_equal(out[0], 0xfb);
	assert_int_equal(out[1], 0xef);
	assert_int_equal(out[2], 0xbe);
}

static void test_roundtrip_random_lengths(void **state)
{
	(void)state;
	for (size_t len = 0; len <= 300; len++) {
		unsigned char in[300], back[300 + 8];
		char enc[B64URL_ENCODED_SIZE(300)];
		size_t want = (4 * len + 2) / 3;   /* ceil(4n/3), no padding */
		long e, d;

		for (size_t i = 0; i < len; i++)
			in[i] = prng_byte();
		e = b64url_encode(enc, B64URL_ENCODED_SIZE(len), in, len);
		assert_int_equal(e, (long)want);
		assert_int_equal(strlen(enc), want);
		assert_int_equal(strspn(enc, b64url_alpha), want);
		assert_true(want % 4 != 1);
		assert_true(B64URL_DECODED_MAX(want) >= len);

		memset(back, 0xAA, sizeof(back));
		d = b64url_decode(back, B64URL_DECODED_MAX(want), enc, want);
		assert_int_equal(d, (long)len);
		assert_memory_equal(back, in, len);
		assert_int_equal(back[len], 0xAA);
	}
}

static void test_roundtrip_all_byte_values(void **state)
{
	unsigned char in[256], back[256];
	char enc[B64URL_ENCODED_SIZE(256)];
	long e;

	(void)state;
	for (int i = 0; i < 256; i++)
		in[i] = (unsigned char)i;
	e = b64url_encode(enc, sizeof(enc), in, sizeof(in));
	assert_int_equal(e, 342);
	assert_int_equal(b64url_decode(back, sizeof(back), enc, (size_t)e),
	    256);
	assert_memory_equal(back, in, sizeof(in));
}

static void test_decode_empty(void **state)
{
	unsigned char out[1] = {0xAA};

	(void)state;
	assert_int_equal(b64url_decode(out, 0, "", 0), 0);
	assert_int_equal(b64url_decode(out, sizeof(out), "", 0), 0);
	assert_int_equal(out[0], 0xAA);
}

static void test_decode_refuses_standard_alphabet(void **state)
{
	unsigned char out[16];

	(void)state;
	assert_int_equal(dec("+_8", out, sizeof(out)), -1);
	assert_int_equal(dec("-/8", out, sizeof(out)), -1);
	assert_int_equal(dec("++++", out, sizeof(out)), -1);
	assert_int_equal(dec("////", out, sizeof(out)), -1);
	assert_int_equal(dec("Zm9v+A", out, sizeof(out)), -1);
}

static void test_decode_refuses_padding(void **state)
{
	unsigned char out[16];

	(void)state;
	assert_int_equal(dec("Zg==", out, sizeof(out)), -1);
	assert_int_equal(dec("Zm8=", out, sizeof(out)), -1);
	assert_int_equal(dec("Zg=", out, sizeof(out)), -1);
	assert_int_equal(dec("Zm9v====", out, sizeof(out)), -1);
	assert_int_equal(dec("====", out, sizeof(out)), -1);
	assert_int_equal(dec("Z=g", out, sizeof(out)), -1);
}

static void test_decode_refuses_whitespace(void **state)
{
	unsigned char out[16];

	(void)state;
	assert_int_equal(dec(" Zm9v", out, sizeof(out)), -1);
	assert_int_equal(dec("Zm9v ", out, sizeof(out)), -1);
	assert_int_equal(dec("Zm 9v", out, sizeof(out)), -1);
	assert_int_equal(dec("Zm9v\n", out, sizeof(out)), -1);
	assert_int_equal(dec("Zm\r\n9v", out, sizeof(out)), -1);
	assert_int_equal(dec("Zm\t9v", out, sizeof(out)), -1);
	assert_int_equal(dec("Zm9v\v", out, sizeof(out)), -1);
	assert_int_equal(dec("Zm9v\f", out, sizeof(out)), -1);
}

static void test_decode_refuses_nul_inside(void **state)
{
	unsigned char out[16];

	(void)state;
	/* The length is explicit: a NUL is a byte like any other. */
	assert_int_equal(b64url_decode(out, sizeof(out), "Zm\0v", 4), -1);
	assert_int_equal(b64url_decode(out, sizeof(out), "\0m9v", 4), -1);
	assert_int_equal(b64url_decode(out, sizeof(out), "Zm9v\0\0\0\0", 8),
	    -1);
	assert_int_equal(b64url_decode(out, sizeof(out), "Zg\0", 3), -1);
}

static void test_decode_refuses_len_mod4_eq1(void **state)
{
	unsigned char out[16];

	(void)state;
	assert_int_equal(dec("A", out, sizeof(out)), -1);
	assert_int_equal(dec("Z", out, sizeof(out)), -1);
	assert_int_equal(dec("Zm9vY", out, sizeof(out)), -1);
	assert_int_equal(dec("Zm9vYmFyA", out, sizeof(out)), -1);
	/* Every residue other than 1 is a possible length. */
	assert_int_equal(dec("AA", out, sizeof(out)), 1);
	assert_int_equal(dec("AAA", out, sizeof(out)), 2);
	assert_int_equal(dec("AAAA", out, sizeof(out)), 3);
}

static void test_decode_refuses_nonzero_trailing_bits(void **state)
{
	unsigned char out[16];

	(void)state;
	assert_int_equal(dec("Zg", out, sizeof(out)), 1);
	assert_int_equal(out[0], 'f');
	assert_int_equal(dec("Zh", out, sizeof(out)), -1);
	assert_int_equal(dec("Zv", out, sizeof(out)), -1);
	assert_int_equal(dec("Z_", out, sizeof(out)), -1);
	assert_int_equal(dec("Zm8", out, sizeof(out)), 2);
	assert_int_equal(dec("Zm9", out, sizeof(out)), -1);
	assert_int_equal(dec("Zm-", out, sizeof(out)), -1);
	assert_int_equal(dec("Zm9vZh", out, sizeof(out)), -1);
	assert_int_equal(dec("Zm9vYmF", out, sizeof(out)), -1);
}

/* Every two-character string: accepted iff canonical, and re-encodes. */
static void test_decode_one_encoding_per_value(void **state)
{
	(void)state;
	for (int a = 0; a < 64; a++) {
		for (int b = 0; b < 64; b++) {
			char in[3] = {b64url_alpha[a], b64url_alpha[b], '\0'};
			unsigned char out[2];
			char again[4];
			long r = dec(in, out, sizeof(out));

			if ((b & 0x0f) != 0) {
				assert_int_equal(r, -1);
				continue;
			}
			assert_int_equal(r, 1);
			assert_int_equal(out[0], (a << 2) | (b >> 4));
			assert_int_equal(b64url_encode(again, sizeof(again),
			    out, 1), 2);
			assert_string_equal(again, in);
		}
	}
}

/* Every byte value as the first of four characters. */
static void test_decode_every_byte_value(void **state)
{
	(void)state;
	for (int c = 0; c < 256; c++) {
		char in[4] = {(char)c, 'A', 'A', 'A'};
		unsigned char out[3];
		const char *p = c != 0 ? strchr(b64url_alpha, c) : NULL;
		long r = b64url_decode(out, sizeof(out), in, 4);

		if (p == NULL) {
			assert_int_equal(r, -1);
		} else {
			assert_int_equal(r, 3);
			assert_int_equal(out[0], (unsigned char)((p -
			    b64url_alpha) << 2));
		}
	}
}

static void test_decode_refuses_8bit(void **state)
{
	unsigned char out[16];

	(void)state;
	assert_int_equal(dec("\x80" "AAA", out, sizeof(out)), -1);
	assert_int_equal(dec("AAA\xff", out, sizeof(out)), -1);
	assert_int_equal(dec("Zm\xc3\xa9", out, sizeof(out)), -1);
	/* A byte that is 'A' + 0x80 must not alias to 'A'. */
	assert_int_equal(dec("\xc1\xc1\xc1\xc1", out, sizeof(out)), -1);
	assert_int_equal(dec("\xad" "AAA", out, sizeof(out)), -1);  /* '-'|0x80 */
	assert_int_equal(dec("\xdf" "AAA", out, sizeof(out)), -1);  /* '_'|0x80 */
}

static void test_encode_buffer_too_small(void **state)
{
	static const unsigned char in[] = "foobar";
	char out[16];

	(void)state;
	/* Exact capacity: encoded length + NUL. */
	memset(out, 'X', sizeof(out));
	assert_int_equal(b64url_encode(out, 9, in, 6), 8);
	assert_string_equal(out, "Zm9vYmFy");
	memset(out, 'X', sizeof(out));
	assert_int_equal(b64url_encode(out, 8, in, 6), -1);
	assert_int_equal(out[0], 'X');   /* nothing written on failure */

	assert_int_equal(b64url_encode(out, 3, in, 1), 2);
	assert_string_equal(out, "Zg");
	assert_int_equal(b64url_encode(out, 2, in, 1), -1);
	assert_int_equal(b64url_encode(out, 4, in, 2), 3);
	assert_string_equal(out, "Zm8");
	assert_int_equal(b64url_encode(out, 3, in, 2), -1);
	assert_int_equal(b64url_encode(out, 5, in, 3), 4);
	assert_int_equal(b64url_encode(out, 4, in, 3), -1);

	/* The empty string still needs room for the NUL. */
	assert_int_equal(b64url_encode(out, 1, in, 0), 0);
	assert_string_equal(out, "");
	assert_int_equal(b64url_encode(out, 0, in, 0), -1);
}

static void test_decode_buffer_too_small(void **state)
{
	unsigned char out[16];

	(void)state;
	memset(out, 0xAA, sizeof(out));
	assert_int_equal(dec("Zm9vYmFy", out, 6), 6);
	assert_memory_equal(out, "foobar", 6);
	memset(out, 0xAA, sizeof(out));
	assert_int_equal(dec("Zm9vYmFy", out, 5), -1);
	assert_int_equal(out[5], 0xAA);
	assert_int_equal(dec("Zm9vYmE", out, 5), 5);
	assert_int_equal(dec("Zm9vYmE", out, 4), -1);
	assert_int_equal(dec("Zm9vYg", out, 4), 4);
	assert_int_equal(dec("Zm9vYg", out, 3), -1);
	assert_int_equal(dec("Zg", out, 1), 1);
	assert_int_equal(dec("Zg", out, 0), -1);
}

int main(void)
{
	const struct CMUnitTest b64url[] = {
		cmocka_unit_test(test_encode_rfc4648_vectors),
		cmocka_unit_test(test_decode_rfc4648_vectors),
		cmocka_unit_test(test_encode_url_alphabet),
		cmocka_unit_test(test_decode_url_alphabet),
		cmocka_unit_test(test_roundtrip_random_lengths),
		cmocka_unit_test(test_roundtrip_all_byte_values),
		cmocka_unit_test(test_decode_empty),
		cmocka_unit_test(test_decode_refuses_standard_alphabet),
		cmocka_unit_test(test_decode_refuses_padding),
		cmocka_unit_test(test_decode_refuses_whitespace),
		cmocka_unit_test(test_decode_refuses_nul_inside),
		cmocka_unit_test(test_decode_refuses_len_mod4_eq1),
		cmocka_unit_test(test_decode_refuses_nonzero_trailing_bits),
		cmocka_unit_test(test_decode_one_encoding_per_value),
		cmocka_unit_test(test_decode_every_byte_value),
		cmocka_unit_test(test_decode_refuses_8bit),
		cmocka_unit_test(test_encode_buffer_too_small),
		cmocka_unit_test(test_decode_buffer_too_small),
	};

	return cmocka_run_group_tests(b64url, NULL, NULL);
}
