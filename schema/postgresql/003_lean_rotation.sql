-- 003: fewer pages written per refresh rotation (PostgreSQL; the same
-- indexes as schema/003_lean_rotation.sql).

-- A session's last use is the issue time of its newest refresh token,
-- read through (session_id, issued_at), instead of rewriting the session
-- row at every rotation. sessions.last_used_at stays, written once at
-- creation, so that binaries on either side of this migration still
-- insert sessions; the service no longer reads it.
DROP INDEX refresh_tokens_session_id;
CREATE INDEX refresh_tokens_session_id ON refresh_tokens(session_id, issued_at);

-- Revoking every token of a user goes through sessions(user_id, ...):
-- an index on refresh_tokens(user_id) only cost a page per rotation.
DROP INDEX refresh_tokens_user_id;
