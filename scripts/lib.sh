# shellcheck shell=bash
# lib.sh: shell helpers the scripts share (sourced, not run).

# Where the rest of the service is, from where this file is: the same
# scripts run from the source tree and from an install (make install).
#   source tree: scripts/lib.sh beside scripts/<name>.sh; programs in
#     build/release/{cgi-bin,sbin}; schema/ and lighttpd.conf at the top.
#   installed:   PREFIX/libexec/auth-svc/lib.sh beside the programs;
#     scripts PREFIX/sbin/auth-svc-<name>; schema/, lighttpd.conf and
#     the examples in PREFIX/share/auth-svc/.
# AUTH_SHARE: the directory holding schema/ and lighttpd.conf.
# AUTH_BIN_DIR: the endpoint programs (BIN_DIR's default).
# auth_script NAME: the path of script NAME (migrate, gen-keys, stop...).
# shellcheck disable=SC2034 # AUTH_SHARE, AUTH_BIN_DIR are for the scripts sourcing this
AUTH_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ -f "$AUTH_LIB_DIR/start.sh" ]; then
	AUTH_SHARE=$(dirname "$AUTH_LIB_DIR")
	AUTH_BIN_DIR=$AUTH_SHARE/build/release/cgi-bin
	auth_script() { echo "$AUTH_LIB_DIR/$1.sh"; }
else
	AUTH_PREFIX=$(cd "$AUTH_LIB_DIR/../.." && pwd)
	AUTH_SHARE=$AUTH_PREFIX/share/auth-svc
	AUTH_BIN_DIR=$AUTH_LIB_DIR
	auth_script() { echo "$AUTH_PREFIX/sbin/auth-svc-$1"; }
fi

# supervise_of BIN_DIR: the supervisor that goes with the programs in
# BIN_DIR: beside them when installed, in ../sbin in a build tree.
supervise_of() {
	if [ -x "$1/supervise" ]; then
		echo "$1/supervise"
	else
		echo "$1/../sbin/supervise"
	fi
}

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
		echo "DATABASE_URL must be sqlite:///<path>, postgresql://... or a libpq keyword string" >&2
		return 1
	fi
	echo "$url"
}

