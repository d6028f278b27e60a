/* err: the one error vocabulary of common/, and its mapping to HTTP. */
#ifndef AUTH_ERR_H
#define AUTH_ERR_H

/*
 * Every fallible function of common/ returns one of these (AUTH_OK = 0).
 * The HTTP status and default `detail` of each live in one table in err.c,
 * so an endpoint never chooses a status code by hand.
 */
enum auth_err {
	AUTH_OK = 0,
	AUTH_EINVAL,      /* 422: body or field does not satisfy the contract */
	AUTH_EEXISTS,     /* 400: email already registered */
	AUTH_ECREDS,      /* 401: invalid credentials */
	AUTH_ETOKEN,      /* 401: token does not verify */
	AUTH_EREVOKED,    /* 401: refresh token revoked or expired */
	AUTH_ENOAUTH,     /* 401: no Authorization header at all */
	AUTH_EFORBIDDEN,  /* 403: not allowed from this client or account */
	AUTH_ENOTFOUND,   /* 404 */
	AUTH_EMETHOD,     /* 405 */
	AUTH_ETIMEOUT,    /* 408: the request body did not arrive in time */
	AUTH_ELENGTH,     /* 411: POST without Content-Length */
	AUTH_ETOOBIG,     /* 413: body over MAX_BODY_BYTES */
	AUTH_ETHROTTLED,  /* 429 */
	AUTH_EUNAVAIL,    /* 503: database busy, locked or unreachable */
	AUTH_EINTERNAL,   /* 500: anything unexpected */
	AUTH_EBADTOKEN,   /* 400: one-time token unknown, used up or expired */
	AUTH_ECONFLICT,   /* 409: the state asked for is already there */
	AUTH_ERR__MAX
};

/* HTTP status for err (500 for out-of-range values). */
int auth_err_status(enum auth_err err);

/* Default client-facing detail for err; a static string, never NULL. */
const char *auth_err_detail(enum auth_err err);

/* Short stable name for logs ("EINVAL"); a static string, never NULL. */
const char *auth_strerror(enum auth_err err);

#endif
