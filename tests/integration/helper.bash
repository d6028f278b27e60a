# shellcheck shell=bash
# helper.bash: start the real stack (scripts/start.sh, the script users run)
# on a free port with a temporary database and keys; stop it by pid.
# Binaries come from BIN_DIR (tests/run.sh points it at the coverage build).

ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
BIN_DIR=${BIN_DIR:-$ROOT/build/release/cgi-bin}
export BIN_DIR

# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"
# shellcheck source=tests/pg.sh
. "$ROOT/tests/pg.sh"

# pg_run: this run has a PostgreSQL server for every stack (tests/run.sh
# started it once: AUTH_TEST_PG=1 with PG_HOST, PG_PORT and PG_USER).
pg_run() {
	[ "${AUTH_TEST_PG:-0}" = 1 ] && [ -n "${PG_HOST:-}" ] &&
		[ -n "${PG_PORT:-}" ] && [ -n "${PG_USER:-}" ]
}

# pg_fresh_db: create a database of a unique name on the run's server
# (PG_HOST, PG_PORT, PG_USER) and print its DATABASE_URL.
pg_fresh_db() {
	pg_newdb "t_$(date +%s%N)_$RANDOM"
}

# stack_env DIR: the environment of a stack living in DIR.
stack_env() {
	local dir=$1
	export WORK=$dir
	export RUN_DIR=$dir/run
	export DATABASE_URL="sqlite:///$dir/auth.db"
	if pg_run; then
		# On the run's PostgreSQL server: a fresh database per stack.
		DATABASE_URL=$(pg_fresh_db) || return 1
	fi
	export JWT_PRIVATE_KEY_PATH=$dir/keys/jwt_private.pem
	export JWT_PUBLIC_KEY_PATH=$dir/keys/jwt_public.pem
	export MFA_KEY_PATH=$dir/keys/mfa.key
	export BCRYPT_COST=${BCRYPT_COST:-4}
	export FCGI_CHILDREN=${FCGI_CHILDREN:-2}
	export HOST=127.0.0.1
	# AUTH_TEST_FRONT=nginx: every stack behind nginx (default lighttpd).
	export FRONT=${AUTH_TEST_FRONT:-lighttpd}
	export ENV_FILE=$dir/.env   # never the developer's own .env
	PORT=$(free_port)
	export PORT
	export BASE="http://127.0.0.1:$PORT"
}

# stack_start: keys, migrations, endpoints, lighttpd; returns when ready.
stack_start() {
	[ -n "${WORK:-}" ] || stack_env "$(mktemp -d "${BATS_FILE_TMPDIR:-/tmp}/stack.XXXXXX")"
	[ -e "$JWT_PRIVATE_KEY_PATH" ] || "$ROOT/scripts/gen-keys.sh" "$WORK/keys" >/dev/null
	local try
	for try in 1 2 3; do
		( cd "$WORK" && "$ROOT/scripts/start.sh" --background ) >"$WORK/start.out" 2>&1 &&
			return 0
		# Files run side by side: another stack may have taken the port
		# free_port chose before ours bound it. A new port, then.
		grep -qE 'in use|Address already in use' "$WORK/start.out" || break
		( cd "$WORK" && "$ROOT/scripts/stop.sh" ) >/dev/null 2>&1
		PORT=$(free_port)
		BASE="http://127.0.0.1:$PORT"
		echo "stack_start: port taken (try $try); now $PORT" >&2
	done
	cat "$WORK/start.out" >&2
	return 1
}

stack_stop() {
	[ -n "${WORK:-}" ] && ( cd "$WORK" && "$ROOT/scripts/stop.sh" )
}

# api METHOD PATH [BODY] [curl args...]: sets $status_code, $body, $headers.
api() {
	local method=$1 path=$2 data=${3-} out
	shift 3 2>/dev/null || shift $#
	out=$(mktemp "$WORK/resp.XXXXXX")
	if [ -n "$data" ]; then
		status_code=$(curl -sS -o "$out.body" -D "$out.hdr" -w '%{http_code}' \
			-X "$method" -H 'Content-Type: application/json' \
			--data-binary "$data" "$@" "$BASE$path")
	else
		status_code=$(curl -sS -o "$out.body" -D "$out.hdr" -w '%{http_code}' \
			-X "$method" "$@" "$BASE$path")
	fi
	body=$(cat "$out.body")
	headers=$(tr -d '\r' < "$out.hdr")
	rm -f "$out" "$out.body" "$out.hdr"
}

# register EMAIL [PASSWORD]: sets $access and $refresh.
# shellcheck disable=SC2034 # the tests read them
register() {
	api POST /auth/register "{\"email\":\"$1\",\"password\":\"${2:-secret123}\"}"
	[ "$status_code" = 201 ] || { echo "register $1: $status_code $body" >&2; return 1; }
	access=$(jq -r .access_token <<<"$body")
	refresh=$(jq -r .refresh_token <<<"$body")
}

