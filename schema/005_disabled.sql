-- 005: an operator can disable an account (authctl disable): its
-- sessions are revoked at once and login answers 403 "account disabled"
-- after the password check, until authctl enable. disabled_at: when it
-- was disabled (NULL while enabled).
ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0
    CHECK (disabled IN (0, 1));
ALTER TABLE users ADD COLUMN disabled_at INTEGER;