# db_engine [URL]: "postgresql" or "sqlite", the engine DATABASE_URL (or
# URL) names, by the rules of config_db_target (common/config.c):
# postgresql:// postgres:// postgresql+driver:// postgres+driver:// (the
# +driver is dropped) and libpq keyword strings ("host=... dbname=...")
# are PostgreSQL; anything else is SQLite (db_path checks it further).
db_engine() {
	local url=${1-${DATABASE_URL:-sqlite:///./auth.db}}
	if [[ $url =~ ^(postgresql|postgres)(\+[a-z0-9]*)?:// ||
		$url =~ ^\ *[a-z_]+\ *= ]]; then
		echo postgresql
	else
		echo sqlite
	fi
}

# pg_url_decode TEXT: TEXT with its %XX escapes decoded; 1 on a bad escape.
pg_url_decode() {
	local s=$1
	[[ $s =~ %([^0-9A-Fa-f]|.[^0-9A-Fa-f]|.?$) ]] && return 1
	s=${s//\\/\\\\}
	printf '%b' "${s//%/\\x}"
}

# pg_env [URL]: prepare psql's connection to the PostgreSQL database of
# DATABASE_URL (or URL). Sets PG_CONNINFO to its libpq connection string
# without the password and exports the password as PGPASSWORD, so that it
# shows neither in any process's arguments nor in libpq's messages (which
# quote a URI they cannot parse). Sets PG_SECRETS to the password as
# written and as decoded, for pg_redact. Returns 1, with one line that
# never holds the password, when the URL is not PostgreSQL's or is malformed.
# shellcheck disable=SC2034 # PG_CONNINFO is for the scripts sourcing this
pg_env() {
	local url=${1-${DATABASE_URL:-}} rest head tail user pw="" q out="" k v sep=""
	PG_CONNINFO=""
	PG_SECRETS=()
	if [[ $url =~ ^(postgresql|postgres)(\+[a-z0-9]*)?://(.*)$ ]]; then
		rest=${BASH_REMATCH[3]}
		# libpq: user[:password]@ ends at the first '@' before any '/'.
		head=${rest%%/*}
		if [[ $head == *@* ]]; then
			head=${rest%%@*}
			tail=${rest#*@}
			user=$head
			if [[ $head == *:* ]]; then
				user=${head%%:*}
				pw=${head#*:}
			fi
			[ -n "$user" ] && tail="$user@$tail"
			rest=$tail
		fi
		# A password=... URI parameter.
		if [[ $rest == *\?* ]]; then
			q=${rest#*\?}
			rest=${rest%%\?*}
			local IFS='&'
			for k in $q; do
				if [[ $k == password=* ]]; then
					pw=${k#password=}
				else
					out+="$sep$k"
					sep='&'
				fi
			done
			unset IFS
			[ -n "$out" ] && rest+="?$out"
		fi
		PG_CONNINFO="postgresql://$rest"
		if [ -n "$pw" ]; then
			PG_SECRETS+=("$pw")
			if ! v=$(pg_url_decode "$pw"); then
				echo "$(basename "$0"): DATABASE_URL: malformed %-escape in the password" >&2
				return 1
			fi
			PG_SECRETS+=("$v")
			export PGPASSWORD=$v
		fi
	elif [[ $url =~ ^\ *[a-z_]+\ *= ]]; then
		pg_keywords_env "$url" || return 1
	else
		echo "$(basename "$0"): DATABASE_URL must be postgresql://... or a libpq keyword string" >&2
		return 1
	fi
	# An unreachable host fails in seconds, not after the TCP timeout.
	export PGCONNECT_TIMEOUT=${PGCONNECT_TIMEOUT:-10}
	export PGAPPNAME=${PGAPPNAME:-auth-svc-scripts}
}

# pg_keywords_env STRING: pg_env for a libpq keyword string (key = value
# pairs, values bare or in single quotes, backslash escaping a character).
# shellcheck disable=SC2034 # PG_CONNINFO is for the scripts sourcing this
pg_keywords_env() {
	local s=$1 i=0 n=${#1} k v c raw quoted out=""
	while :; do
		while ((i < n)) && [[ ${s:i:1} == [[:space:]] ]]; do ((i++)); done
		((i < n)) || break
		k=""
		while ((i < n)) && [[ ${s:i:1} == [a-z_] ]]; do k+=${s:i:1}; ((i++)); done
		while ((i < n)) && [[ ${s:i:1} == [[:space:]] ]]; do ((i++)); done
		if [ -z "$k" ] || [ "${s:i:1}" != = ]; then
			echo "$(basename "$0"): DATABASE_URL: malformed libpq keyword string" >&2
			return 1
		fi
		((i++))
		while ((i < n)) && [[ ${s:i:1} == [[:space:]] ]]; do ((i++)); done
		v=""
		raw=""
		quoted=0
		if [ "${s:i:1}" = "'" ]; then
			quoted=1
			raw="'"
			((i++))
		fi
		while ((i < n)); do
			c=${s:i:1}
			if [ "$c" = "\\" ] && ((i + 1 < n)); then
				raw+="$c${s:i+1:1}"
				v+=${s:i+1:1}
				((i += 2))
				continue
			fi
			((quoted)) || [[ $c != [[:space:]] ]] || break
			raw+=$c
			((i++))
			if ((quoted)) && [ "$c" = "'" ]; then
				quoted=2
				break
			fi
			v+=$c
		done
		if ((quoted == 1)); then
			echo "$(basename "$0"): DATABASE_URL: unterminated quote in the libpq keyword string" >&2
			return 1
		fi
		if [ "$k" = password ]; then
			PG_SECRETS+=("$raw" "$v")
			export PGPASSWORD=$v
		else
			out+="${out:+ }$k=$raw"
		fi
	done
	PG_CONNINFO=$out
}

# pg_redact TEXT: TEXT with every form of the password pg_env saw replaced.
pg_redact() {
	local t=$1 s
	for s in "${PG_SECRETS[@]}"; do
		[ -n "$s" ] && t=${t//"$s"/'***'}
	done
	printf '%s\n' "$t"
}

# pg_error FILE: one line out of psql's error output in FILE: its first
# line without psql's prefixes, the password redacted.
pg_error() {
	local line
	line=$(grep -v '^[[:space:]]*$' "$1" | head -n 1)
	line=${line#psql: }
	line=${line#error: }
	line=${line#psql:*:[0-9]*: }
	pg_redact "${line:-no message from psql}"
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
	local pid start stat f comm
	[ -f "$1" ] || return 1
	read -r pid start < "$1" || return 1
	[[ $pid =~ ^[0-9]{1,9}$ && $start =~ ^[0-9]{1,20}$ ]] || return 1
	read -r stat 2>/dev/null < "/proc/$pid/stat" || return 1
	# The command name may hold spaces: fields after it follow the last ')'.
	read -r -a f <<<"${stat##*) }"
	[ "${f[19]:-}" = "$start" ] || return 1
	if [ -n "${2:-}" ]; then
		read -r comm 2>/dev/null < "/proc/$pid/comm" || return 1
		[ "$comm" = "$2" ] || return 1
	fi
	echo "$pid"
}

# pid_alive PID: 0 while PID runs. A process that has exited is gone even
# before its parent reaps it: kill -0 succeeds on such a zombie, and an
# init that reaps lazily (a container's, a microVM's) would make a wait
# for the supervisor's exit last a second or more longer than the exit.
# Builtins only: these checks run in loops.
pid_alive() {
	local stat
	[[ $1 =~ ^[0-9]{1,9}$ ]] || return 1
	read -r stat 2>/dev/null < "/proc/$1/stat" || return 1
	stat=${stat##*) }
	[[ $stat != [ZX]* ]]
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
# FCGI_CHILDREN is set, from this machine's cores (docs/performance.md,
# "What we tried", has the measurements): refresh workers spend part of
# each request waiting on a commit (their master's group commit on
# SQLite, their own on PostgreSQL), so refresh takes
# REFRESH_WORKERS_PER_CORE per core; every other endpoint computes the
# whole request itself and takes one per core, at least 2. At most 64.
# On PostgreSQL every worker of a database endpoint holds a connection,
# and DB_MAX_CONNECTIONS bounds what the defaults may take (children_plan).
REFRESH_WORKERS_PER_CORE=12
# Connections a node's workers hold on PostgreSQL when DB_MAX_CONNECTIONS
# is unset: three nodes within the server's default max_connections (100).
DB_MAX_CONNECTIONS_DEFAULT=30
# The endpoints whose every worker holds a database connection.
DB_ENDPOINTS="register login refresh me verify logout logout_all sessions account mfa readyz metrics"

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

# plain_int NAME DEFAULT: $NAME (DEFAULT when unset or empty) when it is a
# plain decimal number; 1 otherwise. Nothing else reaches arithmetic.
plain_int() {
	local v=${!1:-$2}
	[[ $v =~ ^[0-9]{1,9}$ ]] || return 1
	echo $((10#$v))
}

# is_db_endpoint EP: EP's workers hold database connections.
is_db_endpoint() { [[ " $DB_ENDPOINTS " == *" $1 "* ]]; }

# children_plan ENDPOINTS: the worker count of every endpoint in
# ENDPOINTS, in CHILDREN[EP], and CHILDREN_CONNS, the workers of their
# database endpoints: the connections they hold on PostgreSQL. A count
# is FCGI_CHILDREN_<EP>, else FCGI_CHILDREN, else sized from the cores:
# CORES when set (a container's CPU quota, which nproc does not see),
# else nproc; refresh takes REFRESH_WORKERS_PER_CORE per core, the rest
# one; at least 2, at most 64. On PostgreSQL the database endpoints left
# to the defaults keep 2 workers each and share what the settings leave
# of DB_MAX_CONNECTIONS in proportion to what they would have above 2,
# when their defaults would not fit. Returns 1 on a setting that is not
# a plain number. No subshell and one nproc: a start plans once, and a
# fork is not free on every machine (tens of milliseconds on some VMs).
declare -gA CHILDREN=()
CHILDREN_CONNS=0
children_plan() {
	local ep var v n cores fixed=0 flex=0 extra=0 avail pg=0
	local -A dflt=()
	CHILDREN=()
	CHILDREN_CONNS=0
	v=${CORES:-}
	[ -n "$v" ] || v=$(nproc 2>/dev/null || echo 1)
	[[ $v =~ ^[0-9]{1,9}$ ]] || return 1
	cores=$((10#$v))
	[ "$(db_engine "${DATABASE_URL:-}")" != postgresql ] || pg=1
	for ep in $1; do
		var=FCGI_CHILDREN_${ep^^}
		[ -n "${!var:-}" ] || var=FCGI_CHILDREN
		if [ -n "${!var:-}" ]; then
			v=${!var}
			[[ $v =~ ^[0-9]{1,9}$ ]] || return 1
			CHILDREN[$ep]=$((10#$v))
			if is_db_endpoint "$ep"; then fixed=$((fixed + 10#$v)); fi
			continue
		fi
		n=$cores
		[ "$ep" != refresh ] || n=$((cores * REFRESH_WORKERS_PER_CORE))
		[ "$n" -ge 2 ] || n=2
		[ "$n" -le 64 ] || n=64
		CHILDREN[$ep]=$n
		if [ $pg -eq 1 ] && is_db_endpoint "$ep"; then
			dflt[$ep]=$n
			flex=$((flex + 1))
			extra=$((extra + n - 2))
		fi
	done
	if [ $pg -eq 1 ]; then
		v=${DB_MAX_CONNECTIONS:-$DB_MAX_CONNECTIONS_DEFAULT}
		[[ $v =~ ^[0-9]{1,9}$ ]] || return 1
		avail=$((10#$v - fixed - 2 * flex))
		[ "$avail" -ge 0 ] || avail=0
		if [ "$extra" -gt "$avail" ]; then
			for ep in "${!dflt[@]}"; do
				CHILDREN[$ep]=$((2 + (dflt[$ep] - 2) * avail / extra))
			done
		fi
	fi
	for ep in $1; do
		if is_db_endpoint "$ep"; then
			CHILDREN_CONNS=$((CHILDREN_CONNS + CHILDREN[$ep]))
		fi
	done
}

# children_of EP [ENDPOINTS]: endpoint EP's worker count as children_plan
# gives it among ENDPOINTS (default: the database endpoints).
children_of() {
	local list=${2:-$DB_ENDPOINTS}
	[[ " $list " == *" $1 "* ]] || list="$list $1"
	children_plan "$list" || return 1
	echo "${CHILDREN[$1]}"
}

# db_connections ENDPOINTS: the connections the workers of the database
# endpoints among ENDPOINTS hold together (on PostgreSQL).
db_connections() {
	children_plan "$1" || return 1
	echo "$CHILDREN_CONNS"
}

die() {
	echo "$(basename "$0"): $*" >&2
	exit 1
}
