#!/usr/bin/env bats
# The two fronts (lighttpd.conf and nginx.conf, FRONT in scripts/start.sh)
# side by side: a client cannot tell which one it talks to. One stack
# behind each, whatever AUTH_TEST_FRONT says; front_probe.py sends both
# the same raw requests (docs/nginx.md, "Parity", lists what nginx's
# parser decides alone and is left out).

load helper

# front_stack NAME FRONT: a stack behind FRONT in its own directory; its
# port and directory in NAME_PORT and NAME_WORK.
front_stack() {
	stack_env "$(mktemp -d "$BATS_FILE_TMPDIR/$1.XXXXXX")"
	export FRONT=$2
	stack_start
	eval "export ${1}_PORT=$PORT ${1}_WORK=$WORK"
}

setup_file() {
	export READ_TIMEOUT=2
	front_stack L lighttpd
	front_stack N nginx
	# E: behind nginx without verify and discovery, whose sockets
	# fcgi_echo.py takes to show what nginx hands those routes.
	ENDPOINTS="register login refresh me logout logout_all sessions jwks healthz readyz metrics" \
		front_stack E nginx
}

teardown_file() {
	local w
	for w in "${L_WORK:-}" "${N_WORK:-}" "${E_WORK:-}"; do
		[ -n "$w" ] || continue
		( cd "$w" && RUN_DIR="$w/run" "$ROOT/scripts/stop.sh" )
	done
}

# use NAME: point api, BASE, RUN_DIR... at that stack.
use() {
	local p=${1}_PORT w=${1}_WORK
	export PORT=${!p} WORK=${!w}
	export BASE="http://127.0.0.1:$PORT" RUN_DIR=$WORK/run
	export FRONT=nginx
	[ "$1" = L ] && FRONT=lighttpd
	export FRONT
}

@test "both fronts give the same status, headers and body to the same raw requests" {
	"$BATS_TEST_DIRNAME/front_probe.py" "$L_PORT" > "$BATS_TEST_TMPDIR/lighttpd.out"
	"$BATS_TEST_DIRNAME/front_probe.py" "$N_PORT" > "$BATS_TEST_TMPDIR/nginx.out"
	run diff -u "$BATS_TEST_TMPDIR/lighttpd.out" "$BATS_TEST_TMPDIR/nginx.out"
	echo "$output"
	[ "$status" -eq 0 ]
	# Every case answered (nothing is the same for want of an answer).
	[ "$(grep -c '^===' "$BATS_TEST_TMPDIR/nginx.out")" -ge 50 ]
	run grep -A1 '^===' "$BATS_TEST_TMPDIR/nginx.out"
	[[ $output != *"<"*"Error>"* ]]
}

# status_of OUT CASE: the status front_probe.py printed for CASE.
status_of() {
	sed -n "/^=== $2\$/{n;p;q}" "$1"
}

@test "what the fronts decide themselves is the contract's answer, in JSON" {
	out=$BATS_TEST_TMPDIR/nginx.out
	"$BATS_TEST_DIRNAME/front_probe.py" "$N_PORT" > "$out"
	while read -r c want detail; do
		got=$(status_of "$out" "$c")
		echo "$c: $got (want $want)"
		[ "$got" = "$want" ]
		body=$(sed -n "/^=== $c\$/,/^===/p" "$out" | grep '^{' | head -1)
		echo "  $body"
		[ "$(jq -r .detail <<<"$body")" = "${detail//_/ }" ]
	done <<-'EOF'
	post-no-length 411 length_required
	post-no-length-outside 411 length_required
	post-over-front-limit 413 request_body_too_large
	post-chunked-over-front-limit 413 request_body_too_large
	header-20k 431 request_header_fields_too_large
	headers-24k-in-6 431 request_header_fields_too_large
	uri-20k 431 request_header_fields_too_large
	unknown-method 501 not_implemented
	unknown-method-outside 501 not_implemented
	post-transfer-encoding-gzip 501 not_implemented
	get-with-body 400 bad_request
	version-1.2 505 http_version_not_supported
	get-outside 404 not_found
	get-errors-file 404 not_found
	EOF
	# A chunked body reaches the endpoint whole, with its length.
	[ "$(status_of "$out" post-chunked)" = 401 ]
	# An endpoint's own limit (MAX_BODY_BYTES) under the front's.
	[ "$(status_of "$out" post-over-endpoint-limit)" = 413 ]
	grep -q '^Server: auth-svc$' "$out"
	run grep -i '^server: nginx' "$out"
	[ "$status" -eq 1 ]
}

@test "behind nginx: slow clients stall no route and are dropped after READ_TIMEOUT" {
	use N
	run "$BATS_TEST_DIRNAME/slowclient.py" "$PORT" "$FCGI_CHILDREN" "$READ_TIMEOUT"
	echo "$output"
	[ "$status" -eq 0 ]
	assert_alive
}

