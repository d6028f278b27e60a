#!/usr/bin/env bats
# METRICS_ALLOW: /metrics answers only the client networks it lists (403
# JSON to others), and a bad list stops start.sh with one line naming it.
# Each test starts its own stack, since the setting is read at start.

load helper

setup() {
	unset METRICS_ALLOW
	stack_env "$(mktemp -d "$BATS_TEST_TMPDIR/allow.XXXXXX")"
	"$ROOT/scripts/gen-keys.sh" "$WORK/keys" >/dev/null
}

teardown() { stack_stop; }

# scrape_forbidden: /metrics from 127.0.0.1 is the 403 of the contract,
# logged like any other request, and the other endpoints still serve.
scrape_forbidden() {
	api GET /metrics "" -H 'X-Request-Id: scrape-refused'
	[ "$status_code" = 403 ]
	[ "$(header Content-Type)" = application/json ]
	[ "$(jq -c . <<<"$body")" = '{"detail":"forbidden"}' ]
	log_has '.request_id == "scrape-refused" and .event == "request" and
		.endpoint == "metrics" and .status == 403 and .client == "127.0.0.1"'
	api GET /healthz
	[ "$status_code" = 200 ]
}

@test "the default METRICS_ALLOW lets 127.0.0.1 scrape" {
	stack_start
	api GET /metrics
	[ "$status_code" = 200 ]
	grep -q '^# TYPE http_requests_total counter$' <<<"$body"
}

@test "a list with spaces, a plain address and IPv6 lets 127.0.0.1 scrape" {
	export METRICS_ALLOW='10.0.0.0/8 , 127.0.0.1, 2001:db8::/32'
	stack_start
	api GET /metrics
	[ "$status_code" = 200 ]
}

@test "METRICS_ALLOW=10.0.0.0/8 answers 403 JSON to 127.0.0.1" {
	export METRICS_ALLOW=10.0.0.0/8
	stack_start
	scrape_forbidden
}

@test "an empty METRICS_ALLOW answers 403 to everyone" {
	export METRICS_ALLOW=
	stack_start
	scrape_forbidden
}

@test "::/0 does not let an IPv4 client in" {
	export METRICS_ALLOW=::/0
	stack_start
	scrape_forbidden
}

# start_fails VALUE WANT: start.sh stops, and exactly one line of its
# output names METRICS_ALLOW and says WANT.
start_fails() {
	run env METRICS_ALLOW="$1" bash -c "cd '$WORK' && '$ROOT/scripts/start.sh' --background"
	echo "$output"
	[ "$status" -ne 0 ]
	[ "$(grep -c METRICS_ALLOW <<<"$output")" = 1 ]
	line=$(grep METRICS_ALLOW <<<"$output")
	[[ $line == "auth-svc "*": METRICS_ALLOW: "*"$2"* ]]
	[ ! -e "$RUN_DIR/supervise.pid" ]
}

@test "a bad METRICS_ALLOW stops start.sh with one line naming it" {
	start_fails 10.0.0.0/33 "'10.0.0.0/33' has a prefix length that is not 0 to 32"
	start_fails ::1/129 "'::1/129' has a prefix length that is not 0 to 128"
	start_fails 'localhost' "'localhost' is not an IPv4 or IPv6 address"
	start_fails '127.0.0.0/8,' "an item is empty"
	start_fails 10.1.2.3/8 "has host bits set (the network is 10.0.0.0/8)"
}
