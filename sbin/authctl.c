/*
 * authctl: the operator's command, on the service's own DATABASE_URL
 * (SQLite or PostgreSQL) through store.c, so every query is a prepared
 * statement and a revocation reaches every process and node as the
 * endpoints' own do.
 *
 *   authctl [--json] users [--email PATTERN] [--limit N] [--offset N]
 *   authctl [--json] show EMAIL
 *   authctl [--json] disable EMAIL | enable EMAIL | delete EMAIL
 *   authctl [--json] revoke-sessions EMAIL | reset-mfa EMAIL
 *
 * Settings come from the environment and then ENV_FILE (default .env),
 * as the scripts read them. Every command that may change something
 * writes one audit line ("admin_<command>") to the service's JSON log,
 * LOG_FILE (default RUN_DIR/auth.log), before it answers.
 * Exit status: 0 done; 1 no account with that email (nothing changed);
 * 2 bad usage, input or settings (nothing changed); 3 the database is
 * unavailable, its schema older than 005, or the log cannot be written.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "store.h"
#include "valid.h"

#define AUTHCTL_SCHEMA "005"          /* the first with users.disabled */
#define AUTHCTL_LIMIT_DEFAULT 50
#define AUTHCTL_LIMIT_MAX 1000
#define AUTHCTL_OFFSET_MAX 1000000000L
#define AUTHCTL_LINE_MAX 4096

enum authctl_exit {
	AUTHCTL_OK = 0,
	AUTHCTL_NOTFOUND = 1,
	AUTHCTL_USAGE = 2,
	AUTHCTL_UNAVAIL = 3
};

enum authctl_cmd {
	CMD_USERS,
	CMD_SHOW,
	CMD_DISABLE,
	CMD_ENABLE,
	CMD_DELETE,
	CMD_REVOKE,
	CMD_RESET_MFA,
	CMD__MAX
};

/* Every command after show may change something: it is audited. */
static const struct {
	const char *name;
} authctl_cmds[CMD__MAX] = {
	[CMD_USERS] = { "users" },
	[CMD_SHOW] = { "show" },
	[CMD_DISABLE] = { "disable" },
	[CMD_ENABLE] = { "enable" },
	[CMD_DELETE] = { "delete" },
	[CMD_REVOKE] = { "revoke-sessions" },
	[CMD_RESET_MFA] = { "reset-mfa" },
};

struct authctl {
	enum authctl_cmd cmd;
	int json;
	const char *email_arg;       /* as given */
	char email[VALID_EMAIL_MAX + 1];   /* normalized */
	char like[2 * VALID_EMAIL_MAX + 2];
	long limit;
	long offset;
	struct config cfg;
	struct store *store;
};

static const char authctl_usage[] =
    "usage: authctl [--json] users [--email PATTERN] [--limit N] [--offset N]"
    " | show|disable|enable|delete|revoke-sessions|reset-mfa EMAIL";

/* One line on stderr; the value is code. The format is a literal. */
#define authctl_fail(code, ...) \
	(fprintf(stderr, "authctl: " __VA_ARGS__), fputc('\n', stderr), (code))

/*
 * Load KEY=VALUE lines of path into the environment without overriding
 * what is set, by the rules of scripts/lib.sh env_load: blank lines and
 * '#' lines skipped, keys [A-Z_][A-Z0-9_]*, a trailing " # comment" and
 * trailing blanks dropped, one pair of surrounding quotes removed.
 */
static void authctl_env_load(const char *path)
{
	char line[AUTHCTL_LINE_MAX];
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *eq, *val, *p;
		size_t n = strcspn(line, "\r\n");

		line[n] = '\0';
		if (line[0] == '\0' || line[0] == '#' ||
		    (eq = strchr(line, '=')) == NULL)
			continue;
		*eq = '\0';
		val = eq + 1;
		if (!(isupper((unsigned char)line[0]) || line[0] == '_'))
			continue;
		for (p = line; *p != '\0'; p++)
			if (!isupper((unsigned char)*p) &&
			    !isdigit((unsigned char)*p) && *p != '_')
				break;
		if (*p != '\0')
			continue;
		for (p = val; *p != '\0'; p++)
			if (isspace((unsigned char)*p) && p[1] == '#') {
				*p = '\0';
				break;
			}
		n = strlen(val);
		while (n > 0 && isspace((unsigned char)val[n - 1]))
			val[--n] = '\0';
		if (n >= 2 && (val[0] == '"' || val[0] == '\'') &&
		    val[n - 1] == val[0]) {
			val[n - 1] = '\0';
			val++;
		}
		(void)setenv(line, val, 0);
	}
	fclose(f);
}

