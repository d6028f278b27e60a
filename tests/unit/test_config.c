/* test_config: settings from the environment, defaults, validation. */
#include "unit.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static const char *const all_vars[] = {
	"DATABASE_URL", "JWT_PRIVATE_KEY_PATH", "JWT_PUBLIC_KEY_PATH",
	"JWT_EXTRA_PUBLIC_KEYS", "JWT_ISS", "JWT_AUD", "PASSWORD_HASH",
	"ACCESS_TTL", "REFRESH_TTL", "BCRYPT_COST", "MAX_BODY_BYTES",
	"CLOCK_SKEW", "REFRESH_REUSE_INTERVAL", "LOGIN_MAX_FAILURES",
	"LOGIN_ADDR_MAX_FAILURES", "LOGIN_WINDOW", "DB_BUSY_TIMEOUT_MS",
	"FCGI_CHILDREN", "RUN_DIR", "LOG_REQUESTS", "REFRESH_TOKEN_SIGNING",
	"REFRESH_KEY_PATH", "REFRESH_EXTRA_KEYS",
};

#define N_VARS (sizeof(all_vars) / sizeof(all_vars[0]))

/* Start every test from an environment that sets none of them. */
static void clear_env(void)
{
	for (size_t i = 0; i < N_VARS; i++)
		assert_int_equal(unsetenv(all_vars[i]), 0);
}

static void set(const char *name, const char *val)
{
	assert_int_equal(setenv(name, val, 1), 0);
}

struct load {
	struct config cfg;
	char err[512];
	int rc;
};

static int load(struct load *l)
{
	memset(l->err, 0, sizeof(l->err));
	l->rc = config_load(&l->cfg, l->err, sizeof(l->err));
	return l->rc;
}

/* Load with name=val on top of defaults; expect success. */
static void load_ok_with(struct load *l, const char *name, const char *val)
{
	clear_env();
	set(name, val);
	if (load(l) != 0)
		fail_msg("%s='%s' refused: %s", name, val, l->err);
}

/* Load with name=val; expect failure with a message naming `names`. */
static void load_bad_with(const char *name, const char *val,
    const char *names)
{
	struct load l;
	size_t n = strlen(names);

	clear_env();
	set(name, val);
	if (load(&l) != -1)
		fail_msg("%s='%s' accepted", name, val);
	if (strncmp(l.err, names, n) != 0 || l.err[n] != ' ')
		fail_msg("%s='%s': message '%s' does not start with %s", name,
		    val, l.err, names);
}

/* ---- defaults ---- */

static void test_defaults(void **state)
{
	struct load l;

	(void)state;
	clear_env();
	assert_int_equal(load(&l), 0);
	assert_string_equal(l.err, "");
	assert_string_equal(l.cfg.database_url, "sqlite:///./auth.db");
	assert_string_equal(l.cfg.db_path, "./auth.db");
	assert_string_equal(l.cfg.private_key_path, "./keys/jwt_private.pem");
	assert_string_equal(l.cfg.public_key_path, "./keys/jwt_public.pem");
	assert_string_equal(l.cfg.extra_public_keys, "");
	assert_string_equal(l.cfg.refresh_token_signing, "rs256");
	assert_int_equal(l.cfg.refresh_signing, CONFIG_REFRESH_RS256);
	assert_string_equal(l.cfg.refresh_key_path, "./keys/refresh.key");
	assert_string_equal(l.cfg.refresh_extra_keys, "");
	assert_string_equal(l.cfg.iss, "taskhub-auth");
	assert_int_equal(l.cfg.iss_url, 0);
	assert_string_equal(l.cfg.aud, "");
	assert_string_equal(l.cfg.password_hash, "bcrypt");
	assert_int_equal(l.cfg.hash_method, CONFIG_HASH_BCRYPT);
	assert_int_equal(l.cfg.access_ttl, 900);
	assert_int_equal(l.cfg.refresh_ttl, 2592000);
	assert_int_equal(l.cfg.bcrypt_cost, 12);
	assert_int_equal(l.cfg.max_body_bytes, 65536);
	assert_int_equal(l.cfg.clock_skew, 30);
	assert_int_equal(l.cfg.refresh_reuse_interval, 0);
	assert_int_equal(l.cfg.login_max_failures, 10);
	assert_int_equal(l.cfg.login_addr_max_failures, 100);
	assert_int_equal(l.cfg.login_window, 900);
	assert_int_equal(l.cfg.db_busy_timeout_ms, 5000);
	assert_int_equal(l.cfg.fcgi_children, 2);
	assert_string_equal(l.cfg.run_dir, "./run");
	assert_string_equal(l.cfg.log_requests_name, "all");
	assert_int_equal(l.cfg.log_requests, CONFIG_LOG_REQUESTS_ALL);
}