# workers ENDPOINT: pids of the endpoint's worker processes.
workers() {
	local master
	master=$(cat "$RUN_DIR/$1.pid")
	cat "/proc/$master/task/$master/children"
}

# refute CMD...: the check passes only if CMD fails. A bare "! CMD" line
# never fails a bats test (errexit ignores a negated command), so every
# negative check goes through here; in a pipeline, refute the last stage.
refute() {
	if "$@"; then
		echo "refute: this succeeded: $*" >&2
		return 1
	fi
}

# b64url / unb64url: base64url without padding, stdin to stdout (forged
# and decoded token parts).
b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
unb64url() {
	local s
	s=$(tr -d '\n' | tr '_-' '/+')
	while [ $((${#s} % 4)) -ne 0 ]; do s="$s="; done
	base64 -d <<<"$s"
}

# JSON field of the JWT segment N (0 header, 1 payload) of a token.
jwt_part() {
	cut -d. -f$(($1 + 1)) <<<"$2" | unb64url
}

# The service must still answer after whatever a test threw at it.
assert_alive() {
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/healthz")" = 200 ]
}

header() { grep -i "^$1:" <<<"$headers" | head -1 | cut -d' ' -f2- ; }

# log_has JQ_CONDITION: some line of the stack's log satisfies it. (jq 1.6's
# -e looks only at the last input, so the whole log is slurped.) Lines that
# are not JSON are skipped: a coverage build's runtime writes its own
# complaints to the same stderr after a rebuild.
log_has() {
	jq -e -R -s "[split(\"\\n\")[] | (fromjson? // empty)] | any(.[]; $1)" \
		"$WORK/run/auth.log" >/dev/null
}

# db_is_pg: the stack's DATABASE_URL names PostgreSQL.
db_is_pg() {
	[ "$(db_engine "${DATABASE_URL:-}")" = postgresql ]
}

# skip_on_pg REASON: skip this test when the stack runs on PostgreSQL
# (for what only SQLite has: its file, its WAL, its locks).
skip_on_pg() {
	if db_is_pg; then
		skip "${1:-SQLite only}"
	fi
}

# db_query SQL: run SQL against the stack's database, whichever engine;
# rows one a line, columns separated by "|", NULL as nothing (sqlite3's
# default output and psql -At's alike). Write 0/1 expressions rather than
# booleans: PostgreSQL prints those t/f.
db_query() {
	if db_is_pg; then
		(
			pg_env "$DATABASE_URL" || exit 1
			# SQLite's per-connection switch; PostgreSQL always enforces
			# foreign keys.
			PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning" \
				psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$PG_CONNINFO" \
				-c "${1//PRAGMA foreign_keys=ON;/}"
		)
	else
		sqlite3 -batch -bail "$(db_path)" "$1"
	fi
}

# engine_schema_dir: the migrations of the stack's engine (for tests that
# migrate a copy of them: SCHEMA_DIR=...).
engine_schema_dir() {
	if db_is_pg; then
		echo "$ROOT/schema/postgresql"
	else
		echo "$ROOT/schema"
	fi
}

# db_lock SECONDS: hold the stack's database locked against every write
# for SECONDS, as another writer would (run it in the background). SQLite:
# BEGIN EXCLUSIVE; PostgreSQL: LOCK TABLE ... IN EXCLUSIVE MODE on the
# service's tables (plain reads go on, as under SQLite's WAL). A request
# meeting it waits DB_BUSY_TIMEOUT_MS, then answers 503.
db_lock() {
	if db_is_pg; then
		db_query "BEGIN; LOCK TABLE users, sessions, refresh_tokens,
			login_attempts IN EXCLUSIVE MODE; SELECT pg_sleep($1); COMMIT;" >/dev/null
	else
		# The mark is made once the lock is held (await_db_lock).
		rm -f "$WORK/db_locked"
		{ echo "BEGIN EXCLUSIVE;"; echo ".shell touch '$WORK/db_locked'"
		  sleep "$1"; echo "COMMIT;"; } | sqlite3 -bail "$(db_path)"
	fi
}

# await_db_lock: returns once a db_lock in the background holds its lock
# (10 s at most): on a loaded machine its client may take longer to start
# and connect than any fixed sleep allows.
await_db_lock() {
	local i
	for i in $(seq 100); do
		if db_is_pg; then
			[ "$(db_query "SELECT count(*) FROM pg_locks l JOIN pg_class c
				ON c.oid = l.relation WHERE c.relname = 'users'
				AND l.mode = 'ExclusiveLock' AND l.granted")" = 0 ] || return 0
		else
			[ ! -e "$WORK/db_locked" ] || return 0
		fi
		sleep 0.1
	done
	echo "await_db_lock: no lock within 10 s" >&2
	return 1
}
