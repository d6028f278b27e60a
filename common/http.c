/*
 * http: one loop for every endpoint. Under spawn-fcgi it accepts FastCGI
 * requests on fd 0 until SIGTERM; started as plain CGI it serves the one
 * request in its environment. Everything per-request lives in buffers
 * allocated once per process.
 */
#include "http.h"

#include <errno.h>
#include <fcgiapp.h>
#include <json-c/json.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdint.h>

#include "config.h"
#include "log.h"
#include "metrics.h"
#include "valid.h"

extern char **environ;

#define HTTP_JSON "application/json"

/* Consecutive accept failures after which the listen socket is dead. */
#define HTTP_ACCEPT_FAILURES 100

struct http_conn {
	uint64_t rid_state[2];         /* request id generator, seeded per process */
	FCGX_Request fcgi;
	int is_cgi;
	int unix_listen;              /* fd 0 is a unix socket */
	char **envp;
	const struct http_route *route;
	char *body;                   /* route->max_body + 1 bytes */
	char *out;                    /* response assembly */
	size_t out_cap;
	char ua[HTTP_UA_MAX + 1];
	char addr[HTTP_ADDR_MAX + 1];
};

static const struct {
	int status;
	const char *reason;
} http_reasons[] = {
	{200, "OK"}, {201, "Created"}, {202, "Accepted"}, {204, "No Content"},
	{400, "Bad Request"}, {401, "Unauthorized"}, {403, "Forbidden"},
	{404, "Not Found"}, {408, "Request Timeout"},
	{405, "Method Not Allowed"}, {411, "Length Required"},
	{409, "Conflict"}, {413, "Payload Too Large"},
	{422, "Unprocessable Entity"},
	{429, "Too Many Requests"}, {500, "Internal Server Error"},
	{503, "Service Unavailable"},
};

static const char *http_reason(int status)
{
	size_t i;

	for (i = 0; i < sizeof(http_reasons) / sizeof(http_reasons[0]); i++)
		if (http_reasons[i].status == status)
			return http_reasons[i].reason;
	return "Unknown";
}

const char *http_path(struct http_req *req)
{
	const char *uri = http_param(req, "REQUEST_URI");
	size_t n;

	req->path[0] = '\0';
	if (uri == NULL)
		return req->path;
	n = strcspn(uri, "?");
	if (n <= HTTP_PATH_MAX) {
		memcpy(req->path, uri, n);
		req->path[n] = '\0';
	}
	return req->path;
}

const char *http_param(const struct http_req *req, const char *name)
{
	return FCGX_GetParam(name, req->conn->envp);
}

/* Write all of buf to the client. */
static void http_write(struct http_conn *c, const char *buf, size_t len)
{
	if (c->is_cgi) {
		if (fwrite(buf, 1, len, stdout) != len)
			log_event(LOG_WARN, "write_failed", LOG_STR("via", "cgi"));
		fflush(stdout);
	} else if (FCGX_PutStr(buf, (int)len, c->fcgi.out) != (int)len) {
		log_event(LOG_WARN, "write_failed", LOG_STR("via", "fastcgi"));
	}
}

/*
 * Assemble status line, headers and body into the per-process buffer and
 * write them at once. extra is zero or more "Name: value\r\n" lines.
 */
static void http_send(struct http_req *req, int status, unsigned flags,
    const char *ctype, const char *extra, const char *body, size_t len)
{
	struct http_conn *c = req->conn;
	size_t need = len + 512 + (extra ? strlen(extra) : 0);
	int n;

	if (req->status != 0)
		return;               /* one reply per request */
	if (need > c->out_cap) {
		char *p = realloc(c->out, need);
		if (p == NULL) {
			log_event(LOG_ERROR, "out_of_memory",
			    LOG_INT("bytes", (long long)need));
			return;
		}
		c->out = p;
		c->out_cap = need;
	}
	n = snprintf(c->out, c->out_cap,
	    "Status: %d %s\r\n"
	    "X-Request-Id: %s\r\n"
	    "X-Content-Type-Options: nosniff\r\n"
	    "%s%s%s%s%s"
	    "Content-Length: %zu\r\n\r\n",
	    status, http_reason(status), req->request_id,
	    (flags & HTTP_NO_STORE) ?
	    "Cache-Control: no-store\r\nPragma: no-cache\r\n" :
	    (flags & HTTP_PUBLIC_CACHE) ?
	    "Cache-Control: public, max-age=300\r\n" : "",
	    len > 0 ? "Content-Type: " : "", len > 0 ? ctype : "",
	    len > 0 ? "\r\n" : "", extra ? extra : "", len);
	if (n < 0 || (size_t)n + len > c->out_cap)
		return;
	memcpy(c->out + n, body, len);
	http_write(c, c->out, (size_t)n + len);
	req->status = status;
}

