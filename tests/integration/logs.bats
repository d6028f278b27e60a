#!/usr/bin/env bats
# Logs an operator can keep: rotation without a lost or torn line
# (scripts/reopen-logs.sh, kill -USR1, the shipped logrotate snippet), the
# volume setting LOG_REQUESTS (audit events whatever it says), the
# journal's priorities, and a full log disk or stalled journal that drops
# lines, counts them and says so once the log takes lines again, while
# authentication goes on.

load helper

setup() {
	stack_env "$(mktemp -d "$BATS_TEST_TMPDIR/logs.XXXXXX")"
	"$ROOT/scripts/gen-keys.sh" "$WORK/keys" >/dev/null
}

teardown() {
	stack_stop
	if [ -n "${journal:-}" ]; then
		# It leaves once the stack closed the socket; never for long.
		for _ in $(seq 1 100); do pid_alive "$journal" || break; sleep 0.05; done
		kill "$journal" 2>/dev/null || true
	fi
	if [ -n "${WORK:-}" ] && mountpoint -q "$WORK/logs" 2>/dev/null; then
		umount "$WORK/logs"
	fi
	return 0
}

metric() {
	curl -s "$BASE/metrics" | awk -v s="$1" '$1 == s { print $2 }'
}

# bad_lines FILE...: print every line of the files that is not one JSON
# object (torn, glued to another, empty), with its file.
bad_lines() {
	local f
	for f in "$@"; do
		jq -R -r --arg f "$f" '. as $l |
			(try (fromjson | type == "object") catch false) as $ok |
			if $ok then empty else "\($f): \($l)" end' "$f"
	done
}

# clients N: N clients, each sending requests one after another until
# $WORK/stop exists (300 s at most), every one with its own X-Request-Id;
# each answered request ("id status", status not 000) goes to
# $WORK/answered.
clients() {
	local c
	rm -f "$WORK/stop"
	: > "$WORK/answered"
	for c in $(seq 1 "$1"); do
		(
			i=0
			end=$((SECONDS + 300))
			while [ ! -e "$WORK/stop" ] && [ $SECONDS -lt $end ]; do
				i=$((i + 1))
				id=c$c-$i
				case $((i % 4)) in
				0) args=("$BASE/healthz") ;;
				1) args=(-H "Authorization: Bearer $access" "$BASE/auth/me") ;;
				2) args=("$BASE/.well-known/jwks.json") ;;
				3) args=(-H 'Content-Type: application/json' --data-binary \
					'{"email":"rot@example.com","password":"secret123"}' "$BASE/auth/login") ;;
				esac
				code=$(curl -s -o /dev/null -m 10 -w '%{http_code}' -H "X-Request-Id: $id" "${args[@]}" || true)
				[ "$code" != 000 ] && echo "$id $code"
			done > "$WORK/answered.$c"
		) &
	done
	wait
	cat "$WORK"/answered.* > "$WORK/answered"
}

# check_once FILE...: every answered request's access line is in exactly
# one of the files, exactly once; every line of every file parses.
check_once() {
	local bad missing
	bad=$(bad_lines "$@")
	[ -z "$bad" ] || { echo "lines that do not parse:"; echo "$bad"; return 1; }
	cat "$@" | jq -r 'select(.event == "request") | .request_id' | sort > "$WORK/logged"
	# No request logged twice, across all files.
	[ -z "$(uniq -d "$WORK/logged")" ] || { echo "twice: $(uniq -d "$WORK/logged" | head)"; return 1; }
	missing=$(cut -d' ' -f1 "$WORK/answered" | sort | comm -23 - "$WORK/logged")
	[ -z "$missing" ] || { echo "answered but not logged: $(head -5 <<<"$missing")"; return 1; }
	echo "$(wc -l < "$WORK/answered") answered requests, each logged once in $# files"
}

# await_client_line FILE: wait (20 s at most) until FILE logs a request
# of clients, so that every file of a rotation takes some of the load
# however slowly a loaded machine answers.
await_client_line() {
	local i
	for i in $(seq 200); do
		grep -q '"request_id":"c' "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "no client request logged in $1 within 20 s"
	return 1
}

# json_lines FILE: its lines that parse, one JSON object a line.
json_lines() {
	jq -c -R 'fromjson? // empty' "$1"
}

# fd2_of PID: device:inode of the file PID writes its log to.
fd2_of() { stat -L -c %d:%i "/proc/$1/fd/2"; }

