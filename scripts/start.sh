#!/usr/bin/env bash
# start.sh [--background]: run the whole stack on this machine.
#   1. load .env (the environment wins over it)
#   2. dev keys if the configured ones are absent and not set explicitly
#      (the HS256 refresh key only with REFRESH_TOKEN_SIGNING=hs256)
#   3. migrations (scripts/migrate.sh)
#   4. every endpoint checks its configuration: a bad setting stops here
#      with one line naming it
#   5. the supervisor (sbin/supervise) binds each endpoint's unix socket in
#      RUN_DIR and starts its master, which keeps its workers on it
#      (FCGI_CHILDREN_<ENDPOINT>, else FCGI_CHILDREN, else sized from the
#      machine's cores: lib.sh children_of), and starts the front on
#      HOST:PORT: FRONT=lighttpd (lighttpd.conf, the default) or
#      FRONT=nginx (nginx.conf, rendered into RUN_DIR: docs/nginx.md);
#      it starts again any of them that dies
# In the foreground (make run) Ctrl-C stops everything; with --background it
# returns once /healthz answers and scripts/stop.sh stops it. The supervisor
# is recorded in RUN_DIR/supervise.pid with its start time, each process
# in RUN_DIR/<name>.pid; nothing is ever stopped by name.
set -euo pipefail
# Logs hold user ids, session ids and client addresses: everything this
# script and the processes it starts create is private to this user.
umask 077

# lib.sh is beside this script in the source tree and in libexec/auth-svc
# when installed as auth-svc-<name> (make install); it knows the layout.
here=$(cd "$(dirname "$0")" && pwd)
case ${0##*/} in
auth-svc-*) lib=$here/../libexec/auth-svc/lib.sh ;;
*) lib=$here/lib.sh ;;
esac
# shellcheck source=scripts/lib.sh
. "$lib"
env_load "${ENV_FILE:-.env}"

# Daemons must not hold the caller's descriptors (a test runner's pipe
# would never see EOF): keep only stdin, stdout, stderr and bash's own.
for fd in "/proc/$$/fd"/*; do
	fd=${fd##*/}
	case $fd in 0|1|2|255) ;; *) eval "exec $fd>&-" 2>/dev/null || true ;; esac
done

background=0
[ "${1:-}" = "--background" ] && background=1

BIN_DIR=${BIN_DIR:-$AUTH_BIN_DIR}
SUPERVISE=${SUPERVISE:-$(supervise_of "$BIN_DIR")}
RUN_DIR=${RUN_DIR:-./run}
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8080}
READ_TIMEOUT=${READ_TIMEOUT:-10}
FRONT=${FRONT:-lighttpd}
ENDPOINTS=${ENDPOINTS:-"register login refresh me verify logout logout_all sessions account mfa jwks discovery healthz readyz metrics"}

# int_between NAME LOW HIGH: die with one line unless $NAME is an integer
# in [LOW, HIGH] (at most 9 digits, so no test ever overflows).
int_between() {
	local v=${!1}
	if ! [[ $v =~ ^[0-9]{1,9}$ ]] || [ "$v" -lt "$2" ] || [ "$v" -gt "$3" ]; then
		die "$1 must be an integer between $2 and $3 (got '$v')"
	fi
}
int_between PORT 1 65535
# Seconds the front waits on a silent client (lighttpd.conf, nginx.conf).
int_between READ_TIMEOUT 1 300
[[ $HOST =~ ^[0-9A-Za-z.:-]+$ ]] || die "HOST must be an address (got '$HOST')"
case $FRONT in
lighttpd|nginx) ;;
*) die "FRONT must be lighttpd or nginx (got '$FRONT')" ;;
esac
front_bin=$(command -v "$FRONT" || command -v "/usr/sbin/$FRONT") ||
	die "$FRONT is not installed (scripts/deps.sh installs it)"
# nginx.conf holds RUN_DIR unquoted (render_nginx checks the full path).
nginx_dir_ok='^[A-Za-z0-9._/+@,=-]+$'
[ "$FRONT" != nginx ] || [[ $RUN_DIR =~ $nginx_dir_ok ]] ||
	die "FRONT=nginx: RUN_DIR must be a path of letters, digits and ._/+@,=- (got '$RUN_DIR')"

# Workers of endpoint EP: lib.sh children_plan; a value that is set is checked.
for ep in $ENDPOINTS; do
	[ -x "$BIN_DIR/$ep" ] || die "$BIN_DIR/$ep is missing: run make"
	var=$(children_var "$ep")
	[ -z "$var" ] || int_between "$var" 1 64
