#!/usr/bin/env bats
# What operators run: migrate.sh, gen-keys.sh, and start.sh refusing bad
# settings with one clear line.

load helper

setup() {
	stack_env "$(mktemp -d "$BATS_TEST_TMPDIR/ops.XXXXXX")"
	"$ROOT/scripts/gen-keys.sh" "$WORK/keys" >/dev/null
}

teardown() {
	stack_stop
	# A second stack some tests try to start, should it have come up.
	if [ -d "$WORK/second/run" ]; then
		( cd "$WORK/second" && RUN_DIR="$WORK/second/run" "$ROOT/scripts/stop.sh" )
	fi
}

db() { sqlite3 "$WORK/auth.db" "$@"; }

# start_second [VAR=VALUE...]: `run` start.sh for a second stack in
# $WORK/second, beside the one in $WORK, with the settings given.
start_second() {
	second=$WORK/second
	mkdir -p "$second"
	run env RUN_DIR="$second/run" DATABASE_URL="sqlite:///$second/auth.db" "$@" \
		bash -c "cd '$second' && '$ROOT/scripts/start.sh' --background"
}

# second_left_nothing: no pid file, and no endpoint master holding a
# socket of the second stack's run dir.
second_left_nothing() {
	[ -z "$(ls "$second/run"/*.pid 2>/dev/null)" ] &&
		refute grep -qs "$second/run" /proc/net/unix
}

@test "migrate.sh applies the schema once; a second run changes nothing" {
	skip_on_pg "SQLite migrations (pg_ops.bats has PostgreSQL's)"
	run "$ROOT/scripts/migrate.sh"
	[ "$status" -eq 0 ]
	[[ $output == *"applied 001_initial.sql"* ]]
	schema1=$(db .schema)
	run "$ROOT/scripts/migrate.sh"
	[ "$status" -eq 0 ]
	[[ $output == *"up to date"* ]]
	[ "$(db .schema)" = "$schema1" ]
	[ "$(db 'SELECT count(*) FROM schema_migrations')" = "$(ls "$ROOT"/schema/*.sql | wc -l)" ]
	for t in users sessions refresh_tokens login_attempts; do
		[ "$(db "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='$t'")" = 1 ]
	done
	[ "$(db 'PRAGMA journal_mode')" = wal ]
	[ "$(stat -c %a "$WORK/auth.db")" = 600 ]
}

