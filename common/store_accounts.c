/*
 * store_accounts: one-time tokens (password reset, email verification),
 * the mail outbox, password change and the account flags of migration
 * 006. Every statement is prepared on first use, all of them before a
 * transaction starts (on PostgreSQL a failing prepare would abort it):
 * while 006 is pending these functions answer AUTH_EUNAVAIL and the rest
 * of the service runs as before.
 */
#include "store.h"

#include <stdio.h>
#include <string.h>

#include "store_int.h"

enum store_acct {
	ACCT_USER_BY_ID,
	ACCT_USER_BY_EMAIL,
	ACCT_OTT_SUPERSEDE,
	ACCT_OTT_INSERT,
	ACCT_OTT_USE,
	ACCT_OUTBOX_INSERT,
	ACCT_SET_HASH,
	ACCT_SET_VERIFIED,
	ACCT_SESSIONS_REVOKE,
	ACCT_TOKENS_REVOKE,
	ACCT_THROTTLE_REFUND,
	ACCT_THROTTLE_RESET,
	ACCT_OUTBOX_CLAIM,
	ACCT_OUTBOX_DELETE,
	ACCT_OUTBOX_RETRY,
	ACCT_OUTBOX_DELETE_RECIPIENT,
	ACCT__MAX
};

_Static_assert(ACCT__MAX <= STORE_ACCT_SLOTS, "store_int.h: too few acct slots");

static const char *const store_acct_kind[STORE_OTT__MAX] = {
	[STORE_OTT_RESET] = "reset",
	[STORE_OTT_VERIFY] = "verify",
};

static const char *const store_acct_text[ACCT__MAX] = {
	[ACCT_USER_BY_ID] =
	    "SELECT email, password_hash, email_verified, disabled "
	    "FROM users WHERE id = ?1",
	[ACCT_USER_BY_EMAIL] =
	    "SELECT id FROM users WHERE email = ?1",
	/* Newest wins: a new token of a kind uses up the older ones. */
	[ACCT_OTT_SUPERSEDE] =
	    "UPDATE one_time_tokens SET used_at = ?2 WHERE user_id = ?1 AND "
	    "kind = ?3 AND used_at IS NULL",
	[ACCT_OTT_INSERT] =
	    "INSERT INTO one_time_tokens(hash, user_id, kind, created_at, "
	    "expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
	/* The single winner of concurrent uses: the row comes back once. */
	[ACCT_OTT_USE] =
	    "UPDATE one_time_tokens SET used_at = ?3 WHERE hash = ?1 AND "
	    "kind = ?2 AND used_at IS NULL AND expires_at > ?3 "
	    "RETURNING user_id",
	[ACCT_OUTBOX_INSERT] =
	    "INSERT INTO mail_outbox(recipient, message, created_at, "
	    "next_attempt_at) VALUES (?1, ?2, ?3, ?3)",
	[ACCT_SET_HASH] =
	    "UPDATE users SET password_hash = ?2 WHERE id = ?1",
	[ACCT_SET_VERIFIED] =
	    "UPDATE users SET email_verified = 1 WHERE id = ?1",
	/* Every session but ?3 ('' keeps none). */
	[ACCT_SESSIONS_REVOKE] =
	    "UPDATE sessions SET revoked = 1, revoked_at = ?2 "
	    "WHERE user_id = ?1 AND revoked = 0 AND id <> ?3",
	[ACCT_TOKENS_REVOKE] =
	    "UPDATE refresh_tokens SET revoked = 1, revoked_at = ?2 "
	    "WHERE session_id IN (SELECT id FROM sessions WHERE user_id = ?1 "
	    "AND id <> ?3) AND revoked = 0",
	[ACCT_THROTTLE_REFUND] =
	    "UPDATE login_attempts SET failures = failures - 1 "
	    "WHERE key = ?1 AND failures > 0",
	[ACCT_THROTTLE_RESET] =
	    "DELETE FROM login_attempts WHERE key = ?1",
	/*
	 * One due message, leased until ?2: the outer re-check makes one
	 * winner among mailers of several nodes (PostgreSQL re-evaluates
	 * it on the row it waited for).
	 */
	[ACCT_OUTBOX_CLAIM] =
	    "UPDATE mail_outbox SET next_attempt_at = ?2 WHERE id = "
	    "(SELECT id FROM mail_outbox WHERE next_attempt_at <= ?1 "
	    "ORDER BY next_attempt_at, id LIMIT 1) AND next_attempt_at <= ?1 "
	    "RETURNING id, created_at, attempts, message",
	[ACCT_OUTBOX_DELETE] =
	    "DELETE FROM mail_outbox WHERE id = ?1",
	[ACCT_OUTBOX_RETRY] =
	    "UPDATE mail_outbox SET attempts = attempts + 1, "
	    "next_attempt_at = ?2, last_error = ?3 WHERE id = ?1",
	[ACCT_OUTBOX_DELETE_RECIPIENT] =
	    "DELETE FROM mail_outbox WHERE recipient = ?1",
};

