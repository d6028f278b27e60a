#!/usr/bin/env bats
# What operators see: node-wide metrics summed over every process, kept
# across a worker's death; readiness; JSON logs without secrets.

load helper

setup_file() {
	export FCGI_CHILDREN=2
	stack_start
}
teardown_file() { stack_stop; }

# metric NAME_WITH_LABELS: its value in a fresh scrape (0 when absent).
metric() {
	curl -s "$BASE/metrics" | "$BATS_TEST_DIRNAME/promcheck.py" |
		awk -v k="$1" '$1 == k { print $2; found = 1 } END { if (!found) print 0 }'
}

# parallel N PATH: N concurrent GETs of PATH, so that both workers serve.
parallel() {
	seq 1 "$1" | xargs -P 8 -I{} curl -s -o /dev/null "$BASE$2"
}

@test "the exposition parses strictly, and the checker rejects a broken one" {
	curl -s "$BASE/metrics" > "$WORK/scrape"
	"$BATS_TEST_DIRNAME/promcheck.py" < "$WORK/scrape" >/dev/null
	grep -q '^# TYPE http_request_duration_seconds histogram$' "$WORK/scrape"
	curl -s -D - -o /dev/null "$BASE/metrics" | tr -d '\r' |
		grep -qi '^Content-Type: text/plain; version=0.0.4'
	printf 'x_total{a="1"} 1\n' | { ! "$BATS_TEST_DIRNAME/promcheck.py" 2>/dev/null; }
	printf '# TYPE h histogram\n# HELP h h\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_count 1\nh_sum 1\n' |
		{ ! "$BATS_TEST_DIRNAME/promcheck.py" 2>/dev/null; }
}

@test "a known sequence over two workers per endpoint gives exact counts" {
	h0=$(metric 'http_requests_total{handler="/healthz",method="GET",status="2xx"}')
	r0=$(metric 'auth_registrations_total{}')
	s0=$(metric 'auth_logins_total{result="success"}')
	f0=$(metric 'auth_logins_total{result="failure"}')
	m0=$(metric 'http_requests_total{handler="/auth/me",method="GET",status="4xx"}')
	parallel 40 /healthz
	parallel 12 /auth/me
	for i in 1 2 3; do register "seq$i@example.com"; done
	api POST /auth/login '{"email":"seq1@example.com","password":"secret123"}'
	api POST /auth/login '{"email":"seq2@example.com","password":"secret123"}'
	api POST /auth/login '{"email":"seq1@example.com","password":"wrong-pass"}'
	[ "$(metric 'http_requests_total{handler="/healthz",method="GET",status="2xx"}')" = $((h0 + 40)) ]
	[ "$(metric 'http_requests_total{handler="/auth/me",method="GET",status="4xx"}')" = $((m0 + 12)) ]
	[ "$(metric 'auth_registrations_total{}')" = $((r0 + 3)) ]
	[ "$(metric 'auth_logins_total{result="success"}')" = $((s0 + 2)) ]
	[ "$(metric 'auth_logins_total{result="failure"}')" = $((f0 + 1)) ]
	[ "$(metric 'http_request_duration_seconds_count{handler="/healthz",method="GET"}')" = \
	  "$(metric 'http_requests_total{handler="/healthz",method="GET",status="2xx"}')" ]
	# Which worker served is the kernel's choice (an idle worker that keeps
	# up takes every connection); totals summed over processes are what
	# "a worker killed and respawned keeps the node's totals" shows.
}

@test "refresh outcomes are counted: rotated, invalid, replay" {
	rot0=$(metric 'auth_refresh_total{result="rotated"}')
	inv0=$(metric 'auth_refresh_total{result="invalid"}')
	rep0=$(metric 'auth_refresh_total{result="replay"}')
	register counted@example.com
	old=$refresh
	api POST /auth/refresh "{\"refresh_token\":\"$old\"}"
	[ "$status_code" = 200 ]
	api POST /auth/refresh '{"refresh_token":"x.y.z"}'
	api POST /auth/refresh "{\"refresh_token\":\"$old\"}"
	[ "$status_code" = 401 ]
	[ "$(metric 'auth_refresh_total{result="rotated"}')" = $((rot0 + 1)) ]
	[ "$(metric 'auth_refresh_total{result="invalid"}')" = $((inv0 + 1)) ]
	[ "$(metric 'auth_refresh_total{result="replay"}')" = $((rep0 + 1)) ]
}

