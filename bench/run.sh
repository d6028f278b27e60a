#!/usr/bin/env bash
# bench/run.sh [--duration S] [--scale] [--pg] [--only LIST] [--sweep COUNTS]:
# measure the release build of the real stack (started by
# scripts/start.sh, as users run it) on a free port with a temporary
# database (SQLite; with --pg a database of its own on a throwaway
# PostgreSQL server started here, tests/pg.sh), against the ceilings of
# this same machine:
#   hello    a bare FastCGI responder behind the same lighttpd setup
#   rsa      openssl speed -multi $(nproc) rsa2048: refresh ceiling
#            1 / (2/sign + 1/verify)
#   hs256    the same RSA signing rate and openssl speed -hmac sha256 on
#            256-byte inputs: ceiling of refresh with
#            REFRESH_TOKEN_SIGNING=hs256, 1 / (1/sign + 2/hmac)
#   hash     the configured password hash with $(nproc) processes: the
#            login and register ceiling
# Refresh is measured four ways, each on a stack of its own: rs256 and
# hs256, each tuned (FCGI_CHILDREN_REFRESH as below) and at the defaults
# make run has (no worker setting: start.sh sizes them from the cores).
# --only healthz,me,verify,refresh,login,register runs just those scenarios (the
# memory figures need a full run). --sweep "4 8 12 16" measures refresh
# at each of those worker counts, rs256 and hs256 alternately: the
# measurement behind the defaults.
# Each ceiling is measured right before the scenario it bounds (this VM's
# speed drifts by 10-20% within minutes: a ceiling taken at another time
# would measure the drift); the table shows the ceiling runs too.
# Prints one table (scenario, req/s, p50, p99, non-2xx, ceiling, ratio),
# the stack's resident memory and its start-up time; writes the same as
# JSON to build/bench/results.json. --scale preloads 1,000,000 users and
# 3,000,000 sessions and refresh tokens, then repeats me and refresh.
# Settings: DURATION (10 s), CONNECTIONS (16), FCGI_CHILDREN (2),
# FCGI_CHILDREN_REFRESH (12, rs256 tuned), FCGI_CHILDREN_REFRESH_HS256 (24,
# hs256 tuned), BCRYPT_COST (12), BENCH_ROUNDS (1: how many times refresh
# and the sweep are measured, alternating; each one's best counts).
# Everything it starts is stopped by pid at exit.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
duration=${DURATION:-10}
scale=0 pg=0 only="" sweep=""
while [ $# -gt 0 ]; do
	case $1 in
	--duration) duration=$2; shift 2 ;;
	--scale) scale=1; shift ;;
	--pg) pg=1; shift ;;
	--only) only=$2; shift 2 ;;
	--sweep) sweep=$2; shift 2 ;;
	*) echo "usage: bench/run.sh [--duration S] [--scale] [--pg] [--only LIST] [--sweep COUNTS]" >&2; exit 2 ;;
	esac
