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

die() {
	echo "$(basename "$0"): $*" >&2
	exit 1
}
