/* json: strict parsing of untrusted JSON and typed field access, over json-c. */
#include "json.h"

#include <stdio.h>
#include <string.h>

enum auth_err json_parse(const char *buf, size_t len, struct json_object **out)
{
	struct json_tokener *tok = NULL;
	struct json_object *obj = NULL;
	enum auth_err rc = AUTH_EINVAL;
	size_t end;

	*out = NULL;
	/* json-c takes an int length; our bodies are bounded far below. */
	if (len == 0 || len > (size_t)1 << 30)
		return AUTH_EINVAL;
	tok = json_tokener_new_ex(JSON_MAX_DEPTH);
	if (tok == NULL)
		return AUTH_EINTERNAL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, buf, (int)len);
	if (obj == NULL || json_tokener_get_error(tok) != json_tokener_success)
		goto out;
	for (end = json_tokener_get_parse_end(tok); end < len; end++) {
		char c = buf[end];
		if (c != ' ' && c != '\t' && c != '\r' && c != '\n')
			goto out;
	}
	*out = obj;
	obj = NULL;
	rc = AUTH_OK;
out:
	json_object_put(obj);
	json_tokener_free(tok);
	return rc;
}

enum auth_err json_get_string(struct json_object *obj, const char *field,
    size_t minlen, size_t maxlen, const char **out, size_t *outlen,
    char *detail, size_t detlen)
{
	struct json_object *v = NULL;
	const char *s;
	size_t n;

	if (!json_object_object_get_ex(obj, field, &v) || v == NULL) {
		snprintf(detail, detlen, "%s: field required", field);
		return AUTH_EINVAL;
	}
	if (!json_object_is_type(v, json_type_string)) {
		snprintf(detail, detlen, "%s: must be a string", field);
		return AUTH_EINVAL;
	}
	s = json_object_get_string(v);
	n = (size_t)json_object_get_string_len(v);
	if (n < minlen || n > maxlen) {
		snprintf(detail, detlen, "%s: must be %zu to %zu bytes", field,
		    minlen, maxlen);
		return AUTH_EINVAL;
	}
	if (memchr(s, '\0', n) != NULL) {
		snprintf(detail, detlen, "%s: must not contain NUL", field);
		return AUTH_EINVAL;
	}
	*out = s;
	*outlen = n;
	return AUTH_OK;
}

const char *json_compact(struct json_object *obj, size_t *len)
{
	const char *s = json_object_to_json_string_length(obj,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, len);
	return s;
}
