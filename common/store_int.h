/*
 * store_int: what the files of the store (store.c, store_accounts.c)
 * share and nothing above them sees: the handle and the small helpers.
 */
#ifndef AUTH_STORE_INT_H
#define AUTH_STORE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "err.h"

#define STORE_LAZY_SLOTS 16
#define STORE_ACCT_SLOTS 24
#define STORE_MFA_SLOTS 16

#define STORE_SQL_SLOTS 24

struct store {
	struct db *db;
	enum db_engine engine;
	struct db_stmt *sql[STORE_SQL_SLOTS];
	struct db_stmt *counters;      /* lazily prepared */
	struct db_stmt *reuse;         /* lazily prepared */
	struct db_stmt *lazy[STORE_LAZY_SLOTS]; /* prepared on first use */
	struct db_stmt *acct[STORE_ACCT_SLOTS]; /* store_accounts.c, migration 006 */
	struct db_stmt *mfa[STORE_MFA_SLOTS];   /* store_mfa.c, migration 007 */
	char path[4096];
};

/* Bind a text parameter; NULL leaves it unbound, which is SQL NULL. */
enum auth_err store_bind(struct db_stmt *s, int i, const char *v);
/* Run s to completion (no rows expected) and reset it. */
enum auth_err store_exec(struct db_stmt *s);
/* Commit when rc is AUTH_OK, else roll back; returns the final code. */
enum auth_err store_finish(struct store *st, enum auth_err rc);
/* Bind text ?1 and step: DB_ROW, DB_DONE or a negated enum auth_err. */
int store_step_text(struct db_stmt *q, const char *v);
/*
 * Prepare every statement of texts[0..n) not yet prepared into slots
 * (a file's statements of one migration): AUTH_EUNAVAIL while the schema
 * lacks what one of them reads.
 */
enum auth_err store_prepare_all(struct store *st, struct db_stmt **slots,
    const char *const *texts, int n);
/* Run s bound to (text ?1, text ?2) with no rows expected. */
enum auth_err store_exec_tt(struct db_stmt *s, const char *a, const char *b);
/* Run a one-text-parameter statement. */
enum auth_err store_exec_text(struct db_stmt *s, const char *v);
/* Run s bound to (text ?1, int ?2[, text ?3]) with no rows expected. */
enum auth_err store_exec_ti(struct db_stmt *s, const char *a, int64_t b,
    const char *c);
/* Throttle key "kind:value" into buf; -1 when it does not fit. */
int store_throttle_key(char *buf, size_t cap, const char *kind,
    const char *value);
/* Count one attempt of key; *wait: seconds until it may try again. */
enum auth_err store_throttle_count(struct store *st, const char *key,
    int64_t now, long window, long max, long *wait);
/* Copy column i (text or NULL) into out of capacity cap, truncating. */
void store_col_copy(struct db_stmt *q, int i, char *out, size_t cap);
/*
 * store_accounts.c: every statement of migration 006 prepared (call it
 * before a transaction), or AUTH_EUNAVAIL while 006 is pending.
 */
enum auth_err store_acct_ready(struct store *st);
/* Inside the caller's transaction: drop the queued mail of recipient
 * (authctl delete); nothing when store_acct_ready did not succeed. */
enum auth_err store_outbox_forget(struct store *st, const char *recipient);

/*
 * store_mfa.c: every statement of migration 007 prepared (before a
 * transaction), or AUTH_EUNAVAIL while 007 is pending.
 */
enum auth_err store_mfa_ready(struct store *st);
/* Inside the caller's transaction: use up proof for user_id at now.
 * AUTH_ETOKEN: its mfa_token was used or expired; AUTH_ECREDS: its code
 * was used meanwhile (a step not newer than the last, a recovery code
 * gone). */
enum auth_err store_mfa_prove(struct store *st, const char *user_id,
    const struct store_mfa_proof *proof, int64_t now);
/* Inside the caller's transaction: user_id's second factor, recovery
 * codes and mfa_tokens deleted; *had: TOTP was enabled. Nothing when
 * store_mfa_ready did not succeed. */
enum auth_err store_mfa_forget(struct store *st, const char *user_id,
    int *had);

#endif
