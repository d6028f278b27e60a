/* test_seal: AES-256-GCM sealing under the MFA key file, and recovery-code HMACs. */
#include "unit.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "seal.h"

/* Two keys as gen-keys.sh writes them (43 base64url characters). */
#define KEY_A "q5pVn3l0W2JtYxkz0mWq6cQ8y3mU7r4hN2gF1dS9aBc"
#define KEY_B "Zz9pVn3l0W2JtYxkz0mWq6cQ8y3mU7r4hN2gF1dS9aA"
#define UID_1 "0b6f7d1e-5d1c-4c3a-9f6e-2a1b3c4d5e6f"
#define UID_2 "1b6f7d1e-5d1c-4c3a-9f6e-2a1b3c4d5e6f"

static char dir[64];

static void key_file(const char *name, const char *text, mode_t mode,
    char *path, size_t cap)
{
	FILE *f;

	snprintf(path, cap, "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static void load(struct seal_key *k, const char *text)
{
	char path[128], err[256] = "";

	key_file("k", text, 0600, path, sizeof(path));
	if (seal_key_load(k, path, "MFA_KEY_PATH", err, sizeof(err)) != 0)
		fail_msg("%s", err);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_seal.XXXXXX");
	return mkdtemp(dir) != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_roundtrip(void **state)
{
	static const unsigned char secret[20] = "0123456789abcdefghij";
	unsigned char out[64];
	char a[SEAL_TEXT_SIZE(20)], b[SEAL_TEXT_SIZE(20)];
	struct seal_key k;
	size_t n = 0;

	(void)state;
	load(&k, KEY_A "\n");
	assert_int_equal(seal_close(&k, UID_1, secret, sizeof(secret), a,
	    sizeof(a)), 0);
	assert_int_equal(strlen(a), sizeof(a) - 1);
	/* A random nonce each: the same secret never seals the same. */
	assert_int_equal(seal_close(&k, UID_1, secret, sizeof(secret), b,
	    sizeof(b)), 0);
	assert_string_not_equal(a, b);
	assert_int_equal(seal_open(&k, UID_1, a, strlen(a), out, sizeof(out),
	    &n), 0);
	assert_int_equal(n, sizeof(secret));
	assert_memory_equal(out, secret, n);
	/* Nothing of the plaintext shows in the text. */
	assert_null(strstr(a, "0123"));
	/* Too small a buffer for the text. */
	assert_int_equal(seal_close(&k, UID_1, secret, sizeof(secret), b, 20),
	    -1);
	seal_key_wipe(&k);
}

static void test_refused(void **state)
{
	static const unsigned char secret[20] = "0123456789abcdefghij";
	unsigned char out[64];
	char a[SEAL_TEXT_SIZE(20)], t[SEAL_TEXT_SIZE(20)];
	struct seal_key k, other;
	size_t n = 99, i;

	(void)state;
	load(&k, KEY_A);
	load(&other, KEY_B);
	assert_int_equal(seal_close(&k, UID_1, secret, sizeof(secret), a,
	    sizeof(a)), 0);
	/* Another user's row, another key. */
	assert_int_equal(seal_open(&k, UID_2, a, strlen(a), out, sizeof(out),
	    &n), -1);
	assert_int_equal(n, 0);
	assert_int_equal(seal_open(&other, UID_1, a, strlen(a), out,
	    sizeof(out), &n), -1);
	/* Any character altered (the tag covers all of it). */
	for (i = 0; i < strlen(a); i++) {
		memcpy(t, a, sizeof(a));
		t[i] = t[i] == 'A' ? 'B' : 'A';
		if (seal_open(&k, UID_1, t, strlen(t), out, sizeof(out), &n) == 0)
			fail_msg("altered at %zu and opened", i);
	}
	/* Cut short, not base64url, too small an output. */
	assert_int_equal(seal_open(&k, UID_1, a, 20, out, sizeof(out), &n), -1);
	assert_int_equal(seal_open(&k, UID_1, "!!!!", 4, out, sizeof(out), &n),
	    -1);
	assert_int_equal(seal_open(&k, UID_1, a, strlen(a), out, 19, &n), -1);
	seal_key_wipe(&k);
	seal_key_wipe(&other);
}

static void test_mac(void **state)
{
	char h1[SEAL_MAC_HEX], h2[SEAL_MAC_HEX], h3[SEAL_MAC_HEX];
	struct seal_key k, other;

	(void)state;
	load(&k, KEY_A);
	load(&other, KEY_B);
	assert_int_equal(seal_mac(&k, "abcdefghij", 10, h1), 0);
	assert_int_equal(seal_mac(&k, "abcdefghij", 10, h2), 0);
	assert_int_equal(seal_mac(&other, "abcdefghij", 10, h3), 0);
	assert_int_equal(strlen(h1), 64);
	assert_string_equal(h1, h2);
	/* Keyed: a database copy alone cannot be searched for codes. */
	assert_string_not_equal(h1, h3);
	assert_int_equal(seal_mac(&k, "abcdefghik", 10, h2), 0);
	assert_string_not_equal(h1, h2);
	seal_key_wipe(&k);
	seal_key_wipe(&other);
}

static void test_key_file(void **state)
{
	static const struct {
		const char *text;
		mode_t mode;
		const char *says;
	} bad[] = {
		{ KEY_A, 0644, "chmod 600" },
		{ KEY_A, 0640, "chmod 600" },
		{ "short", 0600, "base64url" },
		{ KEY_A "A", 0600, "base64url" },
		{ "q5pVn3l0W2JtYxkz0mWq6cQ8y3mU7r4hN2gF1dS9aB+", 0600, "base64url" },
		{ "", 0600, "base64url" },
	};
	char path[128], err[256];
	struct seal_key k;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		key_file("bad", bad[i].text, bad[i].mode, path, sizeof(path));
		err[0] = '\0';
		assert_int_not_equal(seal_key_load(&k, path, "MFA_KEY_PATH", err,
		    sizeof(err)), 0);
		if (strstr(err, "MFA_KEY_PATH") == NULL ||
		    strstr(err, bad[i].says) == NULL)
			fail_msg("case %zu: '%s'", i, err);
		/* Never the key itself. */
		assert_null(strstr(err, KEY_A));
	}
	snprintf(path, sizeof(path), "%s/none", dir);
	assert_int_not_equal(seal_key_load(&k, path, "MFA_KEY_PATH", err,
	    sizeof(err)), 0);
	assert_non_null(strstr(err, "cannot open"));
	/* A directory is no key file. */
	assert_int_not_equal(seal_key_load(&k, dir, "MFA_KEY_PATH", err,
	    sizeof(err)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_mac),
		cmocka_unit_test(test_key_file),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
