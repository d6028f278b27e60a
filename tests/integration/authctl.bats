#!/usr/bin/env bats
# authctl, the operator's command, against the real stack on either engine
# (AUTH_TEST_PG=1: PostgreSQL): every command, table and --json output,
# what a disabled account may still do (nothing), delete leaving no row
# anywhere, and bad input changing nothing.

load helper
bats_require_minimum_version 1.5.0

setup_file() {
	stack_env "$(mktemp -d "$BATS_FILE_TMPDIR/authctl.XXXXXX")"
	stack_start
}
teardown_file() { stack_stop; }

AUTHCTL=$BIN_DIR/../sbin/authctl

# ctl ARGS...: run authctl; $status, $output (stdout) and $err (stderr).
ctl() {
	run --separate-stderr "$AUTHCTL" "$@"
	# shellcheck disable=SC2154 # bats sets $stderr
	err=$stderr
}

# login EMAIL PASSWORD: sets $status_code and $body.
login() {
	api POST /auth/login "{\"email\":\"$1\",\"password\":\"$2\"}"
}

# tables: every table of the stack's database, one a line.
tables() {
	if db_is_pg; then
		db_query "SELECT table_name FROM information_schema.tables
			WHERE table_schema = current_schema() ORDER BY table_name"
	else
		db_query "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
	fi
}

# dump: every row of every table, sorted, for before/after comparisons.
dump() {
	local t
	for t in $(tables); do
		db_query "SELECT * FROM $t" | sed "s/^/$t|/" | sort
	done
}

# failures EMAIL: the login throttle's count for EMAIL.
failures() {
	db_query "SELECT coalesce(sum(failures), 0) FROM login_attempts WHERE key = 'email:$1'"
}

@test "users: a table by default, --json for scripts, filtered by pattern and paged" {
	register ann@list.example
	register bob@list.example
	register cy@other.example
	api POST /auth/logout "{\"refresh_token\":\"$refresh\"}"
	ctl users --email '*@list.example'
	[ "$status" -eq 0 ]
	[ -z "$err" ]
	[[ ${lines[0]} =~ ^EMAIL\ +STATUS\ +SESSIONS\ +CREATED\ +ID$ ]]
	[ "${#lines[@]}" -eq 3 ]
	[[ ${lines[1]} =~ ^ann@list\.example\ +active\ +1\ +20[0-9-]+\ [0-9:]+Z\ +[0-9a-f-]{36}$ ]]
	[[ ${lines[2]} == bob@list.example* ]]

	ctl --json users --email '*@*.example'
	[ "$status" -eq 0 ]
	[ "$(jq -r '[.[].email] | join(",")' <<<"$output")" = "ann@list.example,bob@list.example,cy@other.example" ]
	[ "$(jq -r '.[2].sessions' <<<"$output")" = 0 ]
	[ "$(jq -r '.[0] | .disabled, .disabled_at' <<<"$output")" = "$(printf 'false\nnull')" ]
	[ "$(jq -r '.[0].id' <<<"$output")" = "$(db_query "SELECT id FROM users WHERE email = 'ann@list.example'")" ]
	[ "$(jq -r '.[0].created_at' <<<"$output")" = "$(db_query "SELECT created_at FROM users WHERE email = 'ann@list.example'")" ]

	# Pages: --limit and --offset; the pattern matches the whole address,
	# case-insensitively, and SQL wildcards in it are themselves.
	ctl users --json --email '*.EXAMPLE' --limit 1 --offset 1
	[ "$(jq -r '[.[].email] | join(",")' <<<"$output")" = "bob@list.example" ]
	ctl --json users --email 'ann@list.exampl?'
	[ "$(jq -r 'length' <<<"$output")" = 1 ]
	ctl --json users --email '%'
	[ "$status" -eq 0 ]
	[ "$output" = "[]" ]
	ctl --json users --email 'ann@list'
	[ "$output" = "[]" ]
}

