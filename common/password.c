/*
 * password: libcrypt (libxcrypt) hashing. crypt_rn with a per-process
 * struct crypt_data keeps it reentrant and allocation-free per request;
 * crypt_gensalt_rn takes its salt bytes from the kernel.
 */
#include "password.h"

#include <crypt.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "valid.h"

struct password_ctx {
	enum config_hash method;
	long cost;
	struct crypt_data data;      /* ~32 KiB of scratch, reused */
	char dummy[PASSWORD_HASH_MAX];
	long long pad_ns;            /* typical verification at our cost; 0: none */
};

static long long password_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Length of a hash's method-and-cost prefix ("$2b$12$", "$y$j9T$"). */
static size_t password_params_len(const char *h)
{
	size_t i, dollars = 0;

	for (i = 0; h[i] != '\0'; i++)
		if (h[i] == '$' && ++dollars == 3)
			return i + 1;
	return 0;
}

/*
 * 1 when stored was made with the method and cost of the dummy hash, so
 * that checking it takes what checking the dummy does. bcrypt's $2a$,
 * $2b$ and $2y$ differ in name only.
 */
static int password_same_params(const struct password_ctx *ctx,
    const char *stored)
{
	size_t n = password_params_len(ctx->dummy);

	if (n == 0 || password_params_len(stored) != n)
		return 0;
	if (strncmp(ctx->dummy, "$2", 2) == 0 && strncmp(stored, "$2", 2) == 0)
		return strncmp(ctx->dummy + 3, stored + 3, n - 3) == 0;
	return strncmp(ctx->dummy, stored, n) == 0;
}

static const char *password_prefix(enum config_hash method)
{
	return method == CONFIG_HASH_YESCRYPT ? "$y$" : "$2b$";
}

int password_hash(struct password_ctx *ctx, const char *pw, char *out)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	const char *h;
	unsigned long count = ctx->method == CONFIG_HASH_BCRYPT ?
	    (unsigned long)ctx->cost : 0;

	if (crypt_gensalt_rn(password_prefix(ctx->method), count, NULL, 0,
	    salt, sizeof(salt)) == NULL)
		return -1;
	h = crypt_rn(pw, salt, &ctx->data, sizeof(ctx->data));
	if (h == NULL || h[0] == '*' || strlen(h) >= PASSWORD_HASH_MAX) {
		OPENSSL_cleanse(&ctx->data, sizeof(ctx->data));
		return -1;
	}
	memcpy(out, h, strlen(h) + 1);
	OPENSSL_cleanse(&ctx->data, sizeof(ctx->data));
	return 0;
}

int password_init(struct password_ctx **out, enum config_hash method,
    long cost, int dummy, char *err, size_t errlen)
{
	struct password_ctx *ctx = calloc(1, sizeof(*ctx));
	unsigned char rnd[18];
	char secret[32];
	long long t0;

	*out = NULL;
	if (ctx == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	ctx->method = method;
	ctx->cost = cost;
	if (dummy) {
		size_t i;

		if (RAND_bytes(rnd, sizeof(rnd)) != 1)
			goto fail;
		for (i = 0; i < sizeof(rnd); i++)
			secret[i] = (char)('a' + rnd[i] % 26);
		secret[sizeof(rnd)] = '\0';
		t0 = password_now_ns();
		if (password_hash(ctx, secret, ctx->dummy) != 0)
			goto fail;
		ctx->pad_ns = password_now_ns() - t0;
		OPENSSL_cleanse(secret, sizeof(secret));
	}
	*out = ctx;
	return 0;
fail:
	snprintf(err, errlen, "%s: cannot hash with this method and cost",
	    method == CONFIG_HASH_BCRYPT ? "BCRYPT_COST" : "PASSWORD_HASH");
	free(ctx);
	return -1;
}

void password_free(struct password_ctx *ctx)
{
	if (ctx == NULL)
		return;
	OPENSSL_cleanse(&ctx->data, sizeof(ctx->data));
	free(ctx);
}

enum auth_err password_policy(const char *pw, size_t len, char *detail,
    size_t detlen)
{
	if (len < PASSWORD_MIN || len > PASSWORD_MAX) {
		snprintf(detail, detlen, "password: must be %d to %d bytes",
		    PASSWORD_MIN, PASSWORD_MAX);
		return AUTH_EINVAL;
	}
	if (memchr(pw, '\0', len) != NULL) {
		snprintf(detail, detlen, "password: must not contain NUL");
		return AUTH_EINVAL;
	}
	if (!valid_utf8(pw, len)) {
		snprintf(detail, detlen, "password: must be valid UTF-8");
		return AUTH_EINVAL;
	}
	return AUTH_OK;
}

int password_verify(struct password_ctx *ctx, const char *pw,
    const char *stored)
{
	const char *target = stored != NULL ? stored : ctx->dummy;
	const char *h;
	size_t n = strlen(target);
	long long t0 = password_now_ns(), took;
	int ok;

	h = crypt_rn(pw, target, &ctx->data, sizeof(ctx->data));
	ok = h != NULL && h[0] != '*' && strlen(h) == n &&
	    CRYPTO_memcmp(h, target, n) == 0;
	/* The computed hash is as good as the password: do not leave it. */
	OPENSSL_cleanse(&ctx->data, sizeof(ctx->data));
	took = password_now_ns() - t0;
	/*
	 * An unknown email is checked against the dummy hash, at the
	 * configured method and cost; an account whose hash is older and
	 * cheaper (until its next login rehashes it) would answer faster.
	 * So every check at our cost keeps a running mean of how long one
	 * takes (this machine, this load), and a cheaper one waits out the
	 * rest of it.
	 */
	if (ctx->pad_ns > 0) {
		if (stored == NULL || password_same_params(ctx, stored)) {
			/*
			 * The first figure is the dummy hash made at start,
			 * when every endpoint starts at once and the machine
			 * is busiest: a faster check moves the mean halfway
			 * to it, so that it is right after a few. A slower
			 * one (a stall) moves it an eighth of the way, and
			 * by no more than its length.
			 */
			if (took < ctx->pad_ns) {
				ctx->pad_ns -= (ctx->pad_ns - took) / 2;
			} else {
				long long sample = took > 2 * ctx->pad_ns ?
				    2 * ctx->pad_ns : took;

				ctx->pad_ns += (sample - ctx->pad_ns) / 8;
			}
		} else if (took < ctx->pad_ns) {
			struct timespec rest;

			rest.tv_sec = (time_t)((ctx->pad_ns - took) / 1000000000LL);
			rest.tv_nsec = (long)((ctx->pad_ns - took) % 1000000000LL);
			while (nanosleep(&rest, &rest) != 0 && errno == EINTR)
				;
		}
	}
	return stored != NULL && ok;
}

int password_needs_rehash(const struct password_ctx *ctx, const char *stored)
{
	long cost;

	if (ctx->method == CONFIG_HASH_YESCRYPT)
		return strncmp(stored, "$y$", 3) != 0;
	/* $2a$/$2b$/$2y$ are one algorithm; we write $2b$ at >= our cost. */
	if (strncmp(stored, "$2", 2) != 0 || stored[2] == '\0' ||
	    stored[3] != '$' || stored[4] < '0' || stored[4] > '9' ||
	    stored[5] < '0' || stored[5] > '9' || stored[6] != '$')
		return 1;
	cost = (stored[4] - '0') * 10 + (stored[5] - '0');
	return cost < ctx->cost;
}