@test "rotation under load: 5 renames and reopens, every answered request logged once, every line whole" {
	stack_start
	register rot@example.com
	clients 4 &
	load=$!
	for k in 1 2 3 4 5; do
		await_client_line "$RUN_DIR/auth.log"
		mv "$RUN_DIR/auth.log" "$RUN_DIR/auth.log.$k"
		mv "$RUN_DIR/$FRONT.log" "$RUN_DIR/$FRONT.log.$k"
		# Returns once every process writes to the new file.
		"$ROOT/scripts/reopen-logs.sh"
	done
	await_client_line "$RUN_DIR/auth.log"
	sleep 0.5
	touch "$WORK/stop"
	wait "$load"
	# Lines are written once the answer is out: stop lets them finish.
	stack_stop
	check_once "$RUN_DIR"/auth.log.[1-5] "$RUN_DIR/auth.log"
	# Each file took its share of the load: the renames happened under it.
	for f in "$RUN_DIR"/auth.log.[1-5] "$RUN_DIR/auth.log"; do
		n=$(jq -r 'select(.event == "request") | .request_id' "$f" | grep -c '^c')
		echo "$f: $n client requests"
		[ "$n" -gt 0 ]
	done
	# The supervisor and every master said they reopened, in the new file.
	# (One process per line of the supervisor's table: the endpoints and the front.)
	[ "$(jq -r 'select(.event == "log_reopened" and .endpoint == "supervise") | .processes' "$RUN_DIR/auth.log.2")" = "$(wc -l < "$RUN_DIR/supervise.tab")" ]
	[ "$(jq -r 'select(.event == "log_reopened" and .endpoint == "me") | .workers' "$RUN_DIR/auth.log.3")" = 2 ]
	# The front reopened its own log each time: lighttpd (SIGHUP) says so
	# in the new file, nginx (SIGUSR1) in the one it leaves.
	if [ "$FRONT" = nginx ]; then
		for k in 1 2 3 4 5; do grep -q 'reopening logs' "$RUN_DIR/nginx.log.$k"; done
		[ -f "$RUN_DIR/nginx.log" ]
	else
		for k in 2 3 4 5; do grep -q 'logfiles cycled' "$RUN_DIR/lighttpd.log.$k"; done
		grep -q 'logfiles cycled' "$RUN_DIR/lighttpd.log"
	fi
}

@test "the shipped logrotate snippet rotates under load without a lost line" {
	command -v logrotate >/dev/null || skip "logrotate is not installed (scripts/deps.sh installs it)"
	stack_start
	register rot@example.com
	# The snippet as shipped, pointed at this stack.
	sed -e "s|/srv/auth-svc/run|$RUN_DIR|g" -e "s|/srv/auth-svc|$ROOT|g" \
		-e '/^[[:space:]]*su /d' "$ROOT/docs/logrotate.conf" > "$WORK/logrotate.conf"
	clients 3 &
	load=$!
	sleep 1
	for _ in 1 2 3; do
		logrotate -f -s "$WORK/logrotate.state" "$WORK/logrotate.conf"
		sleep 1
	done
	touch "$WORK/stop"
	wait "$load"
	stack_stop
	ls -la "$RUN_DIR"
	# delaycompress: the newest rotated file stays plain, older ones gzip'd.
	[ -f "$RUN_DIR/auth.log.1" ] && [ -f "$RUN_DIR/auth.log.2.gz" ] && [ -f "$RUN_DIR/auth.log.3.gz" ]
	[ -f "$RUN_DIR/$FRONT.log.1" ]
	for f in 2 3; do gunzip "$RUN_DIR/auth.log.$f.gz"; done
	check_once "$RUN_DIR"/auth.log.[1-3] "$RUN_DIR/auth.log"
	[ "$(stat -c %a "$RUN_DIR/auth.log")" = 600 ]
}

@test "kill -USR1 to one endpoint master reopens it and its workers, and no other process" {
	stack_start
	mv "$RUN_DIR/auth.log" "$RUN_DIR/auth.log.1"
	master=$(cat "$RUN_DIR/me.pid")
	kill -USR1 "$master"
	for _ in $(seq 1 100); do
		[ -e "$RUN_DIR/auth.log" ] && [ "$(fd2_of "$master")" = "$(stat -c %d:%i "$RUN_DIR/auth.log")" ] && break
		sleep 0.05
	done
	new=$(stat -c %d:%i "$RUN_DIR/auth.log")
	old=$(stat -c %d:%i "$RUN_DIR/auth.log.1")
	# The workers reopen between requests: an idle one at once.
	for _ in $(seq 1 100); do
		all=1
		for w in $(workers me); do [ "$(fd2_of "$w")" = "$new" ] || all=0; done
		[ $all = 1 ] && break
		sleep 0.05
	done
	[ "$(fd2_of "$master")" = "$new" ]
	for w in $(workers me); do [ "$(fd2_of "$w")" = "$new" ]; done
	for w in $(workers healthz) "$(cat "$RUN_DIR/healthz.pid")" "$(cut -d' ' -f1 "$RUN_DIR/supervise.pid")"; do
		[ "$(fd2_of "$w")" = "$old" ]
	done
	# The master, still serving, is the same process.
	[ "$(cat "$RUN_DIR/me.pid")" = "$master" ]
	api GET /healthz "" -H 'X-Request-Id: after-usr1'
	grep -q '"request_id":"after-usr1"' "$RUN_DIR/auth.log.1"
	grep -q '"event":"log_reopened"' "$RUN_DIR/auth.log"
	refute grep -q '"event":"process_died"' "$RUN_DIR/auth.log" "$RUN_DIR/auth.log.1"
}

