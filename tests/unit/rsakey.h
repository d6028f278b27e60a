/*
 * rsakey.h: RSA keys for unit tests, made by the openssl command.
 *
 * Generating an RSA key in-process takes minutes under valgrind (make
 * test runs every unit test under memcheck), while the openssl command,
 * a child valgrind does not trace, takes a fraction of a second. The
 * key's quality is OpenSSL's either way; EVP_RSA_gen is the fallback
 * where the command is missing.
 */
#ifndef AUTH_RSAKEY_H
#define AUTH_RSAKEY_H

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdio.h>

static inline EVP_PKEY *ut_rsa_key(unsigned bits)
{
	char cmd[128];
	EVP_PKEY *k = NULL;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "openssl genpkey -algorithm RSA "
	    "-pkeyopt rsa_keygen_bits:%u 2>/dev/null", bits);
	p = popen(cmd, "r");
	if (p != NULL) {
		k = PEM_read_PrivateKey(p, NULL, NULL, NULL);
		if (pclose(p) != 0) {
			EVP_PKEY_free(k);
			k = NULL;
		}
	}
	return k != NULL ? k : EVP_RSA_gen(bits);
}

#endif
