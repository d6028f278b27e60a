/*
 * GET /.well-known/openid-configuration
 * GET /.well-known/oauth-authorization-server
 *   One program behind both routes (lighttpd.conf), one document:
 *   200 {"issuer": JWT_ISS, "jwks_uri": JWT_ISS + "/.well-known/jwks.json",
 *   ...} with Cache-Control: public, max-age=300, when JWT_ISS is an
 *   http(s) URL (config_iss_url; a trailing slash stopped start-up);
 *   otherwise 404 {"detail": "discovery needs JWT_ISS to be this
 *   service's URL"}. Needs no keys and no database.
 *
 *   Only what the service does is claimed: it issues RS256 JWTs verifiable
 *   with jwks_uri, and has no OAuth authorization or token endpoint, so
 *   it names none and lists no response or grant types (an absent
 *   grant_types_supported would mean authorization_code and implicit,
 *   RFC 8414 section 2). Verifiers (go-oidc, Spring's issuer-uri, jose)
 *   read issuer and jwks_uri; id_token_signing_alg_values_supported and
 *   subject_types_supported complete OIDC Discovery's required fields.
 *   Metrics count both routes under the first one's label.
 */
#include <stdio.h>

#include "app.h"
#include "json.h"

#define DISCOVERY_JWKS_PATH "/.well-known/jwks.json"

static struct json_object *discovery_strings(const char *const *v, size_t n)
{
	struct json_object *a = json_object_new_array();
	size_t i;

	for (i = 0; a != NULL && i < n; i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	return a;
}

static void discovery(struct app *a, struct http_req *req)
{
	static const char *const algs[] = { "RS256" };
	static const char *const subjects[] = { "public" };
	char jwks_uri[CONFIG_STR_MAX + sizeof(DISCOVERY_JWKS_PATH)];
	struct json_object *doc;
	const char *body;
	size_t len = 0;

	if (!a->cfg.iss_url) {
		http_reply_error(req, AUTH_ENOTFOUND,
		    "discovery needs JWT_ISS to be this service's URL");
		return;
	}
	snprintf(jwks_uri, sizeof(jwks_uri), "%s%s", a->cfg.iss,
	    DISCOVERY_JWKS_PATH);
	doc = json_object_new_object();
	if (doc == NULL) {
		http_reply_error(req, AUTH_EINTERNAL, NULL);
		return;
	}
	json_object_object_add(doc, "issuer",
	    json_object_new_string(a->cfg.iss));
	json_object_object_add(doc, "jwks_uri", json_object_new_string(jwks_uri));
	json_object_object_add(doc, "response_types_supported",
	    json_object_new_array());
	json_object_object_add(doc, "grant_types_supported",
	    json_object_new_array());
	json_object_object_add(doc, "subject_types_supported",
	    discovery_strings(subjects, 1));
	json_object_object_add(doc, "id_token_signing_alg_values_supported",
	    discovery_strings(algs, 1));
	body = json_compact(doc, &len);
	if (body == NULL)
		http_reply_error(req, AUTH_EINTERNAL, NULL);
	else
		http_reply_json(req, 200, HTTP_PUBLIC_CACHE, body, len);
	json_object_put(doc);
}

int main(int argc, char **argv)
{
	static const struct app_endpoint ep = {
		.name = "discovery",
		.path = "/.well-known/openid-configuration",
		.methods = HTTP_GET,
		.needs = 0,
		.bearer = 0,
		.handle = discovery,
	};

	return app_main(argc, argv, &ep);
}
