/* test_json: strict parsing, typed field access, compact output. */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

/* Printable form of s[0..n) for failure messages (one static buffer). */
static const char *show(const char *s, size_t n)
{
	static char buf[512];
	size_t o = 0;

	for (size_t i = 0; i < n && o + 5 < sizeof(buf); i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '\\')
			buf[o++] = (char)c;
		else
			o += (size_t)snprintf(buf + o, sizeof(buf) - o,
			    "\\x%02x", c);
	}
	buf[o] = '\0';
	return buf;
}

/* json_parse over a literal (embedded NULs included); frees the result. */
static enum auth_err parse_n(const char *s, size_t n)
{
	struct json_object *o = (struct json_object *)(void *)&o;
	enum auth_err rc = json_parse(s, n, &o);

	if (rc == AUTH_OK)
		assert_non_null(o);
	else
		assert_null(o);   /* *out is cleared on failure */
	json_object_put(o);
	return rc;
}

#define PARSE(lit) parse_n((lit), sizeof(lit) - 1)

/* Report which input failed, not just the line of the macro. */
#define ACCEPT(lit) do { \
	if (PARSE(lit) != AUTH_OK) \
		fail_msg("refused: %s", show((lit), sizeof(lit) - 1)); \
} while (0)
#define REFUSE(lit) do { \
	enum auth_err rc_ = PARSE(lit); \
	if (rc_ != AUTH_EINVAL) \
		fail_msg("got %d, want AUTH_EINVAL for: %s", rc_, \
		    show((lit), sizeof(lit) - 1)); \
} while (0)

/* Parse a literal that must be accepted, keep the object. */
static struct json_object *must_parse(const char *s)
{
	struct json_object *o = NULL;

	assert_int_equal(json_parse(s, strlen(s), &o), AUTH_OK);
	assert_non_null(o);
	return o;
}

/* n nested containers: "[[...]]" or {"a":{"a":...{}}}, innermost inner. */
static char *nested(int n, int objects, const char *inner)
{
	size_t cap = (size_t)n * 6 + strlen(inner) + 1;
	char *s = malloc(cap);
	size_t o = 0;

	assert_non_null(s);
	for (int i = 0; i < n; i++) {
		if (objects && i == n - 1 && inner[0] == '\0') {
			s[o++] = '{';
		} else if (objects) {
			memcpy(s + o, "{\"a\":", 5);
			o += 5;
		} else {
			s[o++] = '[';
		}
	}
	memcpy(s + o, inner, strlen(inner));
	o += strlen(inner);
	for (int i = 0; i < n; i++)
		s[o++] = objects ? '}' : ']';
	s[o] = '\0';
	return s;
}

static enum auth_err parse_nested(int n, int objects, const char *inner)
{
	char *s = nested(n, objects, inner);
	enum auth_err rc = parse_n(s, strlen(s));

	free(s);
	return rc;
}

/* ---- json_parse ---- */

static void test_parse_object(void **state)
{
	struct json_object *o, *v;

	(void)state;
	o = must_parse("{\"email\":\"a@x.com\",\"n\":42,\"t\":true,"
	    "\"z\":null,\"l\":[1,2],\"o\":{}}");
	assert_true(json_object_is_type(o, json_type_object));
	assert_int_equal(json_object_object_length(o), 6);
	assert_true(json_object_object_get_ex(o, "email", &v));
	assert_string_equal(json_object_get_string(v), "a@x.com");
	assert_true(json_object_object_get_ex(o, "n", &v));
	assert_int_equal(json_object_get_int(v), 42);
	assert_true(json_object_object_get_ex(o, "l", &v));
	assert_int_equal(json_object_array_length(v), 2);
	json_object_put(o);

	ACCEPT("{}");
	ACCEPT("[]");
	ACCEPT("[1,2.5,-3e2,\"x\",true,false,null]");
}