void http_reply_body(struct http_req *req, int status, unsigned flags,
    const char *ctype, const char *body, size_t len)
{
	http_send(req, status, flags, ctype, NULL, body, len);
}

void http_reply_json(struct http_req *req, int status, unsigned flags,
    const char *json, size_t len)
{
	http_send(req, status, flags, HTTP_JSON, NULL, json, len);
}

void http_reply_empty(struct http_req *req, int status)
{
	http_send(req, status, HTTP_NO_STORE, HTTP_JSON, NULL, "", 0);
}

void http_reply_headers(struct http_req *req, int status, const char *extra)
{
	http_send(req, status, HTTP_NO_STORE, HTTP_JSON, extra, "", 0);
}

/* "GET, POST" for a method mask. */
static void http_allow(unsigned methods, char *out, size_t cap)
{
	snprintf(out, cap, "Allow: %s%s%s%s%s\r\n",
	    methods & HTTP_GET ? "GET" : "",
	    (methods & HTTP_GET) && (methods & ~HTTP_GET) ? ", " : "",
	    methods & HTTP_POST ? "POST" : "",
	    (methods & HTTP_POST) && (methods & HTTP_DELETE) ? ", " : "",
	    methods & HTTP_DELETE ? "DELETE" : "");
}

void http_reply_error(struct http_req *req, enum auth_err err,
    const char *detail)
{
	struct json_object *o = json_object_new_object();
	char extra[128] = "";
	const char *body = NULL;
	size_t len = 0;
	int status = auth_err_status(err);

	if (err == AUTH_ENOAUTH)
		snprintf(extra, sizeof(extra), "WWW-Authenticate: Bearer\r\n");
	else if (status == 401 && req->conn->route->bearer && !req->no_challenge)
		snprintf(extra, sizeof(extra),
		    "WWW-Authenticate: Bearer error=\"invalid_token\"\r\n");
	else if (err == AUTH_EMETHOD)
		http_allow(req->allow ? req->allow : req->conn->route->methods,
		    extra, sizeof(extra));
	else if (err == AUTH_ETHROTTLED)
		snprintf(extra, sizeof(extra), "Retry-After: %ld\r\n",
		    req->retry_after > 0 ? req->retry_after : 1);
	if (o != NULL) {
		json_object_object_add(o, "detail", json_object_new_string(
		    detail != NULL ? detail : auth_err_detail(err)));
		body = json_object_to_json_string_length(o,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	}
	if (body == NULL) {
		body = "{\"detail\":\"internal error\"}";
		len = strlen(body);
		status = 500;
	}
	http_send(req, status, HTTP_NO_STORE, HTTP_JSON, extra, body, len);
	json_object_put(o);
}

enum auth_err http_bearer(const struct http_req *req, const char **token,
    size_t *len)
{
	const char *h = http_param(req, "HTTP_AUTHORIZATION");
	size_t n;

	if (h == NULL || *h == '\0')
		return AUTH_ENOAUTH;
	if (strncasecmp(h, "Bearer ", 7) != 0)
		return AUTH_ETOKEN;
	h += 7;
	while (*h == ' ')
		h++;
	n = strlen(h);
	while (n > 0 && h[n - 1] == ' ')
		n--;
	if (n == 0)
		return AUTH_ETOKEN;
	*token = h;
	*len = n;
	return AUTH_OK;
}

/* A client request id is echoed only when short and of safe characters. */
static int http_request_id_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		char ch = s[i];
		if (i >= HTTP_REQUEST_ID_MAX ||
		    !((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
		    ch == '.'))
			return 0;
	}
	return i > 0;
}

static enum http_method http_parse_method(const char *m)
{
	if (m == NULL)
		return 0;
	if (strcmp(m, "GET") == 0)
		return HTTP_GET;
	if (strcmp(m, "POST") == 0)
		return HTTP_POST;
	if (strcmp(m, "DELETE") == 0)
		return HTTP_DELETE;
	return *m != '\0' ? HTTP_OTHER : 0;
}

static const char *http_method_name(enum http_method m)
{
	switch (m) {
	case HTTP_GET:
		return "GET";
	case HTTP_POST:
		return "POST";
	case HTTP_DELETE:
		return "DELETE";
	case HTTP_OTHER:
		break;
	}
	return "OTHER";
}

static long long http_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

