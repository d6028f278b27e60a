/* app: the per-process context every endpoint runs in, and what endpoints share. */
#ifndef AUTH_APP_H
#define AUTH_APP_H

#include <json-c/json.h>

#include "config.h"
#include "err.h"
#include "http.h"
#include "jwt.h"
#include "metrics.h"
#include "password.h"
#include "seal.h"
#include "store.h"
#include "tokens.h"
#include "valid.h"

/* What an endpoint needs loaded at start (never per request). */
#define APP_VERIFY   (1u << 0)   /* public keys */
#define APP_SIGN     (1u << 1)   /* private key too */
#define APP_DB       (1u << 2)   /* database and prepared statements */
#define APP_PASSWORD (1u << 3)   /* hashing, with the dummy hash */
#define APP_BODY     (1u << 4)   /* POST carries a JSON body (411 without length) */
#define APP_BATCH    (1u << 5)   /* refresh rotations group-committed by the master */
#define APP_REFRESH_KEYS (1u << 6) /* HS256 refresh keys: whoever signs or reads refresh tokens */
/*
 * Forward auth (/auth/verify): any method, any request URI (the protected
 * one), never reads a body nor waits for one; methods is ignored. Every
 * answer comes from the handler: nothing is refused as 405/411/413.
 */
#define APP_ANY      (1u << 7)
/*
 * With APP_BODY: a POST without Content-Length still reaches the handler
 * (req->body NULL), for a program whose routes differ (account: resend
 * takes no body); the routes that need one answer 411 themselves.
 */
#define APP_BODY_OPTIONAL (1u << 8)
/* The MFA key (MFA_KEY_PATH), which seals and opens TOTP secrets. */
#define APP_MFA_KEY  (1u << 9)

struct app {
	struct config cfg;
	struct jwt_keys *keys;
	struct store *store;
	struct password_ctx *pw;
	struct metrics *metrics;
	struct tokens tokens;
	struct batch_client batch;   /* with APP_BATCH, in a FastCGI worker */
	struct seal_key mfa_key;     /* with APP_MFA_KEY */
};

struct app_endpoint {
	const char *name;
	const char *path;            /* route, e.g. "/auth/login": metrics label */
	unsigned methods;            /* enum http_method bits */
	unsigned needs;              /* APP_* bits */
	int bearer;                  /* protected by an access token */
	void (*handle)(struct app *app, struct http_req *req);
};

/*
 * The whole life of an endpoint: load and check configuration (one line
 * on stderr and exit status 2 on a bad setting) and what ep->needs; then,
 * under FastCGI, become the master of FCGI_CHILDREN workers (prefork),
 * each of which opens its own database connection and serves. As plain
 * CGI it serves one request. With --check-config it stops after loading.
 */
int app_main(int argc, char **argv, const struct app_endpoint *ep);

/* One route of a program serving several (account, mfa). */
struct app_route {
	const char *path;
	int body;                    /* needs a JSON body: 411 without one */
	int bearer;                  /* authenticated by an access token: its
	                              * 401s carry the invalid_token challenge */
	void (*handle)(struct app *a, struct http_req *req);
};

/*
 * Hand req to the route of routes[0..n) its path names, counting it in
 * metrics under that path; 404 for a path of none.
 */
void app_route(struct app *a, struct http_req *req,
    const struct app_route *routes, size_t n);

/* Email and password from a {"email","password"} body. */
struct app_credentials {
	char email[VALID_EMAIL_MAX + 1];   /* normalized */
	const char *password;              /* points into the parsed body */
	size_t password_len;
	struct json_object *body;
};

/*
 * Parse and validate credentials; on failure sends the 422 itself and
 * returns non-zero. Release with app_credentials_free (wipes the password).
 */
int app_read_credentials(struct http_req *req, struct app_credentials *cr);
void app_credentials_free(struct app_credentials *cr);

/*
 * Parse the request body as JSON into *out (NULL for the value null).
 * Sends the 422 itself and returns -1 on failure.
 */
int app_read_json(struct http_req *req, struct json_object **out);

/* The body as a JSON object, or the 422 sent and NULL. */
struct json_object *app_read_object(struct http_req *req);

/*
 * The refresh token of a {"refresh_token": "..."} body or of a bare JSON
 * string body (the original client sends that). On failure sends the 422
 * and returns -1; else *body owns the parsed document that *token points
 * into (json_object_put it).
 */
int app_read_refresh_token(struct http_req *req, struct json_object **body,
    const char **token, size_t *len);

/* Send a token pair with no-store headers. */
void app_reply_pair(struct http_req *req, int status,
    const struct tokens_pair *pair);

/*
 * Check the bearer access token: signature, claims, and that its session
 * and user still live. On failure sends the 401 (with its challenge) or
 * 503 itself and returns -1. Fills claims (and email when not NULL, of
 * VALID_EMAIL_MAX + 1 bytes) and tags the request's log line.
 */
int app_authenticate(struct app *a, struct http_req *req,
    struct jwt_claims *claims, char *email);

/* The requester, as recorded on new sessions. */
struct tokens_client app_client(const struct http_req *req);

/* Room for a client's throttle key (an address, or an IPv6 /64). */
#define APP_CLIENT_KEY_MAX (HTTP_ADDR_MAX + 8)

/*
 * The key the client is throttled under (netaddr_throttle_key: IPv4 as
 * is, IPv6 by its /64) into buf of cap bytes; NULL when the address is
 * unknown.
 */
const char *app_client_key(const struct http_req *req, char *buf, size_t cap);

/*
 * The message carrying one-time token of kind for email, its link from
 * RESET_URL / VERIFY_URL, into msg (MAIL_MESSAGE_MAX bytes): 0, or -1.
 */
int app_ott_message(const struct app *a, enum store_ott_kind kind,
    const char *email, const char *token, int64_t now, char *msg)
    __attribute__((warn_unused_result));

/*
 * A new email verification token for user_id, its message queued in the
 * same transaction (registration, POST /auth/email/resend).
 */
enum auth_err app_queue_verify(struct app *a, const char *user_id,
    const char *email) __attribute__((warn_unused_result));

#endif