static void test_parse_string(void **state)
{
	struct json_object *o;

	(void)state;
	o = must_parse("\"abc\"");
	assert_true(json_object_is_type(o, json_type_string));
	assert_string_equal(json_object_get_string(o), "abc");
	json_object_put(o);

	o = must_parse("\"\\u00e9\\n\\\"\"");
	assert_string_equal(json_object_get_string(o), "\xc3\xa9\n\"");
	json_object_put(o);
	ACCEPT("\"\"");
}

/* "Exactly one JSON value": a bare scalar is one, with or without a
 * trailing byte after it. */
static void test_parse_top_level_scalars(void **state)
{
	(void)state;
	ACCEPT("123 ");
	ACCEPT("true ");
	ACCEPT("123");
	ACCEPT("-1.5");
	ACCEPT("0");
	ACCEPT("true");
	ACCEPT("false");
}

/* The value null parses, and is a NULL object (json-c's null). */
static void test_parse_null(void **state)
{
	struct json_object *o = (struct json_object *)(void *)&o;

	(void)state;
	assert_int_equal(json_parse("null", 4, &o), AUTH_OK);
	assert_null(o);
	o = (struct json_object *)(void *)&o;
	assert_int_equal(json_parse("null \n", 6, &o), AUTH_OK);
	assert_null(o);
	assert_int_equal(json_parse("nul", 3, &o), AUTH_EINVAL);
}

static void test_parse_whitespace(void **state)
{
	(void)state;
	ACCEPT("{} ");
	ACCEPT("{}\n");
	ACCEPT("{} \t\r\n \n");
	ACCEPT(" \n\t\r{}");
	ACCEPT("{ \"a\" : 1 , \"b\" : [ ] }");
	/* Form feed and vertical tab are not JSON whitespace. */
	REFUSE("{}\f");
	REFUSE("{}\v");
	REFUSE("\f{}");
}

static void test_parse_trailing_garbage(void **state)
{
	(void)state;
	REFUSE("{}x");
	REFUSE("{} x");
	REFUSE("{}{}");
	REFUSE("{} {}");
	REFUSE("{}}");
	REFUSE("{\"a\":1}}");
	REFUSE("{},");
	REFUSE("\"a\"\"b\"");
	REFUSE("[1]]");
	REFUSE("{}\n\nx");
	REFUSE("[true]x");
}

static void test_parse_truncated(void **state)
{
	(void)state;
	REFUSE("{");
	REFUSE("{\"a\":1");
	REFUSE("{\"a\":");
	REFUSE("{\"a\"");
	REFUSE("[1,2");
	REFUSE("\"abc");
	REFUSE("[tru]");
	REFUSE("[nul]");
	REFUSE("[truex]");
}

static void test_parse_empty(void **state)
{
	struct json_object *o = (struct json_object *)(void *)&o;

	(void)state;
	assert_int_equal(json_parse("", 0, &o), AUTH_EINVAL);
	assert_null(o);
	/* Length zero wins even when the buffer holds a document. */
	o = (struct json_object *)(void *)&o;
	assert_int_equal(json_parse("{}", 0, &o), AUTH_EINVAL);
	assert_null(o);
	REFUSE(" ");
	REFUSE(" \n\t\r ");
}

static void test_parse_depth_at_limit(void **state)
{
	(void)state;
	assert_int_equal(parse_nested(JSON_MAX_DEPTH, 0, ""), AUTH_OK);
	assert_int_equal(parse_nested(JSON_MAX_DEPTH, 1, ""), AUTH_OK);
	assert_int_equal(parse_nested(JSON_MAX_DEPTH - 1, 0, "1"), AUTH_OK);
	assert_int_equal(parse_nested(JSON_MAX_DEPTH - 1, 1, "1"), AUTH_OK);
	assert_int_equal(parse_nested(1, 0, ""), AUTH_OK);
}