/*
 * Read exactly len body bytes into c->body; *got says how many arrived
 * (the caller wipes them, whatever the outcome). AUTH_OK; AUTH_ETIMEOUT
 * when the body stalls past the route's read timeout; AUTH_EINVAL when
 * the stream ends short.
 */
static enum auth_err http_read_body(struct http_conn *c, size_t len,
    size_t *got)
{
	long long deadline = c->is_cgi ? 0 :
	    http_now_us() + c->route->read_timeout * 1000000LL;

	*got = 0;
	while (*got < len) {
		/*
		 * A front that buffers bodies makes this moot; one that
		 * streams them must not hold a worker past READ_TIMEOUT. The
		 * socket's receive timeout bounds one read, so the body is
		 * read in chunks, each given what is left of the deadline:
		 * a client trickling a byte at a time cannot stretch it.
		 */
		size_t want = len - *got > 8192 ? 8192 : len - *got;
		int n;

		if (!c->is_cgi) {
			long long left = deadline - http_now_us();
			struct timeval tv;

			if (left <= 0)
				return AUTH_ETIMEOUT;
			tv.tv_sec = (time_t)(left / 1000000);
			tv.tv_usec = (suseconds_t)(left % 1000000);
			(void)setsockopt(c->fcgi.ipcFd, SOL_SOCKET, SO_RCVTIMEO,
			    &tv, sizeof(tv));
		}
		if (c->is_cgi)
			n = (int)fread(c->body + *got, 1, want, stdin);
		else
			n = FCGX_GetStr(c->body + *got, (int)want, c->fcgi.in);
		if (n > 0)
			*got += (size_t)n;
		/* Both return short only at the end of the stream or an error. */
		if (n <= 0 || (size_t)n < want)
			break;
	}
	if (*got == len) {
		c->body[len] = '\0';
		return AUTH_OK;
	}
	if (!c->is_cgi && (FCGX_GetError(c->fcgi.in) == EAGAIN ||
	    FCGX_GetError(c->fcgi.in) == EWOULDBLOCK))
		return AUTH_ETIMEOUT;
	return AUTH_EINVAL;
}

/* Method and body checks every route shares; AUTH_OK to run the handler. */
static enum auth_err http_prepare(struct http_conn *c, struct http_req *req)
{
	const char *cl;
	long n = 0;
	enum auth_err rc;

	if (c->route->any)
		return AUTH_OK;       /* whatever the method; a body stays unread */
	if (req->method == 0 || !(c->route->methods & req->method))
		return AUTH_EMETHOD;
	if (req->method != HTTP_POST || !c->route->body)
		return AUTH_OK;
	cl = http_param(req, "CONTENT_LENGTH");
	if (cl == NULL || *cl == '\0')
		return c->route->body_optional ? AUTH_OK : AUTH_ELENGTH;
	if (config_parse_long(cl, 0, LONG_MAX, &n) != 0)
		/* All digits but beyond a long is still just too large. */
		return strspn(cl, "0123456789") == strlen(cl) ? AUTH_ETOOBIG :
		    AUTH_EINVAL;
	if ((size_t)n > c->route->max_body)
		return AUTH_ETOOBIG;   /* refused unread */
	rc = http_read_body(c, (size_t)n, &req->body_len);
	if (rc != AUTH_OK)
		return rc;
	req->body = c->body;
	return AUTH_OK;
}

/*
 * A fresh request id, UUID-shaped. Ids must be unique, not secret, so a
 * xorshift128+ generator seeded once per process from the CSPRNG serves,
 * without a trip through OpenSSL's DRBG on every request.
 */
