/*
 * GET /.well-known/jwks.json
 *   200 {"keys":[{"kty":"RSA","use":"sig","alg":"RS256","kid","n","e"}]}:
 *       every key a token may be verified with (the signing key's public
 *       half first, then JWT_EXTRA_PUBLIC_KEYS); kid is the RFC 7638
 *       thumbprint the token header carries. Cache-Control: public,
 *       max-age=300, so a rotation is seen by verifiers within 5 minutes.
 */
#include <stdlib.h>
#include <string.h>

#include "app.h"

static void jwks(struct app *a, struct http_req *req)
{
	size_t i, n = jwt_keys_count(a->keys), cap = 32, len = 0;
	char *body;

	for (i = 0; i < n; i++)
		cap += strlen(jwt_keys_jwk(a->keys, i)) + 1;
	body = malloc(cap);
	if (body == NULL) {
		http_reply_error(req, AUTH_EINTERNAL, NULL);
		return;
	}
	/* Each JWK is JSON built at start from our own keys. */
	memcpy(body, "{\"keys\":[", 9);
	len = 9;
	for (i = 0; i < n; i++) {
		const char *k = jwt_keys_jwk(a->keys, i);
		size_t kl = strlen(k);

		if (i > 0)
			body[len++] = ',';
		memcpy(body + len, k, kl + 1);   /* kept NUL-terminated */
		len += kl;
	}
	memcpy(body + len, "]}", 3);
	len += 2;
	http_reply_json(req, 200, HTTP_PUBLIC_CACHE, body, len);
	free(body);
}

int main(int argc, char **argv)
{
	static const struct app_endpoint ep = {
		.name = "jwks",
		.path = "/.well-known/jwks.json",
		.methods = HTTP_GET,
		.needs = APP_VERIFY,
		.bearer = 0,
		.handle = jwks,
	};

	return app_main(argc, argv, &ep);
}