/*
 * A shell-style pattern (`*` any run, `?` one character; anything else
 * itself) as an SQL LIKE pattern with '\' escaping into out, lower-cased
 * as stored emails are. -1 on control bytes or length.
 */
static int authctl_like(const char *glob, char *out, size_t cap)
{
	size_t i, o = 0, n = strlen(glob);

	if (n == 0 || n > VALID_EMAIL_MAX || !valid_utf8(glob, n))
		return -1;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)glob[i];

		if (c < 0x20 || c == 0x7f || o + 3 > cap)
			return -1;
		if (c == '*') {
			out[o++] = '%';
		} else if (c == '?') {
			out[o++] = '_';
		} else {
			if (c == '%' || c == '_' || c == '\\')
				out[o++] = '\\';
			out[o++] = (char)tolower(c);
		}
	}
	out[o] = '\0';
	return 0;
}

/* Parse argv into a; one line and AUTHCTL_USAGE on anything wrong. */
static int authctl_args(struct authctl *a, int argc, char **argv)
{
	const char *pattern = NULL, *cmd = NULL;
	int i, c;

	a->limit = AUTHCTL_LIMIT_DEFAULT;
	a->offset = 0;
	for (i = 1; i < argc; i++) {
		const char *arg = argv[i];

		if (strcmp(arg, "--json") == 0) {
			a->json = 1;
		} else if (strcmp(arg, "--email") == 0 ||
		    strcmp(arg, "--limit") == 0 || strcmp(arg, "--offset") == 0) {
			char shown[64];

			if (cmd == NULL || a->cmd != CMD_USERS)
				return authctl_fail(AUTHCTL_USAGE, "%s: only for "
				    "users; %s", arg, authctl_usage);
			if (i + 1 >= argc)
				return authctl_fail(AUTHCTL_USAGE, "%s needs a "
				    "value", arg);
			valid_printable(shown, sizeof(shown), argv[i + 1]);
			if (strcmp(arg, "--email") == 0) {
				pattern = argv[++i];
			} else if (strcmp(arg, "--limit") == 0) {
				if (config_parse_long(argv[++i], 1,
				    AUTHCTL_LIMIT_MAX, &a->limit) != 0)
					return authctl_fail(AUTHCTL_USAGE, "--limit "
					    "%s: must be a whole number from 1 to %d",
					    shown, AUTHCTL_LIMIT_MAX);
			} else if (config_parse_long(argv[++i], 0,
			    AUTHCTL_OFFSET_MAX, &a->offset) != 0) {
				return authctl_fail(AUTHCTL_USAGE, "--offset %s: "
				    "must be a whole number from 0 to %ld", shown,
				    AUTHCTL_OFFSET_MAX);
			}
		} else if (arg[0] == '-') {
			char shown[64];

			valid_printable(shown, sizeof(shown), arg);
			return authctl_fail(AUTHCTL_USAGE, "unknown option %s; %s",
			    shown, authctl_usage);
		} else if (cmd == NULL) {
			for (c = 0; c < CMD__MAX; c++)
				if (strcmp(arg, authctl_cmds[c].name) == 0)
					break;
			if (c == CMD__MAX) {
				char shown[64];

				valid_printable(shown, sizeof(shown), arg);
				return authctl_fail(AUTHCTL_USAGE, "unknown command "
				    "%s; %s", shown, authctl_usage);
			}
			cmd = arg;
			a->cmd = (enum authctl_cmd)c;
		} else if (a->cmd != CMD_USERS && a->email_arg == NULL) {
			a->email_arg = arg;
		} else {
			char shown[64];

			valid_printable(shown, sizeof(shown), arg);
			return authctl_fail(AUTHCTL_USAGE, "unexpected argument %s; "
			    "%s", shown, authctl_usage);
		}
	}
	if (cmd == NULL)
		return authctl_fail(AUTHCTL_USAGE, "%s", authctl_usage);
	if (a->cmd == CMD_USERS) {
		if (authctl_like(pattern != NULL ? pattern : "*", a->like,
		    sizeof(a->like)) != 0)
			return authctl_fail(AUTHCTL_USAGE, "--email: a pattern of "
			    "1 to %d printable characters", VALID_EMAIL_MAX);
		return AUTHCTL_OK;
	}
	if (a->email_arg == NULL)
		return authctl_fail(AUTHCTL_USAGE, "%s needs an EMAIL",
		    authctl_cmds[a->cmd].name);
	{
		const char *why = NULL;

		if (valid_email(a->email_arg, strlen(a->email_arg), a->email,
		    &why) != 0) {
			char shown[64];

			valid_printable(shown, sizeof(shown), a->email_arg);
			return authctl_fail(AUTHCTL_USAGE, "%s: not an email "
			    "address (%s)", shown, why);
		}
	}
	return AUTHCTL_OK;
}

