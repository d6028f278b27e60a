#!/usr/bin/env bats
# Races and contention: concurrent rotations of one refresh token, and a
# database locked past its busy timeout. Refresh rotations are committed
# by the refresh master for all its workers (common/batch.c): these tests
# go through it.

load helper

setup_file() {
	export DB_BUSY_TIMEOUT_MS=300
	stack_start
}
teardown_file() { stack_stop; }

@test "20 concurrent refreshes of one token: exactly one 200" {
	register race@example.com
	printf '{"refresh_token":"%s"}' "$refresh" > "$WORK/race.json"
	seq 1 20 | xargs -P 20 -I{} curl -s -o /dev/null -w '%{http_code}\n' -X POST \
		-H 'Content-Type: application/json' --data-binary "@$WORK/race.json" \
		"$BASE/auth/refresh" > "$WORK/race.codes"
	[ "$(wc -l < "$WORK/race.codes")" = 20 ]
	[ "$(grep -c '^200$' "$WORK/race.codes")" = 1 ]
	[ "$(grep -c '^401$' "$WORK/race.codes")" = 19 ]
	# One rotation recorded: one successor, never two.
	[ "$(db_query "SELECT count(*) FROM refresh_tokens t JOIN users u ON u.id = t.user_id WHERE u.email = 'race@example.com'")" = 2 ]
}

@test "concurrent registrations of one email: exactly one 201" {
	seq 1 10 | xargs -P 10 -I{} curl -s -o /dev/null -w '%{http_code}\n' -X POST \
		-H 'Content-Type: application/json' \
		--data-binary '{"email":"same@example.com","password":"secret123"}' \
		"$BASE/auth/register" > "$WORK/reg.codes"
	[ "$(grep -c '^201$' "$WORK/reg.codes")" = 1 ]
	[ "$(grep -c '^400$' "$WORK/reg.codes")" = 9 ]
}

@test "a database locked past its timeout is 503, and nothing is half-written" {
	# Hold the write lock from another connection for 2 s.
	db_lock 2 &
	holder=$!
	await_db_lock
	api POST /auth/register '{"email":"locked@example.com","password":"secret123"}'
	[ "$status_code" = 503 ]
	[ "$(jq -r .detail <<<"$body")" = "service unavailable" ]
	wait "$holder"
	[ "$(db_query "SELECT count(*) FROM users WHERE email = 'locked@example.com'")" = 0 ]
	grep -q '"status":503' "$WORK/run/auth.log"
	# Once the lock is gone the same request succeeds.
	api POST /auth/register '{"email":"locked@example.com","password":"secret123"}'
	[ "$status_code" = 201 ]
}

@test "concurrent refreshes of many sessions all rotate, each exactly once" {
	for i in $(seq 1 8); do
		register "many$i@example.com"
		echo "$refresh" > "$WORK/many$i.token"
	done
	for round in 1 2 3; do
		for i in $(seq 1 8); do
			printf '{"refresh_token":"%s"}' "$(cat "$WORK/many$i.token")" > "$WORK/many$i.json"
		done
		seq 1 8 | xargs -P 8 -I{} sh -c 'curl -s -X POST -H "Content-Type: application/json" \
			--data-binary @"$1/many$2.json" "$3/auth/refresh" > "$1/many$2.out"' _ "$WORK" {} "$BASE"
		for i in $(seq 1 8); do
			t=$(jq -r .refresh_token < "$WORK/many$i.out")
			[ -n "$t" ] && [ "$t" != null ]
			echo "$t" > "$WORK/many$i.token"
		done
	done
	# Per session: the first token and three successors, one live.
	[ "$(db_query "SELECT count(*) FROM refresh_tokens t JOIN users u ON u.id = t.user_id WHERE u.email LIKE 'many%' GROUP BY u.id" | sort -u)" = 4 ]
	[ "$(db_query "SELECT count(*) FROM refresh_tokens t JOIN users u ON u.id = t.user_id WHERE u.email LIKE 'many%' AND t.revoked = 0")" = 8 ]
}

@test "a refresh while the database is locked past its timeout is 503, then works" {
	register lockedrefresh@example.com
	db_lock 2 &
	holder=$!
	await_db_lock
	api POST /auth/refresh "{\"refresh_token\":\"$refresh\"}"
	[ "$status_code" = 503 ]
	wait "$holder"
	# Nothing was written: the same token still rotates.
	api POST /auth/refresh "{\"refresh_token\":\"$refresh\"}"
	[ "$status_code" = 200 ]
}

@test "killed refresh workers are replaced, and their successors rotate" {
	register respawn@example.com
	victims=$(workers refresh)
	kill -KILL $victims
	for _ in $(seq 1 60); do
		w=$(workers refresh)
		[ "$(wc -w <<<"$w")" = 2 ] && [ -z "$(comm -12 <(tr ' ' '\n' <<<"$victims" | sort) <(tr ' ' '\n' <<<"$w" | sort))" ] && break
		sleep 0.1
	done
	[ -z "$(comm -12 <(tr ' ' '\n' <<<"$victims" | sort) <(tr ' ' '\n' <<<"$(workers refresh)" | sort))" ]
	# Every worker now is a new one, with a new channel to the master.
	for _ in $(seq 1 4); do
		api POST /auth/refresh "{\"refresh_token\":\"$refresh\"}"
		[ "$status_code" = 200 ]
		refresh=$(jq -r .refresh_token <<<"$body")
	done
}
