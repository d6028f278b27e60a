#!/usr/bin/env bats
# Several nodes on one PostgreSQL: two complete stacks (supervisor,
# endpoints, lighttpd) on different ports sharing one database, and the
# database restarting under load. Needs PostgreSQL (tests/pg.sh starts a
# throwaway cluster when the run has none).

load helper

setup_file() {
	# shellcheck source=tests/pg.sh
	. "$ROOT/tests/pg.sh"
	# A server of this file's own, also when the run has one: the restart
	# test stops and starts it, and a server started here must be stopped
	# here.
	pg_start "$BATS_FILE_TMPDIR/pg"
	"$ROOT/scripts/gen-keys.sh" "$BATS_FILE_TMPDIR/keys" >/dev/null
}

teardown_file() {
	# shellcheck source=tests/pg.sh
	. "$ROOT/tests/pg.sh"
	pg_stop
}

setup() {
	# shellcheck source=tests/pg.sh
	. "$ROOT/tests/pg.sh"
	NODES=$(mktemp -d "$BATS_TEST_TMPDIR/nodes.XXXXXX")
	URL=$(pg_newdb "nodes$RANDOM$RANDOM")
	export URL NODES
	( DATABASE_URL=$URL ENV_FILE=/dev/null "$ROOT/scripts/migrate.sh" up ) >/dev/null
}

teardown() {
	for n in a b; do
		[ -d "$NODES/$n/run" ] && ( cd "$NODES/$n" && RUN_DIR="$NODES/$n/run" ENV_FILE=/dev/null "$ROOT/scripts/stop.sh" )
	done
	return 0
}

# node_start NAME [VAR=VALUE...]: a whole stack in $NODES/NAME on a free
# port, on the shared database; sets ${NAME}_base (A_BASE / B_BASE).
node_start() {
	local n=$1 port
	shift
	mkdir -p "$NODES/$n"
	port=$(free_port)
	( cd "$NODES/$n" && env ENV_FILE=/dev/null RUN_DIR="$NODES/$n/run" PORT="$port" \
		HOST=127.0.0.1 DATABASE_URL="$URL" BCRYPT_COST=4 FCGI_CHILDREN=2 \
		JWT_PRIVATE_KEY_PATH="$BATS_FILE_TMPDIR/keys/jwt_private.pem" \
		JWT_PUBLIC_KEY_PATH="$BATS_FILE_TMPDIR/keys/jwt_public.pem" \
		"$@" "$ROOT/scripts/start.sh" --background ) > "$NODES/$n.start" 2>&1 ||
		{ cat "$NODES/$n.start" >&2; return 1; }
	eval "${n^^}_BASE=http://127.0.0.1:$port"
}