static void test_parse_depth_over_limit(void **state)
{
	(void)state;
	assert_int_equal(parse_nested(JSON_MAX_DEPTH + 1, 0, ""), AUTH_EINVAL);
	assert_int_equal(parse_nested(JSON_MAX_DEPTH + 1, 1, ""), AUTH_EINVAL);
	assert_int_equal(parse_nested(JSON_MAX_DEPTH + 1, 0, "1"),
	    AUTH_EINVAL);
	assert_int_equal(parse_nested(JSON_MAX_DEPTH + 2, 1, "\"x\""),
	    AUTH_EINVAL);
	/* Very deep input is refused, not a stack overflow. */
	assert_int_equal(parse_nested(100000, 0, ""), AUTH_EINVAL);
	assert_int_equal(parse_nested(20000, 1, ""), AUTH_EINVAL);
}

static void test_parse_valid_utf8(void **state)
{
	(void)state;
	ACCEPT("{\"a\":\"\xc3\xa9\"}");
	ACCEPT("{\"\xc3\xa9\":\"\xe2\x82\xac\xf0\x9f\x98\x80\"}");
	ACCEPT("\"\xf4\x8f\xbf\xbf\"");
}

static void test_parse_malformed_utf8(void **state)
{
	(void)state;
	REFUSE("{\"a\":\"\xc3\"}");             /* truncated */
	REFUSE("{\"a\":\"\xe2\x82\"}");
	REFUSE("{\"a\":\"\x80\"}");             /* lone continuation */
	REFUSE("{\"a\":\"\xff\"}");
	REFUSE("{\"a\":\"\xfe\xff\"}");
	REFUSE("{\"\xc3\":1}");                 /* in a key */
	REFUSE("\xef\xbb\xbf{}");               /* no BOM either */
}

/* Well-formed-looking but invalid UTF-8: the contract says "UTF-8
 * validated", which valid_utf8 defines as no overlongs, no surrogates,
 * nothing above U+10FFFF. */
static void test_parse_invalid_utf8_scalars(void **state)
{
	(void)state;
	REFUSE("{\"a\":\"\xc0\x80\"}");         /* overlong NUL */
	REFUSE("{\"a\":\"\xe0\x80\x80\"}");
	REFUSE("{\"a\":\"\xf0\x80\x80\x80\"}");
	REFUSE("{\"a\":\"\xed\xa0\x80\"}");     /* surrogate */
	REFUSE("{\"a\":\"\xf4\x90\x80\x80\"}"); /* above U+10FFFF */
	REFUSE("{\"\xc0\xaf\":1}");
}

static void test_parse_single_quotes(void **state)
{
	(void)state;
	REFUSE("{\"a\":'b'}");
	REFUSE("'abc'");
	REFUSE("['a']");
	REFUSE("{\"a\":\"\\'\"}");              /* no \' escape either */
	REFUSE("{'a':1}");                      /* single-quoted key */
	REFUSE("{'a':\"b\"}");
}

static void test_parse_comments(void **state)
{
	(void)state;
	REFUSE("/*c*/{}");
	REFUSE("{}/*c*/");
	REFUSE("{} /* */");
	REFUSE("{}//c");
	REFUSE("{}//c\n");
	REFUSE("{\"a\":1/*c*/}");
	REFUSE("{\"a\"://c\n1}");
	REFUSE("# c\n{}");
}

static void test_parse_trailing_commas(void **state)
{
	(void)state;
	REFUSE("{\"a\":1,}");
	REFUSE("[1,]");
	REFUSE("[1,,2]");
	REFUSE("[,1]");
	REFUSE("{,}");
	REFUSE("{\"a\":1,,\"b\":2}");
}

static void test_parse_nul_byte(void **state)
{
	(void)state;
	REFUSE("{}\0");
	REFUSE("\0{}");
	REFUSE("{\"a\":\"x\0y\"}");
	REFUSE("{\"a\":1\0}");
	REFUSE("{\"a\0\":1}");
	REFUSE("{} \0 ");
	/* The escaped form is valid JSON (json_get_string refuses it). */
	ACCEPT("{\"a\":\"\\u0000\"}");
}

