#!/usr/bin/env bash
# bench/run.sh [--duration S] [--scale | --logs]: measure the release build
# of the real stack (started by scripts/start.sh, as users run it) on a free
# port with a temporary database, against the ceilings of this same machine:
#   hello    a bare FastCGI responder behind the same lighttpd setup
#   rsa      openssl speed -multi $(nproc) rsa2048: refresh ceiling
#            1 / (2/sign + 1/verify)
#   hash     the configured password hash with $(nproc) processes: the
#            login and register ceiling
# Each ceiling is measured right before the scenario it bounds (this VM's
# speed drifts by 10-20% within minutes: a ceiling taken at another time
# would measure the drift); the table shows the ceiling runs too.
# Prints one table (scenario, req/s, p50, p99, non-2xx, ceiling, ratio),
# the stack's resident memory and its start-up time; writes the same as
# JSON to build/bench/results.json. --scale preloads 1,000,000 users and
# 3,000,000 sessions and refresh tokens, then repeats me and refresh.
# Every scenario also gives the bytes of log it wrote and the CPU the
# stack's processes spent, per request; me runs a second time right
# after, on a second stack with LOG_REQUESTS=off (me-log-off), to show
# what the access lines cost. --logs runs only that comparison: the
# hello-world ceiling, then me and me-log-off in turn, four times.
# Settings: DURATION (10 s), CONNECTIONS (16), FCGI_CHILDREN (2),
# FCGI_CHILDREN_REFRESH (12), BCRYPT_COST (12). Everything it starts is stopped by pid at exit.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
duration=${DURATION:-10}
scale=0
logs_only=0
while [ $# -gt 0 ]; do
	case $1 in
	--duration) duration=$2; shift 2 ;;
	--scale) scale=1; shift ;;
	--logs) logs_only=1; shift ;;
	*) echo "usage: bench/run.sh [--duration S] [--scale | --logs]" >&2; exit 2 ;;
	esac
done
conns=${CONNECTIONS:-16}
export FCGI_CHILDREN=${FCGI_CHILDREN:-2}
export BCRYPT_COST=${BCRYPT_COST:-12}
# Refresh workers sign in parallel and wait on their master's group commit
# (common/batch.c), so it takes more of them than cores to keep both cores
# busy: measured 6/8/12/16 workers at about 2050/2130/2360/2390 req/s,
# p99 11.6/12.0/12.2/13.6 ms; 12 is where throughput stops growing.
export FCGI_CHILDREN_REFRESH=${FCGI_CHILDREN_REFRESH:-12}
procs=$(nproc)

command -v wrk >/dev/null || {
	sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
	$sudo apt-get install -y -qq wrk >/dev/null
}
make -s all bench-build
out=build/bench
mkdir -p "$out/hello-bin"
ln -sf ../hello "$out/hello-bin/healthz"

