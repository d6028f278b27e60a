#!/usr/bin/env bats
# What operators run against PostgreSQL: migrate.sh (up, status, failures,
# two nodes at once), purge.sh, sqlite-to-pg.sh (a database the real stack
# filled on SQLite, then served from PostgreSQL), and one clear line for a
# bad DATABASE_URL. The server is the run's (tests/run.sh with
# AUTH_TEST_PG=1) or a throwaway cluster of this file (tests/pg.sh).

# Bats runs each test in a subshell; helper.bash sets status_code, body,
# access, refresh and reads BASE.
# shellcheck disable=SC2030,SC2031,SC2154,SC2034
load helper

setup_file() {
	if ! pg_run; then
		if ! pg_bindir >/dev/null 2>&1; then
			export PG_OPS_SKIP="no PostgreSQL server installed"
			return 0
		fi
		pg_start "$BATS_FILE_TMPDIR/pg"
		export PG_OPS_OWN=1
	fi
}

teardown_file() {
	if [ "${PG_OPS_OWN:-0}" = 1 ]; then
		pg_stop
	fi
}

setup() {
	[ -z "${PG_OPS_SKIP:-}" ] || skip "$PG_OPS_SKIP"
	stack_env "$(mktemp -d "$BATS_TEST_TMPDIR/pgops.XXXXXX")"
	DATABASE_URL=$(pg_fresh_db)
	export DATABASE_URL
	PG_URL=$DATABASE_URL
}

teardown() {
	stack_stop
}

# migrate [up|status]: migrate.sh, on the DATABASE_URL of the moment.
migrate() { "$ROOT/scripts/migrate.sh" "${1:-up}"; }

# pg_schema: tables, columns, types, defaults and indexes, for comparing.
pg_schema() {
	db_query "SELECT table_name, column_name, data_type, coalesce(column_default, '')
		FROM information_schema.columns WHERE table_schema = current_schema()
		ORDER BY 1, 2"
	db_query "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema()
		ORDER BY 1"
}