static void http_request_id_new(struct http_conn *c, char *out)
{
	uint64_t v[2];
	int i;

	for (i = 0; i < 2; i++) {
		uint64_t s1 = c->rid_state[0], s0 = c->rid_state[1];

		c->rid_state[0] = s0;
		s1 ^= s1 << 23;
		c->rid_state[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
		v[i] = c->rid_state[1] + s0;
	}
	snprintf(out, HTTP_REQUEST_ID_MAX + 1, "%08llx-%04llx-4%03llx-%04llx-%012llx",
	    (unsigned long long)(v[0] >> 32),
	    (unsigned long long)((v[0] >> 16) & 0xffff),
	    (unsigned long long)(v[0] & 0xfff),
	    (unsigned long long)(((v[1] >> 48) & 0x3fff) | 0x8000),
	    (unsigned long long)(v[1] & 0xffffffffffffULL));
}

/*
 * End the FastCGI request. libfcgi's close shuts down the write side and
 * then waits (up to 2 s) for the web server to close first, so that
 * unread input cannot make TCP discard the reply with a reset. On a unix
 * socket the peer keeps whatever was written to it, so once the whole
 * input has been read (the empty record ending stdin) the worker closes
 * at once and is free for the next request instead of waiting on
 * lighttpd. A request answered before its body was read (413, 411...)
 * still gets the lingering close: lighttpd may be writing that body. A
 * body that stalled past READ_TIMEOUT (408) is closed on at once too: its
 * sender is the slow party, and lingering would hand it the worker again.
 * A route that never reads a body (route->any) sends its reply first and
 * looks for the end of the input only briefly: a request that announced
 * a body it never sends is answered at once, then lingered on (2 s at
 * most, as after a 413).
 */
static void http_finish(struct http_conn *c, enum auth_err rc)
{
	if (c->route->any && !FCGX_HasSeenEOF(c->fcgi.in)) {
		struct timeval tv = { 0, 20000 };

		(void)FCGX_FFlush(c->fcgi.out);
		(void)setsockopt(c->fcgi.ipcFd, SOL_SOCKET, SO_RCVTIMEO, &tv,
		    sizeof(tv));
	}
	/* A body that stalled past its deadline is not waited for again. */
	if (c->unix_listen && (rc == AUTH_ETIMEOUT || (rc == AUTH_OK &&
	    (FCGX_HasSeenEOF(c->fcgi.in) || FCGX_GetChar(c->fcgi.in) == EOF))))
		(void)FCGX_Detach(&c->fcgi);
	FCGX_Finish_r(&c->fcgi);
}

/* One request, from parameters to access log. */
static void http_handle(struct http_conn *c)
{
	struct http_req req;
	const char *rid, *addr;
	long long t0 = http_now_us();
	enum auth_err rc;
	double secs;

	memset(&req, 0, sizeof(req));
	req.conn = c;
	req.method = http_parse_method(http_param(&req, "REQUEST_METHOD"));
	valid_printable(c->ua, sizeof(c->ua), http_param(&req, "HTTP_USER_AGENT"));
	req.user_agent = c->ua;
	addr = http_param(&req, "REMOTE_ADDR");
	valid_printable(c->addr, sizeof(c->addr), addr);
	req.remote_addr = c->addr;
	rid = http_param(&req, "HTTP_X_REQUEST_ID");
	if (rid != NULL && http_request_id_ok(rid))
		snprintf(req.request_id, sizeof(req.request_id), "%s", rid);
	else
		http_request_id_new(c, req.request_id);
	log_set_request(req.request_id);
	rc = http_prepare(c, &req);
	if (rc == AUTH_EINVAL)
		http_reply_error(&req, rc, "body: does not match Content-Length");
	else if (rc != AUTH_OK)
		http_reply_error(&req, rc, NULL);
	else
		c->route->handle(c->route->ctx, &req);
	if (req.status == 0) {
		log_event(LOG_ERROR, "no_reply", LOG_STR("route", c->route->name));
		http_reply_error(&req, AUTH_EINTERNAL, NULL);
	}
	/* Parameters die here: after this only req's own copies remain. */
	if (!c->is_cgi)
		http_finish(c, rc);
	/* The body, even a part of one, may have held a password. */
	if (req.body_len > 0)
		OPENSSL_cleanse(c->body, req.body_len);
	req.body = NULL;
	secs = (double)(http_now_us() - t0) / 1e6;
	metrics_observe(c->route->metrics, req.method, req.status, secs);
	if (c->route->log_requests == CONFIG_LOG_REQUESTS_ALL ||
	    (c->route->log_requests == CONFIG_LOG_REQUESTS_ERRORS &&
	    req.status >= 400))
		log_event(req.status >= 500 ? LOG_ERROR : LOG_INFO, "request",
		    LOG_STR("method", http_method_name(req.method)),
		    LOG_INT("status", req.status),
		    LOG_MS("duration_ms", secs * 1e3),
		    LOG_STR("client", req.remote_addr),
		    LOG_STR("user_id", req.user_id[0] ? req.user_id : NULL));
	log_set_request(NULL);
}

/* SIGTERM/SIGINT/SIGHUP: finish the current request, then leave the loop. */
static volatile sig_atomic_t http_stop;

static void http_on_signal(int sig)
{
	(void)sig;
	http_stop = 1;
}

/* SIGUSR1: reopen the log between requests (http_next). */
static void http_on_reopen(int sig)
{
	(void)sig;
	log_reopen_request();
}

/* 1 when fd is a unix-domain socket. */
static int http_is_unix(int fd)
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);

	memset(&sa, 0, sizeof(sa));
	return getsockname(fd, (struct sockaddr *)&sa, &len) == 0 &&
	    sa.ss_family == AF_UNIX;
}

