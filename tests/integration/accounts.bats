#!/usr/bin/env bats
# Accounts (API.md Part 2, "Account") through the real stack, on either
# engine (AUTH_TEST_PG=1: PostgreSQL): the recovery flow read from the
# development outbox (RUN_DIR/mail), every way a one-time token is
# refused, one winner among concurrent resets, password change and its
# session consequences, forgot's timing for registered and unregistered
# addresses, the throttles, MAIL_COMMAND delivery through failure, a
# hang and a missing command, email verification, REQUIRE_VERIFIED_EMAIL,
# and no token or password in any log line.

load helper
bats_require_minimum_version 1.5.0

# The settings of every stack of this file.
account_env() {
	export RESET_URL='https://app.example/reset?token={token}'
	export VERIFY_URL='https://app.example/verify?token={token}'
	export MAIL_FROM='Authentification Dépôt <no-reply@auth.example>'
	export MAIL_POLL_MS=100
	export MAIL_RETRY_BASE=1
	export MAIL_RETRY_MAX=1
}

setup_file() {
	stack_env "$(mktemp -d "$BATS_FILE_TMPDIR/accounts.XXXXXX")"
	account_env
	export RESET_MAX=1000 RESET_ADDR_MAX=1000
	stack_start
}
teardown_file() { stack_stop; }

# A test that runs a stack of its own (other settings) stops it here.
teardown() {
	if [ -n "${OWN_STACK:-}" ]; then stack_stop; fi
}

# own_stack VAR=VALUE...: a second stack with these settings for this test.
own_stack() {
	stack_env "$(mktemp -d "$BATS_FILE_TMPDIR/own.XXXXXX")"
	account_env
	local kv
	for kv in "$@"; do export "${kv?}"; done
	OWN_STACK=1
	stack_start
}

# mails EMAIL: the development outbox's messages to EMAIL, oldest first.
mails() {
	local f
	for f in $(ls "$RUN_DIR/mail" 2>/dev/null | sort -t- -k2,2n); do
		grep -qx "To: $1"$'\r' "$RUN_DIR/mail/$f" && echo "$RUN_DIR/mail/$f"
	done
	return 0
}

# wait_mails EMAIL N: wait (10 s at most) until EMAIL has N messages.
wait_mails() {
	local i
	for i in $(seq 1 100); do
		[ "$(mails "$1" | wc -l)" -ge "$2" ] && return 0
		sleep 0.1
	done
	echo "$1: $(mails "$1" | wc -l) messages, want $2" >&2
	return 1
}

# token_of FILE: the token of the link in a message.
token_of() { grep -o 'token=[A-Za-z0-9_-]*' "$1" | head -1 | cut -d= -f2; }

# newest_token EMAIL: the token of EMAIL's newest message.
newest_token() { token_of "$(mails "$1" | tail -1)"; }

# forgot EMAIL, reset TOKEN PASSWORD, verify TOKEN, me TOKEN.
forgot() { api POST /auth/password/forgot "{\"email\":\"$1\"}"; }
reset() { api POST /auth/password/reset "{\"token\":\"$1\",\"new_password\":\"$2\"}"; }
verify_email() { api POST /auth/email/verify "{\"token\":\"$1\"}"; }
me() { api GET /auth/me "" -H "Authorization: Bearer $1"; }
login() { api POST /auth/login "{\"email\":\"$1\",\"password\":\"$2\"}"; }
sha() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