static void test_values_from_environment(void **state)
{
	struct load l;

	(void)state;
	clear_env();
	set("DATABASE_URL", "sqlite:////var/lib/auth/auth.db");
	set("JWT_PRIVATE_KEY_PATH", "/k/priv.pem");
	set("JWT_PUBLIC_KEY_PATH", "/k/pub.pem");
	set("JWT_EXTRA_PUBLIC_KEYS", "/k/old1.pem:/k/old2.pem");
	set("JWT_ISS", "issuer");
	set("JWT_AUD", "audience");
	set("PASSWORD_HASH", "yescrypt");
	set("ACCESS_TTL", "60");
	set("REFRESH_TTL", "3600");
	set("BCRYPT_COST", "10");
	set("MAX_BODY_BYTES", "1024");
	set("CLOCK_SKEW", "0");
	set("REFRESH_REUSE_INTERVAL", "5");
	set("LOGIN_MAX_FAILURES", "3");
	set("LOGIN_ADDR_MAX_FAILURES", "50");
	set("LOGIN_WINDOW", "600");
	set("DB_BUSY_TIMEOUT_MS", "250");
	set("FCGI_CHILDREN", "8");
	set("RUN_DIR", "/run/auth");
	set("REFRESH_TOKEN_SIGNING", "hs256");
	set("REFRESH_KEY_PATH", "/k/refresh.key");
	set("REFRESH_EXTRA_KEYS", "/k/retired-refresh:/k/old.key");
	assert_int_equal(load(&l), 0);
	assert_string_equal(l.cfg.database_url,
	    "sqlite:////var/lib/auth/auth.db");
	assert_string_equal(l.cfg.db_path, "/var/lib/auth/auth.db");
	assert_string_equal(l.cfg.private_key_path, "/k/priv.pem");
	assert_string_equal(l.cfg.public_key_path, "/k/pub.pem");
	assert_string_equal(l.cfg.extra_public_keys, "/k/old1.pem:/k/old2.pem");
	assert_string_equal(l.cfg.iss, "issuer");
	assert_string_equal(l.cfg.aud, "audience");
	assert_string_equal(l.cfg.password_hash, "yescrypt");
	assert_int_equal(l.cfg.hash_method, CONFIG_HASH_YESCRYPT);
	assert_int_equal(l.cfg.access_ttl, 60);
	assert_int_equal(l.cfg.refresh_ttl, 3600);
	assert_int_equal(l.cfg.bcrypt_cost, 10);
	assert_int_equal(l.cfg.max_body_bytes, 1024);
	assert_int_equal(l.cfg.clock_skew, 0);
	assert_int_equal(l.cfg.refresh_reuse_interval, 5);
	assert_int_equal(l.cfg.login_max_failures, 3);
	assert_int_equal(l.cfg.login_addr_max_failures, 50);
	assert_int_equal(l.cfg.login_window, 600);
	assert_int_equal(l.cfg.db_busy_timeout_ms, 250);
	assert_int_equal(l.cfg.fcgi_children, 8);
	assert_string_equal(l.cfg.run_dir, "/run/auth");
	assert_int_equal(l.cfg.refresh_signing, CONFIG_REFRESH_HS256);
	assert_string_equal(l.cfg.refresh_key_path, "/k/refresh.key");
	assert_string_equal(l.cfg.refresh_extra_keys,
	    "/k/retired-refresh:/k/old.key");
	clear_env();
}

