#!/usr/bin/env bash
# stop.sh: stop the stack start.sh started in RUN_DIR. Only the supervisor
# recorded in RUN_DIR/supervise.pid is signalled, and only while it is
# still that very process (pid and kernel start time): a stale pid file,
# left by a crash or a reboot, may name anybody's process now. The
# supervisor passes SIGTERM to every master and the front (masters let
# their workers finish their request) and waits for them; anything left
# after 15 s is killed with the supervisor (its children follow it
# through PR_SET_PDEATHSIG).
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
[ -d "$RUN_DIR" ] || exit 0

if sup=$(pidfile_live "$RUN_DIR/supervise.pid" supervise); then
	kill -TERM "$sup" 2>/dev/null
	for _ in $(seq 1 300); do
		pid_alive "$sup" || break
		sleep 0.05
	done
	if pid_alive "$sup"; then
		echo "stop: killing the supervisor (pid $sup) after 15 s" >&2
		kill -KILL "$sup" 2>/dev/null
	fi
elif [ -e "$RUN_DIR/supervise.pid" ]; then
	echo "stop: $RUN_DIR/supervise.pid is stale (that process is gone); nothing signalled" >&2
fi
rm -f "$RUN_DIR"/*.pid "$RUN_DIR"/*.sock
exit 0
