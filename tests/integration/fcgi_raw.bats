#!/usr/bin/env bats
# Straight to the FastCGI sockets (fcgi_req.py), for what lighttpd hides:
# a body that arrives slowly or never, signals while a body is being read,
# and client addresses lighttpd would not let a test choose (REMOTE_ADDR).
# Each test starts its own stack with the settings it needs.

load helper

setup_file() {
	# One key pair for every stack of this file (generating one is slow).
	export KEYS_DIR=$BATS_FILE_TMPDIR/keys
	"$ROOT/scripts/gen-keys.sh" "$KEYS_DIR" >/dev/null
}

# fresh_stack [VAR=value...]: a new stack in its own directory, started
# with these settings.
fresh_stack() {
	unset WORK
	stack_env "$(mktemp -d "$BATS_TEST_TMPDIR/raw.XXXXXX")"
	cp -r "$KEYS_DIR" "$WORK/keys"
	# shellcheck disable=SC2163 # the arguments are VAR=value words
	[ $# -eq 0 ] || export "$@"
	stack_start
}

teardown() { stack_stop; }

# req ENDPOINT METHOD URI [BODY] [fcgi_req.py options...]: one raw request
# to the endpoint's socket; sets $status_code, $body (and with --headers,
# $headers).
req() {
	local out
	out=$("$BATS_TEST_DIRNAME/fcgi_req.py" --timeout 8 "$RUN_DIR/$1.sock" "${@:2}") || true
	status_code=$(sed -n '1s/^status=//p' <<<"$out")
	body=$(sed -n 2p <<<"$out")
	headers=$(sed -n '3,$p' <<<"$out")
}

detail() { jq -r .detail <<<"$body"; }

# is_status CODE: the last answer had status CODE; says what it was if not.
is_status() {
	[ "$status_code" = "$1" ] ||
		{ echo "expected $1, got ${status_code:-nothing}: ${body:0:200}" >&2; return 1; }
}

creds() { printf '{"email":"%s","password":"%s"}' "$1" "${2:-wrongpass1}"; }

# new_workers ENDPOINT OLD_PIDS...: wait (up to 5 s) until the endpoint has
# FCGI_CHILDREN workers, none of them one of OLD_PIDS.
new_workers() {
	local ep=$1 now pid i
	shift
	for i in $(seq 1 100); do
		now=$(workers "$ep")
		if [ "$(wc -w <<<"$now")" -eq "$FCGI_CHILDREN" ]; then
			for pid in "$@"; do
				grep -qw "$pid" <<<"$now" && continue 2
			done
			return 0
		fi
		sleep 0.05
	done
	echo "workers of $ep: $now (old: $*)" >&2
	return 1
}

# log_any JQ_CONDITION: prints true when some JSON line of the stack's log
# satisfies it, else false. (Unlike log_has, other lines are skipped: a
# coverage build's libgcov may write its complaints to a worker's stderr,
# which is this log.)
log_any() {
	jq -n -R "[inputs | fromjson? // empty] | any(.[]; $1)" "$RUN_DIR/auth.log"
}

# No request of the stack answered 5xx.
no_5xx() { [ "$(log_any '.event == "request" and .status >= 500')" = false ]; }

@test "a stop signal while a request body is being read does not break the request" {
	fresh_stack FCGI_CHILDREN=2
	local login='{"email":"sig@example.com","password":"wrongpass1"}' old
	# SIGTERM to every worker while one of them holds a request with only
	# 10 bytes of its body: the idle one exits, the busy one answers first
	# (before, the read failed with EINTR: 422 "does not match").
	new_workers login    # start.sh returns on healthz: forks may lag under load
	old=$(workers login)
	echo "$old" >"$WORK/login.workers"
	[ "$(wc -w <"$WORK/login.workers")" -eq 2 ]
	req login POST /auth/login "$login" --first 10 --pause 0.5 \
		--signal TERM --pids-file "$WORK/login.workers"
	is_status 401
	[ "$(detail)" = "invalid credentials" ]
	# shellcheck disable=SC2086 # one word per pid
	new_workers login $old
	# A reload (SIGHUP to the master) stops the workers the same way.
	old=$(workers login)
	req login POST /auth/login "$login" --first 10 --pause 0.5 \
		--signal HUP --pid "$(cat "$RUN_DIR/login.pid")"
	is_status 401
	[ "$(detail)" = "invalid credentials" ]
	# shellcheck disable=SC2086
	new_workers login $old
	[ "$(log_any '.event == "reload" and .endpoint == "login"')" = true ]
	api POST /auth/login "$login" --max-time 10
	is_status 401
	[ "$(detail)" = "invalid credentials" ]
	no_5xx
}

@test "a worker gives up on a stalled body after READ_TIMEOUT" {
	fresh_stack READ_TIMEOUT=1 FCGI_CHILDREN=2
	local t0 t1 i
	t0=$(date +%s%N)
	req login POST /auth/login '{"em' --length 100 --first 4 --stall
	t1=$(date +%s%N)
	is_status 408
	[ "$(detail)" = "request timeout" ]
	# READ_TIMEOUT is 1 s: the answer comes within a few.
	[ $(((t1 - t0) / 1000000)) -lt 4000 ]
	# Both workers of the endpoint held by stalled bodies at once: a normal
	# request through lighttpd waits for them to give up, then is served.
	for i in 1 2; do
		"$BATS_TEST_DIRNAME/fcgi_req.py" --timeout 8 "$RUN_DIR/login.sock" \
			POST /auth/login '{"em' --length 100 --first 4 --stall \
			--ready-file "$WORK/ready.$i" >"$WORK/stalled.$i" 2>&1 &
	done
	for i in $(seq 1 100); do
		[ -e "$WORK/ready.1" ] && [ -e "$WORK/ready.2" ] && break
		sleep 0.05
	done
	sleep 0.2
	t0=$(date +%s%N)
	api POST /auth/login "$(creds nobody@example.com)" --max-time 10
	t1=$(date +%s%N)
	local front_status=$status_code front_body=$body
	wait
	for i in 1 2; do
		status_code=$(sed -n '1s/^status=//p' "$WORK/stalled.$i")
		body=$(sed -n 2p "$WORK/stalled.$i")
		is_status 408
		[ "$(detail)" = "request timeout" ]
	done
	status_code=$front_status body=$front_body
	is_status 401
	[ "$(detail)" = "invalid credentials" ]
	# It did wait for a worker: both were held.
	[ $(((t1 - t0) / 1000000)) -ge 300 ]
	no_5xx
}

@test "IPv6 clients are throttled per /64" {
	fresh_stack LOGIN_ADDR_MAX_FAILURES=3 LOGIN_MAX_FAILURES=100
	local n=0 a
	# login_from ADDR: a wrong password for a new unknown email from ADDR.
	login_from() {
		n=$((n + 1))
		req login POST /auth/login "$(creds "u$n@example.com")" --addr "$1" --headers
	}
	for a in 2001:db8:1:2::a 2001:db8:1:2::b 2001:db8:1:2:ffff:ffff:ffff:ffff; do
		login_from "$a"
		is_status 401
	done
	# The same /64, spelled otherwise.
	login_from 2001:DB8:1:2:0:0:0:99
	is_status 429
	[ "$(detail)" = "too many attempts" ]
	retry=$(grep -i '^Retry-After:' <<<"$headers" | cut -d' ' -f2)
	[ "$retry" -ge 1 ] && [ "$retry" -le 900 ]
	# The next /64 is another client.
	login_from 2001:db8:1:3::a
	is_status 401
	# IPv4: per address.
	for a in 192.0.2.1 192.0.2.1 192.0.2.1; do
		login_from "$a"
		is_status 401
	done
	login_from 192.0.2.2
	is_status 401
	login_from 192.0.2.1
	is_status 429
	# An IPv4-mapped IPv6 address is that IPv4 client.
	login_from ::ffff:192.0.2.1
	is_status 429
	[ "$(detail)" = "too many attempts" ]
	no_5xx
}

@test "registration is throttled per address" {
	fresh_stack REGISTER_ADDR_MAX=3 REGISTER_WINDOW=3600
	local retry i
	api POST /auth/register "$(creds reg1@example.com secret123)"
	is_status 201
	api POST /auth/register "$(creds reg2@example.com secret123)"
	is_status 201
	# A taken email is an attempt too.
	api POST /auth/register "$(creds reg1@example.com secret123)"
	is_status 400
	api POST /auth/register "$(creds reg3@example.com secret123)"
	is_status 429
	[ "$(detail)" = "too many attempts" ]
	retry=$(header Retry-After)
	[ "$retry" -ge 1 ] && [ "$retry" -le 3600 ]
	# Another client address is not limited by this one's attempts.
	req register POST /auth/register "$(creds reg4@example.com secret123)" --addr 192.0.2.9
	is_status 201
	no_5xx
	# REGISTER_ADDR_MAX=0: no limit.
	stack_stop
	fresh_stack REGISTER_ADDR_MAX=0
	for i in $(seq 1 10); do
		api POST /auth/register "$(creds "many$i@example.com" secret123)"
		is_status 201
	done
}

@test "a stop signal to a worker holding a silent connection ends it, without a spin" {
	# libfcgi's own accept, interrupted while it waited for a new
	# connection's first bytes, closed that connection and then spun on
	# the stale descriptor at full CPU for ever.
	fresh_stack FCGI_CHILDREN=1 READ_TIMEOUT=1
	new_workers login
	worker=$(workers login | tr -d ' \n')
	python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
time.sleep(6)' "$RUN_DIR/login.sock" &
	silent=$!
	sleep 0.5
	kill -TERM "$worker"
	gone=0
	for _ in $(seq 1 60); do
		pid_alive "$worker" || { gone=1; break; }
		sleep 0.1
	done
	kill "$silent" 2>/dev/null || true
	wait "$silent" 2>/dev/null || true
	echo "worker $worker gone=$gone"
	[ "$gone" = 1 ]
	new_workers login "$worker"
	api POST /auth/login "$(creds nobody@example.com)"
	[ "$status_code" = 401 ]
}