/* ---- integers ---- */

static void test_ttl_non_numeric(void **state)
{
	struct load l;

	(void)state;
	clear_env();
	set("ACCESS_TTL", "abc");
	assert_int_equal(load(&l), -1);
	assert_non_null(strstr(l.err, "ACCESS_TTL"));
	assert_int_equal(strncmp(l.err, "ACCESS_TTL must be an integer", 29),
	    0);
	/* The message gives the bounds. */
	assert_non_null(strstr(l.err, "1 and 86400"));
	load_bad_with("REFRESH_TTL", "two weeks", "REFRESH_TTL");
	clear_env();
}

static void test_integer_forms_refused(void **state)
{
	static const char *const bad[] = {
		"12abc", "-5", "", " 5", "5 ", "\t5", "5\n", "+5", "0x10",
		"1e3", "5.0", "5,0", "99999999999999999999",
		"-99999999999999999999", "9223372036854775808", "- 5", "--5",
		"\xd9\xa5",   /* ARABIC-INDIC DIGIT FIVE */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		load_bad_with("ACCESS_TTL", bad[i], "ACCESS_TTL");
		load_bad_with("REFRESH_TTL", bad[i], "REFRESH_TTL");
		load_bad_with("CLOCK_SKEW", bad[i], "CLOCK_SKEW");
	}
	clear_env();
}

/* Every integer setting: its bounds are inclusive and enforced. */
static const struct {
	const char *name;
	long min, max;
	size_t offset;
} long_settings[] = {
	{"ACCESS_TTL", 1, 86400, offsetof(struct config, access_ttl)},
	{"REFRESH_TTL", 60, 31536000, offsetof(struct config, refresh_ttl)},
	{"BCRYPT_COST", 4, 31, offsetof(struct config, bcrypt_cost)},
	{"MAX_BODY_BYTES", 256, 1048576,
	    offsetof(struct config, max_body_bytes)},
	{"CLOCK_SKEW", 0, 300, offsetof(struct config, clock_skew)},
	{"REFRESH_REUSE_INTERVAL", 0, 300,
	    offsetof(struct config, refresh_reuse_interval)},
	{"LOGIN_MAX_FAILURES", 1, 1000000,
	    offsetof(struct config, login_max_failures)},
	{"LOGIN_ADDR_MAX_FAILURES", 1, 1000000,
	    offsetof(struct config, login_addr_max_failures)},
	{"LOGIN_WINDOW", 1, 86400, offsetof(struct config, login_window)},
	{"DB_BUSY_TIMEOUT_MS", 0, 60000,
	    offsetof(struct config, db_busy_timeout_ms)},
	{"FCGI_CHILDREN", 1, 64, offsetof(struct config, fcgi_children)},
};

static void test_integer_bounds(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(long_settings) /
	    sizeof(long_settings[0]); i++) {
		const char *name = long_settings[i].name;
		long lo = long_settings[i].min, hi = long_settings[i].max;
		struct load l;
		char v[32];
		long got;

		snprintf(v, sizeof(v), "%ld", lo);
		load_ok_with(&l, name, v);
		memcpy(&got, (char *)&l.cfg + long_settings[i].offset,
		    sizeof(got));
		assert_int_equal(got, lo);

		snprintf(v, sizeof(v), "%ld", hi);
		load_ok_with(&l, name, v);
		memcpy(&got, (char *)&l.cfg + long_settings[i].offset,
		    sizeof(got));
		assert_int_equal(got, hi);

		snprintf(v, sizeof(v), "%ld", lo - 1);
		load_bad_with(name, v, name);
		snprintf(v, sizeof(v), "%ld", hi + 1);
		load_bad_with(name, v, name);
	}
	clear_env();
}

