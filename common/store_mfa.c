/*
 * store_mfa: the second factor of migration 007: a TOTP enrollment per
 * user (secret sealed by the caller, seal.h), its recovery codes (HMACs
 * only), the mfa_tokens a login issued, and the newest step accepted.
 * Every "used once" rule is a conditional write whose row count decides,
 * so concurrent requests on any node have one winner. Statements are
 * prepared on first use, all before a transaction starts; while 007 is
 * pending these functions answer AUTH_EUNAVAIL.
 */
#include "store.h"

#include <string.h>

#include "store_int.h"

enum store_mfa_sql {
	MFA_GET,
	MFA_ENROLL,
	MFA_CONFIRM,
	MFA_STEP,
	MFA_RECOVERY_ADD,
	MFA_RECOVERY_USE,
	MFA_RECOVERY_CLEAR,
	MFA_DELETE,
	MFA_TOKEN_ADD,
	MFA_TOKEN_USE,
	MFA_TOKENS_CLEAR,
	MFA__MAX
};

_Static_assert(MFA__MAX <= STORE_MFA_SLOTS, "store_int.h: too few mfa slots");

static const char *const store_mfa_text[MFA__MAX] = {
	[MFA_GET] =
	    "SELECT u.disabled, t.enabled, t.secret, t.last_step FROM users u "
	    "LEFT JOIN mfa_totp t ON t.user_id = u.id WHERE u.id = ?1",
	/* A pending one is replaced; an enabled one stays (no row). */
	[MFA_ENROLL] =
	    "INSERT INTO mfa_totp(user_id, secret, enabled, last_step, "
	    "created_at) VALUES (?1, ?3, 0, 0, ?2) ON CONFLICT (user_id) DO "
	    "UPDATE SET secret = excluded.secret, last_step = 0, "
	    "created_at = excluded.created_at WHERE mfa_totp.enabled = 0",
	/* The secret the code was checked against, still pending. */
	[MFA_CONFIRM] =
	    "UPDATE mfa_totp SET enabled = 1, last_step = ?2 "
	    "WHERE user_id = ?1 AND enabled = 0 AND secret = ?3",
	[MFA_STEP] =
	    "UPDATE mfa_totp SET last_step = ?2 "
	    "WHERE user_id = ?1 AND enabled = 1 AND last_step < ?2",
	[MFA_RECOVERY_ADD] =
	    "INSERT INTO mfa_recovery(user_id, code_hash) VALUES (?1, ?2)",
	[MFA_RECOVERY_USE] =
	    "DELETE FROM mfa_recovery WHERE user_id = ?1 AND code_hash = ?2",
	[MFA_RECOVERY_CLEAR] =
	    "DELETE FROM mfa_recovery WHERE user_id = ?1",
	[MFA_DELETE] =
	    "DELETE FROM mfa_totp WHERE user_id = ?1",
	[MFA_TOKEN_ADD] =
	    "INSERT INTO mfa_tokens(jti, user_id, expires_at) "
	    "VALUES (?1, ?3, ?2)",
	[MFA_TOKEN_USE] =
	    "DELETE FROM mfa_tokens WHERE jti = ?1 AND expires_at > ?2 "
	    "AND user_id = ?3",
	[MFA_TOKENS_CLEAR] =
	    "DELETE FROM mfa_tokens WHERE user_id = ?1",
};

enum auth_err store_mfa_ready(struct store *st)
{
	return store_prepare_all(st, st->mfa, store_mfa_text, MFA__MAX);
}

/* rc of the write just run; rc_none when it changed no row. */
static enum auth_err store_mfa_one(struct store *st, enum auth_err rc,
    enum auth_err rc_none)
{
	return rc == AUTH_OK && db_changes(st->db) == 0 ? rc_none : rc;
}

enum auth_err store_mfa_get(struct store *st, const char *user_id,
    struct store_mfa *out)
{
	struct db_stmt *q;
	enum auth_err rc;
	int step;

	memset(out, 0, sizeof(*out));
	if ((rc = store_mfa_ready(st)) != AUTH_OK)
		return rc;
	q = st->mfa[MFA_GET];
	step = store_step_text(q, user_id);
	if (step == DB_ROW) {
		out->disabled = db_col_int(q, 0) != 0;
		size_t len = 0;

		/* secret is NOT NULL: NULL means no enrollment joined. */
		if (db_col_text(q, 2, &len) != NULL) {
			out->state = db_col_int(q, 1) != 0 ? STORE_MFA_ENABLED :
			    STORE_MFA_PENDING;
			store_col_copy(q, 2, out->secret, sizeof(out->secret));
			out->last_step = db_col_int(q, 3);
		}
	} else {
		rc = step == DB_DONE ? AUTH_ENOTFOUND : (enum auth_err)-step;
	}
	db_reset(q);
	return rc;
}

