-- 002: running counts for the /metrics gauges, kept by triggers so that a
-- scrape reads two rows instead of counting whole tables.

CREATE TABLE counters (
    name  TEXT PRIMARY KEY NOT NULL,
    value INTEGER NOT NULL
);

INSERT INTO counters(name, value) VALUES
    ('users', (SELECT count(*) FROM users)),
    ('refresh_tokens_unrevoked',
        (SELECT count(*) FROM refresh_tokens WHERE revoked = 0));

CREATE TRIGGER counters_users_insert AFTER INSERT ON users
BEGIN
    UPDATE counters SET value = value + 1 WHERE name = 'users';
END;

CREATE TRIGGER counters_users_delete AFTER DELETE ON users
BEGIN
    UPDATE counters SET value = value - 1 WHERE name = 'users';
END;

CREATE TRIGGER counters_tokens_insert AFTER INSERT ON refresh_tokens
WHEN NEW.revoked = 0
BEGIN
    UPDATE counters SET value = value + 1 WHERE name = 'refresh_tokens_unrevoked';
END;

CREATE TRIGGER counters_tokens_revoke AFTER UPDATE OF revoked ON refresh_tokens
WHEN OLD.revoked = 0 AND NEW.revoked = 1
BEGIN
    UPDATE counters SET value = value - 1 WHERE name = 'refresh_tokens_unrevoked';
END;

CREATE TRIGGER counters_tokens_delete AFTER DELETE ON refresh_tokens
WHEN OLD.revoked = 0
BEGIN
    UPDATE counters SET value = value - 1 WHERE name = 'refresh_tokens_unrevoked';
END;