static void test_bcrypt_cost(void **state)
{
	struct load l;

	(void)state;
	load_bad_with("BCRYPT_COST", "3", "BCRYPT_COST");
	load_bad_with("BCRYPT_COST", "32", "BCRYPT_COST");
	load_bad_with("BCRYPT_COST", "0", "BCRYPT_COST");
	load_ok_with(&l, "BCRYPT_COST", "4");
	assert_int_equal(l.cfg.bcrypt_cost, 4);
	load_ok_with(&l, "BCRYPT_COST", "31");
	assert_int_equal(l.cfg.bcrypt_cost, 31);
	clear_env();
}

/* ---- strings ---- */

static void test_password_hash(void **state)
{
	struct load l;

	(void)state;
	load_bad_with("PASSWORD_HASH", "md5", "PASSWORD_HASH");
	load_bad_with("PASSWORD_HASH", "BCRYPT", "PASSWORD_HASH");
	load_bad_with("PASSWORD_HASH", "bcrypt ", "PASSWORD_HASH");
	load_bad_with("PASSWORD_HASH", "argon2id", "PASSWORD_HASH");
	load_bad_with("PASSWORD_HASH", "", "PASSWORD_HASH");
	load_bad_with("PASSWORD_HASH", "yescryptyescrypty", "PASSWORD_HASH");

	load_ok_with(&l, "PASSWORD_HASH", "yescrypt");
	assert_string_equal(l.cfg.password_hash, "yescrypt");
	assert_int_equal(l.cfg.hash_method, CONFIG_HASH_YESCRYPT);
	load_ok_with(&l, "PASSWORD_HASH", "bcrypt");
	assert_string_equal(l.cfg.password_hash, "bcrypt");
	assert_int_equal(l.cfg.hash_method, CONFIG_HASH_BCRYPT);
	clear_env();
}

/* LOG_REQUESTS: exactly one of three words; one line naming it else. */
static void test_log_requests(void **state)
{
	static const char *const bad[] = {
		"ALL", "none", "error", "errors ", "0", "1", "", "all,errors",
		"offoffoffoffoffoffoff",
	};
	struct load l;

	(void)state;
	load_ok_with(&l, "LOG_REQUESTS", "all");
	assert_int_equal(l.cfg.log_requests, CONFIG_LOG_REQUESTS_ALL);
	load_ok_with(&l, "LOG_REQUESTS", "errors");
	assert_int_equal(l.cfg.log_requests, CONFIG_LOG_REQUESTS_ERRORS);
	load_ok_with(&l, "LOG_REQUESTS", "off");
	assert_int_equal(l.cfg.log_requests, CONFIG_LOG_REQUESTS_OFF);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		load_bad_with("LOG_REQUESTS", bad[i], "LOG_REQUESTS");
	clear_env();
	set("LOG_REQUESTS", "verbose");
	assert_int_equal(load(&l), -1);
	assert_string_equal(l.err,
	    "LOG_REQUESTS must be all, errors or off (got 'verbose')");
	clear_env();
}

static void test_refresh_token_signing(void **state)
{
	struct load l;

	(void)state;
	load_bad_with("REFRESH_TOKEN_SIGNING", "HS256", "REFRESH_TOKEN_SIGNING");
	load_bad_with("REFRESH_TOKEN_SIGNING", "hs512", "REFRESH_TOKEN_SIGNING");
	load_bad_with("REFRESH_TOKEN_SIGNING", "none", "REFRESH_TOKEN_SIGNING");
	load_bad_with("REFRESH_TOKEN_SIGNING", "hs256 ",
	    "REFRESH_TOKEN_SIGNING");
	load_bad_with("REFRESH_TOKEN_SIGNING", "", "REFRESH_TOKEN_SIGNING");
	load_bad_with("REFRESH_TOKEN_SIGNING", "rs256rs256rs256rs",
	    "REFRESH_TOKEN_SIGNING");

	load_ok_with(&l, "REFRESH_TOKEN_SIGNING", "hs256");
	assert_int_equal(l.cfg.refresh_signing, CONFIG_REFRESH_HS256);
	load_ok_with(&l, "REFRESH_TOKEN_SIGNING", "rs256");
	assert_int_equal(l.cfg.refresh_signing, CONFIG_REFRESH_RS256);
	/* An empty retired-keys list is no list; an empty key path is no path. */
	load_ok_with(&l, "REFRESH_EXTRA_KEYS", "");
	assert_string_equal(l.cfg.refresh_extra_keys, "");
	load_bad_with("REFRESH_KEY_PATH", "", "REFRESH_KEY_PATH");
	clear_env();
}