@test "show: one account as a table or JSON" {
	register show@x.example
	login show@x.example secret123
	ctl show SHOW@x.example
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "email:        show@x.example" ]
	grep -qx 'status:       active' <<<"$output"
	grep -qx 'live sessions: 2' <<<"$output"
	grep -qx 'second factor: none' <<<"$output"
	ctl show --json show@x.example
	[ "$status" -eq 0 ]
	[ "$(jq -r '.email, .sessions, .disabled' <<<"$output")" = "$(printf 'show@x.example\n2\nfalse')" ]
}

@test "disable: every session revoked at once, login 403 only after the password, refresh refused" {
	register off@x.example
	a1=$access r1=$refresh
	login off@x.example secret123
	a2=$(jq -r .access_token <<<"$body") r2=$(jq -r .refresh_token <<<"$body")
	uid=$(jwt_part 1 "$a1" | jq -r .sub)
	api GET /auth/me "" -H "Authorization: Bearer $a1"
	[ "$status_code" = 200 ]
	api GET /auth/verify "" -H "Authorization: Bearer $a2"
	[ "$status_code" = 200 ]

	ctl disable off@x.example
	[ "$status" -eq 0 ]
	[ "$output" = "disabled off@x.example; 2 live session(s) revoked" ]
	[ "$(db_query "SELECT disabled FROM users WHERE id = '$uid'")" = 1 ]
	[ "$(db_query "SELECT count(*) FROM sessions WHERE user_id = '$uid' AND revoked = 0")" = 0 ]
	log_has ".event == \"admin_disable\" and .user_id == \"$uid\" and .sessions == 2 and .endpoint == \"authctl\""

	for a in "$a1" "$a2"; do
		api GET /auth/me "" -H "Authorization: Bearer $a"
		[ "$status_code" = 401 ]
		api GET /auth/verify "" -H "Authorization: Bearer $a"
		[ "$status_code" = 401 ]
		[ -n "$(header WWW-Authenticate)" ]
	done
	for r in "$r1" "$r2"; do
		api POST /auth/refresh "{\"refresh_token\":\"$r\"}"
		[ "$status_code" = 401 ]
	done

	# A wrong password is what it always was, and counts.
	n=$(failures off@x.example)
	login off@x.example wrong-password
	[ "$status_code" = 401 ]
	[ "$(jq -r .detail <<<"$body")" = "invalid credentials" ]
	[ "$(failures off@x.example)" = $((n + 1)) ]
	# The right one learns the account is disabled, and gets no session.
	login off@x.example secret123
	[ "$status_code" = 403 ]
	[ "$body" = '{"detail":"account disabled"}' ]
	[ "$(db_query "SELECT count(*) FROM sessions WHERE user_id = '$uid' AND revoked = 0")" = 0 ]
	log_has ".event == \"login_disabled\" and .user_id == \"$uid\""

	ctl --json show off@x.example
	[ "$(jq -r '.disabled, .sessions' <<<"$output")" = "$(printf 'true\n0')" ]
	[ "$(jq -r .disabled_at <<<"$output")" -ge "$(jwt_part 1 "$a1" | jq -r .iat)" ]
	ctl users --email off@x.example
	[[ ${lines[1]} =~ ^off@x\.example\ +disabled\ +0\  ]]
	# Twice: nothing more to do, said so.
	ctl --json disable off@x.example
	[ "$status" -eq 0 ]
	[ "$(jq -c . <<<"$output")" = "{\"command\":\"disable\",\"email\":\"off@x.example\",\"user_id\":\"$uid\",\"changed\":false,\"sessions_revoked\":0}" ]
}

@test "enable: login works again, the old sessions stay revoked" {
	register back@x.example
	old=$access oldr=$refresh
	ctl disable back@x.example
	[ "$status" -eq 0 ]
	ctl enable back@x.example
	[ "$status" -eq 0 ]
	[ "$output" = "enabled back@x.example (its old sessions stay revoked)" ]
	log_has '.event == "admin_enable" and .changed == 1'
	login back@x.example secret123
	[ "$status_code" = 200 ]
	new=$(jq -r .access_token <<<"$body")
	api GET /auth/me "" -H "Authorization: Bearer $new"
	[ "$status_code" = 200 ]
	api GET /auth/me "" -H "Authorization: Bearer $old"
	[ "$status_code" = 401 ]
	api POST /auth/refresh "{\"refresh_token\":\"$oldr\"}"
	[ "$status_code" = 401 ]
	ctl enable back@x.example
	[ "$status" -eq 0 ]
	[ "$output" = "back@x.example was not disabled; nothing changed" ]
}