@test "a worker killed and respawned keeps the node's totals" {
	parallel 10 /healthz
	before=$(metric 'http_requests_total{handler="/healthz",method="GET",status="2xx"}')
	victim=$(workers healthz | awk '{ print $1 }')
	kill -KILL "$victim"
	# The master replaces it (after a one-second guard against crash loops).
	for _ in $(seq 1 60); do
		w=$(workers healthz)
		[ "$(wc -w <<<"$w")" = 2 ] && ! grep -qw "$victim" <<<"$w" && break
		sleep 0.1
	done
	[ "$(wc -w <<<"$(workers healthz)")" = 2 ]
	refute grep -qw "$victim" <<<"$(workers healthz)"
	grep -q '"event":"worker_exited"' "$WORK/run/auth.log"
	parallel 10 /healthz
	[ "$(metric 'http_requests_total{handler="/healthz",method="GET",status="2xx"}')" = $((before + 10)) ]
}

@test "gauges follow the database: users and unrevoked refresh tokens" {
	u0=$(metric 'auth_users{}')
	t0=$(metric 'auth_refresh_tokens_unrevoked{}')
	register gauge@example.com
	[ "$(metric 'auth_users{}')" = $((u0 + 1)) ]
	[ "$(metric 'auth_refresh_tokens_unrevoked{}')" = $((t0 + 1)) ]
	api POST /auth/refresh "{\"refresh_token\":\"$refresh\"}"
	[ "$(metric 'auth_refresh_tokens_unrevoked{}')" = $((t0 + 1)) ]
	[ "$(metric 'auth_users{}')" = "$(db_query 'SELECT count(*) FROM users')" ]
}

@test "readyz is 200 when the database answers at the newest schema" {
	api GET /readyz
	[ "$status_code" = 200 ]
	[ "$(jq -r .status <<<"$body")" = ready ]
}

@test "readyz is 503 while the database file is gone, 200 once it is back" {
	skip_on_pg "the SQLite file"
	mv "$WORK/auth.db" "$WORK/auth.db.away"
	api GET /readyz
	mv "$WORK/auth.db.away" "$WORK/auth.db"
	[ "$status_code" = 503 ]
	[ "$(jq -r .status <<<"$body")" = "not ready" ]
	[ "$(jq -r .reason <<<"$body")" = "database unavailable" ]
	api GET /readyz
	[ "$status_code" = 200 ]
}

@test "request ids join the access line and the audit line, and are echoed" {
	api POST /auth/register '{"email":"traced@example.com","password":"secret123"}' -H 'X-Request-Id: trace-reg-1'
	[ "$(header X-Request-Id)" = trace-reg-1 ]
	log_has '.request_id == "trace-reg-1" and .event == "register"'
	line=$(jq -c 'select(.request_id == "trace-reg-1" and .event == "request")' "$WORK/run/auth.log")
	[ "$(jq -r .status <<<"$line")" = 201 ]
	[ "$(jq -r .endpoint <<<"$line")" = register ]
	[ "$(jq -r .client <<<"$line")" = 127.0.0.1 ]
	[ -n "$(jq -r .user_id <<<"$line")" ]
	jq -e '.duration_ms >= 0 and (.time | test("^[0-9-]{10}T[0-9:.]{12}Z$"))' <<<"$line" >/dev/null
}

@test "audit events: register, login success and failure, rotation, replay" {
	register audit@example.com
	old=$refresh
	api POST /auth/login '{"email":"audit@example.com","password":"secret123"}'
	api POST /auth/login '{"email":"audit@example.com","password":"nope-nope"}'
	api POST /auth/refresh "{\"refresh_token\":\"$old\"}"
	api POST /auth/refresh "{\"refresh_token\":\"$old\"}"
	for e in register login_success login_failure refresh_rotated refresh_replay; do
		log_has ".event == \"$e\"" ||
			{ echo "no $e event"; return 1; }
	done
}

@test "no secret used in this run appears in any log" {
	pw='Corr3ct-Horse-Battery'
	register leak@example.com "$pw"
	api POST /auth/login "{\"email\":\"leak@example.com\",\"password\":\"$pw\"}"
	api POST /auth/login '{"email":"leak@example.com","password":"Wr0ng-Secret-Guess"}'
	api POST /auth/refresh "{\"refresh_token\":\"$refresh\"}"
	api GET /auth/me "" -H "Authorization: Bearer $access"
	hash=$(db_query "SELECT password_hash FROM users WHERE email = 'leak@example.com'")
	key=$(sed -n 2p "$JWT_PRIVATE_KEY_PATH")
	for log in "$WORK"/run/*.log; do
		for secret in "$pw" Wr0ng-Secret-Guess "$refresh" "$access" \
			"$(cut -d. -f3 <<<"$refresh")" "$hash" "$key"; do
			! grep -qF -- "$secret" "$log" || { echo "secret in $log"; return 1; }
		done
		refute grep -q '\$2[aby]\$' "$log"
	done
	while IFS= read -r line; do
		jq -e 'has("time") and has("level") and has("endpoint") and has("event") and has("pid")' \
			<<<"$line" >/dev/null
	done < "$WORK/run/auth.log"
}