@test "recovery: forgot queues a correct RFC 5322 message; its link resets the password and ends every session" {
	register rec@acc.example oldpassword1
	local old_access=$access old_refresh=$refresh
	forgot REC@acc.example
	[ "$status_code" = 202 ]
	[ "$body" = '{"detail":"if the address is registered, a message is on its way"}' ]
	wait_mails rec@acc.example 2    # the verification of registration, then this
	f=$(mails rec@acc.example | tail -1)
	# Headers: From with its non-ASCII name encoded, Date, Message-ID, CRLF.
	grep -qx $'From: =?UTF-8?B?QXV0aGVudGlmaWNhdGlvbiBEw6lww7R0?= <no-reply@auth.example>\r' "$f"
	grep -qx $'Subject: Reset your password\r' "$f"
	grep -Eq $'^Date: (Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} \\+0000\r$' "$f"
	grep -Eq $'^Message-ID: <[0-9a-f]{32}@auth.example>\r$' "$f"
	grep -qx $'Content-Type: text/plain; charset=utf-8\r' "$f"
	python3 -c 'import email,sys; m=email.message_from_bytes(open(sys.argv[1],"rb").read()); assert m["To"]=="rec@acc.example" and m["Message-ID"] and m.get_content_type()=="text/plain"' "$f"
	tok=$(token_of "$f")
	[ ${#tok} = 43 ]
	grep -q "https://app.example/reset?token=$tok" "$f"
	# Only its hash is stored.
	[ "$(db_query "SELECT count(*) FROM one_time_tokens WHERE hash = '$(sha "$tok")' AND kind = 'reset'")" = 1 ]
	[ "$(db_query "SELECT count(*) FROM one_time_tokens WHERE hash = '$tok'")" = 0 ]
	# Delivered: the outbox row is gone.
	[ "$(db_query "SELECT count(*) FROM mail_outbox WHERE recipient = 'rec@acc.example'")" = 0 ]
	reset "$tok" newpassword2
	[ "$status_code" = 204 ]
	me "$old_access"
	[ "$status_code" = 401 ]
	api POST /auth/refresh "{\"refresh_token\":\"$old_refresh\"}"
	[ "$status_code" = 401 ]
	login rec@acc.example oldpassword1
	[ "$status_code" = 401 ]
	login rec@acc.example newpassword2
	[ "$status_code" = 200 ]
	# Used up.
	reset "$tok" otherpassword3
	[ "$status_code" = 400 ]
	[ "$body" = '{"detail":"invalid or expired token"}' ]
}

@test "forgot: an unregistered address gets the same answer and no message; bad email 422" {
	forgot nobody@acc.example
	[ "$status_code" = 202 ]
	[ "$body" = '{"detail":"if the address is registered, a message is on its way"}' ]
	sleep 0.5
	[ "$(mails nobody@acc.example | wc -l)" = 0 ]
	[ "$(db_query "SELECT count(*) FROM mail_outbox WHERE recipient = 'nobody@acc.example'")" = 0 ]
	forgot not-an-email
	[ "$status_code" = 422 ]
	[[ $(jq -r .detail <<<"$body") == email:* ]]
	api POST /auth/password/forgot '{}'
	[ "$status_code" = 422 ]
	api POST /auth/password/forgot
	[ "$status_code" = 411 ]
	api GET /auth/password/forgot
	[ "$status_code" = 405 ]
}

@test "tokens: expired, reused, wrong kind, superseded and tampered are each refused" {
	register kinds@acc.example password123
	forgot kinds@acc.example
	wait_mails kinds@acc.example 2    # the verification of registration, then this
	t1=$(newest_token kinds@acc.example)
	forgot kinds@acc.example
	wait_mails kinds@acc.example 3
	t2=$(newest_token kinds@acc.example)
	[ "$t1" != "$t2" ]
	# Superseded by the newer one.
	reset "$t1" password456
	[ "$status_code" = 400 ]
	# Wrong kind: a reset token does not verify an email, and back.
	verify_email "$t2"
	[ "$status_code" = 400 ]
	v=$(token_of "$(mails kinds@acc.example | head -1)")
	grep -q 'Subject: Confirm your email address' "$(mails kinds@acc.example | head -1)"
	reset "$v" password456
	[ "$status_code" = 400 ]
	# Tampered: one character changed, cut short, not base64url.
	last=${t2: -1}; swap=A; [ "$last" = A ] && swap=B
	reset "${t2:0:42}$swap" password456
	[ "$status_code" = 400 ]
	reset "${t2:0:40}" password456
	[ "$status_code" = 400 ]
	reset "${t2:0:42}=" password456
	[ "$status_code" = 400 ]
	# Expired.
	db_query "UPDATE one_time_tokens SET expires_at = 1 WHERE hash = '$(sha "$t2")'"
	reset "$t2" password456
	[ "$status_code" = 400 ]
	[ "$body" = '{"detail":"invalid or expired token"}' ]
	# A short password is the policy's 422, the token untouched.
	forgot kinds@acc.example
	wait_mails kinds@acc.example 4
	t3=$(newest_token kinds@acc.example)
	reset "$t3" short
	[ "$status_code" = 422 ]
	reset "$t3" password789
	[ "$status_code" = 204 ]
	reset "$t3" password789
	[ "$status_code" = 400 ]
	api POST /auth/password/reset '{"new_password":"password789"}'
	[ "$status_code" = 422 ]
}

@test "reset: concurrent uses of one token give exactly one 204" {
	register race@acc.example password123
	forgot race@acc.example
	wait_mails race@acc.example 2
	tok=$(newest_token race@acc.example)
	for i in $(seq 1 8); do
		curl -s -o /dev/null -w '%{http_code}\n' -X POST -H 'Content-Type: application/json' \
			--data-binary "{\"token\":\"$tok\",\"new_password\":\"racepass$i\"}" \
			"$BASE/auth/password/reset" >"$WORK/race.$i" &
	done
	wait
	[ "$(cat "$WORK"/race.* | grep -c '^204$')" = 1 ]
	[ "$(cat "$WORK"/race.* | grep -c '^400$')" = 7 ]
}

@test "password change: 204, the current session kept, every other one refused at once" {
	register chg@acc.example password123
	local a1=$access r1=$refresh
	login chg@acc.example password123
	local a2 r2
	a2=$(jq -r .access_token <<<"$body")
	r2=$(jq -r .refresh_token <<<"$body")
	me "$a2"
	[ "$status_code" = 200 ]
	api POST /auth/password '{"current_password":"password123","new_password":"changed456"}' \
		-H "Authorization: Bearer $a1"
	[ "$status_code" = 204 ]
	me "$a1"
	[ "$status_code" = 200 ]
	me "$a2"
	[ "$status_code" = 401 ]
	api GET /auth/verify "" -H "Authorization: Bearer $a2"
	[ "$status_code" = 401 ]
	api GET /auth/verify "" -H "Authorization: Bearer $a1"
	[ "$status_code" = 200 ]
	api POST /auth/refresh "{\"refresh_token\":\"$r2\"}"
	[ "$status_code" = 401 ]
	api POST /auth/refresh "{\"refresh_token\":\"$r1\"}"
	[ "$status_code" = 200 ]
	login chg@acc.example changed456
	[ "$status_code" = 200 ]
	# No bearer, a policy failure, no body.
	api POST /auth/password '{"current_password":"changed456","new_password":"x"}'
	[ "$status_code" = 401 ]
	api POST /auth/password '{"current_password":"changed456","new_password":"x"}' \
		-H "Authorization: Bearer $a1"
	[ "$status_code" = 422 ]
}

@test "password change: a wrong current password is 401 and counts as a failed login" {
	register wrong@acc.example password123
	before=$(db_query "SELECT coalesce(sum(failures), 0) FROM login_attempts WHERE key = 'email:wrong@acc.example'")
	api POST /auth/password '{"current_password":"notmypassword","new_password":"changed456"}' \
		-H "Authorization: Bearer $access"
	[ "$status_code" = 401 ]
	[ "$body" = '{"detail":"invalid credentials"}' ]
	after=$(db_query "SELECT coalesce(sum(failures), 0) FROM login_attempts WHERE key = 'email:wrong@acc.example'")
	[ "$after" = $((before + 1)) ]
	me "$access"
	[ "$status_code" = 200 ]
	login wrong@acc.example password123
	[ "$status_code" = 200 ]
}

@test "forgot: registered and unregistered addresses answer in about the same time (medians)" {
	for i in $(seq 1 5); do register "timing$i@acc.example" password123; done
	local reg=() unreg=() i t
	for i in $(seq 1 40); do
		t=$(curl -s -o /dev/null -w '%{time_total}' -X POST -H 'Content-Type: application/json' \
			--data-binary "{\"email\":\"timing$((i % 5 + 1))@acc.example\"}" "$BASE/auth/password/forgot")
		reg+=("$t")
		t=$(curl -s -o /dev/null -w '%{time_total}' -X POST -H 'Content-Type: application/json' \
			--data-binary "{\"email\":\"ghost$i@acc.example\"}" "$BASE/auth/password/forgot")
		unreg+=("$t")
	done
	run python3 - "${reg[*]}" "${unreg[*]}" <<'PY'
import statistics, sys
r = [float(x) * 1000 for x in sys.argv[1].split()]
u = [float(x) * 1000 for x in sys.argv[2].split()]
mr, mu = statistics.median(r), statistics.median(u)
print(f"forgot medians: registered {mr:.2f} ms, unregistered {mu:.2f} ms (40 each)")
# Within noise: medians within 5 ms or 50 % of each other.
sys.exit(0 if abs(mr - mu) <= max(5.0, 0.5 * max(mr, mu)) else 1)
PY
	echo "# $output" >&3
	[ "$status" -eq 0 ]
}

@test "throttles: forgot per address 429 with Retry-After, per email silent; bad tokens per address" {
	own_stack RESET_MAX=2 RESET_ADDR_MAX=4
	register thr@acc.example password123
	wait_mails thr@acc.example 1
	forgot thr@acc.example
	[ "$status_code" = 202 ]
	forgot thr@acc.example
	[ "$status_code" = 202 ]
	wait_mails thr@acc.example 3
	# Past RESET_MAX: the same answer, nothing sent.
	forgot thr@acc.example
	[ "$status_code" = 202 ]
	[ "$body" = '{"detail":"if the address is registered, a message is on its way"}' ]
	forgot someone@acc.example
	[ "$status_code" = 202 ]
	# Past RESET_ADDR_MAX for this address.
	forgot other@acc.example
	[ "$status_code" = 429 ]
	[ "$body" = '{"detail":"too many attempts"}' ]
	[ "$(header Retry-After)" -gt 0 ]
	sleep 0.5
	[ "$(mails thr@acc.example | wc -l)" = 3 ]
	[ "$(db_query 'SELECT count(*) FROM mail_outbox')" = 0 ]
	# Bad tokens: RESET_ADDR_MAX per address, then 429.
	for i in 1 2 3 4; do
		reset "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA$i" password456
		[ "$status_code" = 400 ]
	done
	reset AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA5 password456
	[ "$status_code" = 429 ]
	[ "$(header Retry-After)" -gt 0 ]
	verify_email AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA5
	[ "$status_code" = 429 ]
}

@test "verification: register queues it, verify sets email_verified, resend 409 once verified" {
	register ver@acc.example password123
	me "$access"
	[ "$status_code" = 200 ]
	[ "$(jq -c '[.email, .email_verified, .mfa]' <<<"$body")" = '["ver@acc.example",false,false]' ]
	wait_mails ver@acc.example 1
	f=$(mails ver@acc.example | tail -1)
	grep -q "https://app.example/verify?token=" "$f"
	t1=$(token_of "$f")
	# Resend: a new message, and the older link stops working.
	api POST /auth/email/resend "" -H "Authorization: Bearer $access" -d ""
	[ "$status_code" = 202 ]
	wait_mails ver@acc.example 2
	t2=$(newest_token ver@acc.example)
	verify_email "$t1"
	[ "$status_code" = 400 ]
	verify_email "$t2"
	[ "$status_code" = 204 ]
	me "$access"
	[ "$(jq -r .email_verified <<<"$body")" = true ]
	verify_email "$t2"
	[ "$status_code" = 400 ]
	api POST /auth/email/resend "" -H "Authorization: Bearer $access" -d ""
	[ "$status_code" = 409 ]
	[ "$body" = '{"detail":"email already verified"}' ]
	api POST /auth/email/resend "" -d ""
	[ "$status_code" = 401 ]
	[ -n "$(header WWW-Authenticate)" ]
	api POST /auth/email/verify '{"token":5}'
	[ "$status_code" = 422 ]
}

@test "REQUIRE_VERIFIED_EMAIL=1: login 403 only after the password check, 200 once verified" {
	own_stack REQUIRE_VERIFIED_EMAIL=1
	register must@acc.example password123
	login must@acc.example wrongpassword
	[ "$status_code" = 401 ]
	login must@acc.example password123
	[ "$status_code" = 403 ]
	[ "$body" = '{"detail":"email not verified"}' ]
	wait_mails must@acc.example 1
	verify_email "$(newest_token must@acc.example)"
	[ "$status_code" = 204 ]
	login must@acc.example password123
	[ "$status_code" = 200 ]
}

@test "MAIL_COMMAND: missing, failing, then hanging, then working: every message delivered exactly once" {
	mkdir -p "$BATS_FILE_TMPDIR/sent"
	cmd=$BATS_FILE_TMPDIR/mailcmd.sh
	echo missing > "$BATS_FILE_TMPDIR/mode"
	cat > "$cmd" <<SH
#!/bin/sh
case \$(cat "$BATS_FILE_TMPDIR/mode") in
missing) exec /nonexistent/sendmail -t -i ;;
fail) cat >/dev/null; exit 75 ;;
hang) exec sleep 600 ;;
ok) cat > "$BATS_FILE_TMPDIR/sent/\$(date +%s%N).msg" ;;
esac
SH
	chmod +x "$cmd"
	own_stack "MAIL_COMMAND=$cmd -t -i" MAIL_TIMEOUT=1
	for u in m1 m2 m3; do register "$u@acc.example" password123; done
	# attempts EXPR: wait until every queued message satisfies it.
	wait_rows() {
		local i
		for i in $(seq 1 150); do
			[ "$(db_query "SELECT count(*) FROM mail_outbox WHERE NOT ($1)")" = 0 ] &&
				[ "$(db_query "SELECT count(*) FROM mail_outbox")" = 3 ] && return 0
			sleep 0.1
		done
		db_query "SELECT id, attempts, last_error FROM mail_outbox" >&2
		return 1
	}
	wait_rows "attempts >= 1"
	[ "$(db_query "SELECT count(*) FROM mail_outbox WHERE last_error = 'MAIL_COMMAND not found (exit 127)'")" = 3 ]
	echo fail > "$BATS_FILE_TMPDIR/mode"
	wait_rows "attempts >= 2 AND last_error = 'MAIL_COMMAND exited 75'"
	echo hang > "$BATS_FILE_TMPDIR/mode"
	wait_rows "attempts >= 3 AND last_error = 'MAIL_COMMAND timed out after 1 s'"
	# The service answered all along.
	forgot m1@acc.example
	[ "$status_code" = 202 ]
	echo ok > "$BATS_FILE_TMPDIR/mode"
	for i in $(seq 1 150); do
		[ "$(db_query 'SELECT count(*) FROM mail_outbox')" = 0 ] && break
		sleep 0.1
	done
	[ "$(db_query 'SELECT count(*) FROM mail_outbox')" = 0 ]
	# 3 verifications and the reset, each once.
	[ "$(ls "$BATS_FILE_TMPDIR/sent" | wc -l)" = 4 ]
	[ "$(cat "$BATS_FILE_TMPDIR"/sent/* | grep -c '^Message-ID: ')" = 4 ]
	[ "$(cat "$BATS_FILE_TMPDIR"/sent/* | grep '^Message-ID: ' | sort -u | wc -l)" = 4 ]
	for u in m2 m3; do [ "$(grep -l "^To: $u@acc.example" "$BATS_FILE_TMPDIR"/sent/* | wc -l)" = 1 ]; done
	[ "$(grep -l "^To: m1@acc.example" "$BATS_FILE_TMPDIR"/sent/* | wc -l)" = 2 ]
	log_has '.event == "mail_failed" and (.reason | test("timed out"))'
	log_has '.event == "mail_sent"'
	# No hung command left behind: its process group was killed.
	run pgrep -u "$(id -u)" -fx 'sleep 600'
	[ "$status" -eq 1 ]
}