@test "revoke-sessions: every session ends, the account stays usable" {
	register rs@x.example
	a1=$access
	login rs@x.example secret123
	a2=$(jq -r .access_token <<<"$body")
	ctl revoke-sessions rs@x.example
	[ "$status" -eq 0 ]
	[ "$output" = "revoked 2 live session(s) of rs@x.example" ]
	log_has '.event == "admin_revoke_sessions" and .sessions == 2'
	for a in "$a1" "$a2"; do
		api GET /auth/me "" -H "Authorization: Bearer $a"
		[ "$status_code" = 401 ]
	done
	login rs@x.example secret123
	[ "$status_code" = 200 ]
	ctl --json revoke-sessions rs@x.example
	[ "$(jq -r .sessions_revoked <<<"$output")" = 1 ]
}

@test "delete: no row of the user is left in any table" {
	register del@x.example
	uid=$(jwt_part 1 "$access" | jq -r .sub)
	api POST /auth/refresh "{\"refresh_token\":\"$refresh\"}"
	[ "$status_code" = 200 ]
	login del@x.example secret123
	login del@x.example wrong-password
	[ "$(failures del@x.example)" -ge 1 ]
	register keep@x.example
	keep=$access
	before_users=$(db_query "SELECT count(*) FROM users")
	dump | grep -q "$uid"
	dump | grep -q "del@x.example"

	ctl delete del@x.example
	[ "$status" -eq 0 ]
	[[ $output == "deleted del@x.example (id $uid) with its sessions and tokens; 2 were live" ]]
	log_has ".event == \"admin_delete\" and .user_id == \"$uid\""
	# Every table, whatever later migrations add: neither its id nor its email.
	[ "$(tables | wc -l)" -ge 5 ]
	dump | refute grep -q "$uid"
	dump | refute grep -q "del@x.example"
	[ "$(db_query "SELECT count(*) FROM users")" = $((before_users - 1)) ]
	# The gauges follow; everyone else is untouched.
	curl -s "$BASE/metrics" | grep -q "^auth_users $((before_users - 1))\$"
	api GET /auth/me "" -H "Authorization: Bearer $keep"
	[ "$status_code" = 200 ]
	login del@x.example secret123
	[ "$status_code" = 401 ]
	ctl show del@x.example
	[ "$status" -eq 1 ]
	# The address may register again.
	register del@x.example
}

@test "reset-mfa without a second factor: nothing to remove, the sessions revoked all the same" {
	register mfa@x.example
	ctl reset-mfa mfa@x.example
	[ "$status" -eq 0 ]
	[ "$output" = "mfa@x.example had no second factor; 1 live session(s) revoked" ]
	api GET /auth/me "" -H "Authorization: Bearer $access"
	[ "$status_code" = 401 ]
	log_has '.event == "admin_reset_mfa" and .changed == 0 and .sessions == 1'
	ctl reset-mfa nobody@x.example
	[ "$status" -eq 1 ]
}

