/*
 * fixture.h: shared helpers of the unit tests (header only, static
 * inline): temp directories, a migrated SQLite database, raw queries
 * beside the library's connection, an RSA key pair, and running one
 * CGI request in a forked child.
 */
#ifndef AUTH_UNIT_FIXTURE_H
#define AUTH_UNIT_FIXTURE_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include "rsakey.h"
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define FX_DIR_MAX 256
#define FX_PATH_MAX 512

/*
 * Coverage builds link libgcov, whose merge routine every instrumented
 * object references; a weak reference is NULL in any other build. A
 * child uses it to decide how to leave (see fx_run_child).
 */
extern void __gcov_merge_add(void *counters, unsigned n)
    __attribute__((weak));

struct fx {
	char dir[FX_DIR_MAX];        /* mkdtemp'd, removed in teardown */
	char db[FX_PATH_MAX];        /* dir/auth.db */
	char priv[FX_PATH_MAX];      /* dir/jwt_private.pem */
	char pub[FX_PATH_MAX];       /* dir/jwt_public.pem */
};

/* Whole file into a NUL-terminated malloc'd buffer; NULL on failure. */
static inline char *fx_read_file(const char *path, size_t *lenp)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (f == NULL)
		return NULL;
	for (;;) {
		if (cap - len < 4096) {
			char *p = realloc(buf, cap + 65536);
			if (p == NULL) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = p;
			cap += 65536;
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
		if (n == 0)
			break;
	}
	fclose(f);
	buf[len] = '\0';
	if (lenp != NULL)
		*lenp = len;
	return buf;
}

static inline int fx_write_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	size_t off = 0;

	if (fd < 0)
		return -1;
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);
		if (n <= 0) {
			close(fd);
			return -1;
		}
		off += (size_t)n;
	}
	return close(fd);
}

