/* store: the domain queries (users, sessions, refresh tokens), each one transaction. */
#ifndef AUTH_STORE_H
#define AUTH_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "err.h"
#include "password.h"
#include "valid.h"

struct store;

/* A new session and its first refresh token. */
struct store_grant {
	const char *user_id;
	const char *session_id;
	const char *jti;
	int64_t now;
	int64_t expires_at;          /* of the refresh token */
	const char *user_agent;      /* may be NULL */
	const char *ip;              /* may be NULL */
	const char *email;           /* login: its failure count is reset */
	const char *refund_ip;       /* login: the attempt this address was
	                              * charged is given back */
	const struct store_mfa_proof *mfa;  /* login: the second factor it
	                              * passed, used up with the session's start */
};

/*
 * A second factor a login presents (POST /auth/mfa/verify), used up in
 * the transaction that starts the session: the mfa_token's jti, and
 * either the TOTP step its code matched or a recovery code's HMAC.
 */
struct store_mfa_proof {
	const char *jti;
	int64_t step;                /* > 0: a TOTP code of this step */
	const char *recovery;        /* else: seal_mac of the recovery code */
};

/* A live session as GET /auth/sessions shows it. */
struct store_session {
	char id[VALID_UUID_SIZE];
	int64_t created_at;
	int64_t last_used_at;
	char user_agent[257];        /* "" when unknown */
	char ip[65];                 /* "" when unknown */
};

/*
 * One attempt counter of the throttle: kind ("email", "ip", "register")
 * and value name a row of login_attempts; at most max attempts per
 * window seconds (max 0: no limit, nothing counted). value NULL: skipped.
 */
struct store_limit {
	const char *kind;
	const char *value;
	long max;
	long window;
};

enum store_rotation {
	STORE_ROTATED,               /* presented token rotated to the new jti */
	STORE_REUSED,                /* rotated within the reuse interval: new jti issued too */
	STORE_REPLAY,                /* already rotated: the session is now revoked */
	STORE_DEAD                   /* unknown, expired, logged out or session revoked */
};

/*
 * Open the database (engine and target as db_open) and prepare every
 * statement. Returns 0, or -1 with one line naming DATABASE_URL in err.
 */
int store_open(struct store **out, enum db_engine engine, const char *target,
    long busy_timeout_ms, char *err, size_t errlen)
    __attribute__((warn_unused_result));
void store_close(struct store *st);

/*
 * Create a user with email (already normalized) and hash, and the grant's
 * session and refresh token, atomically. AUTH_EEXISTS when the email is
 * taken; AUTH_EUNAVAIL when the database is busy past its timeout.
 */
enum auth_err store_register(struct store *st, const char *email,
    const char *hash, const struct store_grant *g)
    __attribute__((warn_unused_result));

/*
 * Look up a user by normalized email: copies id (VALID_UUID_SIZE) and
 * hash (PASSWORD_HASH_MAX). AUTH_ENOTFOUND when there is none.
 */
enum auth_err store_user_by_email(struct store *st, const char *email,
    char *id, char *hash) __attribute__((warn_unused_result));

/*
 * Start a session for an existing user (login), atomically; when
 * g->email is set its failed-login count is reset in the same transaction.
 * AUTH_EFORBIDDEN when the account is disabled (schema 005), checked in
 * the same transaction; AUTH_ENOTFOUND when the user is gone.
 */
enum auth_err store_login(struct store *st, const struct store_grant *g)
    __attribute__((warn_unused_result));

/* Replace a user's password hash (rehash on login). */
enum auth_err store_set_password(struct store *st, const char *user_id,
    const char *hash) __attribute__((warn_unused_result));

/*
 * Rotate refresh token old_jti of session sid to g->jti, in one
 * transaction whose conditional update decides the single winner among
 * concurrent callers. *out says what happened; only STORE_ROTATED and
 * STORE_REUSED inserted g->jti. reuse_interval > 0 lets a token rotated
 * less than that many seconds ago be rotated again (STORE_REUSED).
 */
enum auth_err store_rotate(struct store *st, const char *old_jti,
    const struct store_grant *g, long reuse_interval,
    enum store_rotation *out) __attribute__((warn_unused_result));