enum auth_err store_acct_ready(struct store *st)
{
	return store_prepare_all(st, st->acct, store_acct_text, ACCT__MAX);
}

/* The throttle row "kind:value" given back one attempt, or reset. */
static enum auth_err store_acct_key(struct store *st, enum store_acct i,
    const char *kind, const char *value)
{
	char key[VALID_EMAIL_MAX + 16];

	if (value == NULL)
		return AUTH_OK;
	if (store_throttle_key(key, sizeof(key), kind, value) != 0)
		return AUTH_EINTERNAL;
	return store_exec_text(st->acct[i], key);
}

enum auth_err store_account(struct store *st, const char *user_id,
    struct store_account *out)
{
	struct db_stmt *q;
	enum auth_err rc;
	int step;

	memset(out, 0, sizeof(*out));
	if ((rc = store_acct_ready(st)) != AUTH_OK)
		return rc;
	q = st->acct[ACCT_USER_BY_ID];
	step = store_step_text(q, user_id);
	if (step == DB_ROW) {
		store_col_copy(q, 0, out->email, sizeof(out->email));
		store_col_copy(q, 1, out->hash, sizeof(out->hash));
		out->email_verified = db_col_int(q, 2) != 0;
		out->disabled = db_col_int(q, 3) != 0;
	} else {
		rc = step == DB_DONE ? AUTH_ENOTFOUND : (enum auth_err)-step;
	}
	db_reset(q);
	return rc;
}

/* Supersede, insert the token and queue its message, in the open transaction. */
static enum auth_err store_ott_insert(struct store *st,
    const struct store_ott *t)
{
	struct db_stmt *s = st->acct[ACCT_OTT_SUPERSEDE];
	const char *kind = store_acct_kind[t->kind];
	enum auth_err rc;

	if ((rc = store_exec_ti(s, t->user_id, t->now, kind)) != AUTH_OK)
		return rc;
	s = st->acct[ACCT_OTT_INSERT];
	if ((rc = store_bind(s, 1, t->hash)) != AUTH_OK ||
	    (rc = store_bind(s, 2, t->user_id)) != AUTH_OK ||
	    (rc = store_bind(s, 3, kind)) != AUTH_OK ||
	    (rc = db_bind_int(s, 4, t->now)) != AUTH_OK ||
	    (rc = db_bind_int(s, 5, t->expires_at)) != AUTH_OK) {
		db_reset(s);
		return rc;
	}
	if ((rc = store_exec(s)) != AUTH_OK)
		return rc == AUTH_EEXISTS ? AUTH_EINTERNAL : rc;
	s = st->acct[ACCT_OUTBOX_INSERT];
	if ((rc = store_bind(s, 1, t->recipient)) != AUTH_OK ||
	    (rc = store_bind(s, 2, t->message)) != AUTH_OK ||
	    (rc = db_bind_int(s, 3, t->now)) != AUTH_OK) {
		db_reset(s);
		return rc;
	}
	return store_exec(s);
}

enum auth_err store_ott_issue(struct store *st, const struct store_ott *t)
{
	enum auth_err rc;

	if ((rc = store_acct_ready(st)) != AUTH_OK)
		return rc;
	if ((rc = db_begin(st->db)) != AUTH_OK)
		return rc;
	return store_finish(st, store_ott_insert(st, t));
}