enum auth_err store_mfa_enroll(struct store *st, const char *user_id,
    const char *sealed, int64_t now)
{
	enum auth_err rc;

	if ((rc = store_mfa_ready(st)) != AUTH_OK)
		return rc;
	if ((rc = db_begin(st->db)) != AUTH_OK)
		return rc;
	rc = store_exec_ti(st->mfa[MFA_ENROLL], user_id, now, sealed);
	return store_finish(st, store_mfa_one(st, rc, AUTH_ECONFLICT));
}

enum auth_err store_mfa_confirm(struct store *st, const char *user_id,
    const char *sealed, int64_t step, const char *const *hashes, size_t n)
{
	enum auth_err rc;
	size_t i;

	if ((rc = store_mfa_ready(st)) != AUTH_OK)
		return rc;
	if ((rc = db_begin(st->db)) != AUTH_OK)
		return rc;
	/* /auth/me caches the flag with its session answer, on every node. */
	db_notify(st->db);
	rc = store_exec_ti(st->mfa[MFA_CONFIRM], user_id, step, sealed);
	rc = store_mfa_one(st, rc, AUTH_ECONFLICT);
	if (rc == AUTH_OK)
		rc = store_exec_text(st->mfa[MFA_RECOVERY_CLEAR], user_id);
	for (i = 0; i < n && rc == AUTH_OK; i++)
		rc = store_exec_tt(st->mfa[MFA_RECOVERY_ADD], user_id, hashes[i]);
	return store_finish(st, rc);
}

/* Use up the code of proof, in the caller's transaction. */
static enum auth_err store_mfa_use_code(struct store *st, const char *user_id,
    const struct store_mfa_proof *proof)
{
	enum auth_err rc;

	if (proof->step > 0)
		rc = store_exec_ti(st->mfa[MFA_STEP], user_id, proof->step, NULL);
	else if (proof->recovery != NULL)
		rc = store_exec_tt(st->mfa[MFA_RECOVERY_USE], user_id,
		    proof->recovery);
	else
		return AUTH_ECREDS;
	return store_mfa_one(st, rc, AUTH_ECREDS);
}

enum auth_err store_mfa_prove(struct store *st, const char *user_id,
    const struct store_mfa_proof *proof, int64_t now)
{
	enum auth_err rc;

	rc = store_exec_ti(st->mfa[MFA_TOKEN_USE], proof->jti, now, user_id);
	rc = store_mfa_one(st, rc, AUTH_ETOKEN);
	if (rc == AUTH_OK)
		rc = store_mfa_use_code(st, user_id, proof);
	return rc;
}

enum auth_err store_mfa_forget(struct store *st, const char *user_id,
    int *had)
{
	enum auth_err rc;

	*had = 0;
	if (st->mfa[MFA__MAX - 1] == NULL)
		return AUTH_OK;          /* before 007 there is nothing */
	db_notify(st->db);
	rc = store_exec_text(st->mfa[MFA_RECOVERY_CLEAR], user_id);
	if (rc == AUTH_OK)
		rc = store_exec_text(st->mfa[MFA_TOKENS_CLEAR], user_id);
	if (rc == AUTH_OK)
		rc = store_exec_text(st->mfa[MFA_DELETE], user_id);
	if (rc == AUTH_OK)
		*had = db_changes(st->db) > 0;
	return rc;
}

enum auth_err store_mfa_disable(struct store *st, const char *user_id,
    const struct store_mfa_proof *proof)
{
	struct store_mfa m;
	enum auth_err rc;
	int had = 0;

	if ((rc = store_mfa_get(st, user_id, &m)) != AUTH_OK)
		return rc == AUTH_ENOTFOUND ? AUTH_ECONFLICT : rc;
	if (m.state != STORE_MFA_ENABLED)
		return AUTH_ECONFLICT;
	if ((rc = db_begin(st->db)) != AUTH_OK)
		return rc;
	rc = store_mfa_use_code(st, user_id, proof);
	if (rc == AUTH_OK)
		rc = store_mfa_forget(st, user_id, &had);
	if (rc == AUTH_OK && !had)
		rc = AUTH_ECONFLICT;     /* disabled meanwhile */
	return store_finish(st, rc);
}

enum auth_err store_mfa_challenge(struct store *st, const char *user_id,
    const char *jti, int64_t expires_at)
{
	enum auth_err rc;

	if ((rc = store_mfa_ready(st)) != AUTH_OK)
		return rc;
	if ((rc = db_begin(st->db)) != AUTH_OK)
		return rc;
	rc = store_exec_ti(st->mfa[MFA_TOKEN_ADD], jti, expires_at, user_id);
	return store_finish(st, rc);
}