/* One rotation of a batch: the arguments of store_rotate and its results. */
struct store_rotation_req {
	const char *old_jti;
	struct store_grant grant;
	long reuse_interval;
	enum store_rotation how;     /* out */
	enum auth_err rc;            /* out: this rotation's own result */
};

/*
 * Several rotations in one transaction, one after the other as if each
 * were its own (the second of two rotations of one token sees the first
 * one's), each under a savepoint so that an error undoes only its own
 * writes; one commit, so one flush, for all. Returns the transaction's
 * result: when it is not AUTH_OK, nothing was written and every rc says
 * so.
 */
enum auth_err store_rotate_batch(struct store *st,
    struct store_rotation_req *reqs, size_t n)
    __attribute__((warn_unused_result));

/*
 * Email of user_id when session sid is one of its live sessions; copies
 * into email (VALID_EMAIL_MAX + 1). AUTH_ETOKEN when the user or the
 * session is gone or revoked, or the account disabled.
 */
enum auth_err store_me(struct store *st, const char *user_id,
    const char *sid, char *email) __attribute__((warn_unused_result));

/* The database's change counter (db_epoch): -1 when there is none. */
int store_epoch(struct store *st, uint64_t *out);

/*
 * Readiness: the newest applied migration version ("002") into version
 * (8 bytes). AUTH_EUNAVAIL when the database file is gone or no longer
 * readable and writable, or does not answer.
 */
enum auth_err store_schema_version(struct store *st, char *version)
    __attribute__((warn_unused_result));

/*
 * Why the database cannot take writes, as far as its file system tells:
 * "database read-only" (mounted read-only), "database disk full" (less
 * than STORE_DISK_MIN bytes free for the WAL to grow), or NULL.
 */
#define STORE_DISK_MIN (64ULL * 1024)
const char *store_disk_problem(struct store *st);

/*
 * Gauges kept by the counters table (migration 002): user count and
 * unrevoked refresh tokens. AUTH_EUNAVAIL while that migration is pending.
 */
enum auth_err store_counters(struct store *st, int64_t *users,
    int64_t *tokens) __attribute__((warn_unused_result));

/*
 * Revoke session sid and every refresh token of it, when it belongs to
 * user_id and is not revoked yet (an expired one may still be revoked).
 * AUTH_ENOTFOUND otherwise: another user's session is never touched.
 */
enum auth_err store_session_revoke(struct store *st, const char *user_id,
    const char *sid, int64_t now) __attribute__((warn_unused_result));

/* Revoke every session and refresh token of user_id. */
enum auth_err store_revoke_user(struct store *st, const char *user_id,
    int64_t now) __attribute__((warn_unused_result));

/*
 * Up to max live sessions of user_id (not revoked, with an unexpired
 * refresh token), newest first, into rows; count in *n.
 */
enum auth_err store_sessions(struct store *st, const char *user_id,
    int64_t now, struct store_session *rows, size_t max, size_t *n)
    __attribute__((warn_unused_result));

/*
 * Count one attempt against each limit, and decide, in one write
 * transaction taken before any password work: AUTH_ETHROTTLED with
 * *retry_after (seconds, the longest wait) when some counter already
 * holds max attempts in its current window, and then nothing is counted;
 * else every counter goes up by one. Deciding and counting in one step
 * is what keeps N concurrent guesses from all passing one check. An
 * attempt that turns out to be legitimate is given back (store_login's
 * refund_ip, email reset).
 */
enum auth_err store_throttle_take(struct store *st,
    const struct store_limit *lims, size_t n, int64_t now, long *retry_after)
    __attribute__((warn_unused_result));

/* An account as the operator's command (authctl) shows it. */
struct store_user {
	char id[VALID_UUID_SIZE];
	char email[VALID_EMAIL_MAX + 1];
	int64_t created_at;
	int disabled;
	int64_t disabled_at;         /* 0 while enabled */
	int64_t sessions;            /* live: not revoked, a token unexpired */
	int mfa;                     /* enum store_mfa_state (migration 007) */
};