work=$(mktemp -d)
stacks=()
# Extra settings of the next stack started (stack_settings=(LOG_REQUESTS=off)).
stack_settings=()
# The tokens file users writes and the scenarios read.
tokens=$work/tokens
cleanup() {
	for d in "${stacks[@]}"; do RUN_DIR=$d ENV_FILE=/dev/null scripts/stop.sh; done
	# Keep the logs of the run for a look at what the numbers hide.
	for d in "$work"/*/run; do
		[ -f "$d/auth.log" ] && cp "$d/auth.log" "$out/$(basename "$(dirname "$d")").log"
		[ -f "$d/lighttpd.log" ] && cp "$d/lighttpd.log" "$out/$(basename "$(dirname "$d")")-lighttpd.log"
	done
	rm -rf "$work"
}
trap cleanup EXIT

# stack NAME [ENDPOINTS BIN_DIR]: start a stack in $work/NAME; sets $port.
stack() {
	local dir=$work/$1
	mkdir -p "$dir"
	port=$(free_port)
	scripts/gen-keys.sh "$dir/keys" >/dev/null
	stacks+=("$dir/run")
	echo "$port" > "$dir/port"
	( cd "$dir" && env ENV_FILE=/dev/null RUN_DIR="$dir/run" PORT="$port" \
		DATABASE_URL="sqlite:///$dir/auth.db" \
		JWT_PRIVATE_KEY_PATH="$dir/keys/jwt_private.pem" \
		JWT_PUBLIC_KEY_PATH="$dir/keys/jwt_public.pem" \
		LOGIN_MAX_FAILURES=1000000 LOGIN_ADDR_MAX_FAILURES=1000000 \
		REGISTER_ADDR_MAX=0 SUPERVISE="$root/build/release/sbin/supervise" \
		${2:+ENDPOINTS="$2"} BIN_DIR="${3:-$root/build/release/cgi-bin}" \
		"${stack_settings[@]}" \
		"$root/scripts/start.sh" --background ) >"$dir/start.out" 2>&1 || {
		cat "$dir/start.out" >&2; exit 1; }
}

stop_stack() {
	RUN_DIR=$work/$1/run ENV_FILE=/dev/null scripts/stop.sh
}

# users N: register N users; writes "email refresh access" lines to $tokens.
users() {
	: > "$tokens"
	for i in $(seq 1 "$1"); do
		local e="u$i-$RANDOM$RANDOM@bench.test" r
		r=$(curl -s -X POST "http://127.0.0.1:$port/auth/register" \
			-d "{\"email\":\"$e\",\"password\":\"bench-password-1\"}")
		echo "$e $(jq -r .refresh_token <<<"$r") $(jq -r .access_token <<<"$r")" >> "$tokens"
	done
}

# busy: jiffies the whole machine spent busy so far (user, nice, system,
# irq, softirq; /proc/stat counts 100 per second per core).
busy() {
	awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat
}

# settle: wait (at most 10 s) until the machine is under 10% busy. When wrk
# stops, requests it sent are still queued at the workers (a bcrypt login
# takes 0.2 s of CPU each), and would run into the next scenario.
settle() {
	local i a b
	for i in $(seq 1 50); do
		a=$(busy)
		sleep 0.2
		b=$(busy)
		[ $((b - a)) -le $((2 * procs)) ] && return
	done
	# Something else keeps the machine busy: measure all the same (under
	# set -e the failed test above would end the whole run).
	echo "bench: the machine did not go idle within 10 s" >&2
}

# run_of PORT: the run directory of the stack serving PORT.
run_of() {
	local d
	for d in "$work"/*/run; do
		[ "$(cat "$d/../port" 2>/dev/null)" = "$1" ] && echo "$d" && return
	done
}

# log_size PORT: bytes in the log of the stack serving PORT (0: none).
log_size() {
	stat -c %s "$(run_of "$1")/auth.log" 2>/dev/null || echo 0
}

# cpu_ticks PORT: clock ticks of CPU (user + system) every process of the
# stack serving PORT used so far. Less at the mercy of whatever else runs
# on the machine than the request rate is.
cpu_ticks() {
	local p s f
	for p in $(stack_pids "$(run_of "$1")"); do
		s=$(cat "/proc/$p/stat" 2>/dev/null) || continue
		# Fields after the command name: utime and stime are 14 and 15.
		read -r -a f <<<"${s##*) }"
		echo $((f[11] + f[12]))
	done | awk '{ t += $1 } END { print t + 0 }'
}
tck=$(getconf CLK_TCK)

# load SCENARIO LABEL PORT CEILING KIND: wrk for $duration seconds against
# the stack on PORT; appends the result, with the ceiling it is compared
# to, the bytes of log the stack wrote and the CPU it spent per request,
# to $work/results and sets $rps.
load() {
	local log0 log1 cpu0 cpu1
	settle
	log0=$(log_size "$3")
	cpu0=$(cpu_ticks "$3")
	BENCH_SCENARIO=$1 BENCH_TOKENS=$tokens BENCH_OUT=$work/wrk.out \
	BENCH_TAG=$RANDOM$RANDOM wrk -t"$conns" -c"$conns" -d"${duration}s" --timeout 10s \
		-s bench/wrk.lua "http://127.0.0.1:$3" >/dev/null
	# Requests answered last log right after their answer.
	sleep 0.2
	log1=$(log_size "$3")
	cpu1=$(cpu_ticks "$3")
	tail -1 "$work/wrk.out" | jq -c --arg l "$2" --argjson c "$4" --arg k "$5" \
		--argjson logb $((log1 - log0)) --argjson cpu $((cpu1 - cpu0)) --argjson tck "$tck" \
		'. + {label: $l, rps: (.requests * 1e6 / .duration_us),
		      log_bytes_per_request: ($logb / ([.requests, 1] | max)),
		      stack_cpu_us_per_request: ($cpu * 1e6 / $tck / ([.requests, 1] | max))} |
		 . + {ceiling: (if $c > 0 then $c else .rps end), ceiling_kind: $k}' >> "$work/results"
	rps=$(tail -1 "$work/results" | jq .rps)
}