done
[[ $sweep =~ ^[0-9\ ]*$ ]] || { echo "bench: --sweep takes worker counts" >&2; exit 2; }
# want SCENARIO: it is part of this run.
want() { [ -z "$only" ] || [[ ",$only," == *",$1,"* ]]; }
conns=${CONNECTIONS:-16}
export FCGI_CHILDREN=${FCGI_CHILDREN:-2}
export BCRYPT_COST=${BCRYPT_COST:-12}
# Refresh workers sign in parallel and wait on their master's group commit
# (common/batch.c), so it takes more of them than cores to keep both cores
# busy: measured 6/8/12/16 workers at about 2050/2130/2360/2390 req/s,
# p99 11.6/12.0/12.2/13.6 ms; 12 is where throughput stops growing.
export FCGI_CHILDREN_REFRESH=${FCGI_CHILDREN_REFRESH:-12}
# hs256 rotations spend half the CPU each and wait on the same commit, so
# more of them wait at once: --sweep on 2 cores rose up to 24 (larger
# batches, less CPU per rotation), where rs256 stays level from 12.
hs256_children=${FCGI_CHILDREN_REFRESH_HS256:-24}
rounds=${BENCH_ROUNDS:-1}
[[ $rounds =~ ^[1-9]$ ]] || { echo "bench: BENCH_ROUNDS must be 1 to 9" >&2; exit 2; }
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
: > "$work/results"; : > "$work/rsa"; : > "$work/hs256-ceilings"; : > "$work/hash"
stacks=()
# What the next stack() runs with besides the bench's settings: env(1)
# arguments (-u NAME, NAME=VALUE), and its refresh token signing.
extra_env=() signing=rs256
# The run directory of the stack serving each port.
declare -A run_of
cleanup() {
	for d in "${stacks[@]}"; do RUN_DIR=$d ENV_FILE=/dev/null scripts/stop.sh; done
	# Keep the logs of the run for a look at what the numbers hide.
	for d in "$work"/*/run; do
		[ -f "$d/auth.log" ] && cp "$d/auth.log" "$out/$(basename "$(dirname "$d")").log"
		[ -f "$d/lighttpd.log" ] && cp "$d/lighttpd.log" "$out/$(basename "$(dirname "$d")")-lighttpd.log"
	done
	[ "$pg" -eq 0 ] || pg_stop
	rm -rf "$work"
}
trap cleanup EXIT
engine=sqlite
if [ "$pg" -eq 1 ]; then
	engine=postgresql
	# shellcheck source=tests/pg.sh
	. tests/pg.sh
	pg_start "$work/pg" || exit 1
fi

# db_url NAME: the database of stack NAME (created on first use).
db_url() {
	if [ "$pg" -eq 0 ]; then
		echo "sqlite:///$work/$1/auth.db"
	elif [ -s "$work/$1/db_url" ]; then
		cat "$work/$1/db_url"
	else
		pg_newdb "bench_${1//-/_}" | tee "$work/$1/db_url"
	fi
}

# db_bytes NAME: the size of stack NAME's database.
db_bytes() {
	if [ "$pg" -eq 0 ]; then
		stat -c %s "$work/$1/auth.db"
	else
		db_sql "$1" "SELECT pg_database_size(current_database())"
	fi
}

# db_sql NAME SQL: run SQL on stack NAME's database (stdin when SQL is -).
db_sql() {
	if [ "$pg" -eq 0 ]; then
		if [ "$2" = - ]; then sqlite3 "$work/$1/auth.db"; else sqlite3 "$work/$1/auth.db" "$2"; fi
	elif [ "$2" = - ]; then
		psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$(db_url "$1")" >/dev/null
	else
		psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$(db_url "$1")" -c "$2"
	fi
}

# stack NAME [ENDPOINTS BIN_DIR]: start a stack in $work/NAME; sets $port.
stack() {
	local dir=$work/$1 db
	mkdir -p "$dir"
	db=$(db_url "$1") || exit 1
	port=$(free_port)
	scripts/gen-keys.sh "$dir/keys" >/dev/null
	[ "$signing" = rs256 ] || scripts/gen-keys.sh --refresh "$dir/keys" >/dev/null
	stacks+=("$dir/run")
	run_of[$port]=$dir/run
	( cd "$dir" && env "${extra_env[@]}" ENV_FILE=/dev/null RUN_DIR="$dir/run" PORT="$port" \
		REFRESH_TOKEN_SIGNING="$signing" REFRESH_KEY_PATH="$dir/keys/refresh.key" \
		DATABASE_URL="$db" \
		JWT_PRIVATE_KEY_PATH="$dir/keys/jwt_private.pem" \
		JWT_PUBLIC_KEY_PATH="$dir/keys/jwt_public.pem" \
		LOGIN_MAX_FAILURES=1000000 LOGIN_ADDR_MAX_FAILURES=1000000 \
		REGISTER_ADDR_MAX=0 SUPERVISE="$root/build/release/sbin/supervise" \
		${2:+ENDPOINTS="$2"} BIN_DIR="${3:-$root/build/release/cgi-bin}" \
		"$root/scripts/start.sh" --background ) >"$dir/start.out" 2>&1 || {
		cat "$dir/start.out" >&2; exit 1; }
}

# cpu_ticks RUN_DIR: clock ticks of CPU (user + system) every process of
# the stack in RUN_DIR used so far (the logs branch's measure): per
# request, it shows what a scenario costs whatever else shares the machine.
cpu_ticks() {
	local p st f
	for p in $(stack_pids "$1"); do
		st=$(cat "/proc/$p/stat" 2>/dev/null) || continue
		# After the command name: utime and stime are fields 14 and 15.
		read -r -a f <<<"${st##*) }"
		echo $((f[11] + f[12]))
	done | awk '{ t += $1 } END { print t + 0 }'
}
tck=$(getconf CLK_TCK)

stop_stack() {
	RUN_DIR=$work/$1/run ENV_FILE=/dev/null scripts/stop.sh
}

# users N: register N users; writes "email refresh access" lines to $work/tokens.
users() {
	: > "$work/tokens"
	for i in $(seq 1 "$1"); do
		local e="u$i-$RANDOM$RANDOM@bench.test" r
		r=$(curl -s -X POST "http://127.0.0.1:$port/auth/register" \
			-d "{\"email\":\"$e\",\"password\":\"bench-password-1\"}")
		echo "$e $(jq -r .refresh_token <<<"$r") $(jq -r .access_token <<<"$r")" >> "$work/tokens"
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
	# Still busy after 10 s (something else runs here): measure anyway.
	return 0
}

# load SCENARIO LABEL PORT CEILING KIND [WORKERS]: wrk for $duration
# seconds against the stack on PORT; appends the result, with the ceiling
# it is compared to (and the refresh worker count), to $work/results and
# sets $rps.
load() {
	local t0 t1
	settle
	t0=$(cpu_ticks "${run_of[$3]}")
	BENCH_SCENARIO=$1 BENCH_TOKENS=$work/tokens BENCH_OUT=$work/wrk.out \
	BENCH_TAG=$RANDOM$RANDOM wrk -t"$conns" -c"$conns" -d"${duration}s" --timeout 10s \
		-s bench/wrk.lua "http://127.0.0.1:$3" >/dev/null
	t1=$(cpu_ticks "${run_of[$3]}")
	tail -1 "$work/wrk.out" | jq -c --arg l "$2" --argjson c "$4" --arg k "$5" \
		--argjson w "${6:-0}" --argjson cpu "$(( (t1 - t0) * 1000000 / tck ))" \
		'. + {label: $l, rps: (.requests * 1e6 / .duration_us),
		      cpu_us_per_req: (if .requests > 0 then $cpu / .requests else 0 end)} |
		 . + {ceiling: (if $c > 0 then $c else .rps end), ceiling_kind: $k} |
		 if $w > 0 then . + {refresh_workers: $w} else . end' >> "$work/results"
	rps=$(tail -1 "$work/results" | jq .rps)
}

# log_bytes FILE SIZE_BEFORE: add to the last result the bytes of log its
# requests wrote, per request (LOG_REQUESTS decides how many lines).
log_bytes() {
	local now last
	now=$(stat -c %s "$1")
	last=$(tail -1 "$work/results")
	sed -i '$d' "$work/results"
	jq -c --argjson b "$((now - $2))" '. + {log_bytes_per_request: ($b / .requests)}' \
		<<<"$last" >> "$work/results"
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
# hs256: one RSA signature (the access token) and two HMACs (verify the
# refresh token, sign its successor) per rotation; the RSA verification
# is gone. openssl speed -mr sums the processes' bytes per second on its
# last +F line (3.0 labels that line hmac(md5) whatever the digest).
hs256_ceiling() {
	local sign hmac
	settle
	sign=$(openssl speed -seconds 3 -multi "$procs" -mr rsa2048 2>/dev/null |
		awk -F: '/^\+F2:/ { s = $4 } END { print s }')
	hmac=$(openssl speed -seconds 3 -multi "$procs" -mr -bytes 256 -hmac sha256 2>/dev/null |
		awk -F: '/^\+F:/ { b = $4 } END { print b / 256 }')
	ceiling=$(jq -n --argjson s "$sign" --argjson h "$hmac" '1 / (1 / $s + 2 / $h)')
	jq -cn --argjson s "$sign" --argjson h "$hmac" --argjson c "$ceiling" \
		'{sign_per_s: $s, hmac_per_s: $h, refresh_rps: $c}' >> "$work/hs256-ceilings"
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

# refresh_workers DIR: the worker count of the refresh master of the stack in DIR.
refresh_workers() {
	local pid
	read -r pid _ < "$1/refresh.pid"
	wc -w < "/proc/$pid/task/$pid/children"
}

# refresh_stack NAME MODE [WORKERS]: start stack NAME with
# REFRESH_TOKEN_SIGNING=MODE and WORKERS refresh workers (none: no worker
# setting at all, what make run has); its port goes to ports[NAME].
declare -A ports
refresh_stack() {
	signing=$2
	if [ -n "${3:-}" ]; then
		extra_env=(FCGI_CHILDREN_REFRESH="$3")
	else
		extra_env=(-u FCGI_CHILDREN -u FCGI_CHILDREN_REFRESH)
	fi
	stack "$1"
	ports[$1]=$port
	extra_env=() signing=rs256
}

# refresh_once NAME LABEL MODE: refresh on stack NAME (fresh users: the
# previous round's tokens were rotated) against MODE's ceiling measured
# right before.
refresh_once() {
	local kind=rsa
	port=${ports[$1]}
	users "$conns"
	if [ "$3" = hs256 ]; then
		kind=hs256
		hs256_ceiling
	else
		rsa_ceiling
	fi
	load refresh "$2" "$port" "$ceiling" "$kind" "$(refresh_workers "$work/$1/run")"
}

if [ -n "$sweep" ]; then
	echo "bench: refresh at FCGI_CHILDREN_REFRESH = $sweep, rs256 and hs256, ${duration}s each, best of $rounds, $conns connections, $procs cores"
	for r in $(seq 1 "$rounds"); do
		for n in $sweep; do
			for m in rs256 hs256; do
				refresh_stack "sweep-$m-$n-$r" "$m" "$n"
				refresh_once "sweep-$m-$n-$r" "refresh-$m-$n" "$m"
				stop_stack "sweep-$m-$n-$r"
			done
		done
	done
	jq -rs '
		"| refresh workers | rs256 req/s | p99 ms | CPU us/req | hs256 req/s | p99 ms | CPU us/req | hs256/rs256 |",
		"| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
		(group_by(.refresh_workers)[] | (map(select(.ceiling_kind == "rsa")) | max_by(.rps)) as $r |
		 (map(select(.ceiling_kind == "hs256")) | max_by(.rps)) as $h |
		 "| \($r.refresh_workers) | \($r.rps | floor) | \($r.p99_us / 10 | round / 100) | \($r.cpu_us_per_req | round) | \($h.rps | floor) | \($h.p99_us / 10 | round / 100) | \($h.cpu_us_per_req | round) | \($h.rps / $r.rps * 100 | round / 100)x |")' \
		"$work/results" | tee "$out/sweep.md"
	cp "$work/results" "$out/sweep.json"
	exit 0
fi

# The transport ceiling: a stack of its own, idle while others run.
if want healthz || want me || want verify; then
	stack hello healthz "$root/$out/hello-bin"
	hello_port=$port
fi

# Memory as the target states it, two processes per endpoint: a stack
# started that way and taken once through every write path, so that the
# pages a request touches are counted.
rss2_kb=0 pss2_kb=0 nprocs2=0
if [ -z "$only" ]; then
	extra_env=(FCGI_CHILDREN_REFRESH="$FCGI_CHILDREN")
	stack mem
	extra_env=()
	users 2
	read -r _ r _ < <(head -1 "$work/tokens")
	curl -s -o /dev/null -X POST "http://127.0.0.1:$port/auth/refresh" -d "{\"refresh_token\":\"$r\"}"
	read -r rss2_kb pss2_kb nprocs2 < <(rss "$work/mem/run")
	stop_stack mem
fi

echo "bench: ${duration}s per scenario, $conns connections, FCGI_CHILDREN=$FCGI_CHILDREN (refresh $FCGI_CHILDREN_REFRESH, hs256 $hs256_children; defaults: start.sh's), BCRYPT_COST=$BCRYPT_COST, $procs cores, database $engine"
t0=$(date +%s%N)
stack main
startup_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
read -r rss_kb pss_kb nprocs < <(rss "$work/main/run")
main_port=$port
users "$conns"
for s in healthz me verify; do
	want "$s" || continue
	hello_ceiling
	log0=$(stat -c %s "$work/main/run/auth.log")
	load "$s" "$s" "$main_port" "$ceiling" hello
	log_bytes "$work/main/run/auth.log" "$log0"
done
for s in login register; do
	want "$s" || continue
	hash_ceiling
	load "$s" "$s" "$main_port" "$ceiling" hash
done
db_small=$(db_bytes main)
stop_stack main

# me again on a stack without access lines (audit events only): what the
# per-request line costs.
if want me; then
	extra_env=(LOG_REQUESTS=off)
	stack quiet
	extra_env=()
	users "$conns"
	hello_ceiling
	log0=$(stat -c %s "$work/quiet/run/auth.log")
	load me me-log-off "$port" "$ceiling" hello
	log_bytes "$work/quiet/run/auth.log" "$log0"
	stop_stack quiet
fi

# Refresh four ways, each on a stack of its own, alternating, each right
# after its ceiling; BENCH_ROUNDS times (other work on the machine only
# ever lowers a rate: the table shows each one's best round).
if want refresh; then
	refresh_stack rs256-tuned rs256 "$FCGI_CHILDREN_REFRESH"
	refresh_stack hs256-tuned hs256 "$hs256_children"
	refresh_stack rs256-default rs256
	refresh_stack hs256-default hs256
	for r in $(seq 1 "$rounds"); do
		refresh_once rs256-tuned refresh rs256
		refresh_once hs256-tuned refresh-hs256 hs256
		refresh_once rs256-default refresh-default rs256
		refresh_once hs256-default refresh-hs256-default hs256
	done
	for n in rs256-tuned hs256-tuned rs256-default hs256-default; do stop_stack "$n"; done
fi

if [ $scale -eq 1 ]; then
	echo "bench: preloading 1,000,000 users and 3,000,000 sessions and refresh tokens"
	stack scale
	stop_stack scale
	if [ "$pg" -eq 0 ]; then
		db_sql scale - <<SQL
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
		db_sql scale "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
	else
		# The same rows; the hash is a bcrypt of cost 4 (never logged in).
		# Without row triggers and foreign-key checks (replica role: the
		# rows are consistent by construction): the gauge triggers would
		# update one counter row 7,000,000 times in one transaction, which
		# took over an hour. The counts go to the counters once instead.
		db_sql scale - <<SQL
BEGIN;
SET LOCAL session_replication_role = replica;
INSERT INTO users(id, email, password_hash, created_at)
SELECT lpad(to_hex(i), 8, '0') || '-0000-4000-8000-' || lpad(to_hex(i), 12, '0'),
       'p' || i || '@scale.test',
       '\$2b\$04\$fwjeoD9dR/g18./XgGOWAezjw0GV6k4VjdGl8GTk1lIh1ZC1jjQ.S', 1700000000
FROM generate_series(1, 1000000) AS i;
INSERT INTO sessions(id, user_id, created_at, last_used_at)
SELECT lpad(to_hex(i), 8, '0') || '-1111-4000-8000-' || lpad(to_hex(i), 12, '0'),
       lpad(to_hex((i + 2) / 3), 8, '0') || '-0000-4000-8000-' || lpad(to_hex((i + 2) / 3), 12, '0'),
       1700000000, 1700000000
FROM generate_series(1, 3000000) AS i;
INSERT INTO refresh_tokens(jti, user_id, session_id, issued_at, expires_at)
SELECT lpad(to_hex(i), 8, '0') || '-2222-4000-8000-' || lpad(to_hex(i), 12, '0'),
       lpad(to_hex((i + 2) / 3), 8, '0') || '-0000-4000-8000-' || lpad(to_hex((i + 2) / 3), 12, '0'),
       lpad(to_hex(i), 8, '0') || '-1111-4000-8000-' || lpad(to_hex(i), 12, '0'),
       1700000000, 4000000000
FROM generate_series(1, 3000000) AS i;
INSERT INTO counter_shards AS c(name, shard, value)
VALUES ('users', 0, 1000000), ('refresh_tokens_unrevoked', 0, 3000000)
ON CONFLICT (name, shard) DO UPDATE SET value = c.value + EXCLUDED.value;
COMMIT;
VACUUM ANALYZE;
SQL
	fi
	db_large=$(db_bytes scale)
	stack scale
	users "$conns"
	hello_ceiling
	load me me-scale "$port" "$ceiling" hello
	rsa_ceiling
	load refresh refresh-scale "$port" "$ceiling" rsa
	stop_stack scale
fi

# Every measurement as wrk reported it, whatever the summary below makes of it.
cp "$work/results" "$out/runs.jsonl"
jq -n --slurpfile r "$work/results" --slurpfile rsa "$work/rsa" --slurpfile hash "$work/hash" \
	--slurpfile hs "$work/hs256-ceilings" --argjson hs_children "$hs256_children" \
	--argjson startup "$startup_ms" --argjson rss "$rss_kb" --argjson pss "$pss_kb" \
	--argjson nprocs "$nprocs" --argjson children "$FCGI_CHILDREN" \
	--argjson rss2 "$rss2_kb" --argjson pss2 "$pss2_kb" --argjson nprocs2 "$nprocs2" \
	--argjson refresh_children "$FCGI_CHILDREN_REFRESH" \
	--argjson cost "$BCRYPT_COST" --argjson db_small "$db_small" \
	--argjson db_large "${db_large:-0}" --argjson conns "$conns" \
	--argjson duration "$duration" --arg engine "$engine" --arg cpu "$(lscpu | sed -n 's/^Model name: *//p')" '
	{machine: {cpu: $cpu, cores: ('"$procs"'), kernel: "'"$(uname -r)"'"},
	 settings: {duration_s: $duration, connections: $conns, database: $engine,
	            fcgi_children: $children, fcgi_children_refresh: $refresh_children,
	            fcgi_children_refresh_hs256: $hs_children, bcrypt_cost: $cost},
	 ceilings: {hello_rps: [$r[] | select(.label == "hello") | .rps],
	            rsa: $rsa, hs256: $hs, hash_per_s: $hash},
	 startup_ms: $startup, rss_kb: $rss, pss_kb: $pss, processes: $nprocs,
	 two_per_endpoint: {rss_kb: $rss2, pss_kb: $pss2, processes: $nprocs2},
	 db_bytes: {small: $db_small, scale: $db_large},
	 rounds: '"$rounds"',
	 scenarios: [$r[] | . + {ratio: (.rps / .ceiling)}]} |
	 .best = ([.scenarios[].label] as $ls |
	          [$ls | to_entries[] | .value as $v | select(.key == ($ls | index($v))) | $v] as $order |
	          [$order[] as $l | [.scenarios[] | select(.label == $l)] | max_by(.rps)]) |
	 ([.best[] | {key: .label, value: .rps}] | from_entries) as $by |
	 if $by.refresh and $by["refresh-hs256"] then
	   ([.best[] | {key: .label, value: .cpu_us_per_req}] | from_entries) as $cpu |
	   .refresh = {hs256_over_rs256: ($by["refresh-hs256"] / $by.refresh),
	               cpu_rs256_over_hs256: ($cpu.refresh / $cpu["refresh-hs256"]),
	               rs256_default_over_tuned: ($by["refresh-default"] / $by.refresh),
	               hs256_default_over_tuned: ($by["refresh-hs256-default"] / $by["refresh-hs256"])}
	 else . end' \
	> "$out/results.json"

jq -r '
	"| scenario | req/s | p50 ms | p99 ms | non-2xx | ceiling req/s | ratio | stack CPU us/req |",
	"| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
	((if .rounds > 1 then .best else .scenarios end)[] | "| \(.label)\(if .refresh_workers then " (\(.refresh_workers))" else "" end) | \(.rps | floor) | \(.p50_us / 1000 * 100 | round / 100) | \(.p99_us / 1000 * 100 | round / 100) | \(.non2xx + .socket_errors) | \(.ceiling | floor) | \(.ratio * 100 | round)% | \(.cpu_us_per_req | round) |"),
	"",
	"Ceilings, each measured right before its scenario: " + ([
		(if (.ceilings.hello_rps | length) > 0 then "hello-world \([.ceilings.hello_rps[] | floor] | join(", ")) req/s" else empty end),
		(if (.ceilings.rsa | length) > 0 then "RSA-2048 sign/verify \([.ceilings.rsa[] | "\(.sign_per_s | floor)/\(.verify_per_s | floor)"] | join(", ")) per s (refresh \([.ceilings.rsa[] | .refresh_rps | floor] | join(", ")) req/s)" else empty end),
		(if (.ceilings.hs256 | length) > 0 then "hs256: RSA-2048 sign/HMAC-SHA-256 \([.ceilings.hs256[] | "\(.sign_per_s | floor)/\(.hmac_per_s | floor)"] | join(", ")) per s (refresh \([.ceilings.hs256[] | .refresh_rps | floor] | join(", ")) req/s)" else empty end),
		(if (.ceilings.hash_per_s | length) > 0 then "password hash \([.ceilings.hash_per_s[] * 100 | round / 100] | join(", ")) per s at cost \(.settings.bcrypt_cost)" else empty end)
	] | join("; ")) + ".",
	(if .rounds > 1 then .scenarios as $all | "Best of \(.rounds) rounds, alternating; every round: " + ([.best[] | .label as $l | "\($l) \([$all[] | select(.label == $l) | .rps | floor] | join("/"))"] | join(", ")) + "." else empty end),
	(if .refresh then "Refresh: hs256 \(.refresh.hs256_over_rs256 * 100 | round / 100)x rs256 (tuned), at \(1 / .refresh.cpu_rs256_over_hs256 * 100 | round)% of its stack CPU per rotation; defaults reach \(.refresh.rs256_default_over_tuned * 100 | round)% (rs256) and \(.refresh.hs256_default_over_tuned * 100 | round)% (hs256) of tuned; refresh workers in parentheses." else empty end),
	"Stack as run: \(.processes) processes (FCGI_CHILDREN=\(.settings.fcgi_children), refresh \(.settings.fcgi_children_refresh)), RSS \(.rss_kb / 1024 | floor) MiB, PSS \(.pss_kb / 1024 * 10 | round / 10) MiB; start to first answer \(.startup_ms) ms.",
	(if .two_per_endpoint.processes > 0 then "Stack with 2 processes per endpoint: \(.two_per_endpoint.processes) processes, PSS \(.two_per_endpoint.pss_kb / 1024 * 10 | round / 10) MiB (sum of RSS \(.two_per_endpoint.rss_kb / 1024 | floor) MiB, shared pages counted once per process)." else empty end),
	(if .db_bytes.scale > 0 then "Scale: database \(.db_bytes.scale / 1048576 | floor) MiB (small run \(.db_bytes.small / 1024 | floor) KiB); me \(((.scenarios[] | select(.label == "me-scale") | .rps) / (.scenarios[] | select(.label == "me") | .rps)) * 100 | round)% and refresh \(((.scenarios[] | select(.label == "refresh-scale") | .rps) / (.scenarios[] | select(.label == "refresh") | .rps)) * 100 | round)% of the small-database rate." else empty end),
	([.scenarios[] | select(.label == "me" or .label == "me-log-off")] as $m |
	 if ($m | length) == 2 then "Access lines: me wrote \($m[0].log_bytes_per_request | round) bytes of log per request at \($m[0].rps | floor) req/s with LOG_REQUESTS=all, \($m[1].log_bytes_per_request | round) at \($m[1].rps | floor) req/s with off." else empty end),
	"Database: \(.settings.database). Machine: \(.machine.cpu), \(.machine.cores) cores, Linux \(.machine.kernel); wrk -t\(.settings.connections) -c\(.settings.connections) -d\(.settings.duration_s)s on the same machine."
	' "$out/results.json"