/*
 * Up to max accounts whose email matches the SQL LIKE pattern like
 * (escape character '\'; emails are stored lower-cased), ordered by
 * email, skipping offset, at most limit; count in *n. now decides which
 * sessions are live. AUTH_EUNAVAIL also while migration 005 is pending.
 */
enum auth_err store_users(struct store *st, const char *like, int64_t now,
    long limit, long offset, struct store_user *rows, size_t max, size_t *n)
    __attribute__((warn_unused_result));

/* The account of a normalized email into out; AUTH_ENOTFOUND if none. */
enum auth_err store_user_show(struct store *st, const char *email,
    int64_t now, struct store_user *out) __attribute__((warn_unused_result));

enum store_admin_op {
	STORE_ADMIN_DISABLE,         /* flag set, every session revoked */
	STORE_ADMIN_ENABLE,          /* flag cleared; sessions stay revoked */
	STORE_ADMIN_REVOKE,          /* every session revoked */
	STORE_ADMIN_DELETE,          /* the user, its sessions, tokens and
	                              * email-keyed login attempts deleted */
	STORE_ADMIN_RESET_MFA,       /* second factor off, every session
	                              * revoked */
	STORE_ADMIN__MAX
};

struct store_admin_result {
	char user_id[VALID_UUID_SIZE];
	int changed;                 /* 0: it already was so (disable twice) */
	long sessions;               /* live sessions revoked (or deleted) */
};

/*
 * Apply op to the account of a normalized email, in one transaction
 * that tells every process (db_notify) when it revokes. AUTH_ENOTFOUND
 * when there is no such account (nothing changed); AUTH_EUNAVAIL also
 * while migration 005 is pending.
 */
enum auth_err store_user_admin(struct store *st, enum store_admin_op op,
    const char *email, int64_t now, struct store_admin_result *res)
    __attribute__((warn_unused_result));

/* Migration 006 (store_accounts.c): AUTH_EUNAVAIL while it is pending. */

/* An account's own row, for /auth/me, password change and login. */
struct store_account {
	char email[VALID_EMAIL_MAX + 1];
	char hash[PASSWORD_HASH_MAX];
	int email_verified;
	int disabled;
};

/* user_id's row into out; AUTH_ENOTFOUND when it is gone. */
enum auth_err store_account(struct store *st, const char *user_id,
    struct store_account *out) __attribute__((warn_unused_result));

enum store_ott_kind {
	STORE_OTT_RESET,             /* password reset */
	STORE_OTT_VERIFY,            /* email verification */
	STORE_OTT__MAX
};

/* A new one-time token (only its SHA-256, hex) and the message carrying it. */
struct store_ott {
	const char *user_id;
	enum store_ott_kind kind;
	const char *hash;            /* 64 hex digits */
	int64_t now;
	int64_t expires_at;
	const char *recipient;       /* normalized email */
	const char *message;         /* RFC 5322 text, mail_compose */
};

/*
 * In one transaction: the user's unused tokens of that kind used up
 * (newest wins), the token inserted, its message queued in the outbox.
 */
enum auth_err store_ott_issue(struct store *st, const struct store_ott *t)
    __attribute__((warn_unused_result));

/* POST /auth/password/forgot. */
struct store_forgot {
	const char *email;           /* normalized */
	const char *ip;              /* throttle key of the client; NULL: none */
	long addr_max;               /* per address per window; 0: no limit */
	long email_max;              /* per email per window; 0: no limit */
	long window;
	struct store_ott ott;        /* user_id and recipient filled here */
};

/*
 * One transaction whatever the email: count the address (AUTH_ETHROTTLED
 * with *retry_after past addr_max, nothing counted), count the email
 * (past email_max: AUTH_OK, nothing queued), and when the email is a
 * user's issue the reset token with its message (*queued = 1).
 */
enum auth_err store_forgot(struct store *st, const struct store_forgot *f,
    long *retry_after, int *queued) __attribute__((warn_unused_result));

/* Using a one-time token. */
struct store_ott_use {
	enum store_ott_kind kind;
	const char *hash;            /* of the presented token */
	int64_t now;
	const char *new_hash;        /* reset: the new password hash */
	const char *email;           /* reset: its login count is reset; may be NULL */
	const char *refund_ip;       /* "token_ip" attempt given back; may be NULL */
};