# The ceilings, each measured now; they set $ceiling.
hello_ceiling() {
	load healthz hello "$hello_port" 0 hello
	ceiling=$rps
}
rsa_ceiling() {
	local sign verify
	settle
	read -r sign verify < <(openssl speed -seconds 3 -multi "$procs" rsa2048 2>/dev/null |
		awk '/^rsa 2048 bits/ { print $(NF-1), $NF }')
	ceiling=$(jq -n --argjson s "$sign" --argjson v "$verify" '1 / (2 / $s + 1 / $v)')
	jq -cn --argjson s "$sign" --argjson v "$verify" --argjson c "$ceiling" \
		'{sign_per_s: $s, verify_per_s: $v, refresh_rps: $c}' >> "$work/rsa"
}
hash_ceiling() {
	settle
	ceiling=$("$out/hashrate" "$BCRYPT_COST" "$procs" 3 "${PASSWORD_HASH:-bcrypt}")
	echo "$ceiling" >> "$work/hash"
}

# rss DIR: resident kB and PSS of every process of the stack in DIR
# (supervisor, lighttpd, masters, workers), and how many there are.
rss() {
	local p
	stack_pids "$1" | while read -r p; do
		awk '/^Rss:/ { r = $2 } /^Pss:/ { s = $2 } END { print r, s }' "/proc/$p/smaps_rollup"
	done | awk '{ r += $1; s += $2; n++ } END { printf "%d %d %d\n", r, s, n }'
}

# The table of scenarios, from results.json (both runs print it).
table='
	"| scenario | req/s | p50 ms | p99 ms | non-2xx | ceiling req/s | ratio | log B/req | stack CPU us/req |",
	"| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
	(.scenarios[] | "| \(.label) | \(.rps | floor) | \(.p50_us / 1000 * 100 | round / 100) | \(.p99_us / 1000 * 100 | round / 100) | \(.non2xx + .socket_errors) | \(.ceiling | floor) | \(.ratio * 100 | round)% | \(.log_bytes_per_request | round) | \(.stack_cpu_us_per_request * 10 | round / 10) |")'
# What the access lines cost: me with them, me without.
# shellcheck disable=SC2016 # $on and $off are jq's, not the shell's
logs_line='
	[.scenarios[] | select(.label == "me")] as $on |
	[.scenarios[] | select(.label == "me-log-off")] as $off |
	def mean(f): map(f) | add / length;
	"Logging: me with LOG_REQUESTS=all \($on | mean(.rps) | floor) req/s, \($on | mean(.log_bytes_per_request) | round) bytes of log and \($on | mean(.stack_cpu_us_per_request) * 10 | round / 10) us of stack CPU per request; with off \($off | mean(.rps) | floor) req/s, \($off | mean(.log_bytes_per_request) | round) bytes, \($off | mean(.stack_cpu_us_per_request) * 10 | round / 10) us (req/s \((($off | mean(.rps)) / ($on | mean(.rps)) - 1) * 1000 | round / 10)%, CPU per request \((($off | mean(.stack_cpu_us_per_request)) / ($on | mean(.stack_cpu_us_per_request)) - 1) * 1000 | round / 10)%)."'

# The transport ceiling: a stack of its own, idle while others run.
stack hello healthz "$root/$out/hello-bin"
hello_port=$port

# quiet_stack: a second stack like main but with LOG_REQUESTS=off, and
# users of its own in $work/tokens-quiet; sets $quiet_port.
quiet_stack() {
	stack_settings=(LOG_REQUESTS=off)
	stack quiet
	stack_settings=()
	quiet_port=$port
	tokens=$work/tokens-quiet
	users "$conns"
	tokens=$work/tokens
}