/* "2026-12-01 05:24:56Z" of t into buf (16 + bytes), "-" for 0. */
static const char *authctl_time(int64_t t, char *buf, size_t cap)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (t <= 0 || gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, cap, "%Y-%m-%d %H:%M:%SZ", &tm) == 0)
		snprintf(buf, cap, "-");
	return buf;
}

/* enum store_mfa_state as authctl says it. */
static const char *const authctl_mfa_names[] = {
	[STORE_MFA_NONE] = "none",
	[STORE_MFA_PENDING] = "pending",
	[STORE_MFA_ENABLED] = "totp",
};

static struct json_object *authctl_user_json(const struct store_user *u)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_string(u->id));
	json_object_object_add(o, "email", json_object_new_string(u->email));
	json_object_object_add(o, "created_at",
	    json_object_new_int64(u->created_at));
	json_object_object_add(o, "disabled",
	    json_object_new_boolean(u->disabled));
	json_object_object_add(o, "disabled_at", u->disabled ?
	    json_object_new_int64(u->disabled_at) : NULL);
	json_object_object_add(o, "sessions", json_object_new_int64(u->sessions));
	json_object_object_add(o, "mfa", json_object_new_string(
	    authctl_mfa_names[u->mfa]));
	return o;
}

static void authctl_print_json(struct json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

static int authctl_users(struct authctl *a)
{
	struct store_user *rows = calloc((size_t)a->limit, sizeof(*rows));
	size_t i, n = 0, w = 5;
	enum auth_err rc;
	char created[32];

	if (rows == NULL)
		return authctl_fail(AUTHCTL_UNAVAIL, "out of memory");
	rc = store_users(a->store, a->like, (int64_t)time(NULL), a->limit,
	    a->offset, rows, (size_t)a->limit, &n);
	if (rc != AUTH_OK) {
		free(rows);
		return authctl_fail(AUTHCTL_UNAVAIL, "database: %s",
		    auth_err_detail(rc));
	}
	if (a->json) {
		struct json_object *arr = json_object_new_array();

		for (i = 0; i < n; i++)
			json_object_array_add(arr, authctl_user_json(&rows[i]));
		authctl_print_json(arr);
		free(rows);
		return AUTHCTL_OK;
	}
	for (i = 0; i < n; i++)
		if (strlen(rows[i].email) > w)
			w = strlen(rows[i].email);
	printf("%-*s  %-8s  %8s  %-20s  %s\n", (int)w, "EMAIL", "STATUS",
	    "SESSIONS", "CREATED", "ID");
	for (i = 0; i < n; i++)
		printf("%-*s  %-8s  %8lld  %-20s  %s\n", (int)w, rows[i].email,
		    rows[i].disabled ? "disabled" : "active",
		    (long long)rows[i].sessions,
		    authctl_time(rows[i].created_at, created, sizeof(created)),
		    rows[i].id);
	free(rows);
	return AUTHCTL_OK;
}

static int authctl_show(struct authctl *a)
{
	struct store_user u;
	char t1[32], t2[32];
	enum auth_err rc = store_user_show(a->store, a->email,
	    (int64_t)time(NULL), &u);

	if (rc == AUTH_ENOTFOUND)
		return authctl_fail(AUTHCTL_NOTFOUND, "%s: no such account",
		    a->email);
	if (rc != AUTH_OK)
		return authctl_fail(AUTHCTL_UNAVAIL, "database: %s",
		    auth_err_detail(rc));
	if (a->json) {
		authctl_print_json(authctl_user_json(&u));
		return AUTHCTL_OK;
	}
	printf("email:        %s\nid:           %s\ncreated:      %s\n"
	    "status:       %s\ndisabled at:  %s\nlive sessions: %lld\n"
	    "second factor: %s\n", u.email, u.id,
	    authctl_time(u.created_at, t1, sizeof(t1)),
	    u.disabled ? "disabled" : "active",
	    authctl_time(u.disabled ? u.disabled_at : 0, t2, sizeof(t2)),
	    (long long)u.sessions, authctl_mfa_names[u.mfa]);
	return AUTHCTL_OK;
}

/* Who ran the command, for the audit line: the login behind sudo too. */
static const char *authctl_operator(char *buf, size_t cap)
{
	const char *sudo = getenv("SUDO_USER");
	struct passwd *pw = getpwuid(getuid());

	snprintf(buf, cap, "%s%s%s", pw != NULL ? pw->pw_name : "?",
	    sudo != NULL ? " via sudo from " : "", sudo != NULL ? sudo : "");
	return buf;
}

/*
 * Make fd 2 the service's log for one audit line and back: LOG_FILE
 * (default RUN_DIR/auth.log); /dev/stderr (a journal setup) keeps our
 * own stderr. -1 when the log cannot be opened: then nothing is changed.
 */
static int authctl_log_open(const struct authctl *a)
{
	const char *file = getenv("LOG_FILE");
	char path[CONFIG_PATH_MAX];

	if (file != NULL && strcmp(file, "/dev/stderr") == 0)
		return -2;
	if (file == NULL || file[0] == '\0') {
		if (snprintf(path, sizeof(path), "%s/auth.log", a->cfg.run_dir) >=
		    (int)sizeof(path))
			return -1;
		file = path;
	}
	return open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
}

/* Write the audit line of a change to logfd (-2: our stderr). */
static void authctl_audit(const struct authctl *a, int logfd,
    const struct store_admin_result *r)
{
	char op[128], event[32];
	int saved = -1;

	snprintf(event, sizeof(event), "admin_%s", authctl_cmds[a->cmd].name);
	for (char *p = event; *p != '\0'; p++)
		if (*p == '-')
			*p = '_';
	if (logfd >= 0) {
		fflush(stderr);
		saved = dup(2);
		if (saved < 0 || dup2(logfd, 2) < 0) {
			if (saved >= 0)
				close(saved);
			saved = -1;
		}
		log_output_changed();
	}
	log_event(LOG_INFO, event, LOG_STR("user_id", r->user_id),
	    LOG_INT("changed", r->changed), LOG_INT("sessions", r->sessions),
	    LOG_STR("operator", authctl_operator(op, sizeof(op))));
	if (saved >= 0) {
		dup2(saved, 2);
		close(saved);
		log_output_changed();
	}
}

static int authctl_change(struct authctl *a)
{
	static const enum store_admin_op ops[CMD__MAX] = {
		[CMD_DISABLE] = STORE_ADMIN_DISABLE,
		[CMD_ENABLE] = STORE_ADMIN_ENABLE,
		[CMD_DELETE] = STORE_ADMIN_DELETE,
		[CMD_REVOKE] = STORE_ADMIN_REVOKE,
		[CMD_RESET_MFA] = STORE_ADMIN_RESET_MFA,
	};
	struct store_admin_result r;
	enum auth_err rc;
	int logfd = authctl_log_open(a), code = AUTHCTL_OK;
	const char *name = authctl_cmds[a->cmd].name;

	if (logfd == -1)
		return authctl_fail(AUTHCTL_UNAVAIL, "cannot open the log (LOG_FILE"
		    " or RUN_DIR/auth.log): %s; nothing changed", strerror(errno));
	memset(&r, 0, sizeof(r));
	rc = store_user_admin(a->store, ops[a->cmd], a->email,
	    (int64_t)time(NULL), &r);
	if (rc == AUTH_ENOTFOUND) {
		code = authctl_fail(AUTHCTL_NOTFOUND, "%s: no such account; "
		    "nothing changed", a->email);
		goto out;
	}
	if (rc != AUTH_OK) {
		code = authctl_fail(AUTHCTL_UNAVAIL, "database: %s; nothing "
		    "changed", auth_err_detail(rc));
		goto out;
	}
	authctl_audit(a, logfd, &r);
	if (a->json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "command", json_object_new_string(name));
		json_object_object_add(o, "email", json_object_new_string(a->email));
		json_object_object_add(o, "user_id",
		    json_object_new_string(r.user_id));
		json_object_object_add(o, "changed",
		    json_object_new_boolean(r.changed));
		json_object_object_add(o, "sessions_revoked",
		    json_object_new_int64(r.sessions));
		authctl_print_json(o);
		goto out;
	}
	switch (a->cmd) {
	case CMD_DISABLE:
		printf(r.changed ? "disabled %s; %ld live session(s) revoked\n" :
		    "%s was already disabled; %ld live session(s) revoked\n",
		    a->email, r.sessions);
		break;
	case CMD_ENABLE:
		printf(r.changed ? "enabled %s (its old sessions stay revoked)\n" :
		    "%s was not disabled; nothing changed\n", a->email);
		break;
	case CMD_DELETE:
		printf("deleted %s (id %s) with its sessions and tokens; %ld were "
		    "live\n", a->email, r.user_id, r.sessions);
		break;
	case CMD_REVOKE:
		printf("revoked %ld live session(s) of %s\n", r.sessions, a->email);
		break;
	default:
		printf(r.changed ? "second factor of %s removed; %ld live "
		    "session(s) revoked\n" : "%s had no second factor; %ld live "
		    "session(s) revoked\n", a->email, r.sessions);
		break;
	}
out:
	if (logfd >= 0)
		close(logfd);
	return code;
}