/*
 * Use the token in one transaction whose conditional update makes one
 * winner: reset replaces the password and revokes every session (every
 * node told); verify sets email_verified. The user into user_id
 * (VALID_UUID_SIZE). AUTH_ETOKEN for an unknown, used, expired or
 * other-kind token.
 */
enum auth_err store_ott_use(struct store *st, const struct store_ott_use *u,
    char *user_id) __attribute__((warn_unused_result));

/* POST /auth/password. */
struct store_password_change {
	const char *user_id;
	const char *keep_sid;        /* the session that stays */
	const char *new_hash;
	int64_t now;
	const char *email;           /* its failed-login count reset */
	const char *refund_ip;       /* its attempt given back; may be NULL */
};

/* Replace the hash and revoke every other session, in one transaction. */
enum auth_err store_password_change(struct store *st,
    const struct store_password_change *c) __attribute__((warn_unused_result));

/* A queued message as the mailer takes it. */
#define STORE_MAIL_MAX 8192
struct store_mail {
	int64_t id;
	int64_t created_at;
	int64_t attempts;            /* failed so far */
	size_t len;
	char message[STORE_MAIL_MAX];
};

/*
 * Take the oldest due message (next attempt at or before now), leased
 * until lease_until so no other mailer takes it meanwhile.
 * AUTH_ENOTFOUND when none is due.
 */
enum auth_err store_outbox_claim(struct store *st, int64_t now,
    int64_t lease_until, struct store_mail *m)
    __attribute__((warn_unused_result));
/* Delivered: the message leaves the outbox. */
enum auth_err store_outbox_done(struct store *st, int64_t id)
    __attribute__((warn_unused_result));
/* Not delivered: one more failed attempt, tried again at next_attempt_at. */
enum auth_err store_outbox_retry(struct store *st, int64_t id,
    int64_t next_attempt_at, const char *error)
    __attribute__((warn_unused_result));

/* Migration 007 (store_mfa.c): AUTH_EUNAVAIL while it is pending. */

enum store_mfa_state {
	STORE_MFA_NONE,
	STORE_MFA_PENDING,           /* enrolled, awaiting its first code */
	STORE_MFA_ENABLED
};

#define STORE_MFA_SECRET_MAX 128     /* the sealed secret's text */

struct store_mfa {
	int disabled;                /* the account (authctl disable) */
	enum store_mfa_state state;
	char secret[STORE_MFA_SECRET_MAX];   /* sealed; "" with NONE */
	int64_t last_step;           /* newest TOTP step accepted */
};

/* user_id's account flag and second factor; AUTH_ENOTFOUND: no user. */
enum auth_err store_mfa_get(struct store *st, const char *user_id,
    struct store_mfa *out) __attribute__((warn_unused_result));

/*
 * A pending enrollment of the sealed secret, replacing a pending one.
 * AUTH_ECONFLICT when TOTP is enabled already.
 */
enum auth_err store_mfa_enroll(struct store *st, const char *user_id,
    const char *sealed, int64_t now) __attribute__((warn_unused_result));

/*
 * Enable the pending enrollment of exactly the sealed secret whose code
 * matched step, with the n recovery codes' HMACs (replacing any), and
 * tell every node. AUTH_ECONFLICT when no such enrollment is pending.
 */
enum auth_err store_mfa_confirm(struct store *st, const char *user_id,
    const char *sealed, int64_t step, const char *const *hashes, size_t n)
    __attribute__((warn_unused_result));

/*
 * Use up proof's code (its jti is ignored) and turn TOTP off, recovery
 * codes gone, every node told. AUTH_ECREDS when the code was used
 * meanwhile or is no recovery code of the user; AUTH_ECONFLICT when TOTP
 * is not enabled.
 */
enum auth_err store_mfa_disable(struct store *st, const char *user_id,
    const struct store_mfa_proof *proof) __attribute__((warn_unused_result));

/* Record the jti of an mfa_token issued to user_id, valid until expires_at. */
enum auth_err store_mfa_challenge(struct store *st, const char *user_id,
    const char *jti, int64_t expires_at) __attribute__((warn_unused_result));

#endif