@test "migrate.sh status lists applied and pending migrations" {
	skip_on_pg "SQLite migrations (pg_ops.bats has PostgreSQL's)"
	mkdir "$WORK/schema"
	cp "$ROOT"/schema/*.sql "$WORK/schema/"
	SCHEMA_DIR=$WORK/schema "$ROOT/scripts/migrate.sh"
	echo "CREATE TABLE extra (x INTEGER);" > "$WORK/schema/900_extra.sql"
	run env SCHEMA_DIR="$WORK/schema" "$ROOT/scripts/migrate.sh" status
	[ "$status" -eq 0 ]
	[[ ${lines[0]} == "applied  001_initial.sql"* ]]
	[ "${lines[-1]}" = "pending  900_extra.sql" ]
}

@test "a failing migration is rolled back whole and reported" {
	skip_on_pg "SQLite migrations (pg_ops.bats has PostgreSQL's)"
	mkdir "$WORK/schema"
	cp "$ROOT"/schema/*.sql "$WORK/schema/"
	printf 'CREATE TABLE half (x INTEGER);\nCREATE TABLE users (id TEXT);\n' > "$WORK/schema/900_broken.sql"
	run env SCHEMA_DIR="$WORK/schema" "$ROOT/scripts/migrate.sh"
	[ "$status" -ne 0 ]
	[[ $output == *"900_broken.sql failed"* ]]
	[ "$(db "SELECT count(*) FROM sqlite_master WHERE name = 'half'")" = 0 ]
	[ "$(db "SELECT count(*) FROM schema_migrations WHERE version = '900'")" = 0 ]
	[ "$(db 'SELECT count(*) FROM schema_migrations')" = "$(ls "$ROOT"/schema/*.sql | wc -l)" ]
}

@test "a migration that manages its own transaction is refused" {
	skip_on_pg "SQLite migrations (pg_ops.bats has PostgreSQL's)"
	mkdir "$WORK/schema"
	cp "$ROOT"/schema/*.sql "$WORK/schema/"
	printf 'BEGIN;\nCREATE TABLE t (x);\nCOMMIT;\n' > "$WORK/schema/900_tx.sql"
	run env SCHEMA_DIR="$WORK/schema" "$ROOT/scripts/migrate.sh"
	[ "$status" -ne 0 ]
	[[ $output == *"must not manage its own transaction"* ]]
}

@test "gen-keys.sh writes a 2048-bit key, private part mode 0600, never overwrites" {
	[ "$(stat -c %a "$WORK/keys/jwt_private.pem")" = 600 ]
	openssl pkey -in "$WORK/keys/jwt_private.pem" -noout -text | grep -q '2048 bit'
	sum=$(sha256sum < "$WORK/keys/jwt_private.pem")
	run "$ROOT/scripts/gen-keys.sh" "$WORK/keys"
	[ "$status" -eq 0 ]
	[ "$(sha256sum < "$WORK/keys/jwt_private.pem")" = "$sum" ]
}

# start_fails SETTING=VALUE WANT: start.sh must stop with a line naming it.
start_fails() {
	run env "$1" bash -c "cd '$WORK' && '$ROOT/scripts/start.sh' --background"
	[ "$status" -ne 0 ]
	echo "$output"
	[[ $output == *"$2"* ]]
	[ ! -e "$RUN_DIR/supervise.pid" ]
}

@test "start refuses a TTL that is not a number" {
	start_fails ACCESS_TTL=15m "ACCESS_TTL must be an integer"
}

@test "start refuses a bcrypt cost out of range" {
	start_fails BCRYPT_COST=3 "BCRYPT_COST must be an integer between 4 and 31"
	start_fails BCRYPT_COST=32 "BCRYPT_COST must be an integer between 4 and 31"
}

@test "start refuses a missing key file" {
	start_fails JWT_PRIVATE_KEY_PATH=$WORK/nope.pem "JWT_PRIVATE_KEY_PATH"
	start_fails JWT_PUBLIC_KEY_PATH=$WORK/nope.pem "JWT_PUBLIC_KEY_PATH"
}

@test "start refuses a database path it cannot write" {
	start_fails DATABASE_URL=sqlite:///$WORK/no/such/dir/auth.db "DATABASE_URL"
}

@test "start refuses a database URL of another engine" {
	start_fails DATABASE_URL=mysql://u@h/db "DATABASE_URL must be sqlite"
}

@test "start refuses a key that does not match its public half" {
	"$ROOT/scripts/gen-keys.sh" "$WORK/other" >/dev/null
	start_fails JWT_PUBLIC_KEY_PATH=$WORK/other/jwt_public.pem "does not match"
}

@test "start reads settings from .env, and the environment wins over it" {
	printf 'ACCESS_TTL=120\nREFRESH_TTL=7200 # two hours\n' > "$WORK/.env"
	( cd "$WORK" && ACCESS_TTL=300 "$ROOT/scripts/start.sh" --background ) >/dev/null
	register envfile@example.com
	[ "$(jq -r .expires_in <<<"$body")" = 300 ]
	[ "$(jwt_part 1 "$refresh" | jq -r '.exp - .iat')" = 7200 ]
}

@test "stop.sh stops every process it started, by pid" {
	( cd "$WORK" && "$ROOT/scripts/start.sh" --background ) >/dev/null
	sup=$(cut -d' ' -f1 "$RUN_DIR/supervise.pid")
	front=$(cat "$RUN_DIR/front.pid")
	endpoints=$(ls "$RUN_DIR"/*.sock | wc -l)
	[ "$endpoints" -ge 7 ]
	masters=$(for f in "$RUN_DIR"/*.pid; do
		case $f in */supervise.pid|*/front.pid|*/mailer.pid) ;; *) cat "$f" ;; esac
	done)
	[ "$(wc -w <<<"$masters")" = "$endpoints" ]
	# The mail outbox's delivery loop: no socket, no workers.
	mailer=$(cat "$RUN_DIR/mailer.pid")
	kill -0 "$mailer"
	# Every master, the mailer and the front are the supervisor's children.
	[ "$(wc -w < "/proc/$sup/task/$sup/children")" = $((endpoints + 2)) ]
	# start.sh returns once healthz answers: the other masters may still
	# be forking their workers.
	for _ in $(seq 1 100); do
		workers=$(for p in $masters; do cat "/proc/$p/task/$p/children"; done)
		[ "$(wc -w <<<"$workers")" = $((endpoints * FCGI_CHILDREN)) ] && break
		sleep 0.05
	done
	[ "$(wc -w <<<"$workers")" = $((endpoints * FCGI_CHILDREN)) ]
	( cd "$WORK" && "$ROOT/scripts/stop.sh" )
	for p in $sup $front $mailer $masters $workers; do refute pid_alive "$p"; done
	[ ! -e "$RUN_DIR/supervise.pid" ]
	[ -z "$(ls "$RUN_DIR"/*.sock 2>/dev/null)" ]
}

@test "start on a port already taken says so in one line and leaves nothing running" {
	( cd "$WORK" && "$ROOT/scripts/start.sh" --background ) >/dev/null
	start_second
	[ "$status" -ne 0 ]
	[ "$output" = "start.sh: 127.0.0.1:$PORT is in use by another server" ]
	second_left_nothing
	# The first stack still answers.
	api GET /healthz
	[ "$status_code" = 200 ]
}

@test "start on a port a closed client connection still holds says why the front stopped" {
	( cd "$WORK" && "$ROOT/scripts/start.sh" --background ) >/dev/null
	# curl closes first, so its end of the connection (local port P) stays
	# in TIME_WAIT: nothing answers on P, yet no listener can bind it.
	p=$(free_port)
	curl -fsS -o /dev/null --local-port "$p" "$BASE/healthz"
	start_second PORT="$p"
	[ "$status" -ne 0 ]
	[[ ${lines[-1]} == "start.sh: $FRONT exited: "*"Address already in use"* ]]
	second_left_nothing
}

@test "every endpoint serves one request as plain CGI" {
	"$ROOT/scripts/migrate.sh" >/dev/null
	run bash -c "REQUEST_METHOD=GET '$BIN_DIR/healthz' < /dev/null 2>/dev/null"
	[ "$status" -eq 0 ]
	[[ ${lines[0]} == "Status: 200 OK"* ]]
	body='{"email":"cgi@example.com","password":"secret123"}'
	run bash -c "printf '%s' '$body' | REQUEST_METHOD=POST CONTENT_LENGTH=${#body} '$BIN_DIR/register' 2>/dev/null"
	[ "$status" -eq 0 ]
	[[ ${lines[0]} == "Status: 201 Created"* ]]
}