# schema_copy [FILE...]: $WORK/schema holding the PostgreSQL migrations
# (or only the FILEs of them given).
schema_copy() {
	mkdir -p "$WORK/schema"
	if [ $# -eq 0 ]; then
		cp "$ROOT"/schema/postgresql/*.sql "$WORK/schema/"
	else
		for f in "$@"; do cp "$ROOT/schema/postgresql/$f" "$WORK/schema/"; done
	fi
}

# gauges: the query the C side runs for /metrics, "users|tokens".
gauges() {
	db_query "SELECT (SELECT coalesce(sum(value), 0) FROM counter_shards WHERE name = 'users'),
		(SELECT coalesce(sum(value), 0) FROM counter_shards WHERE name = 'refresh_tokens_unrevoked')"
}

# counts: what the gauges must say, counted.
counts() {
	db_query "SELECT (SELECT count(*) FROM users),
		(SELECT count(*) FROM refresh_tokens WHERE revoked = 0)"
}

@test "the PostgreSQL migrations have the versions and names of the SQLite ones" {
	sqlite=$(cd "$ROOT/schema" && ls -- *.sql)
	pg=$(cd "$ROOT/schema/postgresql" && ls -- *.sql)
	[ -n "$pg" ]
	[ "$sqlite" = "$pg" ]
}

@test "migrate.sh on PostgreSQL applies the schema once; a second run changes nothing" {
	run migrate
	[ "$status" -eq 0 ]
	files=("$ROOT"/schema/postgresql/*.sql)
	n=${#files[@]}
	[ "${#lines[@]}" -eq "$n" ]
	[ "${lines[0]}" = "migrate: applied 001_initial.sql" ]
	schema1=$(pg_schema)
	run migrate up
	[ "$status" -eq 0 ]
	[ "$output" = "migrate: up to date" ]
	[ "$(pg_schema)" = "$schema1" ]
	[ "$(db_query 'SELECT count(*) FROM schema_migrations')" = "$n" ]
	[ "$(db_query 'SELECT max(version) FROM schema_migrations')" = 007 ]
	for t in users sessions refresh_tokens login_attempts counter_shards schema_migrations; do
		[ "$(db_query "SELECT count(*) FROM information_schema.tables WHERE table_name = '$t'")" = 1 ]
	done
	# Times never in 32 bits; flags are integers the SQL compares to 0.
	[ "$(db_query "SELECT count(*) FROM information_schema.columns
		WHERE table_schema = current_schema() AND data_type <> 'bigint'
		AND (column_name LIKE '%\_at' OR column_name IN ('window_start', 'seq', 'value'))")" = 0 ]
	[ "$(db_query "SELECT string_agg(column_name || ':' || data_type, ',' ORDER BY column_name)
		FROM information_schema.columns WHERE table_name = 'refresh_tokens'
		AND column_name IN ('revoked', 'reused')")" = "reused:integer,revoked:integer" ]
	run db_query "INSERT INTO users(id, email, password_hash, created_at) VALUES ('u', 'e', 'h', 1); INSERT INTO sessions(id, user_id, created_at, last_used_at, revoked) VALUES ('s', 'u', 1, 1, 2)"
	[ "$status" -ne 0 ]
	[[ $output == *sessions_revoked_check* ]]
	# 001's indexes as 003 left them; sessions in insertion order.
	[ "$(db_query "SELECT string_agg(indexname, ' ' ORDER BY indexname) FROM pg_indexes
		WHERE tablename IN ('sessions', 'refresh_tokens') AND indexname NOT LIKE '%pkey'")" = \
		"refresh_tokens_expires_at refresh_tokens_session_id sessions_user_id" ]
	[[ $(db_query "SELECT indexdef FROM pg_indexes WHERE indexname = 'refresh_tokens_session_id'") == *"(session_id, issued_at)" ]]
	[[ $(db_query "SELECT column_default FROM information_schema.columns
		WHERE table_name = 'sessions' AND column_name = 'seq'") == nextval* ]]
	# status after up: every migration applied, with its date.
	run migrate status
	[ "$status" -eq 0 ]
	[[ ${lines[0]} =~ ^applied\ \ 001_initial\.sql\ \ [0-9]{4}-[0-9]{2}-[0-9]{2}\ [0-9:]{8}$ ]]
}

@test "migrate.sh status on PostgreSQL lists applied and pending migrations" {
	schema_copy
	run env SCHEMA_DIR="$WORK/schema" "$ROOT/scripts/migrate.sh" status
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "pending  001_initial.sql" ]
	SCHEMA_DIR=$WORK/schema migrate up >/dev/null
	echo "CREATE TABLE extra (x INTEGER);" > "$WORK/schema/900_extra.sql"
	run env SCHEMA_DIR="$WORK/schema" "$ROOT/scripts/migrate.sh" status
	[ "$status" -eq 0 ]
	[[ ${lines[0]} == "applied  001_initial.sql  "* ]]
	[[ ${lines[3]} == "applied  004_reuse_once.sql  "* ]]
	[ "${lines[-1]}" = "pending  900_extra.sql" ]
}

@test "a failing migration on PostgreSQL is rolled back whole and reported" {
	schema_copy
	printf 'CREATE TABLE half (x INTEGER);\nCREATE TABLE users (id TEXT);\n' > "$WORK/schema/900_broken.sql"
	run env SCHEMA_DIR="$WORK/schema" "$ROOT/scripts/migrate.sh"
	[ "$status" -ne 0 ]
	[[ $output == *'relation "users" already exists'* ]]
	[ "${lines[-1]}" = "migrate.sh: 900_broken.sql failed; rolled back, database left at the previous version" ]
	[ "$(db_query "SELECT count(*) FROM information_schema.tables WHERE table_name = 'half'")" = 0 ]
	[ "$(db_query "SELECT count(*) FROM schema_migrations WHERE version = '900'")" = 0 ]
	[ "$(db_query 'SELECT count(*) FROM schema_migrations')" = 7 ]
}

@test "a PostgreSQL migration that manages its own transaction is refused; plpgsql bodies are not" {
	schema_copy
	for tx in 'BEGIN;\nCREATE TABLE t (x INTEGER);\nCOMMIT;\n' \
		'CREATE TABLE t (x INTEGER); COMMIT;\n' \
		'START TRANSACTION;\nCREATE TABLE t (x INTEGER);\n' \
		'CREATE TABLE t (x INTEGER);\n  rollback ;\n'; do
		printf '%b' "$tx" > "$WORK/schema/900_tx.sql"
		run env SCHEMA_DIR="$WORK/schema" "$ROOT/scripts/migrate.sh"
		[ "$status" -ne 0 ]
		[ "${lines[-1]}" = "migrate.sh: 900_tx.sql: must not manage its own transaction" ]
	done
	[ "$(db_query "SELECT count(*) FROM information_schema.tables WHERE table_name = 't'")" = 0 ]
	rm "$WORK/schema/900_tx.sql"
	cat > "$WORK/schema/900_functions.sql" <<'SQL'
-- A function, a tagged body and a DO block: their BEGIN ... END are
-- plpgsql blocks, not transactions. COMMIT; in a comment is no statement.
CREATE TABLE notes (body TEXT);
CREATE FUNCTION note(t TEXT) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO notes VALUES (t);
END;
$$;
CREATE FUNCTION twice(n INTEGER) RETURNS INTEGER LANGUAGE plpgsql AS $body$
DECLARE
    r INTEGER;
BEGIN
    r := n * 2;
    RETURN r;
END;
$body$;
DO $$
BEGIN
    PERFORM note('BEGIN;');
END
$$;
CREATE FUNCTION thrice(n INTEGER) RETURNS INTEGER LANGUAGE sql
BEGIN ATOMIC
    SELECT n * 3;
END;
/* COMMIT;
   ROLLBACK; */
INSERT INTO notes VALUES ('COMMIT;');
SQL
	run env SCHEMA_DIR="$WORK/schema" "$ROOT/scripts/migrate.sh"
	[ "$status" -eq 0 ]
	[ "${lines[-1]}" = "migrate: applied 900_functions.sql" ]
	[ "$(db_query 'SELECT twice(4) + thrice(1)')" = 11 ]
	[ "$(db_query 'SELECT string_agg(body, $$ $$ ORDER BY body) FROM notes')" = "BEGIN; COMMIT;" ]
}

@test "two nodes migrating one empty PostgreSQL database at once both succeed, each migration applied once" {
	schema_copy
	# A slow first migration: both runs are surely inside it together.
	{ echo 'SELECT pg_sleep(1);'; cat "$ROOT/schema/postgresql/001_initial.sql"; } > "$WORK/schema/001_initial.sql"
	pids=()
	for i in 1 2 3; do
		SCHEMA_DIR=$WORK/schema migrate up >"$WORK/m$i.out" 2>&1 &
		pids+=("$!")
	done
	for p in "${pids[@]}"; do
		wait "$p"
	done
	cat "$WORK"/m?.out
	run grep -hv '^migrate: ' "$WORK"/m1.out "$WORK"/m2.out "$WORK"/m3.out
	[ "$status" -eq 1 ]
	for f in "$ROOT"/schema/postgresql/*.sql; do
		[ "$(cat "$WORK"/m?.out | grep -cx "migrate: applied ${f##*/}")" = 1 ]
	done
	[ "$(db_query 'SELECT count(*) FROM schema_migrations')" = 7 ]
	[ "$(db_query "SELECT count(*) FROM counter_shards")" = 2 ]
}