@test "behind nginx: the client's address, user agent and request id reach the endpoint" {
	use N
	api GET /auth/me "" -H 'User-Agent: parity-agent/1' -H 'X-Request-Id: parity-req-0001'
	[ "$status_code" = 401 ]
	[ "$(header X-Request-Id)" = parity-req-0001 ]
	log_has '.request_id == "parity-req-0001" and .client == "127.0.0.1" and .method == "GET" and .status == 401'
	register parity@example.com
	api GET /auth/me "" -H "Authorization: Bearer $access"
	[ "$status_code" = 200 ]
	[ "$(jq -r .email <<<"$body")" = parity@example.com ]
}

@test "behind nginx: nginx runs as the user who started it, its files private to that user" {
	use N
	pid=$(cat "$RUN_DIR/front.pid")
	[ "$(stat -c %u "/proc/$pid")" = "$(id -u)" ]
	# One process: nothing of it could outlive the supervisor's child.
	[ -z "$(cat "/proc/$pid/task/$pid/children")" ]
	[ -z "$(find "$RUN_DIR" -perm /077)" ]
	[ -z "$(find "$RUN_DIR" -perm /002)" ]
	grep -q "^pid $RUN_DIR/nginx/nginx.pid;" "$RUN_DIR/nginx.conf"
	[ "$(cat "$RUN_DIR/nginx/nginx.pid")" = "$pid" ]
	# No path of it outside RUN_DIR (nor any left to nginx's defaults).
	run grep -E '^\s*(pid|error_log|[a-z_]*_temp_path|root|fastcgi_pass)\s' "$RUN_DIR/nginx.conf"
	echo "$output"
	run grep -Ev "\s(unix:)?$RUN_DIR(/[^ ]*)?( notice)?;$" <<<"$output"
	[ -z "$output" ]
	run grep -n '@[A-Z_]*@' "$RUN_DIR/nginx.conf"
	[ "$status" -eq 1 ]
}

# echo_on SOCKET: fcgi_echo.py answering on SOCKET (in stack E's RUN_DIR,
# where verify and discovery do not run); stopped by pid.
echo_on() {
	"$BATS_TEST_DIRNAME/fcgi_echo.py" "$1" &
	echo_pids="${echo_pids:-} $!"
	for _ in $(seq 1 100); do [ -S "$1" ] && return 0; sleep 0.05; done
	return 1
}

teardown() {
	local p
	for p in ${echo_pids:-}; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null || :; done
	echo_pids=""
}

@test "behind nginx: /auth/verify gets any method and URI, the headers, and never a body" {
	use E
	echo_on "$RUN_DIR/verify.sock"
	for m in GET POST PUT DELETE PROPFIND; do
		# (A GET with a body is a 400 before any route, on both fronts.)
		data='{"a":1}'
		[ "$m" = GET ] && data=''
		api "$m" '/auth/verify?next=%2Fapp%2Fx' "$data" -H 'Authorization: Bearer tok.en.x' \
			-H 'X-Original-URI: /app/x'
		echo "$m: $status_code $body"
		[ "$status_code" = 200 ]
		[ "$(jq -r .params.REQUEST_METHOD <<<"$body")" = "$m" ]
		[ "$(jq -r .params.REQUEST_URI <<<"$body")" = '/auth/verify?next=%2Fapp%2Fx' ]
		[ "$(jq -r .params.HTTP_AUTHORIZATION <<<"$body")" = 'Bearer tok.en.x' ]
		[ "$(jq -r .params.HTTP_X_ORIGINAL_URI <<<"$body")" = /app/x ]
		[ "$(jq -r .params.REMOTE_ADDR <<<"$body")" = 127.0.0.1 ]
		# No body, and nothing claiming one.
		[ "$(jq -r .stdin <<<"$body")" = 0 ]
		[ "$(jq -r '.params.CONTENT_LENGTH // ""' <<<"$body")" = "" ]
		[ "$(jq -r '.params.CONTENT_TYPE // ""' <<<"$body")" = "" ]
	done
	# A client's Proxy header never becomes HTTP_PROXY (httpoxy).
	api GET /auth/verify "" -H 'Proxy: http://evil.example'
	[ "$(jq -r '.params.HTTP_PROXY // ""' <<<"$body")" = "" ]
}

@test "behind nginx: the discovery documents go to discovery.sock" {
	use E
	echo_on "$RUN_DIR/discovery.sock"
	for p in /.well-known/openid-configuration /.well-known/oauth-authorization-server; do
		api GET "$p"
		echo "$p: $status_code $body"
		[ "$status_code" = 200 ]
		[ "$(jq -r .params.REQUEST_URI <<<"$body")" = "$p" ]
		[ "$(jq -r .params.SERVER_PORT <<<"$body")" = "$PORT" ]
	done
	api GET /.well-known/openid-configuration/x
	[ "$status_code" = 404 ]
}
