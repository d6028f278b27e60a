/* json: strict parsing of untrusted JSON and typed field access, over json-c. */
#include "json.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

#include "valid.h"

/* Length of the JSON number at s (RFC 8259 grammar), or 0 if none. */
static size_t json_number_len(const char *s, size_t n)
{
	size_t i = 0, digits;

	if (i < n && s[i] == '-')
		i++;
	if (i < n && s[i] == '0') {
		i++;
	} else {
		for (digits = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			digits++;
		if (digits == 0)
			return 0;
	}
	if (i < n && s[i] == '.') {
		for (i++, digits = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			digits++;
		if (digits == 0)
			return 0;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		for (digits = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			digits++;
		if (digits == 0)
			return 0;
	}
	return i;
}

/* Length of the string token at s (s[0] == '"'), or 0 if malformed. */
static size_t json_string_len(const char *s, size_t n)
{
	size_t i = 1, k;

	while (i < n && s[i] != '"') {
		if ((unsigned char)s[i] < 0x20)
			return 0;              /* raw control byte */
		if (s[i] == '\\') {
			if (++i >= n)
				return 0;
			if (s[i] == 'u') {
				for (k = 1; k <= 4; k++)
					if (i + k >= n || !strchr("0123456789abcdefABCDEF",
					    s[i + k]) || s[i + k] == '\0')
						return 0;
				i += 4;
			} else if (!strchr("\"\\/bfnrt", s[i]) || s[i] == '\0') {
				return 0;
			}
		}
		i++;
	}
	return i < n ? i + 1 : 0;
}

/*
 * The lexical rules of RFC 8259 that json-c's strict mode lets through
 * (single-quoted keys, NaN/Infinity, "1.", raw control bytes in strings).
 * json-c still checks the structure; this checks every token. Written
 * here because no Debian JSON library offers both a strict lexer and
 * json-c's object model.
 */
static int json_tokens_ok(const char *s, size_t n)
{
	static const char *const words[] = { "true", "false", "null" };
	size_t i = 0, t, w;

	while (i < n) {
		char c = s[i];

		if (c == '"') {
			t = json_string_len(s + i, n - i);
		} else if (c == '-' || (c >= '0' && c <= '9')) {
			t = json_number_len(s + i, n - i);
		} else if (c != '\0' && strchr("{}[]:, \t\r\n", c)) {
			t = 1;
		} else {
			for (t = 0, w = 0; w < 3; w++) {
				size_t wl = strlen(words[w]);
				if (n - i >= wl && memcmp(s + i, words[w], wl) == 0)
					t = wl;
			}
		}
		if (t == 0)
			return 0;
		i += t;
	}
	return 1;
}

enum auth_err json_parse(const char *buf, size_t len, struct json_object **out)
{
	struct json_tokener *tok = NULL;
	struct json_object *obj = NULL;
	enum auth_err rc = AUTH_EINVAL;
	size_t end;

	*out = NULL;
	/* json-c takes an int length; our bodies are bounded far below. */
	if (len == 0 || len > (size_t)1 << 30 || !valid_utf8(buf, len) ||
	    !json_tokens_ok(buf, len))
		return AUTH_EINVAL;
	tok = json_tokener_new_ex(JSON_MAX_DEPTH);
	if (tok == NULL)
		return AUTH_EINTERNAL;
	/*
	 * The tokener decodes every string into its scratch buffer, a
	 * password too, and grows it by realloc, which would leave copies
	 * behind in freed memory. Sized once to the whole body (no decoded
	 * string is longer), it never moves, and is wiped before it is freed.
	 */
	if (printbuf_memset(tok->pb, 0, 0, (int)len + 1) < 0) {
		json_tokener_free(tok);
		return AUTH_EINTERNAL;
	}
	printbuf_reset(tok->pb);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, buf, (int)len);
	end = json_tokener_get_parse_end(tok);
	/* A bare number at the very end could still grow: end it. */
	if (obj == NULL && json_tokener_get_error(tok) == json_tokener_continue) {
		obj = json_tokener_parse_ex(tok, " ", 1);
		end = len;
	}
	/* NULL with success is the JSON value null. */
	if (json_tokener_get_error(tok) != json_tokener_success)
		goto out;
	for (; end < len; end++) {
		char c = buf[end];
		if (c != ' ' && c != '\t' && c != '\r' && c != '\n')
			goto out;
	}
	*out = obj;
	obj = NULL;
	rc = AUTH_OK;
out:
	json_object_put(obj);
	OPENSSL_cleanse(tok->pb->buf, (size_t)tok->pb->size);
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