int http_is_cgi(void)
{
	return FCGX_IsCGI();
}

/*
 * Wait for the next FastCGI request: 0 when one is ready in c->fcgi, 1 to
 * try again, -1 to stop.
 *
 * The worker accepts connections itself and hands each to libfcgi (an
 * ipcFd already set is used instead of accepting), because libfcgi's own
 * accept cannot be interrupted safely: a stop signal that lands while it
 * waits for a new connection's first bytes makes it close the connection
 * and then spin forever on the stale descriptor. So stop signals stay
 * blocked except inside epoll_pwait, which unblocks them atomically while
 * it waits: a signal either wakes the wait or waits for the next one,
 * and never interrupts a read. EPOLLEXCLUSIVE wakes one idle worker per
 * connection, not all of them; the listening socket is non-blocking, so
 * a worker that loses the race for a connection goes back to waiting.
 * SIGUSR1 is held the same way: the log is reopened here, between
 * requests, never inside a handler or halfway through a line.
 */
static int http_next(struct http_conn *c, int ep, const sigset_t *waiting)
{
	struct epoll_event ev;
	int fd;

	if (c->fcgi.ipcFd >= 0)
		/* A connection the front asked to keep: not supported, since
		 * an idle kept connection would hold a worker past a stop. */
		FCGX_Free(&c->fcgi, 1);
	log_reopen_if_requested();
	if (http_stop)
		return -1;
	if (epoll_pwait(ep, &ev, 1, -1, waiting) <= 0)
		return http_stop ? -1 : 1;
	fd = accept4(0, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == EINTR || errno == ECONNABORTED ? 1 : -2;
	/* The front writes a request at once; a connection that stays
	 * silent must not hold the worker (or its stop) for ever. */
	{
		struct timeval tv = { c->route->read_timeout, 0 };

		(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	c->fcgi.ipcFd = fd;
	/* Not closed by the finish FCGX_Accept_r runs on the last request. */
	c->fcgi.keepConnection = 1;
	/* A connection closed before its request: libfcgi closes it and
	 * finds nothing more to accept on the non-blocking socket. */
	return FCGX_Accept_r(&c->fcgi) < 0 ? 1 : 0;
}

int http_serve(const struct http_route *route)
{
	struct http_conn *c = calloc(1, sizeof(*c));
	struct epoll_event ev;
	struct sigaction sa;
	sigset_t held, waiting;
	int rc = 1, failures = 0, ep = -1, flags;

	if (c == NULL)
		return 1;
	c->route = route;
	if (RAND_bytes((unsigned char *)c->rid_state, sizeof(c->rid_state)) != 1 ||
	    (c->rid_state[0] | c->rid_state[1]) == 0)
		goto out;
	c->body = malloc(route->max_body + 1);
	if (c->body == NULL || FCGX_Init() != 0)
		goto out;
	c->is_cgi = FCGX_IsCGI();
	if (c->is_cgi) {
		c->envp = environ;
		http_handle(c);
		rc = 0;
		goto out;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = http_on_signal;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&held);
	sigaddset(&held, SIGTERM);
	sigaddset(&held, SIGINT);
	sigaddset(&held, SIGHUP);
	sigaddset(&held, SIGUSR1);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = http_on_reopen;
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigprocmask(SIG_BLOCK, &held, &waiting);
	sigdelset(&waiting, SIGTERM);
	sigdelset(&waiting, SIGINT);
	sigdelset(&waiting, SIGHUP);
	sigdelset(&waiting, SIGUSR1);
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLEXCLUSIVE;
	ep = epoll_create1(EPOLL_CLOEXEC);
	flags = fcntl(0, F_GETFL);
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev) != 0 || flags < 0 ||
	    fcntl(0, F_SETFL, flags | O_NONBLOCK) != 0 ||
	    FCGX_InitRequest(&c->fcgi, 0, 0) != 0)
		goto out;
	c->unix_listen = http_is_unix(0);
	for (;;) {
		int next = http_next(c, ep, &waiting);

		if (next == -1)
			break;
		if (next != 0) {
			/* The listening socket is gone: nothing to serve. */
			if (next == -2 && ++failures > HTTP_ACCEPT_FAILURES)
				break;
			continue;
		}
		failures = 0;
		c->envp = c->fcgi.envp;
		http_handle(c);
	}
	FCGX_Free(&c->fcgi, 1);
	rc = 0;
out:
	if (ep >= 0)
		close(ep);
	if (c != NULL) {
		free(c->body);
		free(c->out);
	}
	free(c);
	return rc;
}
