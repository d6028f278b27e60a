/*
 * config: one table of settings (name, type, default, bounds, field),
 * loaded once per process. A bad value is fatal at start, never at the
 * first request.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "netaddr.h"
#include "valid.h"

enum config_type {
	CONFIG_T_LONG,
	CONFIG_T_STR
};

struct config_def {
	const char *name;
	enum config_type type;
	const char *def;
	long min, max;            /* bounds for numbers, length for strings */
	size_t offset;
	int sensitive;            /* never echo the value in messages */
};

#define CFG_LONG(n, d, lo, hi, f) \
	{ n, CONFIG_T_LONG, d, lo, hi, offsetof(struct config, f), 0 }
#define CFG_STR(n, d, lo, hi, f, s) \
	{ n, CONFIG_T_STR, d, lo, hi, offsetof(struct config, f), s }

static const struct config_def config_table[] = {
	CFG_STR("DATABASE_URL", "sqlite:///./auth.db", 1, CONFIG_PATH_MAX - 1,
	    database_url, 1),
	CFG_STR("JWT_PRIVATE_KEY_PATH", "./keys/jwt_private.pem", 1,
	    CONFIG_PATH_MAX - 1, private_key_path, 0),
	CFG_STR("JWT_PUBLIC_KEY_PATH", "./keys/jwt_public.pem", 1,
	    CONFIG_PATH_MAX - 1, public_key_path, 0),
	CFG_STR("JWT_EXTRA_PUBLIC_KEYS", "", 0, 8L * CONFIG_PATH_MAX,
	    extra_public_keys, 0),
	CFG_STR("REFRESH_TOKEN_SIGNING", "rs256", 1, 16, refresh_token_signing,
	    0),
	CFG_STR("REFRESH_KEY_PATH", "./keys/refresh.key", 1,
	    CONFIG_PATH_MAX - 1, refresh_key_path, 0),
	CFG_STR("REFRESH_EXTRA_KEYS", "", 0, 8L * CONFIG_PATH_MAX,
	    refresh_extra_keys, 0),
	CFG_STR("MFA_KEY_PATH", "./keys/mfa.key", 1, CONFIG_PATH_MAX - 1,
	    mfa_key_path, 0),
	CFG_STR("MFA_ISSUER", "auth-svc", 1, 64, mfa_issuer, 0),
	CFG_STR("JWT_ISS", "taskhub-auth", 1, CONFIG_STR_MAX - 1, iss, 0),
	CFG_STR("JWT_AUD", "", 0, CONFIG_STR_MAX - 1, aud, 0),
	CFG_STR("PASSWORD_HASH", "bcrypt", 1, 16, password_hash, 0),
	CFG_LONG("ACCESS_TTL", "900", 1, 86400, access_ttl),
	CFG_LONG("REFRESH_TTL", "2592000", 60, 31536000, refresh_ttl),
	CFG_LONG("BCRYPT_COST", "12", 4, 31, bcrypt_cost),
	CFG_LONG("MAX_BODY_BYTES", "65536", 256, 1048576, max_body_bytes),
	CFG_LONG("CLOCK_SKEW", "30", 0, 300, clock_skew),
	CFG_LONG("REFRESH_REUSE_INTERVAL", "0", 0, 300,
	    refresh_reuse_interval),
	CFG_LONG("LOGIN_MAX_FAILURES", "10", 1, 1000000, login_max_failures),
	CFG_LONG("LOGIN_ADDR_MAX_FAILURES", "100", 1, 1000000,
	    login_addr_max_failures),
	CFG_LONG("LOGIN_WINDOW", "900", 1, 86400, login_window),
	CFG_LONG("REGISTER_ADDR_MAX", "100", 0, 1000000, register_addr_max),
	CFG_LONG("REGISTER_WINDOW", "3600", 1, 86400, register_window),
	CFG_LONG("READ_TIMEOUT", "10", 1, 300, read_timeout),
	CFG_STR("METRICS_ALLOW", "127.0.0.0/8,::1/128", 0, 4096,
	    metrics_allow, 0),
	CFG_LONG("DB_BUSY_TIMEOUT_MS", "5000", 0, 60000, db_busy_timeout_ms),
	CFG_LONG("FCGI_CHILDREN", "2", 1, 64, fcgi_children),
	CFG_STR("LOG_REQUESTS", "all", 1, 16, log_requests_name, 0),
	CFG_STR("RUN_DIR", "./run", 1, CONFIG_PATH_MAX - 64, run_dir, 0),
	CFG_LONG("RESET_TTL", "1800", 60, 86400, reset_ttl),
	CFG_LONG("VERIFY_TTL", "86400", 60, 2592000, verify_ttl),
	CFG_LONG("RESET_MAX", "3", 0, 1000000, reset_max),
	CFG_LONG("RESET_ADDR_MAX", "20", 0, 1000000, reset_addr_max),
	CFG_LONG("REQUIRE_VERIFIED_EMAIL", "0", 0, 1, require_verified_email),
	CFG_STR("RESET_URL", "", 0, 1024, reset_url, 0),
	CFG_STR("VERIFY_URL", "", 0, 1024, verify_url, 0),
	CFG_STR("MAIL_FROM", "auth-svc <no-reply@localhost>", 3, 254, mail_from,
	    0),
	CFG_STR("MAIL_COMMAND", "", 0, 4096, mail_command, 0),
	CFG_STR("MAIL_DIR", "", 0, CONFIG_PATH_MAX - 64, mail_dir, 0),
	CFG_LONG("MAIL_TIMEOUT", "30", 1, 3600, mail_timeout),
	CFG_LONG("MAIL_RETRY_BASE", "10", 1, 3600, mail_retry_base),
	CFG_LONG("MAIL_RETRY_MAX", "3600", 1, 86400, mail_retry_max),
	CFG_LONG("MAIL_POLL_MS", "1000", 50, 60000, mail_poll_ms),
};