@test "reopen-logs.sh with no stack running says so and signals nothing" {
	mkdir -p "$RUN_DIR"
	run "$ROOT/scripts/reopen-logs.sh"
	[ "$status" -eq 2 ]
	[[ $output == *"no stack is running"* ]]
}

# audit_run: one of each audited action and some plain requests, each
# with its own X-Request-Id; "id status" lines in $WORK/calls.
call() {
	local id=$1
	shift
	api "$@" -H "X-Request-Id: $id"
	echo "$id $status_code" >> "$WORK/calls"
}
audit_run() {
	: > "$WORK/calls"
	call a-register POST /auth/register '{"email":"aud@example.com","password":"secret123"}'
	local first_refresh
	first_refresh=$(jq -r .refresh_token <<<"$body")
	call a-taken POST /auth/register '{"email":"aud@example.com","password":"secret123"}'
	call a-login POST /auth/login '{"email":"aud@example.com","password":"secret123"}'
	local access1 refresh1
	access1=$(jq -r .access_token <<<"$body")
	refresh1=$(jq -r .refresh_token <<<"$body")
	call a-wrong POST /auth/login '{"email":"aud@example.com","password":"wrong-pass"}'
	call a-me GET /auth/me "" -H "Authorization: Bearer $access1"
	call a-noauth GET /auth/me ""
	call a-rotate POST /auth/refresh "{\"refresh_token\":\"$first_refresh\"}"
	call a-replay POST /auth/refresh "{\"refresh_token\":\"$first_refresh\"}"
	call a-login2 POST /auth/login '{"email":"aud@example.com","password":"secret123"}'
	local sid2
	sid2=$(jwt_part 1 "$(jq -r .access_token <<<"$body")" | jq -r .sid)
	call a-sessions GET /auth/sessions "" -H "Authorization: Bearer $access1"
	call a-revoke DELETE "/auth/sessions/$sid2" "" -H "Authorization: Bearer $access1"
	call a-logout POST /auth/logout "{\"refresh_token\":\"$refresh1\"}"
	call a-login3 POST /auth/login '{"email":"aud@example.com","password":"secret123"}'
	call a-logout-all POST /auth/logout-all "" -H "Authorization: Bearer $(jq -r .access_token <<<"$body")" -d ''
	# LOGIN_MAX_FAILURES=2: the third wrong password is throttled.
	call a-t1 POST /auth/login '{"email":"thr@example.com","password":"wrong-pass"}'
	call a-t2 POST /auth/login '{"email":"thr@example.com","password":"wrong-pass"}'
	call a-throttled POST /auth/login '{"email":"thr@example.com","password":"wrong-pass"}'
	# REGISTER_ADDR_MAX=3: two registrations above, the fourth is refused.
	call a-reg3 POST /auth/register '{"email":"aud3@example.com","password":"secret123"}'
	call a-reg-throttled POST /auth/register '{"email":"aud4@example.com","password":"secret123"}'
	call a-health GET /healthz ""
	# A key reload (rotate-keys.sh does this) is audited.
	kill -HUP "$(cat "$RUN_DIR/me.pid")"
	for _ in $(seq 1 100); do log_has '.event == "reload" and .endpoint == "me"' && break; sleep 0.05; done
	# Lines follow answers: stopping lets the last ones finish.
	stack_stop
	grep -x 'a-revoke 204' "$WORK/calls"
	grep -x 'a-replay 401' "$WORK/calls"
	grep -x 'a-throttled 429' "$WORK/calls"
	grep -x 'a-reg-throttled 429' "$WORK/calls"
	grep -x 'a-logout-all 204' "$WORK/calls"
}