static void assert_db_url(const char *url, const char *path)
{
	struct load l;

	load_ok_with(&l, "DATABASE_URL", url);
	assert_string_equal(l.cfg.database_url, url);
	assert_string_equal(l.cfg.db_path, path);
}

static void test_database_url_accepted(void **state)
{
	(void)state;
	assert_db_url("sqlite:///./auth.db", "./auth.db");
	assert_db_url("sqlite:////abs/x.db", "/abs/x.db");
	assert_db_url("sqlite:///rel/x.db", "rel/x.db");
	assert_db_url("sqlite+aiosqlite:///./a.db", "./a.db");
	assert_db_url("sqlite+aiosqlite:////abs/a.db", "/abs/a.db");
	assert_db_url("sqlite+pysqlite:///./p.db", "./p.db");
	assert_db_url("./bare.db", "./bare.db");
	assert_db_url("/abs/bare.db", "/abs/bare.db");
	assert_db_url("bare.db", "bare.db");
	clear_env();
}

static void test_database_url_refused(void **state)
{
	static const char *const bad[] = {
		"mysql://localhost/auth",
		"postgresql+as-yncpg://user@localhost/auth",
		"sqlite:///",
		"sqlite+aiosqlite:///",
		"sqlite:///./auth.db?mode=ro",
		"sqlite:///./auth.db?",
		"./auth.db?cache=shared",
		"sqlite://auth.db",
		"",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		load_bad_with("DATABASE_URL", bad[i], "DATABASE_URL");
	clear_env();
}

static void test_database_url_secret_not_echoed(void **state)
{
	struct load l;

	(void)state;
	clear_env();
	set("DATABASE_URL", "mysql://admin:s3cr3tpw@db.internal/auth");
	assert_int_equal(load(&l), -1);
	assert_non_null(strstr(l.err, "DATABASE_URL"));
	assert_null(strstr(l.err, "s3cr3tpw"));
	assert_null(strstr(l.err, "admin"));
	clear_env();
}

/* PostgreSQL in every form the contract lists; SQLAlchemy's +driver goes. */
static void test_database_url_postgres(void **state)
{
	static const char *const in[][2] = {
		{ "postgresql://u:p@h:5432/auth?sslmode=require",
		  "postgresql://u:p@h:5432/auth?sslmode=require" },
		{ "postgres://u@h/auth", "postgresql://u@h/auth" },
		{ "postgresql+asyncpg://u@h/auth", "postgresql://u@h/auth" },
		{ "postgresql+psycopg://u@h/auth", "postgresql://u@h/auth" },
		{ "postgres+psycopg2://u@h/auth", "postgresql://u@h/auth" },
		{ "host=/run/postgresql dbname=auth", "host=/run/postgresql dbname=auth" },
		{ "dbname=auth", "dbname=auth" },
	};
	enum db_engine engine = DB_SQLITE;
	char out[256];
	struct load l;

	(void)state;
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		assert_int_equal(config_db_target(in[i][0], &engine, out,
		    sizeof(out)), 0);
		assert_int_equal(engine, DB_POSTGRES);
		assert_string_equal(out, in[i][1]);
	}
	/* SQLite stays SQLite, and a target too long for its buffer is
	 * refused whole, never cut. */
	assert_int_equal(config_db_target("sqlite:///a.db", &engine, out,
	    sizeof(out)), 0);
	assert_int_equal(engine, DB_SQLITE);
	assert_string_equal(out, "a.db");
	assert_int_equal(config_db_target("postgres://u@h/auth", &engine, out,
	    16), -1);
	assert_int_equal(config_db_target("dbname=auth", &engine, out, 6), -1);
	load_ok_with(&l, "DATABASE_URL", "postgresql+asyncpg://u@h/auth");
	assert_int_equal(l.cfg.db_engine, DB_POSTGRES);
	assert_string_equal(l.cfg.db_path, "postgresql://u@h/auth");
	clear_env();
}