# me_without_logs: me on the quiet stack, against the same ceiling.
me_without_logs() {
	tokens=$work/tokens-quiet
	load me me-log-off "$quiet_port" "$ceiling" hello
	tokens=$work/tokens
}

if [ $logs_only -eq 1 ]; then
	echo "bench: me with and without access lines, ${duration}s per run, $conns connections, FCGI_CHILDREN=$FCGI_CHILDREN, $procs cores"
	stack main
	main_port=$port
	users "$conns"
	quiet_stack
	# Alternating which goes first, so that neither always runs on a
	# machine the other just warmed (or heated).
	for round in 1 2 3 4; do
		hello_ceiling
		if [ $((round % 2)) = 1 ]; then
			load me me "$main_port" "$ceiling" hello
			me_without_logs
		else
			me_without_logs
			load me me "$main_port" "$ceiling" hello
		fi
	done
	stop_stack main
	stop_stack quiet
	jq -s '{scenarios: [.[] | . + {ratio: (.rps / .ceiling)}]}' "$work/results" > "$out/results.json"
	jq -r "$table, \"\", $logs_line" "$out/results.json"
	exit 0
fi

# Memory as the target states it, two processes per endpoint: a stack
# started that way and taken once through every write path, so that the
# pages a request touches are counted.
refresh_children=$FCGI_CHILDREN_REFRESH
FCGI_CHILDREN_REFRESH=$FCGI_CHILDREN
stack mem
FCGI_CHILDREN_REFRESH=$refresh_children
users 2
read -r _ r _ < <(head -1 "$work/tokens")
curl -s -o /dev/null -X POST "http://127.0.0.1:$port/auth/refresh" -d "{\"refresh_token\":\"$r\"}"
read -r rss2_kb pss2_kb nprocs2 < <(rss "$work/mem/run")
stop_stack mem

echo "bench: ${duration}s per scenario, $conns connections, FCGI_CHILDREN=$FCGI_CHILDREN (refresh $FCGI_CHILDREN_REFRESH), BCRYPT_COST=$BCRYPT_COST, $procs cores"
t0=$(date +%s%N)
stack main
startup_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
read -r rss_kb pss_kb nprocs < <(rss "$work/main/run")
main_port=$port
users "$conns"
quiet_stack
for s in healthz me; do
	hello_ceiling
	load "$s" "$s" "$main_port" "$ceiling" hello
done
me_without_logs
stop_stack quiet
rsa_ceiling
load refresh refresh "$main_port" "$ceiling" rsa
for s in login register; do
	hash_ceiling
	load "$s" "$s" "$main_port" "$ceiling" hash
done
db_small=$(stat -c %s "$work/main/auth.db")
stop_stack main

if [ $scale -eq 1 ]; then
	echo "bench: preloading 1,000,000 users and 3,000,000 sessions and refresh tokens"
	stack scale
	stop_stack scale
	sqlite3 "$work/scale/auth.db" <<SQL
PRAGMA foreign_keys=OFF;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000)
INSERT INTO users(id, email, password_hash, created_at)
SELECT printf('%08x-0000-4000-8000-%012x', i, i), 'p' || i || '@scale.test',
       '\$2b\$04\$fwjeoD9dR/g18./XgGOWAezjw0GV6k4VjdGl8GTk1lIh1ZC1jjQ.S', 1700000000 FROM n;
COMMIT;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000000)
INSERT INTO sessions(id, user_id, created_at, last_used_at)
SELECT printf('%08x-1111-4000-8000-%012x', i, i),
       printf('%08x-0000-4000-8000-%012x', (i + 2) / 3, (i + 2) / 3),
       1700000000, 1700000000 FROM n;
COMMIT;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000000)
INSERT INTO refresh_tokens(jti, user_id, session_id, issued_at, expires_at)
SELECT printf('%08x-2222-4000-8000-%012x', i, i),
       printf('%08x-0000-4000-8000-%012x', (i + 2) / 3, (i + 2) / 3),
       printf('%08x-1111-4000-8000-%012x', i, i), 1700000000, 4000000000 FROM n;
