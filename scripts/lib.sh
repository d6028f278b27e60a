# shellcheck shell=bash
# lib.sh: shell helpers the scripts share (sourced, not run).

# Load ./.env (KEY=VALUE lines) without overriding variables already set in
# the environment, so `PORT=9000 make run` beats the file.
env_load() {
	local file=${1:-.env} line key val
	[ -f "$file" ] || return 0
	while IFS= read -r line || [ -n "$line" ]; do
		line=${line%$'\r'}
		case $line in ''|'#'*) continue ;; esac
		key=${line%%=*}
		val=${line#*=}
		[[ $key =~ ^[A-Z_][A-Z0-9_]*$ ]] || continue
		# Trailing comments and surrounding quotes, as .env files have them.
		val=${val%%[[:space:]]#*}
		val=${val%"${val##*[![:space:]]}"}
		[[ $val =~ ^\"(.*)\"$ || $val =~ ^\'(.*)\'$ ]] && val=${BASH_REMATCH[1]}
		[ -n "${!key+x}" ] || export "$key=$val"
	done < "$file"
}

# The SQLite file path of DATABASE_URL (same rules as common/config.c).
db_path() {
	local url=${DATABASE_URL:-sqlite:///./auth.db} p
	for p in 'sqlite+aiosqlite:///' 'sqlite+pysqlite:///' 'sqlite:///'; do
		if [[ $url == "$p"* ]]; then
			echo "${url#"$p"}"
			return 0
		fi
	done
	if [[ $url == *://* ]]; then
		echo "DATABASE_URL must be sqlite:///<path>" >&2
		return 1
	fi
	echo "$url"
}

# port_answers HOST PORT: true when something accepts connections there.
port_answers() {
	(exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# free_port: print a TCP port on 127.0.0.1 nothing listens on, taken below
# the kernel's ephemeral range. A port inside it can be the local end of a
# client connection in TIME_WAIT (every curl leaves some): nothing answers
# there, yet a listener's bind() fails with EADDRINUSE.
free_port() {
	local low=32768 port
	read -r low _ < /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || :
	[ "$low" -gt 11024 ] || low=11024
	for _ in $(seq 1 100); do
		port=$((10000 + RANDOM % (low - 10000)))
		if ! port_answers 127.0.0.1 "$port"; then
			echo "$port"
			return 0
		fi
	done
	return 1
}

# pidfile_live FILE [COMM]: print the pid FILE records ("pid starttime")
# when that very process still runs: same pid, same kernel start time
# (field 22 of /proc/PID/stat) and, when given, the same command name. A
# pid alone is not an identity: the kernel reuses it, and a pid file
# outlives a crash or a reboot.
pidfile_live() {
	local pid start stat f
	[ -f "$1" ] || return 1
	read -r pid start < "$1" || return 1
	[[ $pid =~ ^[0-9]{1,9}$ && $start =~ ^[0-9]{1,20}$ ]] || return 1
	stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
	# The command name may hold spaces: fields after it follow the last ')'.
	read -r -a f <<<"${stat##*) }"
	[ "${f[19]:-}" = "$start" ] || return 1
	if [ -n "${2:-}" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" != "$2" ]; then
		return 1
	fi
	echo "$pid"
}

# descendants PID: PID and every process below it, one a line.
descendants() {
	local c kids=()
	echo "$1"
	read -r -a kids 2>/dev/null < "/proc/$1/task/$1/children" || :
	for c in "${kids[@]}"; do
		descendants "$c"
	done
}

# stack_pids RUN_DIR: every process of the stack running in RUN_DIR (its
# supervisor, the masters, their workers, the front), one a line.
stack_pids() {
	local sup
	sup=$(pidfile_live "$1/supervise.pid" supervise) || return 0
	descendants "$sup"
}

# Worker processes of an endpoint when neither FCGI_CHILDREN_<ENDPOINT> nor
# FCGI_CHILDREN is set, from this machine's cores (README, Performance,
# "Worker counts", has the measurements): refresh workers spend part of
# each request waiting on their master's group commit, so refresh takes
# REFRESH_WORKERS_PER_CORE per core; every other endpoint computes the
# whole request itself and takes one per core, at least 2. At most 64.
# NOTE: with a database server instead of SQLite, every worker holds a
# connection: the sum over endpoints must then fit the server's budget.
REFRESH_WORKERS_PER_CORE=6

# children_var EP: the variable that sets endpoint EP's worker count,
# FCGI_CHILDREN_<EP> (e.g. FCGI_CHILDREN_LOGIN) or FCGI_CHILDREN; nothing
# when neither is set.
children_var() {
	local v=FCGI_CHILDREN_${1^^}
	if [ -n "${!v:-}" ]; then
		echo "$v"
	elif [ -n "${FCGI_CHILDREN:-}" ]; then
		echo FCGI_CHILDREN
	fi
}

# children_of EP: endpoint EP's worker count, as set (children_var) or
# sized from the machine.
children_of() {
	local var cores n
	var=$(children_var "$1")
	if [ -n "$var" ]; then
		echo "${!var}"
		return
	fi
	cores=$(nproc 2>/dev/null || echo 1)
	n=$cores
	[ "$1" != refresh ] || n=$((cores * REFRESH_WORKERS_PER_CORE))
	[ "$n" -ge 2 ] || n=2
	[ "$n" -le 64 ] || n=64
	echo "$n"
}

die() {
	echo "$(basename "$0"): $*" >&2
	exit 1
}
