#!/usr/bin/env bats
# Login throttling, password hash upgrades and purging, through the stack.

load helper

setup_file() {
	export LOGIN_MAX_FAILURES=3 LOGIN_ADDR_MAX_FAILURES=8 LOGIN_WINDOW=600
	export BCRYPT_COST=5
	stack_start
}
teardown_file() { stack_stop; }

# Every test starts with no failures counted (all come from 127.0.0.1).
setup() { db_query "DELETE FROM login_attempts"; }

login() { api POST /auth/login "{\"email\":\"$1\",\"password\":\"$2\"}"; }
failures() {
	db_query "SELECT coalesce(sum(failures), 0) FROM login_attempts WHERE key = 'email:$1'"
}

# Hashes made by passlib's bcrypt (the original service), password secret123.
PASSLIB_COST12='$2b$12$ry.CznLncuoFerDOxCj3KOYBEfM9iQUdHtjUH7v.QybNEzgPeS1.C'
PASSLIB_COST4='$2b$04$fwjeoD9dR/g18./XgGOWAezjw0GV6k4VjdGl8GTk1lIh1ZC1jjQ.S'

# legacy_user EMAIL HASH: a user as the original service stored it.
legacy_user() {
	db_query "INSERT INTO users(id, email, password_hash, created_at) VALUES ('$(cat /proc/sys/kernel/random/uuid)', '$1', '$2', 0)"
}
stored_hash() { db_query "SELECT password_hash FROM users WHERE email = '$1'"; }

@test "past LOGIN_MAX_FAILURES an email is 429 with Retry-After, even with the right password" {
	register victim@example.com
	for _ in 1 2 3; do login victim@example.com wrong-guess; [ "$status_code" = 401 ]; done
	login victim@example.com secret123
	[ "$status_code" = 429 ]
	[ "$(jq -r .detail <<<"$body")" = "too many attempts" ]
	ra=$(header Retry-After)
	[ "$ra" -gt 0 ] && [ "$ra" -le 600 ]
	log_has '.event == "login_throttled"'
	[ "$(curl -s "$BASE/metrics" | awk '$1 == "auth_logins_total{result=\"throttled\"}" { print $2 }')" -ge 1 ]
}

@test "a throttled attempt does no password work and counts nothing more" {
	register quiet@example.com
	for _ in 1 2 3; do login quiet@example.com wrong-guess; done
	[ "$(failures quiet@example.com)" = 3 ]
	before=$(jq -s '[.[] | select(.event == "login_failure")] | length' "$WORK/run/auth.log")
	login quiet@example.com wrong-again
	[ "$status_code" = 429 ]
	[ "$(failures quiet@example.com)" = 3 ]
	[ "$(jq -s '[.[] | select(.event == "login_failure")] | length' "$WORK/run/auth.log")" = "$before" ]
}

@test "unknown emails are throttled like known ones" {
	for _ in 1 2 3; do login ghost@example.com wrong-guess; [ "$status_code" = 401 ]; done
	login ghost@example.com wrong-guess
	[ "$status_code" = 429 ]
}

@test "a successful login resets the email's count" {
	register reset@example.com
	login reset@example.com wrong-guess
	login reset@example.com wrong-guess
	[ "$(failures reset@example.com)" = 2 ]
	login reset@example.com secret123
	[ "$status_code" = 200 ]
	[ "$(failures reset@example.com)" = 0 ]
	login reset@example.com wrong-guess
	login reset@example.com wrong-guess
	login reset@example.com secret123
	[ "$status_code" = 200 ]
}

@test "a window that has ended lets the email try again" {
	register window@example.com
	for _ in 1 2 3; do login window@example.com wrong-guess; done
	login window@example.com secret123
	[ "$status_code" = 429 ]
	db_query "UPDATE login_attempts SET window_start = window_start - 600 WHERE key = 'email:window@example.com'"
	login window@example.com secret123
	[ "$status_code" = 200 ]
}

@test "one client address is throttled across emails at LOGIN_ADDR_MAX_FAILURES" {
	register spray@example.com
	for i in 1 2 3 4 5 6 7 8; do login "spray$i@example.com" wrong-guess; [ "$status_code" = 401 ]; done
	login spray@example.com secret123
	[ "$status_code" = 429 ]
}

@test "a passlib bcrypt hash of the original service verifies unchanged" {
	legacy_user legacy12@example.com "$PASSLIB_COST12"
	login legacy12@example.com secret123
	[ "$status_code" = 200 ]
	# Cost 12 is stronger than BCRYPT_COST=5: kept as it is.
	[ "$(stored_hash legacy12@example.com)" = "$PASSLIB_COST12" ]
	login legacy12@example.com secret124
	[ "$status_code" = 401 ]
}

@test "a hash weaker than BCRYPT_COST is replaced at the next successful login" {
	legacy_user legacy4@example.com "$PASSLIB_COST4"
	login legacy4@example.com wrong-guess
	[ "$(stored_hash legacy4@example.com)" = "$PASSLIB_COST4" ]
	login legacy4@example.com secret123
	[ "$status_code" = 200 ]
	[[ $(stored_hash legacy4@example.com) == '$2b$05$'* ]]
	login legacy4@example.com secret123
	[ "$status_code" = 200 ]
}

@test "new hashes use BCRYPT_COST" {
	register cost@example.com
	[[ $(stored_hash cost@example.com) == '$2b$05$'* ]]
}

@test "purge.sh deletes long-expired tokens, empty sessions and stale counters only" {
	register purge@example.com
	live_refresh=$refresh
	uid=$(jwt_part 1 "$access" | jq -r .sub)
	db() { db_query "PRAGMA foreign_keys=ON; $1"; }
	for i in $(seq 1 5); do
		db "INSERT INTO sessions(id, user_id, created_at, last_used_at) VALUES ('00000000-0000-4000-8000-00000000000$i', '$uid', 1, 1)"
		db "INSERT INTO refresh_tokens(jti, user_id, session_id, issued_at, expires_at) VALUES ('10000000-0000-4000-8000-00000000000$i', '$uid', '00000000-0000-4000-8000-00000000000$i', 1, 2)"
	done
	db "INSERT INTO login_attempts(key, failures, window_start) VALUES ('email:old@x.com', 3, 1)"
	run bash -c "cd '$WORK' && '$ROOT/scripts/purge.sh' --grace 0 --batch 2"
	[ "$status" -eq 0 ]
	[[ $output == *"purge: 5 expired refresh tokens"* ]]
	[[ $output == *"purge: 5 sessions without tokens"* ]]
	[ "$(db "SELECT count(*) FROM refresh_tokens WHERE jti LIKE '10000000-%'")" = 0 ]
	[ "$(db "SELECT count(*) FROM sessions WHERE id LIKE '00000000-%'")" = 0 ]
	[ "$(db "SELECT count(*) FROM login_attempts WHERE key = 'email:old@x.com'")" = 0 ]
	api POST /auth/refresh "{\"refresh_token\":\"$live_refresh\"}"
	[ "$status_code" = 200 ]
	[ "$(curl -s "$BASE/metrics" | awk '$1 == "auth_refresh_tokens_unrevoked" { print $2 }')" = \
	  "$(db 'SELECT count(*) FROM refresh_tokens WHERE revoked = 0')" ]
}