@test "bad input: one line on stderr, exit 2 (1 for an unknown account), nothing changed" {
	register bad@x.example
	before=$(dump)
	log_lines=$(wc -l <"$RUN_DIR/auth.log")
	while IFS='|' read -r want args; do
		# shellcheck disable=SC2086 # the fields are words
		ctl $args
		echo "authctl $args: $status: $err" >&2
		[ "$status" -eq "$want" ]
		[ -z "$output" ]
		[ "$(wc -l <<<"$err")" -eq 1 ]
		[[ $err == authctl:\ * ]]
	done <<'EOF'
2|
2|frob bad@x.example
2|--frob users
2|users --limit 0
2|users --limit 1001
2|users --limit abc
2|users --limit -1
2|users --limit 99999999999999999999999
2|users --offset -1
2|users --offset 1x
2|users --limit
2|users extra
2|show
2|show not-an-email
2|show bad@x.example other@x.example
2|disable --email bad@x.example
2|disable --limit 3 bad@x.example
2|delete bad@@x.example
1|show nobody@x.example
1|disable nobody@x.example
1|enable nobody@x.example
1|delete nobody@x.example
1|revoke-sessions nobody@x.example
1|reset-mfa nobody@x.example
EOF
	ctl users --email "$(printf 'a\tb')"
	[ "$status" -eq 2 ]
	ctl users --email ''
	[ "$status" -eq 2 ]
	ctl disable $'bad@x.example\nx'
	[ "$status" -eq 2 ]
	[ "$(wc -l <<<"$err")" -eq 1 ]
	# SQL in an address is an address that does not exist.
	ctl delete "x'or'1'='1@x.example"
	[ "$status" -eq 1 ]
	[ "$(dump)" = "$before" ]
	[ "$(wc -l <"$RUN_DIR/auth.log")" = "$log_lines" ]
	login bad@x.example secret123
	[ "$status_code" = 200 ]
}

@test "a bad setting or an unreachable database: one line, exit 2 or 3" {
	run env DB_BUSY_TIMEOUT_MS=abc "$AUTHCTL" users
	[ "$status" -eq 2 ]
	[[ $output == *DB_BUSY_TIMEOUT_MS* ]]
	run env DATABASE_URL="sqlite:///$WORK/nosuch/auth.db" "$AUTHCTL" users
	[ "$status" -eq 3 ]
	[[ $output == "authctl: DATABASE_URL"* ]]
	[ "${#lines[@]}" -eq 1 ]
	# A schema before 005: told to migrate, nothing done.
	mkdir -p "$WORK/old-schema"
	cp "$ROOT"/schema/00[1-4]_*.sql "$WORK/old-schema/"
	DATABASE_URL="sqlite:///$WORK/old.db" SCHEMA_DIR=$WORK/old-schema "$ROOT/scripts/migrate.sh" >/dev/null
	run env DATABASE_URL="sqlite:///$WORK/old.db" "$AUTHCTL" users
	[ "$status" -eq 3 ]
	[ "$output" = "authctl: pending migration: schema at 004, authctl needs 005 (run scripts/migrate.sh)" ]
}

@test "the audit line: a log that cannot be written stops the change; LOG_FILE=/dev/stderr is ours" {
	register audit@x.example
	ctl disable audit@x.example
	ctl enable audit@x.example
	login audit@x.example secret123
	[ "$status_code" = 200 ]
	before=$(dump)
	LOG_FILE=$WORK/nosuch/auth.log ctl disable audit@x.example
	[ "$status" -eq 3 ]
	[[ $err == "authctl: cannot open the log"*"nothing changed" ]]
	[ "$(dump)" = "$before" ]
	LOG_FILE=/dev/stderr ctl --json revoke-sessions audit@x.example
	[ "$status" -eq 0 ]
	[ "$(jq -r .sessions_revoked <<<"$output")" = 1 ]
	[ "$(jq -r '.event, .endpoint, .sessions' <<<"$err")" = "$(printf 'admin_revoke_sessions\nauthctl\n1')" ]
	refute grep -q 'audit@x.example' "$RUN_DIR/auth.log"
}

@test "settings from ENV_FILE, as the scripts read them; the environment wins" {
	printf 'DATABASE_URL="%s"  # the stack'"'"'s\n' "$DATABASE_URL" >"$WORK/alt.env"
	register envfile@x.example
	run env -u DATABASE_URL ENV_FILE="$WORK/alt.env" "$AUTHCTL" show envfile@x.example
	[ "$status" -eq 0 ]
	run env DATABASE_URL="sqlite:///$WORK/nosuch/auth.db" ENV_FILE="$WORK/alt.env" "$AUTHCTL" show envfile@x.example
	[ "$status" -eq 3 ]
}
