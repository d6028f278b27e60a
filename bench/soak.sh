#!/usr/bin/env bash
# bench/soak.sh [--duration S]: a long mixed load against the release build
# of the real stack (make soak; default 600 s): me, refresh, login and
# register at once. Reports, per process kind (supervisor, front, endpoint
# masters, workers), the processes, their memory (PSS, KiB) and their open
# descriptors at the start, the middle and the end, and every answer that
# was not 2xx. A leak shows as a column that only grows. Results also go
# to build/bench/soak.json. Everything it starts is stopped by pid at exit.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
duration=${DURATION:-600}
[ "${1:-}" = "--duration" ] && duration=$2
command -v wrk >/dev/null || {
	sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
	$sudo apt-get install -y -qq wrk >/dev/null
}
make -s all
out=build/bench
mkdir -p "$out"
work=$(mktemp -d)
export RUN_DIR=$work/run ENV_FILE=/dev/null BIN_DIR=$root/build/release/cgi-bin \
	DATABASE_URL="sqlite:///$work/auth.db" \
	JWT_PRIVATE_KEY_PATH=$work/keys/jwt_private.pem JWT_PUBLIC_KEY_PATH=$work/keys/jwt_public.pem \
	LOGIN_MAX_FAILURES=1000000 LOGIN_ADDR_MAX_FAILURES=1000000 REGISTER_ADDR_MAX=0
PORT=$(free_port)
export PORT
cleanup() { scripts/stop.sh; rm -rf "$work"; }
trap cleanup EXIT
scripts/gen-keys.sh "$work/keys" >/dev/null
( cd "$work" && "$root/scripts/start.sh" --background ) >/dev/null

: > "$work/tokens"
for i in $(seq 1 8); do
	e="soak$i@bench.test"
	r=$(curl -s -X POST "http://127.0.0.1:$PORT/auth/register" \
		-d "{\"email\":\"$e\",\"password\":\"bench-password-1\"}")
	echo "$e $(jq -r .refresh_token <<<"$r") $(jq -r .access_token <<<"$r")" >> "$work/tokens"
done

# sample LABEL: one JSON line per process kind.
sample() {
	local label=$1 sup front kind p masters=() workers=()
	sup=$(cut -d' ' -f1 "$RUN_DIR/supervise.pid")
	front=$(cat "$RUN_DIR/front.pid")
	for f in "$RUN_DIR"/*.pid; do
		case $f in */supervise.pid|*/front.pid) continue ;; esac
		p=$(cat "$f")
		masters+=("$p")
		read -r -a kids < "/proc/$p/task/$p/children" || :
		workers+=("${kids[@]}")
	done
	for kind in supervisor front masters workers; do
		case $kind in
		supervisor) set -- "$sup" ;;
		front) set -- "$front" ;;
		masters) set -- "${masters[@]}" ;;
		workers) set -- "${workers[@]}" ;;
		esac
		for p in "$@"; do
			echo "$(awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup") $(find "/proc/$p/fd" -mindepth 1 -maxdepth 1 | wc -l)"
		done | awk -v l="$label" -v k="$kind" '{ s += $1; f += $2; n++ }
			END { printf "{\"at\":\"%s\",\"kind\":\"%s\",\"processes\":%d,\"pss_kib\":%d,\"fds\":%d}\n", l, k, n, s, f }'
	done
}

echo "soak: ${duration}s of me, refresh, login and register at once on 127.0.0.1:$PORT"
sample start > "$work/samples"
pids=()
for s in me:4 refresh:4 login:2 register:2; do
	BENCH_SCENARIO=${s%%:*} BENCH_TOKENS=$work/tokens BENCH_OUT=$work/wrk.out \
	BENCH_TAG=$RANDOM wrk -t"${s##*:}" -c"${s##*:}" -d"${duration}s" --timeout 10s \
		-s bench/wrk.lua "http://127.0.0.1:$PORT" >/dev/null &
	pids+=($!)
done
sleep $((duration / 2))
sample middle >> "$work/samples"
wait "${pids[@]}"
sample end >> "$work/samples"

printf '%-11s %-7s %9s %9s %6s\n' kind at processes "PSS KiB" fds
jq -r '[.kind, .at, .processes, .pss_kib, .fds] | @tsv' "$work/samples" | sort -s -k1,1 |
	while IFS=$'\t' read -r k a n s f; do printf '%-11s %-7s %9s %9s %6s\n' "$k" "$a" "$n" "$s" "$f"; done
echo
jq -r '"\(.scenario): \(.requests) requests, \(.non2xx) not 2xx, \(.socket_errors) socket errors"' "$work/wrk.out"
jq -s --slurpfile w <(jq -s . "$work/wrk.out") '{samples: ., load: $w[0]}' "$work/samples" > "$out/soak.json"