@test "a bad or unreachable DATABASE_URL: one line, non-zero, never the password" {
	secret=s3cr3t-Pw0rd
	for url in \
		"postgresql://auth:$secret@/auth?host=$WORK/nowhere&port=1" \
		"postgres+asyncpg://auth:$secret@/auth?host=$WORK/nowhere&port=1" \
		"host=$PG_HOST port=$PG_PORT user=no_such_role password=$secret dbname=auth" \
		"host=$PG_HOST port=$PG_PORT user=$PG_USER password='$secret' dbname=no_such_db" \
		"postgresql:///auth?host=$WORK/nowhere&password=$secret" \
		"postgresql://auth:$secret@[::1/auth" \
		"postgresql://auth:$secret@/auth?bogus=1" \
		"postgresql://auth:${secret}%zz@localhost/auth" \
		"host='$WORK password=$secret"; do
		for script in migrate.sh purge.sh; do
			run env DATABASE_URL="$url" "$ROOT/scripts/$script"
			echo "$script $url -> $status: $output"
			[ "$status" -ne 0 ]
			[ "${#lines[@]}" -eq 1 ]
			[[ $output == "$script: DATABASE_URL"* ]]
			[[ $output != *"$secret"* ]]
		done
	done
	DATABASE_URL="sqlite:///$WORK/auth.db" migrate up >/dev/null
	run env DATABASE_URL="postgresql://auth:$secret@/auth?host=$WORK/nowhere&port=1" \
		"$ROOT/scripts/sqlite-to-pg.sh" "$WORK/auth.db"
	echo "$output"
	[ "$status" -ne 0 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ $output != *"$secret"* ]]
}