enum auth_err store_forgot(struct store *st, const struct store_forgot *f,
    long *retry_after, int *queued)
{
	char key[VALID_EMAIL_MAX + 16];
	struct store_ott t = f->ott;
	char user_id[VALID_UUID_SIZE];
	long wait = 0;
	enum auth_err rc;
	int step;

	*retry_after = 0;
	*queued = 0;
	if ((rc = store_acct_ready(st)) != AUTH_OK)
		return rc;
	if ((rc = db_begin(st->db)) != AUTH_OK)
		return rc;
	/* The address first: past its limit the answer is 429, nothing counted. */
	if (f->ip != NULL && f->addr_max > 0) {
		if (store_throttle_key(key, sizeof(key), "reset_ip", f->ip) != 0)
			rc = AUTH_EINTERNAL;
		else
			rc = store_throttle_count(st, key, t.now, f->window,
			    f->addr_max, &wait);
		if (rc == AUTH_OK && wait > 0) {
			*retry_after = wait;
			rc = AUTH_ETHROTTLED;
		}
		if (rc != AUTH_OK)
			return store_finish(st, rc);
	}
	/* The email past its limit: the same answer, nothing sent. */
	if (f->email_max > 0) {
		if (store_throttle_key(key, sizeof(key), "reset_email",
		    f->email) != 0)
			rc = AUTH_EINTERNAL;
		else
			rc = store_throttle_count(st, key, t.now, f->window,
			    f->email_max, &wait);
		if (rc != AUTH_OK || wait > 0)
			return store_finish(st, rc);
	}
	step = store_step_text(st->acct[ACCT_USER_BY_EMAIL], f->email);
	if (step == DB_ROW)
		store_col_copy(st->acct[ACCT_USER_BY_EMAIL], 0, user_id,
		    sizeof(user_id));
	db_reset(st->acct[ACCT_USER_BY_EMAIL]);
	if (step < 0)
		return store_finish(st, (enum auth_err)-step);
	if (step == DB_ROW) {
		t.user_id = user_id;
		t.recipient = f->email;
		rc = store_ott_insert(st, &t);
		*queued = rc == AUTH_OK;
	}
	rc = store_finish(st, rc);
	if (rc != AUTH_OK)
		*queued = 0;
	return rc;
}

/* Revoke every session of user_id but keep ("" keeps none); tells every node. */
static enum auth_err store_acct_revoke(struct store *st, const char *user_id,
    const char *keep, int64_t now)
{
	enum auth_err rc;

	db_notify(st->db);
	rc = store_exec_ti(st->acct[ACCT_SESSIONS_REVOKE], user_id, now, keep);
	if (rc == AUTH_OK)
		rc = store_exec_ti(st->acct[ACCT_TOKENS_REVOKE], user_id, now,
		    keep);
	return rc;
}

enum auth_err store_ott_use(struct store *st, const struct store_ott_use *u,
    char *user_id)
{
	struct db_stmt *q;
	enum auth_err rc;
	int step;

	user_id[0] = '\0';
	if ((rc = store_acct_ready(st)) != AUTH_OK)
		return rc;
	if ((rc = db_begin(st->db)) != AUTH_OK)
		return rc;
	q = st->acct[ACCT_OTT_USE];
	if ((rc = store_bind(q, 1, u->hash)) != AUTH_OK ||
	    (rc = store_bind(q, 2, store_acct_kind[u->kind])) != AUTH_OK ||
	    (rc = db_bind_int(q, 3, u->now)) != AUTH_OK) {
		db_reset(q);
		return store_finish(st, rc);
	}
	step = db_step(q);
	if (step == DB_ROW)
		store_col_copy(q, 0, user_id, VALID_UUID_SIZE);
	db_reset(q);
	if (step != DB_ROW)
		return store_finish(st, step == DB_DONE ? AUTH_ETOKEN :
		    (enum auth_err)-step);
	if (u->kind == STORE_OTT_RESET) {
		rc = store_exec_tt(st->acct[ACCT_SET_HASH], user_id, u->new_hash);
		if (rc == AUTH_OK)
			rc = store_acct_revoke(st, user_id, "", u->now);
		/* Whoever reset it may log in again at once. */
		if (rc == AUTH_OK)
			rc = store_acct_key(st, ACCT_THROTTLE_RESET, "email",
			    u->email);
	} else {
		/* Every node's /auth/me caches the flag with its session answer. */
		db_notify(st->db);
		rc = store_exec_text(st->acct[ACCT_SET_VERIFIED], user_id);
	}
	if (rc == AUTH_OK)
		rc = store_acct_key(st, ACCT_THROTTLE_REFUND, "token_ip",
		    u->refund_ip);
	rc = store_finish(st, rc);
	if (rc != AUTH_OK)
		user_id[0] = '\0';
	return rc;
}