done
[ -z "${CORES:-}" ] || int_between CORES 1 4096
[ -z "${DB_MAX_CONNECTIONS:-}" ] || int_between DB_MAX_CONNECTIONS 1 100000
# On PostgreSQL every worker of a database endpoint holds a connection:
# defaults that cannot keep 2 workers each within DB_MAX_CONNECTIONS stop
# here; settings that exceed it are the operator's to size the server for.
children_plan "$ENDPOINTS" || die "a worker count setting is not a number"
if [ "$(db_engine "${DATABASE_URL:-}")" = postgresql ]; then
	conns=$CHILDREN_CONNS
	budget=${DB_MAX_CONNECTIONS:-$DB_MAX_CONNECTIONS_DEFAULT}
	if [ "$conns" -gt "$budget" ]; then
		for ep in $ENDPOINTS; do
			if is_db_endpoint "$ep" && [ -z "$(children_var "$ep")" ]; then
				die "DB_MAX_CONNECTIONS=$budget: the workers would hold $conns PostgreSQL connections even with 2 for each endpoint left to the defaults; raise DB_MAX_CONNECTIONS (and max_connections on the server) or set FCGI_CHILDREN_<ENDPOINT>"
			fi
		done
		echo "start: the FCGI_CHILDREN settings give $conns PostgreSQL connections, more than DB_MAX_CONNECTIONS=$budget; max_connections must allow them" >&2
	fi
fi
[ -x "$SUPERVISE" ] || die "$SUPERVISE is missing: run make"
# The mail outbox's delivery loop (sbin/mailer.c), beside the supervisor.
MAILER=${MAILER:-$(dirname "$SUPERVISE")/mailer}
[ -x "$MAILER" ] || die "$MAILER is missing: run make"

# RUN_DIR and the logs in it are this user's alone, also when an earlier
# version or another umask made them readable by others.
mkdir -p "$RUN_DIR/errors"
chmod 0700 "$RUN_DIR" || die "cannot make RUN_DIR $RUN_DIR private (mode 0700)"
RUN_DIR=$(cd "$RUN_DIR" && pwd)
export RUN_DIR HOST PORT READ_TIMEOUT
LOG_FILE=${LOG_FILE:-$RUN_DIR/auth.log}
# LOG_FILE=/dev/stderr: every process writes to this script's stderr as
# it is (under systemd, the journal: common/log.c tags each line with its
# priority there); nothing is opened, so there is nothing to reopen.
log_tab=$LOG_FILE
[ "$LOG_FILE" = /dev/stderr ] && log_tab=-
# The supervisor's own, set below when there is a file to reopen; never
# one left in the caller's environment.
unset AUTH_LOG_FILE
for f in "$RUN_DIR/auth.log" "$RUN_DIR"/{lighttpd,nginx}.{log,stderr} "$LOG_FILE"; do
	# Only our own regular files (LOG_FILE may be /dev/stderr).
	if [ -f "$f" ] && [ -O "$f" ]; then chmod 0600 "$f"; fi
done
# Where earlier versions kept the error files, inside the document root.
rm -f "$RUN_DIR"/www/status-[0-9][0-9][0-9].html
rmdir "$RUN_DIR/www" 2>/dev/null || :
# A stack runs here only if the recorded supervisor is still the process
# that was recorded (pid and kernel start time): after a crash or a reboot
# the pid files are stale, and their numbers may belong to anyone now.
if sup=$(pidfile_live "$RUN_DIR/supervise.pid" supervise); then
	die "already running (supervisor pid $sup); scripts/stop.sh first"