int main(int argc, char **argv)
{
	struct authctl a;
	const char *env_file;
	char err[512], version[8];
	int code;

	memset(&a, 0, sizeof(a));
	log_set_endpoint("authctl");
	code = authctl_args(&a, argc, argv);
	if (code != AUTHCTL_OK)
		return code;
	env_file = getenv("ENV_FILE");
	authctl_env_load(env_file != NULL && env_file[0] != '\0' ? env_file :
	    ".env");
	if (config_load(&a.cfg, err, sizeof(err)) != 0)
		return authctl_fail(AUTHCTL_USAGE, "%s", err);
	if (store_open(&a.store, a.cfg.db_engine, a.cfg.db_path,
	    a.cfg.db_busy_timeout_ms, err, sizeof(err)) != 0)
		return authctl_fail(AUTHCTL_UNAVAIL, "%s", err);
	/* Versions are fixed-width NNN: string order is numeric order. */
	if (store_schema_version(a.store, version) != AUTH_OK) {
		code = authctl_fail(AUTHCTL_UNAVAIL, "database unavailable");
	} else if (strcmp(version, AUTHCTL_SCHEMA) < 0) {
		code = authctl_fail(AUTHCTL_UNAVAIL, "pending migration: schema at "
		    "%s, authctl needs %s (run scripts/migrate.sh)", version,
		    AUTHCTL_SCHEMA);
	} else if (a.cmd == CMD_USERS) {
		code = authctl_users(&a);
	} else if (a.cmd == CMD_SHOW) {
		code = authctl_show(&a);
	} else {
		code = authctl_change(&a);
	}
	store_close(a.store);
	if (fflush(stdout) != 0 && code == AUTHCTL_OK)
		code = authctl_fail(AUTHCTL_UNAVAIL, "stdout: %s", strerror(errno));
	return code;
}