@test "the SQLAlchemy forms and libpq keyword strings name the same PostgreSQL database" {
	name=${PG_URL#postgresql:///}
	name=${name%%\?*}
	# A password travels as PGPASSWORD (trust ignores it here).
	run env DATABASE_URL="postgresql+psycopg://$PG_USER:pw@/$name?host=$PG_HOST&port=$PG_PORT" \
		"$ROOT/scripts/migrate.sh"
	[ "$status" -eq 0 ]
	[[ ${lines[0]} == "migrate: applied 001_initial.sql" ]]
	run env DATABASE_URL="host=$PG_HOST port=$PG_PORT user=$PG_USER password='p w' dbname=$name" \
		"$ROOT/scripts/migrate.sh"
	[ "$status" -eq 0 ]
	[ "$output" = "migrate: up to date" ]
	run env DATABASE_URL="postgres://$PG_USER@/$name?host=$PG_HOST&port=$PG_PORT" \
		"$ROOT/scripts/migrate.sh" status
	[ "$status" -eq 0 ]
	[ "$(grep -c '^applied ' <<<"$output")" = 7 ]
}

@test "counter_shards follow users and unrevoked tokens, seeded by 002, spread over backends" {
	schema_copy 001_initial.sql
	SCHEMA_DIR=$WORK/schema migrate up >/dev/null
	db_query "INSERT INTO users(id, email, password_hash, created_at) VALUES ('u0', 'u0@x', 'h', 1);
		INSERT INTO sessions(id, user_id, created_at, last_used_at) VALUES ('s0', 'u0', 1, 1);
		INSERT INTO refresh_tokens(jti, user_id, session_id, issued_at, expires_at, revoked)
		VALUES ('t0', 'u0', 's0', 1, 2, 0), ('t1', 'u0', 's0', 1, 2, 1)"
	migrate >/dev/null
	[ "$(gauges)" = "1|1" ]
	# Each psql is a backend of its own: rows land in several shards.
	for i in 1 2 3 4 5 6; do
		db_query "INSERT INTO users(id, email, password_hash, created_at) VALUES ('u$i', 'u$i@x', 'h', 1);
			INSERT INTO sessions(id, user_id, created_at, last_used_at) VALUES ('s$i', 'u$i', 1, 1);
			INSERT INTO refresh_tokens(jti, user_id, session_id, issued_at, expires_at)
			VALUES ('a$i', 'u$i', 's$i', 1, 9), ('b$i', 'u$i', 's$i', 1, 9);
			INSERT INTO refresh_tokens(jti, user_id, session_id, issued_at, expires_at, revoked)
			VALUES ('c$i', 'u$i', 's$i', 1, 9, 1)"
	done
	[ "$(gauges)" = "$(counts)" ]
	[ "$(gauges)" = "7|13" ]
	[ "$(db_query "SELECT count(DISTINCT shard) > 1 FROM counter_shards")" = t ]
	[ "$(db_query "SELECT max(shard) < 16 FROM counter_shards")" = t ]
	# Rotation (0 -> 1), a no-op re-revoke (1 -> 1), a revoked token
	# deleted, an unrevoked one deleted, a user deleted with its tokens.
	db_query "UPDATE refresh_tokens SET revoked = 1 WHERE jti = 'a1'"
	db_query "UPDATE refresh_tokens SET revoked = 1 WHERE jti IN ('a1', 'c1')"
	db_query "DELETE FROM refresh_tokens WHERE jti IN ('c2', 'b2')"
	db_query "DELETE FROM users WHERE id = 'u3'"
	[ "$(gauges)" = "$(counts)" ]
	[ "$(gauges)" = "6|9" ]
	# A statement that fails leaves the counts as they were.
	run db_query "INSERT INTO refresh_tokens(jti, user_id, session_id, issued_at, expires_at)
		VALUES ('z1', 'u4', 's4', 1, 9), ('a4', 'u4', 's4', 1, 9)"
	[ "$status" -ne 0 ]
	[ "$(gauges)" = "6|9" ]
}

@test "purge.sh on PostgreSQL deletes what can never be used again, in batches" {
	migrate >/dev/null
	now=$(date +%s)
	day=86400
	db_query "INSERT INTO users(id, email, password_hash, created_at) VALUES ('u', 'u@x', 'h', 1);
		INSERT INTO sessions(id, user_id, created_at, last_used_at) VALUES
			('s_old', 'u', 1, 1), ('s_live', 'u', 1, 1), ('s_empty', 'u', 1, 1),
			('s_grace', 'u', 1, 1);
		INSERT INTO refresh_tokens(jti, user_id, session_id, issued_at, expires_at, revoked)
		SELECT 'old' || g, 'u', 's_old', 1, $now - 8 * $day, g % 2 FROM generate_series(1, 25) g;
		INSERT INTO refresh_tokens(jti, user_id, session_id, issued_at, expires_at, revoked) VALUES
			('live', 'u', 's_live', $now, $now + $day, 0),
			('grace', 'u', 's_grace', 1, $now - $day, 1),
			('grace2', 'u', 's_grace', 1, $now - $day, 0);
		INSERT INTO login_attempts VALUES ('email:a@x', 3, $now - 2000), ('ip:1.2.3.4', 1, $now)"
	[ "$(gauges)" = "$(counts)" ]
	run env LOGIN_WINDOW=900 "$ROOT/scripts/purge.sh" --batch 10
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "purge: 25 expired refresh tokens" ]
	[ "${lines[1]}" = "purge: 2 sessions without tokens" ]
	[ "${lines[2]}" = "purge: 1 stale login counters" ]
	[ "$(db_query 'SELECT string_agg(jti, $$ $$ ORDER BY jti) FROM refresh_tokens')" = "grace grace2 live" ]
	[ "$(db_query 'SELECT string_agg(id, $$ $$ ORDER BY id) FROM sessions')" = "s_grace s_live" ]
	[ "$(db_query 'SELECT key FROM login_attempts')" = "ip:1.2.3.4" ]
	[ "$(gauges)" = "$(counts)" ]
	run env LOGIN_WINDOW=900 "$ROOT/scripts/purge.sh" --grace 0
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "purge: 2 expired refresh tokens" ]
	[ "${lines[1]}" = "purge: 1 sessions without tokens" ]
	[ "$(gauges)" = "1|1" ]
}

