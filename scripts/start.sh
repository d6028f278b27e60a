#!/usr/bin/env bash
# start.sh [--background]: run the whole stack on this machine.
#   1. load .env (the environment wins over it)
#   2. dev keys if the configured ones are absent and not set explicitly
#   3. migrations (scripts/migrate.sh)
#   4. every endpoint checks its configuration: a bad setting stops here
#      with one line naming it
#   5. spawn-fcgi binds each endpoint's unix socket in RUN_DIR and starts
#      its master, which keeps FCGI_CHILDREN workers on it (respawning any
#      that dies); lighttpd serves HOST:PORT
# In the foreground (make run) Ctrl-C stops everything; with --background it
# returns once /healthz answers and scripts/stop.sh stops it. Pids are
# recorded in RUN_DIR/*.pid; nothing is ever stopped by name.
set -euo pipefail
# Logs hold user ids, session ids and client addresses: everything this
# script and the processes it starts create is private to this user.
umask 077

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"
env_load "${ENV_FILE:-.env}"

# Daemons must not hold the caller's descriptors (a test runner's pipe
# would never see EOF): keep only stdin, stdout, stderr and bash's own.
for fd in "/proc/$$/fd"/*; do
	fd=${fd##*/}
	case $fd in 0|1|2|255) ;; *) eval "exec $fd>&-" 2>/dev/null || true ;; esac
done

background=0
[ "${1:-}" = "--background" ] && background=1

BIN_DIR=${BIN_DIR:-$root/build/release/cgi-bin}
RUN_DIR=${RUN_DIR:-./run}
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8080}
FCGI_CHILDREN=${FCGI_CHILDREN:-2}
READ_TIMEOUT=${READ_TIMEOUT:-10}
ENDPOINTS=${ENDPOINTS:-"register login refresh me logout logout_all sessions jwks healthz readyz metrics"}

# int_between NAME LOW HIGH: die with one line unless $NAME is an integer
# in [LOW, HIGH] (at most 9 digits, so no test ever overflows).
int_between() {
	local v=${!1}
	if ! [[ $v =~ ^[0-9]{1,9}$ ]] || [ "$v" -lt "$2" ] || [ "$v" -gt "$3" ]; then
		die "$1 must be an integer between $2 and $3 (got '$v')"
	fi
}
int_between PORT 1 65535
# Seconds lighttpd waits on a silent client (lighttpd.conf).
int_between READ_TIMEOUT 1 300
[[ $HOST =~ ^[0-9A-Za-z.:-]+$ ]] || die "HOST must be an address (got '$HOST')"

# Workers of endpoint EP: FCGI_CHILDREN_<EP> (e.g. FCGI_CHILDREN_LOGIN)
# when set, else FCGI_CHILDREN.
children_var() { local v=FCGI_CHILDREN_${1^^}; [ -n "${!v:-}" ] && echo "$v" || echo FCGI_CHILDREN; }
for ep in $ENDPOINTS; do
	[ -x "$BIN_DIR/$ep" ] || die "$BIN_DIR/$ep is missing: run make"
	int_between "$(children_var "$ep")" 1 64
done

# RUN_DIR and the logs in it are this user's alone, also when an earlier
# version or another umask made them readable by others.
mkdir -p "$RUN_DIR/errors"
chmod 0700 "$RUN_DIR" || die "cannot make RUN_DIR $RUN_DIR private (mode 0700)"
RUN_DIR=$(cd "$RUN_DIR" && pwd)
export RUN_DIR HOST PORT FCGI_CHILDREN READ_TIMEOUT
LOG_FILE=${LOG_FILE:-$RUN_DIR/auth.log}
for f in "$RUN_DIR/auth.log" "$RUN_DIR/lighttpd.log" "$LOG_FILE"; do
	# Only our own regular files (LOG_FILE may be /dev/stderr).
	if [ -f "$f" ] && [ -O "$f" ]; then chmod 0600 "$f"; fi
done
# Where earlier versions kept the error files, inside the document root.
rm -f "$RUN_DIR"/www/status-[0-9][0-9][0-9].html
rmdir "$RUN_DIR/www" 2>/dev/null || :
[ -e "$RUN_DIR/lighttpd.pid" ] && kill -0 "$(cat "$RUN_DIR/lighttpd.pid")" 2>/dev/null &&
	die "already running (pid $(cat "$RUN_DIR/lighttpd.pid")); scripts/stop.sh first"