# on BASE METHOD PATH [BODY] [curl args]: sets $code and $out.
on() {
	local base=$1 method=$2 path=$3 data=${4-}
	shift 4 2>/dev/null || shift $#
	out=$(curl -s -m 20 -X "$method" ${data:+-H 'Content-Type: application/json' --data-binary "$data"} \
		-w '\n%{http_code}' "$@" "$base$path")
	code=${out##*$'\n'}
	out=${out%$'\n'*}
}

@test "two nodes, one database: tokens, rotation, one winner, revocation and throttling across nodes" {
	node_start a LOGIN_MAX_FAILURES=10
	node_start b LOGIN_MAX_FAILURES=10
	# Register on A, log in on B; each node checks the other's tokens.
	on "$A_BASE" POST /auth/register '{"email":"two@example.com","password":"secret123"}'
	[ "$code" = 201 ]
	on "$B_BASE" POST /auth/login '{"email":"two@example.com","password":"secret123"}'
	[ "$code" = 200 ]
	access=$(jq -r .access_token <<<"$out")
	refresh=$(jq -r .refresh_token <<<"$out")
	on "$A_BASE" GET /auth/me "" -H "Authorization: Bearer $access"
	[ "$code" = 200 ]
	# Rotate alternately A / B.
	for base in "$A_BASE" "$B_BASE" "$A_BASE" "$B_BASE"; do
		on "$base" POST /auth/refresh "{\"refresh_token\":\"$refresh\"}"
		[ "$code" = 200 ]
		refresh=$(jq -r .refresh_token <<<"$out")
		access=$(jq -r .access_token <<<"$out")
	done
	# 20 concurrent refreshes of one token, split across A and B: one 200.
	for i in $(seq 1 20); do
		base=$A_BASE; [ $((i % 2)) -eq 0 ] && base=$B_BASE
		curl -s -o /dev/null -w '%{http_code}\n' -m 20 -H 'Content-Type: application/json' \
			--data-binary "{\"refresh_token\":\"$refresh\"}" "$base/auth/refresh" > "$NODES/race.$i" &
	done
	wait
	cat "$NODES"/race.* | sort | uniq -c
	[ "$(cat "$NODES"/race.* | grep -c '^200$')" = 1 ]
	[ "$(cat "$NODES"/race.* | grep -vc '^401$')" = 1 ]
	# That race revoked the session (19 replays): start another.
	on "$A_BASE" POST /auth/login '{"email":"two@example.com","password":"secret123"}'
	access=$(jq -r .access_token <<<"$out")
	refresh=$(jq -r .refresh_token <<<"$out")
	on "$A_BASE" GET /auth/me "" -H "Authorization: Bearer $access"
	[ "$code" = 200 ]
	on "$A_BASE" POST /auth/refresh "{\"refresh_token\":\"$refresh\"}"
	[ "$code" = 200 ]
	# A replay on B revokes the session: A refuses its access token on the
	# very next request (A had the answer cached a moment ago).
	on "$A_BASE" GET /auth/me "" -H "Authorization: Bearer $access"
	[ "$code" = 200 ]
	on "$B_BASE" POST /auth/refresh "{\"refresh_token\":\"$refresh\"}"
	[ "$code" = 401 ]
	on "$A_BASE" GET /auth/me "" -H "Authorization: Bearer $access"
	[ "$code" = 401 ]
	# logout-all on A is seen by B at once.
	on "$B_BASE" POST /auth/login '{"email":"two@example.com","password":"secret123"}'
	access=$(jq -r .access_token <<<"$out")
	on "$B_BASE" GET /auth/me "" -H "Authorization: Bearer $access"
	[ "$code" = 200 ]
	on "$A_BASE" POST /auth/logout-all "" -H "Authorization: Bearer $access" -H 'Content-Length: 0'
	[ "$code" = 204 ]
	on "$B_BASE" GET /auth/me "" -H "Authorization: Bearer $access"
	[ "$code" = 401 ]
	# The throttle is global: 6 wrong on A, 6 on B, the 11th is 429.
	for i in $(seq 1 12); do
		base=$A_BASE; [ "$i" -gt 6 ] && base=$B_BASE
		on "$base" POST /auth/login '{"email":"two@example.com","password":"wrong-pass"}'
		echo "attempt $i: $code"
		if [ "$i" -le 10 ]; then [ "$code" = 401 ]; else [ "$code" = 429 ]; fi
	done
}

@test "kill -9 of node A's whole stack while clients use B: nothing acknowledged is lost, B keeps answering" {
	# The registration limit is global on one database: off here.
	node_start a REGISTER_ADDR_MAX=0
	node_start b REGISTER_ADDR_MAX=0
	: > "$NODES/acked"
	(
		for i in $(seq 1 400); do
			base=$A_BASE; [ $((i % 2)) -eq 0 ] && base=$B_BASE
			c=$(curl -s -o /dev/null -w '%{http_code}' -m 20 -H 'Content-Type: application/json' \
				--data-binary "{\"email\":\"k$i@example.com\",\"password\":\"secret123\"}" \
				"$base/auth/register" || true)
			[ "$c" = 201 ] && echo "k$i@example.com" >> "$NODES/acked"
		done
		true
	) &
	loader=$!
	sleep 1
	mapfile -t pids < <(stack_pids "$NODES/a/run")
	kill -KILL "${pids[@]}"
	wait "$loader"
	echo "$(wc -l < "$NODES/acked") registrations acknowledged"
	[ "$(wc -l < "$NODES/acked")" -gt 100 ]
	while read -r e; do
		on "$B_BASE" POST /auth/login "{\"email\":\"$e\",\"password\":\"secret123\"}"
		[ "$code" = 200 ] || { echo "lost $e: $code"; false; }
	done < "$NODES/acked"
}

@test "PostgreSQL restarting under load: 503 meanwhile, never 500 or a hang; readyz follows; no restart of the suite" {
	node_start a
	on "$A_BASE" POST /auth/register '{"email":"restart@example.com","password":"secret123"}'
	[ "$code" = 201 ]
	(
		end=$((SECONDS + 12))
		while [ $SECONDS -lt $end ]; do
			curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -m 30 -H 'Content-Type: application/json' \
				--data-binary '{"email":"restart@example.com","password":"secret123"}' "$A_BASE/auth/login" || echo "000 0"
		done > "$NODES/load"
	) &
	loader=$!
	sleep 2
	pg_restart_down
	sleep 1
	on "$A_BASE" GET /readyz
	[ "$code" = 503 ]
	[ "$(jq -r .reason <<<"$out")" = "database unavailable" ]
	pg_restart_up
	ready=0
	for _ in $(seq 1 100); do
		on "$A_BASE" GET /readyz
		[ "$code" = 200 ] && { ready=1; break; }
		sleep 0.1
	done
	[ "$ready" = 1 ]
	wait "$loader"
	sort "$NODES/load" | awk '{ print $1 }' | uniq -c
	# Only 200 or 503, each within the statement timeout and then some.
	awk '$1 != 200 && $1 != 503' "$NODES/load" | refute grep -q .
	awk '$2 > 10' "$NODES/load" | refute grep -q .
	grep -q '^503' "$NODES/load"
	on "$A_BASE" POST /auth/login '{"email":"restart@example.com","password":"secret123"}'
	[ "$code" = 200 ]
}