static void test_parse_grammar_misc(void **state)
{
	(void)state;
	REFUSE("{a:1}");
	REFUSE("{\"a\" 1}");
	REFUSE("{\"a\":True}");
	REFUSE("{\"a\":01}");
	REFUSE("{\"a\":0x1}");
	REFUSE("{\"a\":+1}");
	REFUSE("{\"a\":.5}");
	REFUSE("{\"a\":\"\\x41\"}");
	REFUSE("{1:2}");
	REFUSE("[1 2]");
	ACCEPT("{\"a\":-0}");
	ACCEPT("{\"a\":1e5}");
	ACCEPT("{\"a\":1.5E-3}");
}

/* RFC 8259: no NaN/Infinity, a digit after the decimal point. */
static void test_parse_refuses_non_json_numbers(void **state)
{
	(void)state;
	REFUSE("{\"a\":nan}");
	REFUSE("{\"a\":NaN}");
	REFUSE("[NaN]");
	REFUSE("{\"a\":Infinity}");
	REFUSE("{\"a\":-Infinity}");
	REFUSE("{\"a\":1.}");
}

/* RFC 8259: U+0000..U+001F must be escaped inside strings. */
static void test_parse_refuses_raw_control_in_string(void **state)
{
	(void)state;
	REFUSE("{\"a\":\"x\ny\"}");
	REFUSE("{\"a\":\"x\ty\"}");
	REFUSE("{\"a\":\"\x01\"}");
	REFUSE("{\"a\":\"\x1f\"}");
	REFUSE("{\"x\ny\":1}");
}

/* ---- json_get_string ---- */

struct get {
	const char *out;
	size_t outlen;
	char detail[JSON_DETAIL_MAX];
};

static enum auth_err get(struct json_object *o, const char *field,
    size_t minlen, size_t maxlen, struct get *g)
{
	g->out = "untouched";
	g->outlen = 12345;
	memset(g->detail, 0, sizeof(g->detail));
	return json_get_string(o, field, minlen, maxlen, &g->out, &g->outlen,
	    g->detail, sizeof(g->detail));
}

static void assert_get_fails(struct json_object *o, const char *field,
    size_t minlen, size_t maxlen, const char *detail)
{
	struct get g;

	assert_int_equal(get(o, field, minlen, maxlen, &g), AUTH_EINVAL);
	assert_string_equal(g.detail, detail);
	/* Outputs are untouched on failure. */
	assert_string_equal(g.out, "untouched");
	assert_int_equal(g.outlen, 12345);
}

static void test_get_string_ok(void **state)
{
	struct json_object *o, *v;
	struct get g;

	(void)state;
	o = must_parse("{\"email\":\"a@x.com\",\"pw\":\"p\\\"w\\\\\\u00e9\"}");
	assert_int_equal(get(o, "email", 3, 254, &g), AUTH_OK);
	assert_string_equal(g.out, "a@x.com");
	assert_int_equal(g.outlen, 7);
	assert_string_equal(g.detail, "");
	/* *out points into obj. */
	assert_true(json_object_object_get_ex(o, "email", &v));
	assert_ptr_equal(g.out, json_object_get_string(v));

	/* Escapes are decoded; the length counts bytes. */
	assert_int_equal(get(o, "pw", 1, 100, &g), AUTH_OK);
	assert_int_equal(g.outlen, 6);
	assert_memory_equal(g.out, "p\"w\\\xc3\xa9", 7);
	json_object_put(o);
}

