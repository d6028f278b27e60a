/* err: status codes and details of enum auth_err, in one table. */
#include "err.h"

static const struct {
	int status;
	const char *detail;
	const char *name;
} err_table[AUTH_ERR__MAX] = {
	[AUTH_OK]         = {200, "ok", "OK"},
	[AUTH_EINVAL]     = {422, "invalid request", "EINVAL"},
	[AUTH_EEXISTS]    = {400, "email already registered", "EEXISTS"},
	[AUTH_ECREDS]     = {401, "invalid credentials", "ECREDS"},
	[AUTH_ETOKEN]     = {401, "invalid token", "ETOKEN"},
	[AUTH_EREVOKED]   = {401, "refresh token revoked or expired", "EREVOKED"},
	[AUTH_ENOAUTH]    = {401, "not authenticated", "ENOAUTH"},
	[AUTH_EFORBIDDEN] = {403, "forbidden", "EFORBIDDEN"},
	[AUTH_ENOTFOUND]  = {404, "not found", "ENOTFOUND"},
	[AUTH_EMETHOD]    = {405, "method not allowed", "EMETHOD"},
	[AUTH_ETIMEOUT]   = {408, "request timeout", "ETIMEOUT"},
	[AUTH_ELENGTH]    = {411, "length required", "ELENGTH"},
	[AUTH_ETOOBIG]    = {413, "request body too large", "ETOOBIG"},
	[AUTH_ETHROTTLED] = {429, "too many attempts", "ETHROTTLED"},
	[AUTH_EUNAVAIL]   = {503, "service unavailable", "EUNAVAIL"},
	[AUTH_EINTERNAL]  = {500, "internal error", "EINTERNAL"},
	[AUTH_EBADTOKEN]  = {400, "invalid or expired token", "EBADTOKEN"},
	[AUTH_ECONFLICT]  = {409, "conflict", "ECONFLICT"},
};

static int err_valid(enum auth_err err)
{
	return (int)err >= 0 && err < AUTH_ERR__MAX;
}

int auth_err_status(enum auth_err err)
{
	return err_valid(err) ? err_table[err].status : 500;
}

const char *auth_err_detail(enum auth_err err)
{
	return err_valid(err) ? err_table[err].detail : "internal error";
}

const char *auth_strerror(enum auth_err err)
{
	return err_valid(err) ? err_table[err].name : "EUNKNOWN";
}
