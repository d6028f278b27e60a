/*
 * GET /auth/me  Authorization: Bearer <access token>
 *   200 {"id","email","email_verified","mfa"} (mfa: TOTP confirmed;
 *       both false while migrations 006 / 007 are pending)
 *   401 with WWW-Authenticate: no header, bad or expired token, a refresh
 *       token, a revoked session, or a user that no longer exists
 */
#include "app.h"

static void me(struct app *a, struct http_req *req)
{
	struct json_object *o;
	struct jwt_claims claims;
	int verified = 0, mfa = 0;
	char email[VALID_EMAIL_MAX + 1];
	enum auth_err rc;
	const char *body;
	size_t len = 0;

	if (app_authenticate(a, req, &claims, email) != 0)
		return;
	rc = tokens_account_flags(&a->tokens, claims.sub, &verified,
	    &mfa);
	if (rc == AUTH_ENOTFOUND) {
		http_reply_error(req, AUTH_ETOKEN, NULL);   /* deleted just now */
		return;
	}
	if (rc != AUTH_OK && rc != AUTH_EUNAVAIL) {
		http_reply_error(req, rc, NULL);
		return;
	}
	o = json_object_new_object();
	if (o == NULL) {
		http_reply_error(req, AUTH_EINTERNAL, NULL);
		return;
	}
	json_object_object_add(o, "id", json_object_new_string(claims.sub));
	json_object_object_add(o, "email", json_object_new_string(email));
	json_object_object_add(o, "email_verified",
	    json_object_new_boolean(rc == AUTH_OK && verified));
	json_object_object_add(o, "mfa",
	    json_object_new_boolean(rc == AUTH_OK && mfa));
	body = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	http_reply_json(req, 200, HTTP_NO_STORE, body, len);
	json_object_put(o);
}

int main(int argc, char **argv)
{
	static const struct app_endpoint ep = {
		.name = "me",
		.path = "/auth/me",
		.methods = HTTP_GET,
		.needs = APP_VERIFY | APP_DB,
		.bearer = 1,
		.handle = me,
	};

	return app_main(argc, argv, &ep);
}
