-- 001: users, sessions, refresh tokens and login attempts (PostgreSQL).
-- The same logical schema as schema/001_initial.sql: times are BIGINT Unix
-- seconds (UTC) everywhere, ids are UUID v4 text, flags are INTEGER 0/1
-- (the queries compare `revoked = 0`, as on SQLite).

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,          -- stored lower-cased
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);

-- One row per login or registration; every refresh token rotated from it
-- points here, so replay, logout and /auth/me act on one row.
-- seq: the insertion order SQLite reads from rowid (the sessions list
-- breaks ties of created_at by it).
CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    seq          BIGSERIAL NOT NULL,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL,
    user_agent   TEXT,
    ip           TEXT,
    revoked      INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1)),
    revoked_at   BIGINT
);
-- SQLite's index ends in the rowid implicitly; here seq says so.
CREATE INDEX sessions_user_id ON sessions(user_id, created_at, seq);

CREATE TABLE refresh_tokens (
    jti         TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    session_id  TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    issued_at   BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    revoked     INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1)),
    replaced_by TEXT,
    revoked_at  BIGINT
);
CREATE INDEX refresh_tokens_user_id ON refresh_tokens(user_id);
CREATE INDEX refresh_tokens_session_id ON refresh_tokens(session_id);
CREATE INDEX refresh_tokens_expires_at ON refresh_tokens(expires_at);

-- Failed-login counters for throttling, keyed "email:<addr>" or "ip:<addr>",
-- shared by every process of every node through the database.
CREATE TABLE login_attempts (
    key          TEXT PRIMARY KEY,
    failures     INTEGER NOT NULL,
    window_start BIGINT NOT NULL
);
