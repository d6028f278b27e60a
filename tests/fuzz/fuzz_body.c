/*
 * fuzz_body: the request-body path every POST endpoint takes, on hostile
 * bytes: strict JSON parsing, typed field access, email and password
 * validation, and the refresh endpoint's object-or-bare-string choice.
 * Nothing here may crash, leak or read out of bounds, whatever the input.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "json.h"
#include "password.h"
#include "valid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_object *body = NULL, *field = NULL;
	char detail[JSON_DETAIL_MAX], email[VALID_EMAIL_MAX + 1];
	const char *s, *why = NULL;
	size_t n = 0;

	if (json_parse((const char *)data, size, &body) != AUTH_OK)
		return 0;
	if (json_object_is_type(body, json_type_object)) {
		if (json_get_string(body, "email", 3, VALID_EMAIL_MAX, &s, &n,
		    detail, sizeof(detail)) == AUTH_OK)
			(void)valid_email(s, n, email, &why);
		if (json_get_string(body, "password", PASSWORD_MIN, PASSWORD_MAX,
		    &s, &n, detail, sizeof(detail)) == AUTH_OK)
			(void)password_policy(s, n, detail, sizeof(detail));
		json_object_object_get_ex(body, "refresh_token", &field);
	} else if (json_object_is_type(body, json_type_string)) {
		field = body;
	}
	if (field != NULL && json_object_is_type(field, json_type_string)) {
		s = json_object_get_string(field);
		n = (size_t)json_object_get_string_len(field);
		(void)valid_utf8(s, n);
	}
	s = json_compact(body, &n);
	(void)s;
	json_object_put(body);
	return 0;
}