int config_parse_long(const char *s, long min, long max, long *out)
{
	char *end = NULL;
	long v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int config_db_path(const char *url, char *out, size_t outcap)
{
	static const char *const prefixes[] = {
		"sqlite+aiosqlite:///", "sqlite+pysqlite:///", "sqlite:///",
	};
	const char *path = NULL;
	size_t i, n;

	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		n = strlen(prefixes[i]);
		if (strncmp(url, prefixes[i], n) == 0) {
			path = url + n;
			break;
		}
	}
	if (path == NULL) {
		/* A bare path is accepted; any other scheme is not SQLite. */
		if (strstr(url, "://") != NULL)
			return -1;
		path = url;
	}
	n = strlen(path);
	if (n == 0 || n >= outcap || strchr(path, '?') != NULL)
		return -1;
	memcpy(out, path, n + 1);
	return 0;
}

int config_db_target(const char *url, enum db_engine *engine, char *out,
    size_t outcap)
{
	static const char *const schemes[] = { "postgresql", "postgres" };
	const char *rest = NULL;
	size_t i, n;
	int len;

	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]) && rest == NULL;
	    i++) {
		n = strlen(schemes[i]);
		if (strncmp(url, schemes[i], n) != 0)
			continue;
		if (strncmp(url + n, "://", 3) == 0)
			rest = url + n + 3;
		else if (url[n] == '+' && strstr(url + n, "://") != NULL &&
		    strspn(url + n + 1, "abcdefghijklmnopqrstuvwxyz0123456789") ==
		    (size_t)(strstr(url + n, "://") - (url + n + 1)))
			rest = strstr(url + n, "://") + 3;
	}
	if (rest != NULL) {
		*engine = DB_POSTGRES;
		len = snprintf(out, outcap, "postgresql://%s", rest);
		return len > 0 && (size_t)len < outcap ? 0 : -1;
	}
	/* A libpq keyword string: it starts "keyword =" (host=, dbname=...). */
	n = strspn(url, " ");
	i = strspn(url + n, "abcdefghijklmnopqrstuvwxyz_");
	if (i > 0 && url[n + i + strspn(url + n + i, " ")] == '=') {
		*engine = DB_POSTGRES;
		len = snprintf(out, outcap, "%s", url);
		return len > 0 && (size_t)len < outcap ? 0 : -1;
	}
	*engine = DB_SQLITE;
	return config_db_path(url, out, outcap);
}

static int config_set(struct config *cfg, const struct config_def *d,
    const char *val, char *err, size_t errlen)
{
	char *field = (char *)cfg + d->offset;
	size_t len;

	if (d->type == CONFIG_T_LONG) {
		if (config_parse_long(val, d->min, d->max, (long *)field) != 0) {
			char shown[33];

			/* The message is one printable line, whatever val holds. */
			valid_printable(shown, sizeof(shown), val);
			snprintf(err, errlen, "%s must be an integer between "
			    "%ld and %ld (got '%s')", d->name, d->min, d->max,
			    d->sensitive ? "..." : shown);
			return -1;
		}
		return 0;
	}
	len = strlen(val);
	if ((long)len < d->min || (long)len > d->max) {
		snprintf(err, errlen, "%s must be %ld to %ld bytes long",
		    d->name, d->min, d->max);
		return -1;
	}
	for (const char *p = val; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			snprintf(err, errlen, "%s must not contain control "
			    "characters", d->name);
			return -1;
		}
	}
	*(const char **)(void *)field = val;
	return 0;
}