# sqlite_db: the SQLite file of the stack in $WORK.
sqlite_db() { sqlite3 -batch -bail "$WORK/auth.db" "$@"; }

@test "sqlite-to-pg.sh moves what the stack wrote on SQLite; on PostgreSQL every user logs in, every live token rotates" {
	export DATABASE_URL="sqlite:///$WORK/auth.db"
	export REFRESH_REUSE_INTERVAL=0
	stack_start
	# Four users; u1 logs in twice more (sessions in one second: their
	# order is the rowid's), u2 rotates twice, u3 logs out, u4 fails once.
	declare -A live access_of
	for u in 1 2 3 4; do
		register "u$u@example.com" "password-of-u$u"
		live[u$u]=$refresh
		access_of[u$u]=$access
	done
	for i in 1 2; do
		api POST /auth/login '{"email":"u1@example.com","password":"password-of-u1"}'
		[ "$status_code" = 200 ]
		live[u1b$i]=$(jq -r .refresh_token <<<"$body")
	done
	for i in 1 2; do
		api POST /auth/refresh "{\"refresh_token\":\"${live[u2]}\"}"
		[ "$status_code" = 200 ]
		rotated=${live[u2]}
		live[u2]=$(jq -r .refresh_token <<<"$body")
	done
	api POST /auth/logout "{\"refresh_token\":\"${live[u3]}\"}"
	[ "$status_code" = 204 ]
	logged_out=${live[u3]}
	unset 'live[u3]'
	api POST /auth/login '{"email":"u4@example.com","password":"not-the-password"}'
	[ "$status_code" = 401 ]
	# u5 turns TOTP on: its secret moves sealed (bound to its user id)
	# and must open on PostgreSQL under the same MFA key.
	register u5@example.com password-of-u5
	live[u5]=$refresh
	api POST /auth/mfa/totp/enroll "" -H "Authorization: Bearer $access" -d ""
	secret=$(jq -r .secret <<<"$body")
	step=$(($(date +%s) / 30))
	api POST /auth/mfa/totp/confirm "{\"code\":\"$(oathtool --totp -b "$secret" -N "@$((step * 30))")\"}" \
		-H "Authorization: Bearer $access"
	[ "$status_code" = 200 ]
	api GET /auth/sessions "" -H "Authorization: Bearer ${access_of[u1]}"
	[ "$status_code" = 200 ]
	sessions_before=$(jq -c '[.[] | .id]' <<<"$body")
	[ "$(jq length <<<"$sessions_before")" = 3 ]
	stack_stop

	run env DATABASE_URL="$PG_URL" "$ROOT/scripts/sqlite-to-pg.sh" "$WORK/auth.db"
	echo "$output"
	[ "$status" -eq 0 ]
	attempts=$(sqlite_db 'SELECT count(*) FROM login_attempts')
	[ "$attempts" -ge 1 ]
	[ "${lines[-1]}" = "sqlite-to-pg: copied 5 users, 7 sessions, 9 refresh tokens, $attempts login counters (schema 007)" ]

	# Row for row, the same data; sessions in rowid order.
	export DATABASE_URL=$PG_URL
	for q in "SELECT id, email, password_hash, created_at FROM users ORDER BY id" \
		"SELECT id, user_id, created_at, last_used_at, user_agent, ip, revoked, revoked_at FROM sessions ORDER BY id" \
		"SELECT jti, user_id, session_id, issued_at, expires_at, revoked, replaced_by, revoked_at, reused FROM refresh_tokens ORDER BY jti" \
		"SELECT key, failures, window_start FROM login_attempts ORDER BY key" \
		"SELECT user_id, secret, enabled, last_step, created_at FROM mfa_totp ORDER BY user_id" \
		"SELECT user_id, code_hash FROM mfa_recovery ORDER BY user_id, code_hash"; do
		[ "$(db_query "$q")" = "$(sqlite_db "$q")" ]
	done
	[ "$(db_query 'SELECT id FROM sessions ORDER BY seq')" = "$(sqlite_db 'SELECT id FROM sessions ORDER BY rowid')" ]
	[ "$(gauges)" = "5|$(sqlite_db 'SELECT count(*) FROM refresh_tokens WHERE revoked = 0')" ]
	[ "$(db_query "SELECT count(*) FROM counter_shards")" = 2 ]
	# New sessions come after the copied ones.
	[ "$(db_query "SELECT nextval(pg_get_serial_sequence('sessions', 'seq')) > max(seq) FROM sessions")" = t ]

	# The same node, now on PostgreSQL.
	PORT=$(free_port)
	BASE="http://127.0.0.1:$PORT"
	stack_start
	api GET /readyz
	[ "$status_code" = 200 ]
	api GET /auth/me "" -H "Authorization: Bearer ${access_of[u1]}"
	[ "$status_code" = 200 ]
	[ "$(jq -r .email <<<"$body")" = u1@example.com ]
	api GET /auth/sessions "" -H "Authorization: Bearer ${access_of[u1]}"
	[ "$status_code" = 200 ]
	[ "$(jq -c '[.[] | .id]' <<<"$body")" = "$sessions_before" ]
	for u in 1 2 3 4; do
		api POST /auth/login "{\"email\":\"u$u@example.com\",\"password\":\"password-of-u$u\"}"
		[ "$status_code" = 200 ]
	done
	api POST /auth/login '{"email":"u5@example.com","password":"password-of-u5"}'
	[ "$status_code" = 403 ]
	mfa_token=$(jq -r .mfa_token <<<"$body")
	# A step after the one confirm used (that one is spent).
	now_step=$(($(date +%s) / 30))
	[ "$now_step" -gt "$step" ] || now_step=$((step + 1))
	api POST /auth/mfa/verify "{\"mfa_token\":\"$mfa_token\",\"code\":\"$(oathtool --totp -b "$secret" -N "@$((now_step * 30))")\"}"
	[ "$status_code" = 200 ]
	[ "$(jwt_part 1 "$(jq -r .access_token <<<"$body")" | jq -c .amr)" = '["pwd","otp"]' ]
	for k in "${!live[@]}"; do
		api POST /auth/refresh "{\"refresh_token\":\"${live[$k]}\"}"
		echo "$k: $status_code"
		[ "$status_code" = 200 ]
	done
	api POST /auth/refresh "{\"refresh_token\":\"$logged_out\"}"
	[ "$status_code" = 401 ]
	# A token rotated on SQLite is a replay on PostgreSQL too.
	api POST /auth/refresh "{\"refresh_token\":\"$rotated\"}"
	[ "$status_code" = 401 ]
	log_has '.event == "refresh_replay"'
	api GET /metrics
	grep -qx 'auth_users 5' <<<"$body"
	[ "$(gauges)" = "$(counts)" ]
	# Nothing went wrong on the way.
	run log_has '.level == "error"'
	[ "$status" -ne 0 ]
}