static void test_get_string_missing(void **state)
{
	struct json_object *o = must_parse("{\"email\":\"a@x.com\"}");

	(void)state;
	assert_get_fails(o, "password", 1, 10, "password: field required");
	assert_get_fails(o, "Email", 1, 10, "Email: field required");
	assert_get_fails(o, "", 1, 10, ": field required");
	json_object_put(o);

	o = must_parse("{}");
	assert_get_fails(o, "email", 1, 10, "email: field required");
	json_object_put(o);

	/* An explicit null is as good as missing. */
	o = must_parse("{\"email\":null}");
	assert_get_fails(o, "email", 1, 10, "email: field required");
	json_object_put(o);

	/* Not an object: no fields at all. */
	o = must_parse("[\"email\"]");
	assert_get_fails(o, "email", 1, 10, "email: field required");
	json_object_put(o);
}

static void test_get_string_wrong_type(void **state)
{
	struct json_object *o = must_parse("{\"n\":1,\"f\":1.5,\"b\":true,"
	    "\"a\":[\"x\"],\"o\":{\"x\":\"y\"},\"s\":\"1\"}");

	(void)state;
	assert_get_fails(o, "n", 0, 10, "n: must be a string");
	assert_get_fails(o, "f", 0, 10, "f: must be a string");
	assert_get_fails(o, "b", 0, 10, "b: must be a string");
	assert_get_fails(o, "a", 0, 10, "a: must be a string");
	assert_get_fails(o, "o", 0, 10, "o: must be a string");
	json_object_put(o);
}

static void test_get_string_length_bounds(void **state)
{
	struct json_object *o = must_parse("{\"p\":\"abc\",\"e\":\"\","
	    "\"u\":\"\xc3\xa9\xc3\xa9\"}");
	struct get g;

	(void)state;
	/* Inclusive at both ends. */
	assert_int_equal(get(o, "p", 3, 3, &g), AUTH_OK);
	assert_int_equal(g.outlen, 3);
	assert_int_equal(get(o, "p", 1, 5, &g), AUTH_OK);
	assert_get_fails(o, "p", 4, 10, "p: must be 4 to 10 bytes");
	assert_get_fails(o, "p", 1, 2, "p: must be 1 to 2 bytes");
	assert_get_fails(o, "p", 8, 72, "p: must be 8 to 72 bytes");

	/* Empty string: allowed only with minlen 0. */
	assert_int_equal(get(o, "e", 0, 5, &g), AUTH_OK);
	assert_int_equal(g.outlen, 0);
	assert_string_equal(g.out, "");
	assert_get_fails(o, "e", 1, 5, "e: must be 1 to 5 bytes");

	/* Bytes, not characters: two e-acute are 4 bytes. */
	assert_int_equal(get(o, "u", 4, 4, &g), AUTH_OK);
	assert_get_fails(o, "u", 1, 3, "u: must be 1 to 3 bytes");
	assert_get_fails(o, "u", 5, 9, "u: must be 5 to 9 bytes");
	json_object_put(o);
}

static void test_get_string_embedded_nul(void **state)
{
	struct json_object *o = must_parse("{\"a\":\"x\\u0000y\","
	    "\"b\":\"\\u0000\",\"c\":\"abc\\u0000\"}");

	(void)state;
	assert_get_fails(o, "a", 1, 10, "a: must not contain NUL");
	assert_get_fails(o, "b", 1, 10, "b: must not contain NUL");
	assert_get_fails(o, "c", 1, 10, "c: must not contain NUL");
	/* The length check counts the NUL and comes first. */
	assert_get_fails(o, "c", 1, 3, "c: must be 1 to 3 bytes");
	json_object_put(o);
}

static void test_get_string_detail_truncated(void **state)
{
	struct json_object *o = must_parse("{}");
	const char *out = NULL;
	size_t outlen = 0;
	char detail[8];

	(void)state;
	memset(detail, 'X', sizeof(detail));
	assert_int_equal(json_get_string(o, "password", 1, 10, &out, &outlen,
	    detail, sizeof(detail)), AUTH_EINVAL);
	assert_string_equal(detail, "passwor");
	json_object_put(o);
}

