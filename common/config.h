/* config: every setting, read once from the environment and validated. */
#ifndef AUTH_CONFIG_H
#define AUTH_CONFIG_H

#include <stddef.h>

#include "db.h"

#include "netaddr.h"

#define CONFIG_PATH_MAX 4096
#define CONFIG_STR_MAX 256

enum config_hash {
	CONFIG_HASH_BCRYPT,
	CONFIG_HASH_YESCRYPT
};

/* Which requests get an access line ("event":"request"). */
enum config_log_requests {
	CONFIG_LOG_REQUESTS_ALL,
	CONFIG_LOG_REQUESTS_ERRORS,      /* status >= 400 only */
	CONFIG_LOG_REQUESTS_OFF
};

/* How refresh tokens are signed (REFRESH_TOKEN_SIGNING). */
enum config_refresh_signing {
	CONFIG_REFRESH_RS256,        /* the contract's, as the original */
	CONFIG_REFRESH_HS256         /* a MAC under REFRESH_KEY_PATH */
};

struct config {
	const char *database_url;
	enum db_engine db_engine;        /* derived from database_url */
	char db_path[CONFIG_PATH_MAX];   /* SQLite file, or libpq conninfo */
	const char *private_key_path;
	const char *public_key_path;
	const char *extra_public_keys;   /* colon-separated, may be "" */
	const char *refresh_token_signing; /* "rs256" or "hs256" */
	enum config_refresh_signing refresh_signing; /* derived from it */
	const char *refresh_key_path;    /* HS256 refresh key, base64url */
	const char *refresh_extra_keys;  /* retired ones, colon-separated */
	const char *mfa_key_path;        /* seals TOTP secrets, base64url */
	const char *mfa_issuer;          /* otpauth:// issuer, apps show it */
	const char *iss;
	int iss_url;                     /* derived: JWT_ISS is an http(s) URL */
	const char *aud;                 /* "" when unset */
	const char *password_hash;       /* "bcrypt" or "yescrypt" */
	enum config_hash hash_method;    /* derived from password_hash */
	long access_ttl;
	long refresh_ttl;
	long bcrypt_cost;
	long max_body_bytes;
	long clock_skew;
	long refresh_reuse_interval;
	long login_max_failures;
	long login_addr_max_failures;
	long login_window;
	long register_addr_max;          /* registrations per address; 0: off */
	long register_window;
	long read_timeout;               /* seconds a request body may take */
	const char *metrics_allow;       /* client networks allowed /metrics */
	struct netaddr_list metrics_nets; /* derived from metrics_allow */
	long db_busy_timeout_ms;
	long fcgi_children;              /* worker processes per endpoint */
	const char *log_requests_name;   /* "all", "errors" or "off" */
	enum config_log_requests log_requests;  /* derived from it */
	const char *run_dir;             /* sockets, pids, metrics segment */
	/* Accounts (API.md Part 2): one-time tokens, throttles, mail. */
	long reset_ttl;
	long verify_ttl;
	long reset_max;                  /* forgot: messages per email per hour */
	long reset_addr_max;             /* forgot, reset, verify: per address */
	long require_verified_email;     /* 1: login 403 until verified */
	const char *reset_url;           /* link template with {token}; "" */
	const char *verify_url;          /* "": no message at registration */
	const char *mail_from;
	const char *mail_command;        /* "": the .eml outbox in mail_dir */
	const char *mail_dir;            /* "": RUN_DIR/mail */
	long mail_timeout;               /* seconds one MAIL_COMMAND may run */
	long mail_retry_base;            /* first retry after this, doubling */
	long mail_retry_max;
	long mail_poll_ms;               /* how often the mailer looks */
};

/*
 * Fill cfg from the environment (defaults for unset variables). On a bad
 * value, writes one line naming the setting into err and returns -1.
 * String fields point into the environment or static defaults: do not
 * free them, and do not modify the environment while cfg is in use.
 */
int config_load(struct config *cfg, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/*
 * Whether JWT_ISS is this service's URL, as discovery publishes it:
 * 1 for http:// or https:// followed by a host and no trailing '/',
 * query, fragment or userinfo; 0 for an issuer that is no URL at all
 * (e.g. the default "taskhub-auth"); -1, with the reason in why, for a
 * value that starts like a URL but is not one discovery could publish.
 */
int config_iss_url(const char *iss, char *why, size_t whylen)
    __attribute__((warn_unused_result));

/*
 * Parse a whole decimal integer in [min, max]; no sign games, no
 * trailing bytes, no overflow. Returns 0 and sets *out, or -1.
 */
int config_parse_long(const char *s, long min, long max, long *out)
    __attribute__((warn_unused_result));

/*
 * Map a DATABASE_URL (sqlite:///rel/path, sqlite:////abs/path, the
 * original's sqlite+aiosqlite:// form, or a bare path) to a file path.
 * Returns 0, or -1 if the URL names another database or is too long.
 */
int config_db_path(const char *url, char *out, size_t outcap)
    __attribute__((warn_unused_result));

/*
 * The engine and target of a DATABASE_URL: SQLite as config_db_path; or
 * PostgreSQL for postgresql://, postgres:// and the original's
 * SQLAlchemy forms postgresql+asyncpg:// / postgresql+psycopg:// (the
 * +driver part is dropped: libpq takes the rest as it is), or a libpq
 * keyword string ("host=/run/postgresql dbname=auth"). Returns 0, or -1
 * for another scheme or a target longer than outcap.
 */
int config_db_target(const char *url, enum db_engine *engine, char *out,
    size_t outcap) __attribute__((warn_unused_result));

#endif
