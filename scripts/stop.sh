#!/usr/bin/env bash
# stop.sh: stop what start.sh started in RUN_DIR, by recorded pid only:
# lighttpd and each endpoint's master get SIGTERM; a master passes it to
# its workers, which finish their current request, and waits for them.
# Anything still alive after a few seconds gets SIGKILL (workers follow
# their master through PR_SET_PDEATHSIG).
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"
env_load "${ENV_FILE:-.env}"
RUN_DIR=${RUN_DIR:-./run}
[ -d "$RUN_DIR" ] || exit 0

pids=()
for f in "$RUN_DIR/lighttpd.pid" "$RUN_DIR"/*.pid; do
	[ -f "$f" ] || continue
	while read -r pid || [ -n "$pid" ]; do
		[[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && pids+=("$pid")
	done < "$f"
done
[ ${#pids[@]} -eq 0 ] || kill -TERM "${pids[@]}" 2>/dev/null

for _ in $(seq 1 100); do
	alive=()
	for pid in "${pids[@]}"; do
		kill -0 "$pid" 2>/dev/null && alive+=("$pid")
	done
	[ ${#alive[@]} -eq 0 ] && break
	sleep 0.05
done
if [ ${#alive[@]} -gt 0 ]; then
	echo "stop: killing ${alive[*]} after 5 s" >&2
	kill -KILL "${alive[@]}" 2>/dev/null
fi
rm -f "$RUN_DIR"/*.pid "$RUN_DIR"/*.sock
exit 0