enum auth_err store_password_change(struct store *st,
    const struct store_password_change *c)
{
	enum auth_err rc;

	if ((rc = store_acct_ready(st)) != AUTH_OK)
		return rc;
	if ((rc = db_begin(st->db)) != AUTH_OK)
		return rc;
	rc = store_exec_tt(st->acct[ACCT_SET_HASH], c->user_id, c->new_hash);
	if (rc == AUTH_OK)
		rc = store_acct_revoke(st, c->user_id, c->keep_sid, c->now);
	/* As a successful login: the email's count reset, the address's
	 * attempt given back. */
	if (rc == AUTH_OK)
		rc = store_acct_key(st, ACCT_THROTTLE_RESET, "email", c->email);
	if (rc == AUTH_OK)
		rc = store_acct_key(st, ACCT_THROTTLE_REFUND, "ip", c->refund_ip);
	return store_finish(st, rc);
}

enum auth_err store_outbox_claim(struct store *st, int64_t now,
    int64_t lease_until, struct store_mail *m)
{
	struct db_stmt *q;
	enum auth_err rc;
	int step;

	memset(m, 0, sizeof(*m));
	if ((rc = store_acct_ready(st)) != AUTH_OK)
		return rc;
	if ((rc = db_begin(st->db)) != AUTH_OK)
		return rc;
	q = st->acct[ACCT_OUTBOX_CLAIM];
	if ((rc = db_bind_int(q, 1, now)) != AUTH_OK ||
	    (rc = db_bind_int(q, 2, lease_until)) != AUTH_OK) {
		db_reset(q);
		return store_finish(st, rc);
	}
	step = db_step(q);
	if (step == DB_ROW) {
		size_t len = 0;
		const char *msg = db_col_text(q, 3, &len);

		m->id = db_col_int(q, 0);
		m->created_at = db_col_int(q, 1);
		m->attempts = db_col_int(q, 2);
		if (msg == NULL || len >= sizeof(m->message)) {
			rc = AUTH_EINTERNAL;
		} else {
			memcpy(m->message, msg, len);
			m->message[len] = '\0';
			m->len = len;
		}
	} else {
		rc = step == DB_DONE ? AUTH_ENOTFOUND : (enum auth_err)-step;
	}
	db_reset(q);
	/* Nothing due is no error: the transaction wrote nothing. */
	if (rc == AUTH_ENOTFOUND) {
		db_rollback(st->db);
		return rc;
	}
	return store_finish(st, rc);
}

enum auth_err store_outbox_done(struct store *st, int64_t id)
{
	struct db_stmt *s;
	enum auth_err rc;

	if ((rc = store_acct_ready(st)) != AUTH_OK)
		return rc;
	if ((rc = db_begin(st->db)) != AUTH_OK)
		return rc;
	s = st->acct[ACCT_OUTBOX_DELETE];
	if ((rc = db_bind_int(s, 1, id)) != AUTH_OK) {
		db_reset(s);
		return store_finish(st, rc);
	}
	return store_finish(st, store_exec(s));
}

enum auth_err store_outbox_retry(struct store *st, int64_t id,
    int64_t next_attempt_at, const char *error)
{
	struct db_stmt *s;
	enum auth_err rc;

	if ((rc = store_acct_ready(st)) != AUTH_OK)
		return rc;
	if ((rc = db_begin(st->db)) != AUTH_OK)
		return rc;
	s = st->acct[ACCT_OUTBOX_RETRY];
	if ((rc = db_bind_int(s, 1, id)) != AUTH_OK ||
	    (rc = db_bind_int(s, 2, next_attempt_at)) != AUTH_OK ||
	    (rc = store_bind(s, 3, error)) != AUTH_OK) {
		db_reset(s);
		return store_finish(st, rc);
	}
	return store_finish(st, store_exec(s));
}

enum auth_err store_outbox_forget(struct store *st, const char *recipient)
{
	if (st->acct[ACCT_OUTBOX_DELETE_RECIPIENT] == NULL)
		return AUTH_OK;          /* before 006 there is no outbox */
	return store_exec_text(st->acct[ACCT_OUTBOX_DELETE_RECIPIENT],
	    recipient);
}