/* ---- json_compact ---- */

static void assert_compact(const char *in, const char *want)
{
	struct json_object *o = must_parse(in);
	size_t len = 0;
	const char *s = json_compact(o, &len);

	assert_non_null(s);
	assert_string_equal(s, want);
	assert_int_equal(len, strlen(want));
	json_object_put(o);
}

static void test_compact(void **state)
{
	(void)state;
	assert_compact("{}", "{}");
	assert_compact(" { \"a\" : [ 1 , 2 ] ,\n\t\"b\" : { } } ",
	    "{\"a\":[1,2],\"b\":{}}");
	/* Slashes are not escaped (NOSLASHESCAPE). */
	assert_compact("{\"u\":\"http://x/y\",\"v\":\"a\\/b\"}",
	    "{\"u\":\"http://x/y\",\"v\":\"a/b\"}");
	/* Key order is preserved. */
	assert_compact("{\"z\":1,\"a\":2,\"m\":3}", "{\"z\":1,\"a\":2,\"m\":3}");
	assert_compact("[true,false,null,\"\"]", "[true,false,null,\"\"]");
	/* Non-ASCII is emitted as UTF-8 bytes. */
	assert_compact("{\"e\":\"\\u00e9\"}", "{\"e\":\"\xc3\xa9\"}");
}

static void test_compact_escapes(void **state)
{
	struct json_object *o = json_object_new_object();
	struct json_object *back = NULL;
	size_t len = 0;
	const char *s;

	(void)state;
	assert_non_null(o);
	json_object_object_add(o, "s",
	    json_object_new_string("q\"b\\n\nt\tc\x01r\r"));
	s = json_compact(o, &len);
	assert_string_equal(s, "{\"s\":\"q\\\"b\\\\n\\nt\\tc\\u0001r\\r\"}");
	assert_int_equal(len, strlen(s));
	assert_null(memchr(s, '\n', len));
	/* What we emit, we accept back, equal. */
	assert_int_equal(json_parse(s, len, &back), AUTH_OK);
	assert_true(json_object_equal(o, back));
	json_object_put(back);
	json_object_put(o);
}

int main(void)
{
	const struct CMUnitTest json[] = {
		cmocka_unit_test(test_parse_object),
		cmocka_unit_test(test_parse_string),
		cmocka_unit_test(test_parse_top_level_scalars),
		cmocka_unit_test(test_parse_null),
		cmocka_unit_test(test_parse_whitespace),
		cmocka_unit_test(test_parse_trailing_garbage),
		cmocka_unit_test(test_parse_truncated),
		cmocka_unit_test(test_parse_empty),
		cmocka_unit_test(test_parse_depth_at_limit),
		cmocka_unit_test(test_parse_depth_over_limit),
		cmocka_unit_test(test_parse_valid_utf8),
		cmocka_unit_test(test_parse_malformed_utf8),
		cmocka_unit_test(test_parse_invalid_utf8_scalars),
		cmocka_unit_test(test_parse_single_quotes),
		cmocka_unit_test(test_parse_comments),
		cmocka_unit_test(test_parse_trailing_commas),
		cmocka_unit_test(test_parse_nul_byte),
		cmocka_unit_test(test_parse_grammar_misc),
		cmocka_unit_test(test_parse_refuses_non_json_numbers),
		cmocka_unit_test(test_parse_refuses_raw_control_in_string),
		cmocka_unit_test(test_get_string_ok),
		cmocka_unit_test(test_get_string_missing),
		cmocka_unit_test(test_get_string_wrong_type),
		cmocka_unit_test(test_get_string_length_bounds),
		cmocka_unit_test(test_get_string_embedded_nul),
		cmocka_unit_test(test_get_string_detail_truncated),
		cmocka_unit_test(test_compact),
		cmocka_unit_test(test_compact_escapes),
	};

	return cmocka_run_group_tests(json, NULL, NULL);
}
