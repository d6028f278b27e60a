/* test_err: every auth_err maps to its documented status, detail, name. */
#include "unit.h"

#include <string.h>

#include "err.h"

static const struct {
	enum auth_err err;
	int status;
	const char *detail;
	const char *name;
} expected[] = {
	{AUTH_OK, 200, "ok", "OK"},
	{AUTH_EINVAL, 422, "invalid request", "EINVAL"},
	{AUTH_EEXISTS, 400, "email already registered", "EEXISTS"},
	{AUTH_ECREDS, 401, "invalid credentials", "ECREDS"},
	{AUTH_ETOKEN, 401, "invalid token", "ETOKEN"},
	{AUTH_EREVOKED, 401, "refresh token revoked or expired", "EREVOKED"},
	{AUTH_ENOAUTH, 401, "not authenticated", "ENOAUTH"},
	{AUTH_EFORBIDDEN, 403, "forbidden", "EFORBIDDEN"},
	{AUTH_ENOTFOUND, 404, "not found", "ENOTFOUND"},
	{AUTH_EMETHOD, 405, "method not allowed", "EMETHOD"},
	{AUTH_ETIMEOUT, 408, "request timeout", "ETIMEOUT"},
	{AUTH_ELENGTH, 411, "length required", "ELENGTH"},
	{AUTH_ETOOBIG, 413, "request body too large", "ETOOBIG"},
	{AUTH_ETHROTTLED, 429, "too many attempts", "ETHROTTLED"},
	{AUTH_EUNAVAIL, 503, "service unavailable", "EUNAVAIL"},
	{AUTH_EINTERNAL, 500, "internal error", "EINTERNAL"},
	{AUTH_EBADTOKEN, 400, "invalid or expired token", "EBADTOKEN"},
	{AUTH_ECONFLICT, 409, "conflict", "ECONFLICT"},
};

#define N_EXPECTED (sizeof(expected) / sizeof(expected[0]))

static void test_table_covers_every_value(void **state)
{
	(void)state;
	/* A new enum value must be added here (and to err.c's table). */
	assert_int_equal(N_EXPECTED, AUTH_ERR__MAX);
	assert_int_equal(AUTH_OK, 0);
	for (size_t i = 0; i < N_EXPECTED; i++)
		assert_int_equal(expected[i].err, (enum auth_err)i);
}

static void test_status(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_EXPECTED; i++) {
		int got = auth_err_status(expected[i].err);

		if (got != expected[i].status)
			fail_msg("%s: status %d, want %d", expected[i].name,
			    got, expected[i].status);
	}
}

static void test_detail(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_EXPECTED; i++) {
		const char *d = auth_err_detail(expected[i].err);

		assert_non_null(d);
		assert_true(d[0] != '\0');
		assert_string_equal(d, expected[i].detail);
	}
}

static void test_name(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_EXPECTED; i++) {
		const char *n = auth_strerror(expected[i].err);

		assert_non_null(n);
		assert_true(n[0] != '\0');
		assert_string_equal(n, expected[i].name);
	}
}

static void test_names_distinct(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_EXPECTED; i++)
		for (size_t j = i + 1; j < N_EXPECTED; j++)
			assert_string_not_equal(auth_strerror(expected[i].err),
			    auth_strerror(expected[j].err));
}

static void test_errors_are_not_2xx(void **state)
{
	(void)state;
	for (size_t i = 1; i < N_EXPECTED; i++) {
		int s = auth_err_status(expected[i].err);
		assert_in_range(s, 400, 599);
	}
}

static void test_out_of_range(void **state)
{
	static const int bad[] = {AUTH_ERR__MAX, AUTH_ERR__MAX + 1, 1000, -1,
	    -1000, 0x7fffffff, (int)0x80000000u};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		enum auth_err e = (enum auth_err)bad[i];

		assert_int_equal(auth_err_status(e), 500);
		assert_string_equal(auth_err_detail(e), "internal error");
		assert_string_equal(auth_strerror(e), "EUNKNOWN");
	}
}

int main(void)
{
	const struct CMUnitTest err[] = {
		cmocka_unit_test(test_table_covers_every_value),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_detail),
		cmocka_unit_test(test_name),
		cmocka_unit_test(test_names_distinct),
		cmocka_unit_test(test_errors_are_not_2xx),
		cmocka_unit_test(test_out_of_range),
	};

	return cmocka_run_group_tests(err, NULL, NULL);
}