@test "sqlite-to-pg.sh refuses a target that holds data, a source newer than the target, and what is no database" {
	export DATABASE_URL="sqlite:///$WORK/auth.db"
	mkdir "$WORK/sqlite"
	cp "$ROOT"/schema/*.sql "$WORK/sqlite/"
	SCHEMA_DIR=$WORK/sqlite migrate up >/dev/null
	sqlite_db "INSERT INTO users(id, email, password_hash, created_at) VALUES ('u', 'u@x', 'h', 1)"
	export DATABASE_URL=$PG_URL
	migrate >/dev/null
	db_query "INSERT INTO users(id, email, password_hash, created_at) VALUES ('other', 'o@x', 'h', 1)"
	run "$ROOT/scripts/sqlite-to-pg.sh" "$WORK/auth.db"
	[ "$status" -ne 0 ]
	[ "$output" = "sqlite-to-pg.sh: DATABASE_URL: the PostgreSQL database already holds data: nothing copied" ]
	[ "$(db_query 'SELECT id FROM users')" = other ]

	# A SQLite schema ahead of the PostgreSQL one.
	DATABASE_URL=$(pg_fresh_db)
	echo "CREATE TABLE extra (x INTEGER);" > "$WORK/sqlite/900_extra.sql"
	DATABASE_URL="sqlite:///$WORK/auth.db" SCHEMA_DIR=$WORK/sqlite migrate up >/dev/null
	run "$ROOT/scripts/sqlite-to-pg.sh" "$WORK/auth.db"
	[ "$status" -ne 0 ]
	[ "${lines[-1]}" = "sqlite-to-pg.sh: schema versions differ: SQLite has 001 002 003 004 005 006 007 900, PostgreSQL 001 002 003 004 005 006 007: nothing copied" ]
	[ "$(db_query 'SELECT count(*) FROM users')" = 0 ]

	echo "not a database" > "$WORK/text.db"
	run "$ROOT/scripts/sqlite-to-pg.sh" "$WORK/text.db"
	[ "$status" -ne 0 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ $output == "sqlite-to-pg.sh: $WORK/text.db: "* ]]
	run "$ROOT/scripts/sqlite-to-pg.sh" --from "sqlite:///$WORK/missing.db"
	[ "$status" -ne 0 ]
	[ "$output" = "sqlite-to-pg.sh: $WORK/missing.db: no such SQLite database" ]
	[ ! -e "$WORK/missing.db" ]
	run env DATABASE_URL="sqlite:///$WORK/auth.db" "$ROOT/scripts/sqlite-to-pg.sh" "$WORK/auth.db"
	[ "$status" -ne 0 ]
	[ "$output" = "sqlite-to-pg.sh: DATABASE_URL must name the PostgreSQL database to copy into" ]
}

@test "sqlite-to-pg.sh copies a source behind the newest schema from a migrated snapshot, leaving the source as it was" {
	export DATABASE_URL="sqlite:///$WORK/auth.db"
	mkdir "$WORK/sqlite"
	cp "$ROOT"/schema/001_*.sql "$ROOT"/schema/002_*.sql "$WORK/sqlite/"
	SCHEMA_DIR=$WORK/sqlite migrate up >/dev/null
	now=$(date +%s)
	# Awkward text: quotes, commas, a newline, an empty string, NULL.
	sqlite_db "INSERT INTO users(id, email, password_hash, created_at) VALUES ('u', 'u@x', '\$2b\$04\$abc,\"def''', 1);
		INSERT INTO sessions(id, user_id, created_at, last_used_at, user_agent, ip)
		VALUES ('s2', 'u', 5, 5, 'Agent \"x\", v1
line two', NULL), ('s1', 'u', 5, 5, '', '::1');
		INSERT INTO refresh_tokens(jti, user_id, session_id, issued_at, expires_at)
		VALUES ('t', 'u', 's1', $now, $now + 100)"
	sum=$(sha256sum < "$WORK/auth.db")
	export DATABASE_URL=$PG_URL
	run "$ROOT/scripts/sqlite-to-pg.sh" --from "sqlite:///$WORK/auth.db"
	[ "$status" -eq 0 ]
	[[ ${lines[-1]} == "sqlite-to-pg: copied 1 users, 2 sessions, 1 refresh tokens, 0 login counters (schema 007)" ]]
	[ "$(sha256sum < "$WORK/auth.db")" = "$sum" ]
	[ "$(sqlite_db 'SELECT max(version) FROM schema_migrations')" = 002 ]
	[ "$(db_query "SELECT password_hash FROM users")" = "\$2b\$04\$abc,\"def'" ]
	[ "$(db_query "SELECT string_agg(id || '=' || coalesce(user_agent, 'NULL') || '/' || coalesce(ip, 'NULL'), ';' ORDER BY seq) FROM sessions")" = \
		"$(printf 's2=Agent "x", v1\nline two/NULL;s1=/::1')" ]
	[ "$(db_query "SELECT reused FROM refresh_tokens")" = 0 ]
	[ "$(gauges)" = "1|1" ]
}