static void test_control_characters_refused(void **state)
{
	static const char *const names[] = {
		"DATABASE_URL", "JWT_PRIVATE_KEY_PATH", "JWT_PUBLIC_KEY_PATH",
		"JWT_EXTRA_PUBLIC_KEYS", "JWT_ISS", "JWT_AUD", "PASSWORD_HASH",
		"RUN_DIR",
	};
	static const char *const vals[] = {
		"a\nb", "a\rb", "a\tb", "\x01", "x\x1b[0m", "a\x7f", "a\x1f",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		for (size_t j = 0; j < sizeof(vals) / sizeof(vals[0]); j++) {
			struct load l;

			clear_env();
			set(names[i], vals[j]);
			if (load(&l) != -1)
				fail_msg("%s with control byte accepted",
				    names[i]);
			assert_int_equal(strncmp(l.err, names[i],
			    strlen(names[i])), 0);
			assert_non_null(strstr(l.err, "control"));
		}
	}
	clear_env();
}

static void test_string_lengths(void **state)
{
	char v[CONFIG_STR_MAX + 2];
	struct load l;

	(void)state;
	load_bad_with("JWT_ISS", "", "JWT_ISS");
	load_bad_with("JWT_PRIVATE_KEY_PATH", "", "JWT_PRIVATE_KEY_PATH");
	load_bad_with("JWT_PUBLIC_KEY_PATH", "", "JWT_PUBLIC_KEY_PATH");
	load_bad_with("RUN_DIR", "", "RUN_DIR");
	load_ok_with(&l, "JWT_AUD", "");
	assert_string_equal(l.cfg.aud, "");
	load_ok_with(&l, "JWT_EXTRA_PUBLIC_KEYS", "");
	assert_string_equal(l.cfg.extra_public_keys, "");

	memset(v, 'i', CONFIG_STR_MAX - 1);
	v[CONFIG_STR_MAX - 1] = '\0';
	load_ok_with(&l, "JWT_ISS", v);
	assert_int_equal(strlen(l.cfg.iss), CONFIG_STR_MAX - 1);
	v[CONFIG_STR_MAX - 1] = 'i';
	v[CONFIG_STR_MAX] = '\0';
	load_bad_with("JWT_ISS", v, "JWT_ISS");
	load_bad_with("JWT_AUD", v, "JWT_AUD");

	/* Non-ASCII UTF-8 is not a control character. */
	load_ok_with(&l, "JWT_ISS", "h\xc3\xa9lo");
	assert_string_equal(l.cfg.iss, "h\xc3\xa9lo");
	clear_env();
}

/* JWT_ISS as discovery's issuer URL: published as is, so exactly one form. */
static void test_iss_url(void **state)
{
	static const char *const urls[] = {
		"https://auth.example.com", "http://127.0.0.1:8080",
		"https://example.com/auth", "http://[::1]:8080",
		"https://example.com/a%20b",
	};
	static const char *const names[] = {
		"taskhub-auth", "urn:example:auth", "auth.example.com",
		"ftp://example.com", "https:/example.com",
	};
	static const char *const bad[] = {
		"https://auth.example.com/", "http://127.0.0.1:8080/",
		"https://example.com/auth/", "https://", "http://", "https:///x",
		"https://:443", "HTTPS://example.com", "Http://example.com",
		"https://example.com?x=1", "https://example.com#f",
		"https://user@example.com", "https://example.com/a b",
		"https://example.com/\"x", "https://example.com/<x>",
		"https://example.com/a\\b",
	};
	char why[160];
	struct load l;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		load_ok_with(&l, "JWT_ISS", urls[i]);
		assert_string_equal(l.cfg.iss, urls[i]);
		if (l.cfg.iss_url != 1)
			fail_msg("'%s' not taken for a URL", urls[i]);
	}
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		load_ok_with(&l, "JWT_ISS", names[i]);
		if (l.cfg.iss_url != 0)
			fail_msg("'%s' taken for a URL", names[i]);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		load_bad_with("JWT_ISS", bad[i], "JWT_ISS");
		assert_int_equal(config_iss_url(bad[i], why, sizeof(why)), -1);
		assert_null(strchr(why, '\n'));
	}
	/* The trailing slash is named, with the value, on one line. */
	clear_env();
	set("JWT_ISS", "https://auth.example.com/");
	assert_int_equal(load(&l), -1);
	assert_non_null(strstr(l.err, "must not end with '/'"));
	assert_non_null(strstr(l.err, "'https://auth.example.com/'"));
	assert_null(strchr(l.err, '\n'));
	clear_env();
}