# The audit events audit_run causes, whatever LOG_REQUESTS says.
audit_present() {
	local e
	for e in register login_success login_failure refresh_replay session_revoked \
		logout logout_all login_throttled register_throttled reload; do
		log_has ".event == \"$e\"" || { echo "no $e event"; return 1; }
	done
	[ -z "$(bad_lines "$RUN_DIR/auth.log")" ]
}

# logged_ids: request ids with an access line, sorted.
logged_ids() {
	jq -r 'select(.event == "request") | .request_id' "$RUN_DIR/auth.log" | sort
}

audit_env() {
	export LOGIN_MAX_FAILURES=2 REGISTER_ADDR_MAX=3 LOG_REQUESTS=$1
}

@test "LOG_REQUESTS=all (the default): every request has its access line" {
	audit_env all
	unset LOG_REQUESTS
	stack_start
	audit_run
	audit_present
	# start.sh's readiness check (no id of ours) is logged too.
	diff <(logged_ids | grep '^a-') <(cut -d' ' -f1 "$WORK/calls" | sort)
	log_has '.event == "refresh_rotated" and .request_id == "a-rotate"'
}

@test "LOG_REQUESTS=errors: access lines only for status 400 and above; audit events all there" {
	audit_env errors
	stack_start
	audit_run
	audit_present
	[ "$(logged_ids)" = "$(awk '$2 >= 400 { print $1 }' "$WORK/calls" | sort)" ]
	# a-taken, a-wrong, a-noauth, a-replay, a-t1, a-t2, a-throttled, a-reg-throttled
	[ "$(logged_ids | wc -l)" = 8 ]
	refute log_has '.event == "refresh_rotated"'
}

@test "LOG_REQUESTS=off: no access line at all; audit events all there" {
	audit_env off
	stack_start
	audit_run
	audit_present
	[ -z "$(logged_ids)" ]
	refute log_has '.event == "refresh_rotated"'
	# Process events too: the stack still says what it does.
	log_has '.event == "worker_started"'
}

@test "a bad LOG_REQUESTS stops start-up with one line naming it" {
	export LOG_REQUESTS=verbose
	run stack_start
	[ "$status" -ne 0 ]
	grep -x "auth-svc register: LOG_REQUESTS must be all, errors or off (got 'verbose')" "$WORK/start.out"
}

# journal_start: the stack with its stderr on a stand-in for the journal's
# stream (journal.py), which copies it to $WORK/journal.out.
journal_start() {
	( cd "$WORK" && exec "$BATS_TEST_DIRNAME/journal.py" "$WORK/journal.out" "$WORK" \
		"$ROOT/scripts/start.sh" --background ) 3>&- &
	journal=$!
	for _ in $(seq 1 600); do [ -s "$WORK/started" ] && break; sleep 0.05; done
	cat "$WORK/start.out" >&2
	[ "$(cat "$WORK/started")" = 0 ]
}

@test "on the journal's stream every line carries its level as a syslog priority" {
	journal_start
	register journal@example.com
	api GET /auth/me "" -H "Authorization: Bearer $access"
	# An error and a warning: a master dies and is started again.
	kill -KILL "$(cat "$RUN_DIR/login.pid")"
	for _ in $(seq 1 100); do grep -q '"event":"process_restarted"' "$WORK/journal.out" && break; sleep 0.05; done
	# No log file: the endpoints write to the stream they were given.
	[ ! -e "$RUN_DIR/auth.log" ]
	# Every JSON line has a priority matching its level; none goes bare.
	refute grep -q '^{' "$WORK/journal.out"
	# A line cut short does not parse ("fromjson?" skips it rather than
	# ending jq there, which would hide every line after it).
	jq -R -r 'capture("^<(?<p>[0-9])>(?<j>[{].*)$") | (.j | fromjson? | .level) as $l | "\(.p) \($l)"' \
		"$WORK/journal.out" > "$WORK/prio"
	sort "$WORK/prio" | uniq -c
	[ "$(wc -l < "$WORK/prio")" -gt 20 ]
	# A few lines may be cut short: the stream is momentarily full under a
	# sanitizer's load, and log.c ends the line and goes on rather than
	# wait (one seen in CI's ASan pass). Allow three; the rest must parse.
	[ "$(wc -l < "$WORK/prio")" -ge $(($(grep -c '^<[0-9]>{' "$WORK/journal.out") - 3)) ]
	[ -z "$(grep -v -x -e '7 debug' -e '6 info' -e '4 warn' -e '3 error' "$WORK/prio")" ]
	grep -q '^<6>{.*"event":"request"' "$WORK/journal.out"
	grep -q '^<4>{.*"event":"process_restarted"' "$WORK/journal.out"
	grep -q '^<3>{.*"event":"process_died"' "$WORK/journal.out"
}

