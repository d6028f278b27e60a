-- 004: a rotated refresh token may be exchanged again within
-- REFRESH_REUSE_INTERVAL once at most (a lost response, two tabs); a
-- second reuse is a replay. Without this mark one stolen token could
-- start any number of chains while the interval lasts (PostgreSQL).
ALTER TABLE refresh_tokens ADD COLUMN reused INTEGER NOT NULL DEFAULT 0
    CHECK (reused IN (0, 1));