int config_iss_url(const char *iss, char *why, size_t whylen)
{
	/* RFC 3986 characters, less the query, fragment and userinfo ones. */
	static const char allowed[] = "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~:/%!$&'()*+,;=[]";
	const char *rest;
	size_t n;

	if (strncmp(iss, "https://", 8) == 0) {
		rest = iss + 8;
	} else if (strncmp(iss, "http://", 7) == 0) {
		rest = iss + 7;
	} else if (strncasecmp(iss, "https://", 8) == 0 ||
	    strncasecmp(iss, "http://", 7) == 0) {
		snprintf(why, whylen, "must write its scheme in lower case "
		    "(http:// or https://)");
		return -1;
	} else {
		return 0;   /* an issuer name, not a URL: no discovery */
	}
	n = strlen(rest);
	if (n == 0 || *rest == '/' || *rest == ':') {
		snprintf(why, whylen, "must name a host after the scheme");
		return -1;
	}
	if (rest[n - 1] == '/') {
		snprintf(why, whylen, "must not end with '/': set it to the URL "
		    "clients use, without the trailing slash");
		return -1;
	}
	if (strspn(rest, allowed) != n) {
		snprintf(why, whylen, "must not carry a query, a fragment, "
		    "user information or characters outside RFC 3986");
		return -1;
	}
	return 1;
}

int config_load(struct config *cfg, char *err, size_t errlen)
{
	size_t i;

	memset(cfg, 0, sizeof(*cfg));
	for (i = 0; i < sizeof(config_table) / sizeof(config_table[0]); i++) {
		const struct config_def *d = &config_table[i];
		const char *val = getenv(d->name);

		if (val == NULL)
			val = d->def;
		if (config_set(cfg, d, val, err, errlen) != 0)
			return -1;
	}
	if (config_db_target(cfg->database_url, &cfg->db_engine, cfg->db_path,
	    sizeof(cfg->db_path)) != 0) {
		snprintf(err, errlen, "DATABASE_URL must be sqlite:///<path>, "
		    "postgresql://... or a libpq keyword string");
		return -1;
	}
	if (strcmp(cfg->password_hash, "bcrypt") == 0) {
		cfg->hash_method = CONFIG_HASH_BCRYPT;
	} else if (strcmp(cfg->password_hash, "yescrypt") == 0) {
		cfg->hash_method = CONFIG_HASH_YESCRYPT;
	} else {
		snprintf(err, errlen, "PASSWORD_HASH must be bcrypt or yescrypt "
		    "(got '%.16s')", cfg->password_hash);
		return -1;
	}
	if (strcmp(cfg->log_requests_name, "all") == 0) {
		cfg->log_requests = CONFIG_LOG_REQUESTS_ALL;
	} else if (strcmp(cfg->log_requests_name, "errors") == 0) {
		cfg->log_requests = CONFIG_LOG_REQUESTS_ERRORS;
	} else if (strcmp(cfg->log_requests_name, "off") == 0) {
		cfg->log_requests = CONFIG_LOG_REQUESTS_OFF;
	} else {
		snprintf(err, errlen, "LOG_REQUESTS must be all, errors or off "
		    "(got '%.16s')", cfg->log_requests_name);
		return -1;
	}
	if (strcmp(cfg->refresh_token_signing, "rs256") == 0) {
		cfg->refresh_signing = CONFIG_REFRESH_RS256;
	} else if (strcmp(cfg->refresh_token_signing, "hs256") == 0) {
		cfg->refresh_signing = CONFIG_REFRESH_HS256;
	} else {
		snprintf(err, errlen, "REFRESH_TOKEN_SIGNING must be rs256 or "
		    "hs256 (got '%.16s')", cfg->refresh_token_signing);
		return -1;
	}
	{
		char why[160];
		int url = config_iss_url(cfg->iss, why, sizeof(why));

		if (url < 0) {
			char shown[CONFIG_STR_MAX];

			valid_printable(shown, sizeof(shown), cfg->iss);
			snprintf(err, errlen, "JWT_ISS %s (got '%s')", why, shown);
			return -1;
		}
		cfg->iss_url = url;
	}
	{
		char why[160];

		/* Parsed once here, so a typo stops start-up, not a scrape. */
		if (netaddr_list_parse(cfg->metrics_allow, &cfg->metrics_nets,
		    why, sizeof(why)) != 0) {
			snprintf(err, errlen, "METRICS_ALLOW: %s", why);
			return -1;
		}
	}
	/* A link template must say where the token goes. */
	if (cfg->reset_url[0] != '\0' && strstr(cfg->reset_url, "{token}") == NULL) {
		snprintf(err, errlen, "RESET_URL must contain {token}");
		return -1;
	}
	if (cfg->verify_url[0] != '\0' &&
	    strstr(cfg->verify_url, "{token}") == NULL) {
		snprintf(err, errlen, "VERIFY_URL must contain {token}");
		return -1;
	}
	if (strchr(cfg->mail_from, '@') == NULL) {
		snprintf(err, errlen, "MAIL_FROM must be an address, "
		    "e.g. 'auth-svc <no-reply@example.com>'");
		return -1;
	}
	return 0;
}