@test "a stalled journal never stops authentication: lines dropped, counted, reported once it reads again" {
	journal_start
	register stall@example.com
	touch "$WORK/pause"
	# Nobody reads the stream now; its buffer fills within a few lines.
	start=$SECONDS
	for i in $(seq 1 40); do
		api POST /auth/login '{"email":"stall@example.com","password":"secret123"}' -m 5
		[ "$status_code" = 200 ] || { echo "login $i: $status_code"; return 1; }
		api GET /auth/me "" -H "Authorization: Bearer $access" -m 5
		[ "$status_code" = 200 ] || { echo "me $i: $status_code"; return 1; }
	done
	echo "80 requests in $((SECONDS - start)) s with the journal stalled"
	dropped=$(metric auth_log_dropped_total)
	echo "dropped: $dropped"
	[ "$dropped" -gt 0 ]
	rm "$WORK/pause"
	# Reading again: each process that lost lines says so with its next.
	for i in $(seq 1 20); do
		api GET /auth/me "" -H "Authorization: Bearer $access"
		grep -q '"event":"log_lines_dropped"' "$WORK/journal.out" && break
		sleep 0.1
	done
	grep '"event":"log_lines_dropped"' "$WORK/journal.out" | head -3
	grep -q '^<4>{.*"event":"log_lines_dropped","lines":[1-9]' "$WORK/journal.out"
}

@test "a full log disk: lines dropped and counted, authentication goes on, the loss reported once there is room" {
	[ "$(id -u)" -eq 0 ] || skip "mounting a tmpfs needs root"
	mkdir "$WORK/logs"
	mount -t tmpfs -o size=64k,mode=0700 tmpfs "$WORK/logs"
	export LOG_FILE=$WORK/logs/auth.log
	stack_start
	register fulldisk@example.com
	# tmpfs gives space by the page: the log's last page would still take
	# a few lines after the disk is full. A line of padding ends it, so
	# that from now on every line needs a page there is none of.
	size=$(stat -c %s "$LOG_FILE")
	pad=$(( (4096 - size % 4096) % 4096 ))
	[ "$pad" -ge 12 ] || pad=$((pad + 4096))
	printf '{"pad":"%s"}\n' "$(head -c $((pad - 11)) /dev/zero | tr '\0' x)" >> "$LOG_FILE"
	[ $(( $(stat -c %s "$LOG_FILE") % 4096 )) = 0 ]
	dd if=/dev/zero of="$WORK/logs/fill" bs=4k 2>/dev/null || true
	before=$(stat -c %s "$LOG_FILE")
	for i in $(seq 1 10); do
		api POST /auth/login '{"email":"fulldisk@example.com","password":"secret123"}' -H "X-Request-Id: full-$i"
		[ "$status_code" = 200 ]
		api GET /auth/me "" -H "Authorization: Bearer $access"
		[ "$status_code" = 200 ]
	done
	# Nothing got in, and every line that did not is counted: a login
	# success and an access line per login, an access line per me.
	[ "$(stat -c %s "$LOG_FILE")" = "$before" ]
	dropped=$(metric auth_log_dropped_total)
	echo "dropped: $dropped"
	[ "$dropped" -ge 30 ]
	rm -f "$WORK/logs/fill"
	for i in $(seq 1 10); do
		api POST /auth/login '{"email":"fulldisk@example.com","password":"secret123"}' -H "X-Request-Id: room-$i"
		api GET /auth/me "" -H "Authorization: Bearer $access"
	done
	stack_stop
	grep '"event":"log_lines_dropped"' "$LOG_FILE"
	# Reported by the processes that lost lines, before their next line;
	# never more than were counted.
	json_lines "$LOG_FILE" | jq -e -s --argjson d "$dropped" '
		[.[] | select(.event == "log_lines_dropped")] |
		length > 0 and
		all(.[]; .lines > 0 and .level == "warn" and (has("request_id") | not)) and
		([.[].lines] | add) <= $d' >/dev/null
	# Each report comes right before a line of the same process: the one
	# that found the log writable again.
	json_lines "$LOG_FILE" | jq -e -s '
		. as $all | [range(0; length) | select($all[.].event == "log_lines_dropped")] |
		length > 0 and all(.[]; . as $i |
		    [$all[$i + 1:][] | select(.pid == $all[$i].pid)][0] |
		    . != null and .event != "log_lines_dropped")' >/dev/null
	grep -q '"request_id":"room-10"' "$LOG_FILE"
	refute grep -q '"request_id":"full-' "$LOG_FILE"
	[ -z "$(bad_lines "$LOG_FILE")" ]
}
