/*
 * /auth/verify, any method  Authorization: Bearer <access token>
 *   The forward-auth check a front runs before it lets a request through
 *   to another service (nginx auth_request, lighttpd's FastCGI
 *   "mode" => "authorizer", Traefik forwardAuth, Caddy forward_auth).
 *   200, empty body, with the identity as headers: X-User-Id,
 *       X-User-Email, X-Session-Id and the aliases Remote-User (the user
 *       id), Remote-Email, X-Auth-Request-User, X-Auth-Request-Email;
 *       under the FastCGI AUTHORIZER role each also as Variable-<name>,
 *       which lighttpd hands to the protected backend as environment.
 *   401 with WWW-Authenticate: exactly what /auth/me refuses.
 *   Never a 3xx or another 4xx: the method, the request URI (the
 *   protected one) and any body are not looked at (APP_ANY).
 */
#include "app.h"

#include <stdio.h>
#include <string.h>

/* The identity headers, each sent under every name of its row. */
#define VERIFY_NAMES 7

/* 1 when s holds no byte that could end or fold a header line. */
static int verify_header_safe(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

static void verify(struct app *a, struct http_req *req)
{
	struct jwt_claims claims;
	char email[VALID_EMAIL_MAX + 1];
	/* 7 names twice, 3 values each at most an email long. */
	char extra[2 * VERIFY_NAMES * (48 + VALID_EMAIL_MAX)];
	const char *names[VERIFY_NAMES] = {
		"X-User-Id", "X-User-Email", "X-Session-Id", "Remote-User",
		"Remote-Email", "X-Auth-Request-User", "X-Auth-Request-Email",
	};
	const char *values[VERIFY_NAMES];
	const char *role = http_param(req, "FCGI_ROLE");
	int authorizer = role != NULL && strcmp(role, "AUTHORIZER") == 0;
	size_t off = 0;
	int i, pass;

	if (app_authenticate(a, req, &claims, email) != 0)
		return;
	if (!verify_header_safe(email)) {
		http_reply_error(req, AUTH_EINTERNAL, NULL);
		return;
	}
	values[0] = claims.sub;
	values[1] = email;
	values[2] = claims.sid;
	values[3] = claims.sub;
	values[4] = email;
	values[5] = claims.sub;
	values[6] = email;
	for (pass = 0; pass < (authorizer ? 2 : 1); pass++)
		for (i = 0; i < VERIFY_NAMES; i++) {
			int n = snprintf(extra + off, sizeof(extra) - off,
			    "%s%s: %s\r\n", pass ? "Variable-" : "", names[i],
			    values[i]);

			if (n < 0 || (size_t)n >= sizeof(extra) - off) {
				http_reply_error(req, AUTH_EINTERNAL, NULL);
				return;
			}
			off += (size_t)n;
		}
	http_reply_headers(req, 200, extra);
}

int main(int argc, char **argv)
{
	static const struct app_endpoint ep = {
		.name = "verify",
		.path = "/auth/verify",
		.methods = 0,
		.needs = APP_VERIFY | APP_DB | APP_ANY,
		.bearer = 1,
		.handle = verify,
	};

	return app_main(argc, argv, &ep);
}