COMMIT;
SQL
	sqlite3 "$work/scale/auth.db" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
	db_large=$(stat -c %s "$work/scale/auth.db")
	stack scale
	users "$conns"
	hello_ceiling
	load me me-scale "$port" "$ceiling" hello
	rsa_ceiling
	load refresh refresh-scale "$port" "$ceiling" rsa
	stop_stack scale
fi

jq -n --slurpfile r "$work/results" --slurpfile rsa "$work/rsa" --slurpfile hash "$work/hash" \
	--argjson startup "$startup_ms" --argjson rss "$rss_kb" --argjson pss "$pss_kb" \
	--argjson nprocs "$nprocs" --argjson children "$FCGI_CHILDREN" \
	--argjson rss2 "$rss2_kb" --argjson pss2 "$pss2_kb" --argjson nprocs2 "$nprocs2" \
	--argjson refresh_children "$FCGI_CHILDREN_REFRESH" \
	--argjson cost "$BCRYPT_COST" --argjson db_small "$db_small" \
	--argjson db_large "${db_large:-0}" --argjson conns "$conns" \
	--argjson duration "$duration" --arg cpu "$(lscpu | sed -n 's/^Model name: *//p')" '
	{machine: {cpu: $cpu, cores: ('"$procs"'), kernel: "'"$(uname -r)"'"},
	 settings: {duration_s: $duration, connections: $conns,
	            fcgi_children: $children, fcgi_children_refresh: $refresh_children,
	            bcrypt_cost: $cost},
	 ceilings: {hello_rps: [$r[] | select(.label == "hello") | .rps],
	            rsa: $rsa, hash_per_s: $hash},
	 startup_ms: $startup, rss_kb: $rss, pss_kb: $pss, processes: $nprocs,
	 two_per_endpoint: {rss_kb: $rss2, pss_kb: $pss2, processes: $nprocs2},
	 db_bytes: {small: $db_small, scale: $db_large},
	 scenarios: [$r[] | . + {ratio: (.rps / .ceiling)}]}' \
	> "$out/results.json"

jq -r "$table, \"\", $logs_line,"'
	"Ceilings, each measured right before its scenario: hello-world \([.ceilings.hello_rps[] | floor] | join(", ")) req/s; RSA-2048 sign/verify \([.ceilings.rsa[] | "\(.sign_per_s | floor)/\(.verify_per_s | floor)"] | join(", ")) per s (refresh \([.ceilings.rsa[] | .refresh_rps | floor] | join(", ")) req/s); password hash \([.ceilings.hash_per_s[] * 100 | round / 100] | join(", ")) per s at cost \(.settings.bcrypt_cost).",
	"Stack as run: \(.processes) processes (FCGI_CHILDREN=\(.settings.fcgi_children), refresh \(.settings.fcgi_children_refresh)), RSS \(.rss_kb / 1024 | floor) MiB, PSS \(.pss_kb / 1024 * 10 | round / 10) MiB; start to first answer \(.startup_ms) ms.",
	"Stack with 2 processes per endpoint: \(.two_per_endpoint.processes) processes, PSS \(.two_per_endpoint.pss_kb / 1024 * 10 | round / 10) MiB (sum of RSS \(.two_per_endpoint.rss_kb / 1024 | floor) MiB, shared pages counted once per process).",
	(if .db_bytes.scale > 0 then "Scale: database \(.db_bytes.scale / 1048576 | floor) MiB (small run \(.db_bytes.small / 1024 | floor) KiB); me \(((.scenarios[] | select(.label == "me-scale") | .rps) / (.scenarios[] | select(.label == "me") | .rps)) * 100 | round)% and refresh \(((.scenarios[] | select(.label == "refresh-scale") | .rps) / (.scenarios[] | select(.label == "refresh") | .rps)) * 100 | round)% of the small-database rate." else empty end),
	"Machine: \(.machine.cpu), \(.machine.cores) cores, Linux \(.machine.kernel); wrk -t\(.settings.connections) -c\(.settings.connections) -d\(.settings.duration_s)s on the same machine."
	' "$out/results.json"
