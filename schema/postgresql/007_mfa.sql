-- 007: a second factor, TOTP with recovery codes (API.md Part 2, "Second
-- factor"). PostgreSQL; the same tables and columns as schema/007_mfa.sql.
-- mfa_totp: one row per user who enrolled. secret: the TOTP secret sealed
-- with AES-256-GCM under MFA_KEY_PATH, the user id as associated data
-- (base64url of nonce, ciphertext and tag): a copy of the database alone
-- reveals nothing. enabled: 0 while the enrollment awaits its first code.
-- last_step: the newest TOTP step accepted; no step at or before it is
-- accepted again.
-- mfa_recovery: the HMAC (MFA key) of each unused recovery code; a code
-- is deleted when used.
-- mfa_tokens: the jti of each mfa_token a login issued, deleted when it
-- produced a pair (single use); purge.sh removes the expired ones.
CREATE TABLE mfa_totp (
    user_id TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    secret TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 0 CHECK (enabled IN (0, 1)),
    last_step BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
CREATE TABLE mfa_recovery (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    PRIMARY KEY (user_id, code_hash)
);
CREATE TABLE mfa_tokens (
    jti TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL
);
CREATE INDEX mfa_tokens_user ON mfa_tokens(user_id);
