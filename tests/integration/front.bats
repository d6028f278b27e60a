#!/usr/bin/env bats
# The front of the endpoints (lighttpd.conf, or nginx.conf with
# AUTH_TEST_FRONT=nginx; scripts/start.sh): slow clients, paths outside
# the contract, its own log, file modes. front_parity.bats holds both
# fronts to the same answers.

load helper

setup_file() {
	export READ_TIMEOUT=2   # the front drops a silent client after 2 s
	stack_start
}
teardown_file() { stack_stop; }

# A second stack some tests start in a directory of their own.
teardown() {
	if [ -n "${second:-}" ]; then
		( cd "$second" && RUN_DIR="$second/run" "$ROOT/scripts/stop.sh" )
	fi
}

# fresh_env: point this test at a new, empty stack directory.
fresh_env() {
	stack_env "$(mktemp -d "$BATS_TEST_TMPDIR/front.XXXXXX")"
	second=$WORK
	"$ROOT/scripts/gen-keys.sh" "$WORK/keys" >/dev/null
}

@test "slow clients that never send their body stall no route, and are dropped after READ_TIMEOUT" {
	run "$BATS_TEST_DIRNAME/slowclient.py" "$PORT" "$FCGI_CHILDREN" "$READ_TIMEOUT"
	echo "$output"
	[ "$status" -eq 0 ]
	assert_alive
}

@test "start refuses a READ_TIMEOUT that is not an integer from 1 to 300, in one line" {
	fresh_env
	for v in 0 301 abc 2s ' 5' -1 99999999999999999999; do
		run env READ_TIMEOUT="$v" bash -c "cd '$WORK' && '$ROOT/scripts/start.sh' --background"
		echo "READ_TIMEOUT='$v': $status $output"
		[ "$status" -ne 0 ]
		[ "$output" = "start.sh: READ_TIMEOUT must be an integer between 1 and 300 (got '$v')" ]
		[ ! -e "$RUN_DIR/supervise.pid" ]
	done
}

@test "start refuses a FRONT other than lighttpd or nginx, and a RUN_DIR nginx.conf cannot hold" {
	fresh_env
	for v in apache '' ' nginx' nginx2 NGINX; do
		[ -z "$v" ] && continue
		run env FRONT="$v" bash -c "cd '$WORK' && '$ROOT/scripts/start.sh' --background"
		echo "FRONT='$v': $status $output"
		[ "$status" -ne 0 ]
		[ "$output" = "start.sh: FRONT must be lighttpd or nginx (got '$v')" ]
		[ ! -e "$RUN_DIR/supervise.pid" ]
	done
	for d in "$WORK/run dir" "$WORK/run;x" "$WORK/run\$x" "$WORK/run{x}"; do
		run env FRONT=nginx RUN_DIR="$d" bash -c "cd '$WORK' && '$ROOT/scripts/start.sh' --background"
		echo "RUN_DIR='$d': $status $output"
		[ "$status" -ne 0 ]
		[[ ${lines[-1]} == "start.sh: FRONT=nginx: RUN_DIR must be a path of letters, digits and ._/+@,=- (got '"* ]]
		[ ! -e "$d" ]
	done
}

@test "every path outside the contract is a JSON 404, whatever the method" {
	for p in / /index.html /status-404.html /www/status-404.html \
		/errors/status-404.html /errors/ /lighttpd.log /nginx.log /nginx.conf \
		/nginx/ /nginx/nginx.pid /supervise.tab /auth.log /../etc/passwd \
		/auth /auth/ /auth/login/x /auth/sessions/ /.well-known/ /.well-known/jwks.json/x; do
		for m in GET HEAD POST PUT DELETE OPTIONS PATCH; do
			case $m in POST|PUT|PATCH) data='{}' ;; *) data='' ;; esac
			if [ "$m" = HEAD ]; then
				api HEAD "$p" "" --path-as-is --head
			else
				api "$m" "$p" "$data" --path-as-is
			fi
			echo "$m $p: $status_code $(header Content-Type) $body"
			# A target above the root is malformed to nginx's parser, a
			# JSON 400 there (docs/nginx.md, "Parity").
			if [ "$FRONT" = nginx ] && [ "$p" = /../etc/passwd ]; then
				[ "$status_code" = 400 ]
				[ "$(header Content-Type)" = application/json ]
				[ "$m" = HEAD ] || [ "$(jq -c . <<<"$body")" = '{"detail":"bad request"}' ]
				continue
			fi
			[ "$status_code" = 404 ]
			[ "$(header Content-Type)" = application/json ]
			[ "$m" = HEAD ] || [ "$(jq -c . <<<"$body")" = '{"detail":"not found"}' ]
		done
	done
}

@test "the front's log holds no warning about its configuration" {
	if [ "$FRONT" = nginx ]; then
		# Its stderr is its log, from the start (start.sh).
		cat "$RUN_DIR/nginx.log"
		grep -q 'nginx/' "$RUN_DIR/nginx.log"
		# Its words about requests (a body buffered to a file) are no
		# complaint about its configuration.
		run grep -E '\[(warn|error|crit|alert|emerg)\]|nginx: ' "$RUN_DIR/nginx.log"
		run grep -Ev 'client request body is buffered|client intended to send too large|client timed out|client prematurely closed' <<<"$output"
		echo "$output"
		[ -z "$output" ]
	else
		# What it says before its log is open goes to its stderr.
		cat "$RUN_DIR/lighttpd.log" "$RUN_DIR/lighttpd.stderr"
		grep -q 'server started' "$RUN_DIR/lighttpd.log"
		run grep -Ei 'warning|unknown config-key|deprecated' "$RUN_DIR/lighttpd.log" \
			"$RUN_DIR/lighttpd.stderr"
		[ "$status" -eq 1 ]
	fi
}

@test "the run directory is 0700, its logs and sockets 0600" {
	register modes@example.com
	api POST /auth/login '{"email":"modes@example.com","password":"wrongpass1"}'
	[ "$status_code" = 401 ]
	ls -la "$RUN_DIR"
	[ "$(stat -c %a "$RUN_DIR")" = 700 ]
	[ "$(stat -c %a "$RUN_DIR/auth.log")" = 600 ]
	[ "$(stat -c %a "$RUN_DIR/$FRONT.log")" = 600 ]
	for s in "$RUN_DIR"/*.sock; do [ "$(stat -c %a "$s")" = 600 ]; done
	# Nothing in it is open to the group or to others.
	[ -z "$(find "$RUN_DIR" -perm /077)" ]
}

@test "start makes an existing run directory and logs private" {
	fresh_env
	export LOG_FILE=$WORK/endpoints.log
	mkdir -m 0755 "$RUN_DIR"
	for f in "$RUN_DIR/auth.log" "$RUN_DIR/$FRONT.log" "$LOG_FILE"; do
		echo old > "$f"
		chmod 0644 "$f"
	done
	stack_start
	ls -la "$RUN_DIR" "$LOG_FILE"
	[ "$(stat -c %a "$RUN_DIR")" = 700 ]
	[ "$(stat -c %a "$RUN_DIR/auth.log")" = 600 ]
	[ "$(stat -c %a "$RUN_DIR/$FRONT.log")" = 600 ]
	[ "$(stat -c %a "$LOG_FILE")" = 600 ]
	api GET /healthz
	[ "$status_code" = 200 ]
}
