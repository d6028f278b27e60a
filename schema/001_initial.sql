-- 001: users, sessions, refresh tokens and login attempts.
-- Times are integer Unix seconds (UTC) everywhere; ids are UUID v4 text.

CREATE TABLE users (
    id            TEXT PRIMARY KEY NOT NULL,
    email         TEXT NOT NULL UNIQUE,          -- stored lower-cased
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);

-- One row per login or registration; every refresh token rotated from it
-- points here, so replay, logout and /auth/me act on one row.
CREATE TABLE sessions (
    id           TEXT PRIMARY KEY NOT NULL,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL,
    user_agent   TEXT,
    ip           TEXT,
    revoked      INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1)),
    revoked_at   INTEGER
);
CREATE INDEX sessions_user_id ON sessions(user_id, created_at);

CREATE TABLE refresh_tokens (
    jti         TEXT PRIMARY KEY NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    session_id  TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    issued_at   INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    revoked     INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1)),
    replaced_by TEXT,
    revoked_at  INTEGER
);
CREATE INDEX refresh_tokens_user_id ON refresh_tokens(user_id);
CREATE INDEX refresh_tokens_session_id ON refresh_tokens(session_id);
CREATE INDEX refresh_tokens_expires_at ON refresh_tokens(expires_at);

-- Failed-login counters for throttling, keyed "email:<addr>" or "ip:<addr>",
-- shared by every process through the database.
CREATE TABLE login_attempts (
    key          TEXT PRIMARY KEY NOT NULL,
    failures     INTEGER NOT NULL,
    window_start INTEGER NOT NULL
);