@test "logs: no one-time token, link or password in any log line" {
	# Every token this file issued on this stack, and the passwords used.
	local f tok n=0
	for f in "$RUN_DIR"/mail/*.eml; do
		tok=$(token_of "$f")
		[ -n "$tok" ] || continue
		n=$((n + 1))
		refute grep -rqF -- "$tok" "$RUN_DIR"/*.log "$RUN_DIR"/*.stderr 2>/dev/null
	done
	[ "$n" -gt 5 ]
	for pw in oldpassword1 newpassword2 password123 changed456 notmypassword racepass password456 password789; do
		refute grep -rqF -- "$pw" "$RUN_DIR"/*.log "$RUN_DIR"/*.stderr 2>/dev/null
	done
	log_has '.event == "password_reset"'
	log_has '.event == "password_changed"'
}

@test "purge.sh: expired one-time tokens go; the hourly account counters outlive LOGIN_WINDOW" {
	register purge@acc.example password123
	uid=$(jwt_part 1 "$access" | jq -r .sub)
	now=$(date +%s)
	db_query "INSERT INTO one_time_tokens(hash, user_id, kind, created_at, expires_at)
		VALUES ('old', '$uid', 'reset', 1, 2), ('live', '$uid', 'reset', $now, $((now + 600)));
		INSERT INTO login_attempts(key, failures, window_start) VALUES
		('reset_ip:192.0.2.7', 5, $((now - 1000))), ('token_ip:192.0.2.7', 5, $((now - 1000))),
		('reset_email:purge@acc.example', 3, $((now - 4000))), ('email:purge@acc.example', 3, $((now - 1000)))"
	run bash -c "cd '$WORK' && '$ROOT/scripts/purge.sh' --grace 0"
	[ "$status" -eq 0 ]
	# At least this one (an earlier test of the file expired another).
	[[ $output =~ purge:\ [1-9][0-9]*\ expired\ one-time\ tokens ]]
	[ "$(db_query "SELECT hash FROM one_time_tokens WHERE hash IN ('old', 'live')")" = live ]
	[ "$(db_query "SELECT key FROM login_attempts WHERE key LIKE '%192.0.2.7' OR key LIKE '%purge@acc.example' ORDER BY key")" = "$(printf 'reset_ip:192.0.2.7\ntoken_ip:192.0.2.7')" ]
}
