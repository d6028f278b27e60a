/* json: strict parsing of untrusted JSON and typed field access, over json-c. */
#ifndef AUTH_JSON_H
#define AUTH_JSON_H

#include <stddef.h>
#include <json-c/json.h>

#include "err.h"

/* Nesting allowed in any document we parse (bodies, JWT parts). */
#define JSON_MAX_DEPTH 8
#define JSON_DETAIL_MAX 128

/*
 * Parse buf[0..len) as exactly one JSON value: strict grammar, UTF-8
 * validated, depth-limited, nothing but whitespace after it. On success
 * *out owns a reference (json_object_put it; NULL for the value null).
 * Returns AUTH_OK or AUTH_EINVAL.
 */
enum auth_err json_parse(const char *buf, size_t len, struct json_object **out)
    __attribute__((warn_unused_result));

/*
 * Fetch obj[field] as a string of minlen..maxlen bytes with no NUL.
 * *out points into obj (valid while obj lives). On failure returns
 * AUTH_EINVAL and writes "<field>: <what is wrong>" into detail.
 */
enum auth_err json_get_string(struct json_object *obj, const char *field,
    size_t minlen, size_t maxlen, const char **out, size_t *outlen,
    char *detail, size_t detlen) __attribute__((warn_unused_result));

/*
 * Serialize obj compactly into a string owned by obj; length in *len.
 */
const char *json_compact(struct json_object *obj, size_t *len);

#endif