# Something already answering on the port would pass the readiness check
# below in our lighttpd's place.
port_answers "$HOST" "$PORT" &&
	die "$HOST:$PORT is in use by another server"

# Development keys only at the default location; a key configured
# elsewhere and missing is an error the endpoints report below.
if [ "${JWT_PRIVATE_KEY_PATH:-./keys/jwt_private.pem}" = ./keys/jwt_private.pem ] &&
	[ "${JWT_PUBLIC_KEY_PATH:-./keys/jwt_public.pem}" = ./keys/jwt_public.pem ] &&
	[ ! -e ./keys/jwt_private.pem ]; then
	echo "start: no JWT keys in ./keys; generating DEVELOPMENT keys" >&2
	"$root/scripts/gen-keys.sh" ./keys
fi

"$root/scripts/migrate.sh" up

for ep in $ENDPOINTS; do
	"$BIN_DIR/$ep" --check-config || exit 2
done

# lighttpd's own error answers, as JSON like every other error; they are
# not under the document root (lighttpd.conf), so never served as files.
for s in 400:bad\ request 403:forbidden 404:not\ found \
	405:method\ not\ allowed 408:request\ timeout 411:length\ required \
	413:request\ body\ too\ large 414:uri\ too\ long 417:expectation\ failed \
	431:request\ header\ fields\ too\ large 500:internal\ error \
	501:not\ implemented 502:bad\ gateway 503:service\ unavailable \
	504:gateway\ timeout 505:http\ version\ not\ supported; do
	printf '{"detail":"%s"}\n' "${s#*:}" > "$RUN_DIR/errors/status-${s%%:*}.html"
done

started=()
cleanup() {
	trap - INT TERM EXIT
	"$root/scripts/stop.sh"
}

for ep in $ENDPOINTS; do
	var=$(children_var "$ep")
	n=${!var}
	rm -f "$RUN_DIR/$ep.sock" "$RUN_DIR/$ep.pid"
	# spawn-fcgi points the children's stderr at /dev/null; the sh exec
	# (same pid) gives them the log file instead.
	# shellcheck disable=SC2016,SC2094 # $0/$1 are the inner sh's; LOG_FILE is only appended to
	FCGI_CHILDREN=$n spawn-fcgi -s "$RUN_DIR/$ep.sock" -M 0600 -F 1 \
		-P "$RUN_DIR/$ep.pid" -- /bin/sh -c 'exec "$0" 2>>"$1"' \
		"$BIN_DIR/$ep" "$LOG_FILE" >/dev/null 2>>"$LOG_FILE" ||
		{ cleanup; die "spawn-fcgi failed for $ep (see $LOG_FILE)"; }
	started+=("$ep")
done

# Its start-up errors (a port in use) reach stderr before its errorlog is
# open: both go to the same file.
lighttpd -D -f "$root/lighttpd.conf" 2>>"$RUN_DIR/lighttpd.log" &
echo $! > "$RUN_DIR/lighttpd.pid"

# Ready when /healthz answers: lighttpd binds within milliseconds, a worker
# under a sanitizer on a busy machine can take seconds to its first answer.
ready=0
for _ in $(seq 1 400); do
	if curl -fsS -o /dev/null "http://$HOST:$PORT/healthz" 2>/dev/null; then
		ready=1
		break
	fi
	if ! kill -0 "$(cat "$RUN_DIR/lighttpd.pid")" 2>/dev/null; then
		cleanup
		die "lighttpd exited: $(tail -n 1 "$RUN_DIR/lighttpd.log" 2>/dev/null)"
	fi
	sleep 0.05
done
if [ $ready -ne 1 ]; then
	cleanup
	die "no answer from /healthz on $HOST:$PORT in 20 s (see $RUN_DIR/lighttpd.log and $LOG_FILE)"
fi
echo "auth-svc: serving http://$HOST:$PORT ($FCGI_CHILDREN processes per endpoint; log $LOG_FILE)"

[ $background -eq 1 ] && exit 0
trap cleanup INT TERM EXIT
wait "$(cat "$RUN_DIR/lighttpd.pid")" || true
