/* http: the FastCGI (or one-shot CGI) request loop, bounded body, replies. */
#ifndef AUTH_HTTP_H
#define AUTH_HTTP_H

#include <stddef.h>

#include "config.h"
#include "err.h"

enum http_method {
	HTTP_GET = 1 << 0,
	HTTP_POST = 1 << 1,
	HTTP_DELETE = 1 << 2,
	HTTP_OTHER = 1 << 3          /* any other method (PUT, PATCH, HEAD...) */
};

/* Reply flags. */
#define HTTP_NO_STORE 1          /* Cache-Control: no-store + Pragma: no-cache */
#define HTTP_PUBLIC_CACHE 2      /* Cache-Control: public, max-age=300 */

#define HTTP_REQUEST_ID_MAX 64
#define HTTP_UA_MAX 256
#define HTTP_ADDR_MAX 64
#define HTTP_PATH_MAX 256

struct http_req {
	enum http_method method;
	const char *uri;              /* REQUEST_URI as sent; for logs */
	const char *remote_addr;      /* REMOTE_ADDR, "" when unknown */
	const char *user_agent;       /* printable ASCII, truncated; may be "" */
	const char *body;             /* NUL terminated; NULL when none */
	size_t body_len;
	char request_id[HTTP_REQUEST_ID_MAX + 1];
	char user_id[40];             /* set by handlers for the access log */
	char path[HTTP_PATH_MAX + 1];
	long retry_after;             /* seconds, for a 429 */
	unsigned allow;               /* methods for a 405 when not the route's */
	int status;                   /* 0 until a reply is sent */
	int no_challenge;             /* set by a handler whose token is not a
	                               * bearer one: its 401s carry no
	                               * WWW-Authenticate, whatever the route */
	struct http_conn *conn;       /* internal */
};

struct metrics;

struct http_route {
	const char *name;             /* endpoint name for logs */
	struct metrics *metrics;      /* where finished requests are counted */
	unsigned methods;             /* enum http_method bits served */
	int bearer;                   /* 401s carry an invalid_token challenge */
	int body;                     /* POST reads a body: Content-Length required */
	int body_optional;            /* with body: none at all is no 411 (the
	                               * handler decides; req->body stays NULL) */
	int any;                      /* forward auth: any method, never reads a
	                               * body nor waits for one (http_finish) */
	size_t max_body;              /* bytes; larger bodies are 413 */
	long read_timeout;            /* seconds a body may take; 408 past it */
	enum config_log_requests log_requests;  /* which get an access line */
	void (*handle)(void *ctx, struct http_req *req);
	void *ctx;
};

/*
 * Serve route until SIGTERM/SIGINT/SIGHUP (FastCGI: socket on fd 0), or
 * exactly one request from the environment and stdin (plain CGI). Method,
 * body size and Content-Length are checked before handle runs; a handler
 * that sends no reply yields a 500. A stop signal that arrives during a
 * request takes effect after it is answered; SIGUSR1 (reopen the log,
 * log_reopen) too. Returns the exit status.
 */
int http_serve(const struct http_route *route);

/* 1 when started as plain CGI (no FastCGI socket on fd 0). */
int http_is_cgi(void);

/*
 * The request path (REQUEST_URI without its query string), at most
 * HTTP_PATH_MAX bytes; "" when absent or longer.
 */
const char *http_path(struct http_req *req);

/* Value of request header or CGI variable name (e.g. "HTTP_X_FOO"), or NULL. */
const char *http_param(const struct http_req *req, const char *name);

/*
 * The bearer token of the Authorization header. AUTH_ENOAUTH when the
 * header is absent, AUTH_ETOKEN when it is not "Bearer <token>".
 */
enum auth_err http_bearer(const struct http_req *req, const char **token,
    size_t *len) __attribute__((warn_unused_result));

/* Send body of content type ctype with status; flags are HTTP_* flags. */
void http_reply_body(struct http_req *req, int status, unsigned flags,
    const char *ctype, const char *body, size_t len);

/* Send a JSON body with status; flags are HTTP_* reply flags. */
void http_reply_json(struct http_req *req, int status, unsigned flags,
    const char *json, size_t len);

/* Send status with no body (204). */
void http_reply_empty(struct http_req *req, int status);

/*
 * Send status with no body, Cache-Control: no-store and the header lines
 * of extra ("Name: value\r\n" each, the caller's responsibility that
 * they hold no other CR or LF).
 */
void http_reply_headers(struct http_req *req, int status, const char *extra);

/*
 * Send {"detail": detail} (the error's default detail when NULL) with
 * the error's status and the headers it calls for (WWW-Authenticate,
 * Allow, Retry-After).
 */
void http_reply_error(struct http_req *req, enum auth_err err,
    const char *detail);

#endif