static inline int fx_rm_cb(const char *path, const struct stat *sb, int flag,
    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Remove dir and everything under it (restoring write access first). */
static inline void fx_rmrf(const char *dir)
{
	if (dir[0] == '\0')
		return;
	(void)chmod(dir, 0700);
	(void)nftw(dir, fx_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh temp dir with the paths of its database and key files. */
static inline int fx_init(struct fx *f)
{
	const char *tmp = getenv("TMPDIR");

	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "%s/authut.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(f->dir) == NULL) {
		f->dir[0] = '\0';
		return -1;
	}
	snprintf(f->db, sizeof(f->db), "%s/auth.db", f->dir);
	snprintf(f->priv, sizeof(f->priv), "%s/jwt_private.pem", f->dir);
	snprintf(f->pub, sizeof(f->pub), "%s/jwt_public.pem", f->dir);
	return 0;
}

static inline void fx_fini(struct fx *f)
{
	fx_rmrf(f->dir);
	f->dir[0] = '\0';
}

/* A raw connection beside the library's, with foreign keys on. */
static inline sqlite3 *fx_raw_open(const char *path)
{
	sqlite3 *c = NULL;

	if (sqlite3_open_v2(path, &c, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		sqlite3_close(c);
		return NULL;
	}
	sqlite3_busy_timeout(c, 2000);
	if (sqlite3_exec(c, "PRAGMA foreign_keys=ON", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		sqlite3_close(c);
		return NULL;
	}
	return c;
}

/*
 * Create the database at path with the real scripts/migrate.sh (cwd is the
 * repository root), so unit tests see exactly the schema users get.
 */
static inline int fx_make_db(const char *path)
{
	char cmd[4096 + 128];
	int n = snprintf(cmd, sizeof(cmd), "ENV_FILE=/dev/null "
	    "DATABASE_URL='sqlite:///%s' scripts/migrate.sh >/dev/null", path);

	if (n < 0 || (size_t)n >= sizeof(cmd) || strchr(path, '\'') != NULL)
		return -1;
	return system(cmd) == 0 ? 0 : -1;
}

/* Run sql (no rows) on a raw connection; 0 or the SQLite code. */
static inline int fx_exec(const char *path, const char *sql)
{
	sqlite3 *c = fx_raw_open(path);
	int rc;

	if (c == NULL)
		return -1;
	rc = sqlite3_exec(c, sql, NULL, NULL, NULL);
	sqlite3_close(c);
	return rc;
}

/* First column of the first row of sql as an integer; -999 when none. */
static inline long long fx_int(const char *path, const char *sql)
{
	sqlite3 *c = fx_raw_open(path);
	sqlite3_stmt *st = NULL;
	long long v = -999;

	if (c == NULL)
		return -999;
	if (sqlite3_prepare_v2(c, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(c);
	return v;
}

/* First column of the first row as text into out; "<none>"/"<null>". */
static inline void fx_text(const char *path, const char *sql, char *out,
    size_t cap)
{
	sqlite3 *c = fx_raw_open(path);
	sqlite3_stmt *st = NULL;

	snprintf(out, cap, "<none>");
	if (c == NULL)
		return;
	if (sqlite3_prepare_v2(c, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 0);
		snprintf(out, cap, "%s", t != NULL ? (const char *)t : "<null>");
	}
	sqlite3_finalize(st);
	sqlite3_close(c);
}

static inline long long fx_count(const char *path, const char *table)
{
	char sql[128];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
	return fx_int(path, sql);
}

/* Write key k as PEM files (private PKCS#8, public SPKI). */
static inline int fx_write_keys(EVP_PKEY *k, const char *priv, const char *pub)
{
	FILE *f = fopen(priv, "w");
	int rc = -1;

	if (f == NULL)
		return -1;
	if (PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) != 1) {
		fclose(f);
		return -1;
	}
	fclose(f);
	f = fopen(pub, "w");
	if (f == NULL)
		return -1;
	if (PEM_write_PUBKEY(f, k) == 1)
		rc = 0;
	fclose(f);
	return rc;
}

/*
 * An RSA-2048 key pair as PEM files. One key serves every test of the
 * process: generating one costs a second natively and minutes under
 * valgrind, and no test needs its own unless it asks (fx_make_other_keys).
 */
static inline int fx_make_keys(const char *priv, const char *pub)
{
	static EVP_PKEY *key;

	if (key == NULL)
		key = ut_rsa_key(2048);
	return key != NULL ? fx_write_keys(key, priv, pub) : -1;
}

/* A key pair different from fx_make_keys' one. */
static inline int fx_make_other_keys(const char *priv, const char *pub)
{
	EVP_PKEY *k = ut_rsa_key(2048);
	int rc = k != NULL ? fx_write_keys(k, priv, pub) : -1;

	EVP_PKEY_free(k);
	return rc;
}

/* What a forked CGI run left behind. */
struct fx_run {
	int exit_code;               /* exit status, or -1000 - signal */
	char *out;                   /* stdout, NUL terminated */
	size_t out_len;
	char *err;                   /* stderr, NUL terminated */
	size_t err_len;
};

static inline void fx_run_free(struct fx_run *r)
{
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof(*r));
}

typedef int (*fx_child_fn)(void *arg);

/*
 * Run fn(arg) in a child whose environment is exactly env ("NAME=value"
 * strings, NULL-terminated), whose stdin is a regular file holding
 * body[0..body_len) and whose stdout and stderr go to files in dir; the
 * child leaves with _exit(fn's return) (exit() in coverage builds).
 * Returns 0 when the child ran and its output was read.
 */
static inline int fx_run_child(const char *dir, const char *const *env,
    const char *body, size_t body_len, fx_child_fn fn, void *arg,
    struct fx_run *r)
{
	char in_path[FX_PATH_MAX], out_path[FX_PATH_MAX], err_path[FX_PATH_MAX];
	int status = 0;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	snprintf(in_path, sizeof(in_path), "%s/child.stdin", dir);
	snprintf(out_path, sizeof(out_path), "%s/child.stdout", dir);
	snprintf(err_path, sizeof(err_path), "%s/child.stderr", dir);
	if (fx_write_file(in_path, body != NULL ? body : "",
	    body != NULL ? body_len : 0) != 0 ||
	    fx_write_file(out_path, "", 0) != 0 ||
	    fx_write_file(err_path, "", 0) != 0)
		return -1;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int in = open(in_path, O_RDONLY);
		int out = open(out_path, O_WRONLY | O_TRUNC);
		int er = open(err_path, O_WRONLY | O_TRUNC);
		size_t i;
		int rc;

		alarm(30);           /* a hung child fails the test, not CI */
		if (in < 0 || out < 0 || er < 0 || dup2(in, 0) < 0 ||
		    dup2(out, 1) < 0 || dup2(er, 2) < 0)
			_exit(120);
		close(in);
		close(out);
		close(er);
		if (clearenv() != 0)
			_exit(121);
		for (i = 0; env != NULL && env[i] != NULL; i++) {
			/*
			 * Kept here as well as in environ: the code under test
			 * may drop a variable from environ (unsetenv), and its
			 * string must not then read as a leak under valgrind.
			 * volatile: never read, so at -O2 the stores were gone.
			 */
			static char *volatile kept[64];
			char *kv = strdup(env[i]);

			if (i >= sizeof(kept) / sizeof(kept[0]) || kv == NULL ||
			    putenv(kv) != 0)
				_exit(122);
			kept[i] = kv;
		}
		rc = fn(arg);
		fflush(stdout);
		fflush(stderr);
		/*
		 * _exit: none of the parent's exit work runs twice. Under
		 * coverage only, exit() so that libgcov's exit handler writes
		 * the child's counts (reset at fork, so nothing is counted
		 * twice); stdio was flushed before the fork. Its complaints
		 * (a stale .gcda) must not land in the captured stderr.
		 */
		if (__gcov_merge_add != NULL) {
			int devnull = open("/dev/null", O_WRONLY);

			if (devnull >= 0)
				(void)dup2(devnull, 2);
			exit(rc & 0xff);
		}
		_exit(rc & 0xff);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -1;
	}
	if (WIFEXITED(status))
		r->exit_code = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		r->exit_code = -1000 - WTERMSIG(status);
	else
		r->exit_code = -1;
	r->out = fx_read_file(out_path, &r->out_len);
	r->err = fx_read_file(err_path, &r->err_len);
	if (r->out == NULL || r->err == NULL) {
		fx_run_free(r);
		return -1;
	}
	return 0;
}

/* The numeric status of a CGI reply ("Status: 405 ..."), or -1. */
static inline int fx_status(const char *out)
{
	int st = -1;

	if (out == NULL || sscanf(out, "Status: %d ", &st) != 1)
		return -1;
	return st;
}

/*
 * Value of header name (case-sensitive "Name") in a CGI reply, copied
 * into val; 0 when found, -1 otherwise. Only the header block is read.
 */
static inline int fx_header(const char *out, const char *name, char *val,
    size_t cap)
{
	const char *end = strstr(out, "\r\n\r\n");
	const char *p = out;
	size_t n = strlen(name);

	if (end == NULL)
		return -1;
	while (p < end) {
		const char *eol = strstr(p, "\r\n");
		if (eol == NULL || eol > end)
			eol = end;
		if ((size_t)(eol - p) > n + 1 && strncmp(p, name, n) == 0 &&
		    p[n] == ':' && p[n + 1] == ' ') {
			snprintf(val, cap, "%.*s", (int)(eol - p - n - 2),
			    p + n + 2);
			return 0;
		}
		p = eol + 2;
	}
	return -1;
}

/* Body of a CGI reply (after the blank line), or NULL. */
static inline const char *fx_body(const char *out)
{
	const char *end = strstr(out, "\r\n\r\n");

	return end != NULL ? end + 4 : NULL;
}

/* Number of '\n'-terminated lines in s. */
static inline int fx_lines(const char *s)
{
	int n = 0;

	for (; *s != '\0'; s++)
		if (*s == '\n')
			n++;
	return n;
}

/* Parse s as one strict JSON document, or NULL. */
static inline struct json_object *fx_parse_strict(const char *s)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o;
	size_t len = strlen(s);

	assert_non_null(tok);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, s, (int)len);
	if (o != NULL && (json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len)) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

/* o[key] when it is a string, else NULL. */
static inline const char *fx_str_field(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

#endif