/* "One line naming the setting": a bad value must not break the line,
 * even when the message quotes it. */
static void test_error_message_is_one_line(void **state)
{
	static const char *const vals[] = {
		"5\n", "5\nFATAL forged line", "5\r\n", "\x1b[2J5", "5\x7f",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		struct load l;

		clear_env();
		set("ACCESS_TTL", vals[i]);
		assert_int_equal(load(&l), -1);
		assert_int_equal(strncmp(l.err, "ACCESS_TTL ", 11), 0);
		for (const char *p = l.err; *p != '\0'; p++) {
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				fail_msg("control byte 0x%02x at offset %zu of "
				    "the message for value #%zu",
				    (unsigned char)*p, (size_t)(p - l.err), i);
		}
	}
	clear_env();
}

static void test_first_error_wins_and_err_truncated(void **state)
{
	struct config cfg;
	char err[12];

	(void)state;
	clear_env();
	set("ACCESS_TTL", "x");
	set("BCRYPT_COST", "x");
	memset(err, 'Z', sizeof(err));
	assert_int_equal(config_load(&cfg, err, sizeof(err)), -1);
	assert_string_equal(err, "ACCESS_TTL ");
	clear_env();
}

/* ---- config_parse_long ---- */

static void test_parse_long_bounds(void **state)
{
	long v = -42;

	(void)state;
	assert_int_equal(config_parse_long("0", 0, 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(config_parse_long("10", 0, 10, &v), 0);
	assert_int_equal(v, 10);
	assert_int_equal(config_parse_long("5", 5, 5, &v), 0);
	assert_int_equal(v, 5);
	assert_int_equal(config_parse_long("007", 0, 10, &v), 0);
	assert_int_equal(v, 7);

	v = -42;
	assert_int_equal(config_parse_long("11", 0, 10, &v), -1);
	assert_int_equal(config_parse_long("4", 5, 10, &v), -1);
	assert_int_equal(config_parse_long("6", 5, 5, &v), -1);
	/* min > max: nothing is in range. */
	assert_int_equal(config_parse_long("5", 6, 4, &v), -1);
	assert_int_equal(v, -42);
}

static void test_parse_long_overflow(void **state)
{
	char buf[32];
	long v = -42;

	(void)state;
	snprintf(buf, sizeof(buf), "%ld", LONG_MAX);
	assert_int_equal(config_parse_long(buf, 0, LONG_MAX, &v), 0);
	assert_true(v == LONG_MAX);
	v = -42;
	assert_int_equal(config_parse_long("9223372036854775808", 0, LONG_MAX,
	    &v), -1);
	assert_int_equal(config_parse_long("99999999999999999999", 0,
	    LONG_MAX, &v), -1);
	assert_int_equal(config_parse_long(
	    "18446744073709551616", 0, LONG_MAX, &v), -1);
	assert_int_equal(config_parse_long(
	    "100000000000000000000000000000000000000", 0, LONG_MAX, &v), -1);
	assert_int_equal(v, -42);
}

static void test_parse_long_syntax(void **state)
{
	static const char *const bad[] = {
		"", " ", " 1", "1 ", "1\n", "\n1", "+1", "-1", "-0", "1a",
		"a1", "0x1", "1e2", "1.0", ".1", "1_000", "1,000",
	};
	long v = -42;

	(void)state;
	assert_int_equal(config_parse_long(NULL, 0, 10, &v), -1);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (config_parse_long(bad[i], -100, 100, &v) != -1)
			fail_msg("'%s' accepted", bad[i]);
	}
	assert_int_equal(v, -42);
}

/* ---- config_db_path ---- */

static void test_db_path(void **state)
{
	char out[16];

	(void)state;
	memset(out, 'Z', sizeof(out));
	assert_int_equal(config_db_path("sqlite:///a.db", out, sizeof(out)),
	    0);
	assert_string_equal(out, "a.db");
	/* Capacity: the path and its NUL must fit. */
	assert_int_equal(config_db_path("sqlite:///abcdefgh", out, 9), 0);
	assert_string_equal(out, "abcdefgh");
	memset(out, 'Z', sizeof(out));
	assert_int_equal(config_db_path("sqlite:///abcdefgh", out, 8), -1);
	assert_int_equal(config_db_path("abcdefgh", out, 8), -1);
	assert_int_equal(config_db_path("abcdefg", out, 8), 0);
	assert_string_equal(out, "abcdefg");
	assert_int_equal(config_db_path("", out, sizeof(out)), -1);
	assert_int_equal(config_db_path("sqlite:///", out, sizeof(out)), -1);
	assert_int_equal(config_db_path("sqlite:///a?b", out, sizeof(out)),
	    -1);
	assert_int_equal(config_db_path("redis://x", out, sizeof(out)), -1);
}

static void test_db_path_too_long_url(void **state)
{
	char url[CONFIG_PATH_MAX + 32];
	struct load l;

	(void)state;
	/* The longest URL allowed (CONFIG_PATH_MAX - 1 bytes) is accepted. */
	memcpy(url, "sqlite:///", 10);
	memset(url + 10, 'p', CONFIG_PATH_MAX - 1 - 10);
	url[CONFIG_PATH_MAX - 1] = '\0';
	load_ok_with(&l, "DATABASE_URL", url);
	assert_int_equal(strlen(l.cfg.db_path), CONFIG_PATH_MAX - 1 - 10);
	/* A URL longer than CONFIG_PATH_MAX - 1 is refused. */
	memset(url + 10, 'p', CONFIG_PATH_MAX - 10);
	url[CONFIG_PATH_MAX] = '\0';
	load_bad_with("DATABASE_URL", url, "DATABASE_URL");
	clear_env();
}

int main(void)
{
	const struct CMUnitTest config[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_values_from_environment),
		cmocka_unit_test(test_ttl_non_numeric),
		cmocka_unit_test(test_integer_forms_refused),
		cmocka_unit_test(test_integer_bounds),
		cmocka_unit_test(test_bcrypt_cost),
		cmocka_unit_test(test_password_hash),
		cmocka_unit_test(test_log_requests),
		cmocka_unit_test(test_refresh_token_signing),
		cmocka_unit_test(test_database_url_accepted),
		cmocka_unit_test(test_database_url_refused),
		cmocka_unit_test(test_database_url_secret_not_echoed),
		cmocka_unit_test(test_database_url_postgres),
		cmocka_unit_test(test_control_characters_refused),
		cmocka_unit_test(test_string_lengths),
		cmocka_unit_test(test_iss_url),
		cmocka_unit_test(test_error_message_is_one_line),
		cmocka_unit_test(test_first_error_wins_and_err_truncated),
		cmocka_unit_test(test_parse_long_bounds),
		cmocka_unit_test(test_parse_long_overflow),
		cmocka_unit_test(test_parse_long_syntax),
		cmocka_unit_test(test_db_path),
		cmocka_unit_test(test_db_path_too_long_url),
	};

	return cmocka_run_group_tests(config, NULL, NULL);
}
