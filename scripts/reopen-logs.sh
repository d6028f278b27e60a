#!/usr/bin/env bash
# reopen-logs.sh: after the logs were renamed (logrotate, by hand), make
# every process of the stack running in RUN_DIR write to new files of the
# same names. Only the supervisor recorded in RUN_DIR/supervise.pid is
# signalled, and only while it is still that very process (pid and kernel
# start time). It reopens its own log and passes the word on: SIGUSR1 to
# each endpoint master, which reopens and passes it to its workers (each
# reopens between two requests), SIGHUP to lighttpd, which reopens
# lighttpd.log.
#
# Then it waits, up to REOPEN_WAIT seconds (default 10), until every
# process that has a log file of its own (AUTH_LOG_FILE in its
# environment) has it open at its path again: once this returns 0 the
# renamed files take no more lines from the endpoints, and may be
# compressed or deleted. Exit 1 names the processes that had not reopened
# in time (a request still running); 2: no stack runs in RUN_DIR.
set -uo pipefail

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
RUN_DIR=${RUN_DIR:-./run}
wait_s=${REOPEN_WAIT:-10}
[[ $wait_s =~ ^[0-9]{1,4}$ ]] || die "REOPEN_WAIT must be a number of seconds (got '$wait_s')"

if ! sup=$(pidfile_live "$RUN_DIR/supervise.pid" supervise); then
	echo "reopen-logs: no stack is running in $RUN_DIR" >&2
	exit 2
fi
kill -USR1 "$sup" || exit 2

# behind PID: true while PID's stderr is not the file now at the path in
# its AUTH_LOG_FILE (the renamed one, or the path is not created yet).
# A process without that variable, or gone, is not behind.
behind() {
	local pid=$1 path have want
	path=$(tr '\0' '\n' < "/proc/$pid/environ" 2>/dev/null |
		sed -n 's/^AUTH_LOG_FILE=//p' | tail -n 1)
	[ -n "$path" ] || return 1
	# A relative path is relative to the process's working directory.
	[[ $path == /* ]] || path=/proc/$pid/cwd/$path
	have=$(stat -L -c %d:%i "/proc/$pid/fd/2" 2>/dev/null) || return 1
	want=$(stat -L -c %d:%i "$path" 2>/dev/null) || return 0
	[ "$have" != "$want" ]
}

late=""
for _ in $(seq 1 $((wait_s * 20))); do
	late=""
	for pid in $(stack_pids "$RUN_DIR"); do
		behind "$pid" && late="$late $pid"
	done
	[ -z "$late" ] && exit 0
	sleep 0.05
done
for pid in $late; do
	echo "reopen-logs: pid $pid ($(cat "/proc/$pid/comm" 2>/dev/null)) still writes to the renamed log after ${wait_s} s" >&2
done
exit 1
