# shellcheck shell=bash
# helper.bash: start the real stack (scripts/start.sh, the script users run)
# on a free port with a temporary database and keys; stop it by pid.
# Binaries come from BIN_DIR (tests/run.sh points it at the coverage build).

ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
BIN_DIR=${BIN_DIR:-$ROOT/build/release/cgi-bin}
export BIN_DIR

# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"

# stack_env DIR: the environment of a stack living in DIR.
stack_env() {
	local dir=$1
	export WORK=$dir
	export RUN_DIR=$dir/run
	export DATABASE_URL="sqlite:///$dir/auth.db"
	export JWT_PRIVATE_KEY_PATH=$dir/keys/jwt_private.pem
	export JWT_PUBLIC_KEY_PATH=$dir/keys/jwt_public.pem
	export BCRYPT_COST=${BCRYPT_COST:-4}
	export FCGI_CHILDREN=${FCGI_CHILDREN:-2}
	export HOST=127.0.0.1
	export ENV_FILE=$dir/.env   # never the developer's own .env
	PORT=$(free_port)
	export PORT
	export BASE="http://127.0.0.1:$PORT"
}

# stack_start: keys, migrations, endpoints, lighttpd; returns when ready.
stack_start() {
	[ -n "${WORK:-}" ] || stack_env "$(mktemp -d "${BATS_FILE_TMPDIR:-/tmp}/stack.XXXXXX")"
	[ -e "$JWT_PRIVATE_KEY_PATH" ] || "$ROOT/scripts/gen-keys.sh" "$WORK/keys" >/dev/null
	( cd "$WORK" && "$ROOT/scripts/start.sh" --background ) >"$WORK/start.out" 2>&1 || {
		cat "$WORK/start.out" >&2
		return 1
	}
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

# JSON field of the JWT segment N (0 header, 1 payload) of a token.
jwt_part() {
	local seg
	seg=$(cut -d. -f$(($1 + 1)) <<<"$2" | tr '_-' '/+')
	while [ $((${#seg} % 4)) -ne 0 ]; do seg="$seg="; done
	base64 -d <<<"$seg"
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