fi
rm -f "$RUN_DIR"/*.pid "$RUN_DIR"/*.sock "$RUN_DIR/supervise.tab"
# Something already answering on the port would pass the readiness check
# below in our front's place.
port_answers "$HOST" "$PORT" &&
	die "$HOST:$PORT is in use by another server"

# Development keys only at the default location; a key configured
# elsewhere and missing is an error the endpoints report below.
if [ "${JWT_PRIVATE_KEY_PATH:-./keys/jwt_private.pem}" = ./keys/jwt_private.pem ] &&
	[ "${JWT_PUBLIC_KEY_PATH:-./keys/jwt_public.pem}" = ./keys/jwt_public.pem ] &&
	[ ! -e ./keys/jwt_private.pem ]; then
	echo "start: no JWT keys in ./keys; generating DEVELOPMENT keys" >&2
	"$(auth_script gen-keys)" ./keys
fi
if [ "${REFRESH_TOKEN_SIGNING:-rs256}" = hs256 ] &&
	[ "${REFRESH_KEY_PATH:-./keys/refresh.key}" = ./keys/refresh.key ] &&
	[ ! -e ./keys/refresh.key ]; then
	echo "start: no refresh key in ./keys; generating a DEVELOPMENT refresh key" >&2
	"$(auth_script gen-keys)" --refresh ./keys
fi
if [ "${MFA_KEY_PATH:-./keys/mfa.key}" = ./keys/mfa.key ] &&
	[ ! -e ./keys/mfa.key ]; then
	echo "start: no MFA key in ./keys; generating a DEVELOPMENT MFA key" >&2
	"$(auth_script gen-keys)" --mfa ./keys
fi

"$(auth_script migrate)" up

# Every program checks its configuration, all at once (one after another
# they were most of a start). What they say comes out in their order, up
# to the first that refused: as if they had run one by one.
progs=()
for ep in $ENDPOINTS; do progs+=("$BIN_DIR/$ep"); done
progs+=("$MAILER")
said=$(mktemp -d "$RUN_DIR/check.XXXXXX")
pids=()
for i in "${!progs[@]}"; do
	"${progs[$i]}" --check-config 2>"$said/$i" &
	pids+=($!)
done
refused=""
for i in "${!pids[@]}"; do
	wait "${pids[$i]}" || refused=${refused:-$i}
done
for i in "${!progs[@]}"; do
	cat "$said/$i" >&2
	[ "$i" != "$refused" ] || break
done
rm -rf "$said"
[ -z "$refused" ] || exit 2

# The front's own error answers, as JSON like every other error; they are
# not under the document root (lighttpd.conf; nginx.conf serves them only
# as error pages), so never served as files.
for s in 400:bad\ request 403:forbidden 404:not\ found \
	405:method\ not\ allowed 408:request\ timeout 411:length\ required \
	413:request\ body\ too\ large 414:uri\ too\ long 417:expectation\ failed \
	431:request\ header\ fields\ too\ large 500:internal\ error \
	501:not\ implemented 502:bad\ gateway 503:service\ unavailable \
	504:gateway\ timeout 505:http\ version\ not\ supported; do
	printf '{"detail":"%s"}\n' "${s#*:}" > "$RUN_DIR/errors/status-${s%%:*}.html"
done

# render_nginx: nginx.conf (the template beside lighttpd.conf) into
# RUN_DIR/nginx.conf, with this stack's paths, address and timeout; nginx
# reads no environment. RUN_DIR goes into the file unquoted, so it may
# hold no character nginx reads as syntax (or as a variable).
render_nginx() {
	local listen=$HOST:$PORT user="" modules
	[[ $RUN_DIR =~ $nginx_dir_ok ]] ||
		die "FRONT=nginx: RUN_DIR must be a path of letters, digits and ._/+@,=- (got '$RUN_DIR')"
	[[ $HOST == *:* ]] && listen="[$HOST]:$PORT"
	# nginx runs as one process (nginx.conf); should its master_process
	# be turned on, a root master would run its workers as nobody, who
	# cannot reach the sockets (RUN_DIR is 0700): they run as this user.
	if [ "$(id -u)" -eq 0 ]; then
		user="user $(id -un) $(id -gn);"
		[[ $user =~ ^user\ [A-Za-z0-9_.-]+\ [A-Za-z0-9_.-]+\;$ ]] ||
			die "FRONT=nginx: the user or group name of uid 0 is not one nginx.conf can hold"
	fi
	modules=$("$front_bin" -V 2>&1 | sed -n 's/.*--modules-path=\([^ ]*\).*/\1/p')
	modules=${modules:-/usr/lib/nginx/modules}
	[[ $modules =~ ^/[A-Za-z0-9._/+-]+$ ]] || die "FRONT=nginx: nginx's modules path '$modules' is not a plain path"
	[ -e "$modules/ngx_http_headers_more_filter_module.so" ] ||
		die "FRONT=nginx needs $modules/ngx_http_headers_more_filter_module.so (libnginx-mod-http-headers-more-filter; scripts/deps.sh)"
	mkdir -p "$RUN_DIR/nginx"
	sed -e "s|@RUN_DIR@|$RUN_DIR|g" -e "s|@LISTEN@|$listen|g" \
		-e "s|@READ_TIMEOUT@|$READ_TIMEOUT|g" -e "s|@MODULES@|$modules|g" \
		-e "s|@USER@|$user|g" "$AUTH_SHARE/nginx.conf" > "$RUN_DIR/nginx.conf.new"
	mv -f "$RUN_DIR/nginx.conf.new" "$RUN_DIR/nginx.conf"
}

cleanup() {
	trap - INT TERM EXIT
	"$(auth_script stop)"
}

