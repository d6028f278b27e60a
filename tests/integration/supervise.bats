#!/usr/bin/env bats
# Faults heal themselves: the supervisor (sbin/supervise) starts again any
# endpoint master or front that dies, backs off from one that keeps dying,
# and start.sh / stop.sh trust a pid file only while it still names the
# process that was recorded.

load helper

setup() {
	stack_env "$(mktemp -d "$BATS_TEST_TMPDIR/sup.XXXXXX")"
	"$ROOT/scripts/gen-keys.sh" "$WORK/keys" >/dev/null
}

teardown() {
	stack_stop
	[ -z "${bystander:-}" ] || kill "$bystander" 2>/dev/null || true
}

# answers_within SECONDS METHOD PATH BODY WANT [curl args]: the route answers
# WANT within SECONDS (polled every 50 ms).
answers_within() {
	local limit=$1 method=$2 path=$3 data=$4 want=$5 i code
	shift 5
	for i in $(seq 1 $((limit * 20))); do
		code=$(curl -s -o /dev/null -w '%{http_code}' -X "$method" \
			${data:+--data-binary "$data"} "$@" "$BASE$path" || true)
		[ "$code" = "$want" ] && return 0
		sleep 0.05
	done
	echo "$method $path: $code, not $want, after $limit s" >&2
	return 1
}

metric() {
	curl -s "$BASE/metrics" | awk -v s="$1" '$1 == s { print $2 }'
}

@test "kill -9 of each endpoint master: the route answers again within 2 s, counted, totals kept" {
	stack_start
	register victim@example.com
	sid_refresh=$refresh
	# Load while masters die: none of these may see a 5xx.
	(
		end=$((SECONDS + 25))
		while [ $SECONDS -lt $end ]; do
			curl -s -o /dev/null -w '%{http_code}\n' "$BASE/healthz"
			curl -s -o /dev/null -w '%{http_code}\n' -H "Authorization: Bearer $access" "$BASE/auth/me"
		done > "$WORK/load"
	) &
	loader=$!
	before=$(metric 'http_requests_total{handler="/healthz",method="GET",status="2xx"}')
	for ep in register login refresh me verify logout logout_all sessions account mfa jwks discovery healthz readyz metrics mailer; do
		old=$(cat "$RUN_DIR/$ep.pid")
		kill -KILL "$old"
		for _ in $(seq 1 40); do
			new=$(cat "$RUN_DIR/$ep.pid")
			[ "$new" != "$old" ] && kill -0 "$new" 2>/dev/null && break
			sleep 0.05
		done
		[ "$new" != "$old" ]
	done
	answers_within 2 GET /healthz "" 200
	answers_within 2 GET /readyz "" 200
	answers_within 2 GET /.well-known/jwks.json "" 200
	# JWT_ISS is no URL here: discovery's own 404, not the front's.
	answers_within 2 GET /.well-known/openid-configuration "" 404
	answers_within 2 GET /auth/me "" 200 -H "Authorization: Bearer $access"
	answers_within 2 GET /auth/sessions "" 200 -H "Authorization: Bearer $access"
	answers_within 2 POST /auth/login '{"email":"victim@example.com","password":"secret123"}' 200
	answers_within 2 POST /auth/register '{"email":"after@example.com","password":"secret123"}' 201
	answers_within 2 POST /auth/refresh "{\"refresh_token\":\"$sid_refresh\"}" 200
	answers_within 2 POST /auth/password/forgot '{"email":"victim@example.com"}' 202
	wait "$loader"
	echo "load: $(sort "$WORK/load" | uniq -c | tr '\n' ' ')"
	refute grep -q '^5' "$WORK/load"
	# Deaths and restarts are logged and counted; the node's counters
	# lived through every master's death.
	for ep in register login me metrics account mailer; do
		log_has ".event == \"process_died\" and .process == \"$ep\" and .signal == 9"
		log_has ".event == \"process_restarted\" and .process == \"$ep\""
		[ "$(metric "auth_process_restarts_total{process=\"$ep\"}")" = 1 ]
	done
	after=$(metric 'http_requests_total{handler="/healthz",method="GET",status="2xx"}')
	echo "healthz 2xx before $before, after $after"
	[ "$after" -gt "$before" ]
}

@test "kill -9 of the front: it is started again and serves" {
	stack_start
	old=$(cat "$RUN_DIR/front.pid")
	kill -KILL "$old"
	answers_within 3 GET /healthz "" 200
	[ "$(cat "$RUN_DIR/front.pid")" != "$old" ]
	log_has '.event == "process_died" and .process == "front"'
	[ "$(metric 'auth_process_restarts_total{process="front"}')" = 1 ]
}

@test "a process that keeps dying is backed off, and the log says why" {
	mkdir -p "$RUN_DIR"
	printf 'front\t-\t%s\t-\t/bin/sh\t-c\texit 3\n' "$WORK/dying.log" > "$RUN_DIR/supervise.tab"
	"$BIN_DIR/../sbin/supervise" "$RUN_DIR" 2> "$WORK/sup.log" &
	sup=$!
	sleep 4.5
	kill -TERM "$sup"
	wait "$sup"
	delays=$(jq -r 'select(.event == "process_died") | .restart_in_ms' "$WORK/sup.log" | tr '\n' ' ')
	echo "delays: $delays"
	# Four deaths in 4.5 s, not hundreds: at once, then after 1 s, 2 s, 4 s.
	[[ $delays == "0 1000 2000 4000"* ]]
	[ "$(jq -r 'select(.event == "process_died") | .status' "$WORK/sup.log" | sort -u)" = 3 ]
	jq -e -s 'any(.[]; .event == "process_backoff" and (.reason | test("keeps dying")))' "$WORK/sup.log" >/dev/null
	# Stopped cleanly: its pid file is gone.
	[ ! -e "$RUN_DIR/supervise.pid" ]
}

@test "stale pid files naming live unrelated processes: start works, stop leaves them alone" {
	sleep 300 &
	bystander=$!
	mkdir -p "$RUN_DIR"
	start=$(cut -d')' -f2- "/proc/$bystander/stat" | awk '{ print $20 }')
	# As a crash and a reboot leave them: the numbers now name someone else.
	echo "$bystander $start" > "$RUN_DIR/supervise.pid"
	for n in front login me; do echo "$bystander" > "$RUN_DIR/$n.pid"; done
	stack_start
	kill -0 "$bystander"
	register stale@example.com
	stack_stop
	kill -0 "$bystander"
	# A pid file naming a process gone for good: stop signals nothing.
	echo "$bystander 1" > "$RUN_DIR/supervise.pid"
	run "$ROOT/scripts/stop.sh"
	[ "$status" -eq 0 ]
	kill -0 "$bystander"
	[[ $output == *"stale"* ]]
}

@test "start after kill -9 of the whole stack needs no cleanup" {
	stack_start
	register crash@example.com
	sup=$(cut -d' ' -f1 "$RUN_DIR/supervise.pid")
	kill -KILL "$sup"
	# Its children follow it (PR_SET_PDEATHSIG); the files stay behind.
	for _ in $(seq 1 100); do
		[ -z "$(cat "/proc/$sup/task/$sup/children" 2>/dev/null)" ] && ! pid_alive "$sup" && break
		sleep 0.05
	done
	[ -e "$RUN_DIR/supervise.pid" ]
	for _ in $(seq 1 100); do
		port_answers 127.0.0.1 "$PORT" || break
		sleep 0.05
	done
	stack_start
	api POST /auth/login '{"email":"crash@example.com","password":"secret123"}'
	[ "$status_code" = 200 ]
}
