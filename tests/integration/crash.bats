#!/usr/bin/env bats
# kill -9 of the whole node (supervisor, masters, workers, the front, all at
# once) while clients register and rotate, three times on one database,
# starting again with start.sh each time: every acknowledged registration
# logs in, and every acknowledged refresh token either still rotates or
# was rotated by the request that was in flight (then it is a replay, and
# its session is revoked). Nothing else.

load helper

setup() {
	stack_env "$(mktemp -d "$BATS_TEST_TMPDIR/crash.XXXXXX")"
	"$ROOT/scripts/gen-keys.sh" "$WORK/keys" >/dev/null
	export REGISTER_ADDR_MAX=0
}

teardown() {
	stack_stop
}

# register_loop TAG: register users until the stack is gone; acknowledged
# emails go to $WORK/acked.
register_loop() {
	local i=0 code
	while :; do
		i=$((i + 1))
		code=$(curl -s -m 10 -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
			--data-binary "{\"email\":\"$1-$i@example.com\",\"password\":\"secret123\"}" \
			"$BASE/auth/register") || return 0
		[ "$code" = 201 ] && echo "$1-$i@example.com" >> "$WORK/acked"
		[ "$code" = 000 ] && return 0
	done
}

# refresh_loop FILE: rotate the token in FILE until the stack is gone,
# keeping in FILE the newest acknowledged one.
refresh_loop() {
	local out code t
	while :; do
		t=$(cat "$1")
		out=$(curl -s -m 10 -w '\n%{http_code}' -H 'Content-Type: application/json' \
			--data-binary "{\"refresh_token\":\"$t\"}" "$BASE/auth/refresh") || return 0
		code=${out##*$'\n'}
		[ "$code" = 200 ] || return 0
		jq -r .refresh_token <<<"${out%$'\n'*}" > "$1.new" && mv "$1.new" "$1"
	done
}

@test "kill -9 of the whole node under load, three times: nothing acknowledged is lost" {
	stack_start
	for c in 1 2 3 4; do
		register "chain$c@example.com"
		echo "$refresh" > "$WORK/chain$c"
	done
	: > "$WORK/acked"
	for round in 1 2 3; do
		loaders=()
		for w in 1 2; do register_loop "r$round-w$w" & loaders+=($!); done
		for c in 1 2 3 4; do refresh_loop "$WORK/chain$c" & loaders+=($!); done
		sleep 2
		# Every process of the node at once, as a power cut would.
		mapfile -t pids < <(stack_pids "$RUN_DIR")
		[ "${#pids[@]}" -gt 10 ]
		kill -KILL "${pids[@]}"
		wait "${loaders[@]}" || true
		for p in "${pids[@]}"; do
			for _ in $(seq 1 100); do pid_alive "$p" || break; sleep 0.05; done
		done
		echo "round $round: $(wc -l < "$WORK/acked") registrations acknowledged so far"
		[ "$(wc -l < "$WORK/acked")" -gt $((round * 2)) ]
		stack_start
		while read -r e; do
			api POST /auth/login "{\"email\":\"$e\",\"password\":\"secret123\"}"
			[ "$status_code" = 200 ] || { echo "lost registration $e: $status_code"; false; }
		done < "$WORK/acked"
		for c in 1 2 3 4; do
			t=$(cat "$WORK/chain$c")
			jti=$(jwt_part 1 "$t" | jq -r .jti)
			sid=$(jwt_part 1 "$t" | jq -r .sid)
			api POST /auth/refresh "{\"refresh_token\":\"$t\"}"
			if [ "$status_code" = 200 ]; then
				jq -r .refresh_token <<<"$body" > "$WORK/chain$c"
				continue
			fi
			# Refused: only because the request in flight rotated it
			# (committed, never answered); now a replay, the session is
			# revoked.
			[ "$status_code" = 401 ]
			[ "$(db_query "SELECT CASE WHEN replaced_by IS NULL THEN 0 ELSE 1 END FROM refresh_tokens WHERE jti = '$jti'")" = 1 ]
			[ "$(db_query "SELECT revoked FROM sessions WHERE id = '$sid'")" = 1 ]
			echo "chain $c: its last acknowledged token was rotated by the request in flight"
			register "chain$c-r$round@example.com"
			echo "$refresh" > "$WORK/chain$c"
		done
	done
	db_is_pg || [ "$(db_query 'PRAGMA integrity_check')" = ok ]
}