# What the supervisor runs (sbin/supervise.c): each endpoint's master on
# its socket, then the front. A line: name, socket, log, the signal that
# makes it reopen its log after a rotation, argv (tabs). The front opens
# and reopens its log itself, lighttpd.log on SIGHUP, nginx.log on
# SIGUSR1. lighttpd's stderr only ever gets what it says before that log
# is open (a bad setting, a port taken), in a file of its own that no
# rotation renames away from under it. nginx makes its stderr its log
# (again after each reopen): its stderr is nginx.log from the start, and
# reopen-logs.sh sees when it has reopened.
if [ "$FRONT" = nginx ]; then
	render_nginx
	front_line=$(printf 'front\t-\t%s\tUSR1\t%s\t-p\t%s\t-e\t%s\t-c\t%s' \
		"$RUN_DIR/nginx.log" "$front_bin" "$RUN_DIR/" \
		"$RUN_DIR/nginx.log" "$RUN_DIR/nginx.conf")
else
	front_line=$(printf 'front\t-\t%s\tHUP\t%s\t-D\t-f\t%s' \
		"$RUN_DIR/lighttpd.stderr" "$front_bin" "$AUTH_SHARE/lighttpd.conf")
fi
env_bin=$(command -v env)
{
	for ep in $ENDPOINTS; do
		printf '%s\t%s\t%s\tUSR1\t%s\t%s\t%s\n' "$ep" "$RUN_DIR/$ep.sock" \
			"$log_tab" "$env_bin" "FCGI_CHILDREN=${CHILDREN[$ep]}" \
			"$BIN_DIR/$ep"
	done
	# The mailer: no socket, its log like an endpoint's (reopen on USR1).
	printf 'mailer\t-\t%s\tUSR1\t%s\n' "$log_tab" "$MAILER"
	printf '%s
' "$front_line"
} > "$RUN_DIR/supervise.tab"

# Its own session: Ctrl-C in a terminal reaches this script, which stops
# the stack in order, not every process at once. AUTH_LOG_FILE is what
# it reopens on SIGUSR1 (scripts/reopen-logs.sh).
if [ "$log_tab" = - ]; then
	setsid "$SUPERVISE" "$RUN_DIR" </dev/null >/dev/null &
else
	AUTH_LOG_FILE=$LOG_FILE setsid "$SUPERVISE" "$RUN_DIR" </dev/null \
		>/dev/null 2>>"$LOG_FILE" &
fi
sup=$!

# Ready when /healthz answers: the front binds within milliseconds, a worker
# under a sanitizer on a busy machine can take seconds to its first answer.
# A front that dies at start (its port taken meanwhile, a bad setting)
# would only be restarted and die again: that stops the start here.
ready=0
front=""
for _ in $(seq 1 400); do
	if curl -fsS -o /dev/null "http://$HOST:$PORT/healthz" 2>/dev/null; then
		ready=1
		break
	fi
	pid_alive "$sup" ||
		die "the supervisor exited: $(tail -n 1 "$LOG_FILE" 2>/dev/null)"
	f=$(cat "$RUN_DIR/front.pid" 2>/dev/null || true)
	[ -z "$front" ] && front=$f
	if [ -n "$front" ] && { [ "$f" != "$front" ] || ! pid_alive "$front"; }; then
		cleanup
		# Its last word: in its log, or on stderr when it died before
		# opening its log; whichever file changed last.
		said=$RUN_DIR/$FRONT.log
		[ "$RUN_DIR/$FRONT.stderr" -nt "$said" ] && said=$RUN_DIR/$FRONT.stderr
		last=$(tail -n 1 "$said" 2>/dev/null)
		# nginx's reason is its last [emerg] line but its closing "still
		# could not bind()" (after notices of its retries).
		if [ "$FRONT" = nginx ]; then
			why=$(grep -E '\[(emerg|alert|crit)\]' "$said" 2>/dev/null |
				grep -v 'still could not bind()' | tail -n 1)
			[ -z "$why" ] || last=$why
		fi
		die "$FRONT exited: $last"
	fi
	sleep 0.05
done
if [ $ready -ne 1 ]; then
	cleanup
	die "no answer from /healthz on $HOST:$PORT in 20 s (see $RUN_DIR/$FRONT.log, $RUN_DIR/$FRONT.stderr and $LOG_FILE)"
fi
counts=""
for ep in $ENDPOINTS; do counts="$counts${counts:+, }$ep ${CHILDREN[$ep]}"; done
[ "$(db_engine "${DATABASE_URL:-}")" != postgresql ] || counts="$counts; $CHILDREN_CONNS PostgreSQL connections"
echo "auth-svc: serving http://$HOST:$PORT (workers: $counts; log $LOG_FILE)"

[ $background -eq 1 ] && exit 0
trap cleanup INT TERM EXIT
wait "$sup" || true
