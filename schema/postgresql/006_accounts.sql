-- 006: accounts people can run (API.md Part 2, "Account"). PostgreSQL;
-- the same tables and columns as schema/006_accounts.sql.
-- users.email_verified: set by POST /auth/email/verify.
-- one_time_tokens: password reset and email verification tokens, kept
-- only as the SHA-256 of the token (hex); single use (used_at), expiring;
-- issuing a new one of a kind marks the user's older ones of that kind
-- used (newest wins).
-- mail_outbox: messages written in the same transaction as their token,
-- sent and deleted by the mailer (sbin/mailer.c).
ALTER TABLE users ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 0
    CHECK (email_verified IN (0, 1));
CREATE TABLE one_time_tokens (
    hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('reset', 'verify')),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX one_time_tokens_user ON one_time_tokens(user_id, kind);
CREATE TABLE mail_outbox (
    id BIGSERIAL PRIMARY KEY,
    recipient TEXT NOT NULL,
    message TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error TEXT
);
CREATE INDEX mail_outbox_due ON mail_outbox(next_attempt_at);
