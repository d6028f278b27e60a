# shellcheck shell=bash
# pg.sh: a throwaway PostgreSQL server for the tests (sourced by bats files
# and tests/run.sh; installs nothing).
#
#   pg_start DIR   initdb into DIR and start a server there: unix socket
#                  only, on a free port, as an unprivileged user (postgres
#                  refuses root: as root, PG_RUN_AS, default nobody).
#                  Exports PG_PID, PG_HOST (the socket directory), PG_PORT,
#                  PG_DIR, PG_USER (the superuser: the server user's name)
#                  and PG_BIN; returns once pg_isready answers.
#   pg_stop        fast shutdown (SIGINT to the server's pid), wait,
#                  remove PG_DIR.
#   pg_newdb NAME  create database NAME; print a DATABASE_URL for it.
#   pg_restart_down, pg_restart_up
#                  stop the server keeping its data; start it again on
#                  the same socket (PG_PID changes).
#
# DIR must be absent or empty (pg_stop removes it whole) and reachable by
# the server user: as root, DIR is chowned to it; when a parent of DIR is
# private (bats' temporary directories are 0700), the cluster goes to a
# fresh directory under /tmp instead (PG_DIR says where). The server is a
# background job of the shell that ran pg_start or pg_restart_up: wait for
# given pids there, never a bare `wait` (it would wait for the server).
# Nothing is ever stopped by name: only the pid the cluster's
# postmaster.pid names (so a restart in another shell is followed), else
# PG_PID.

# pg_bindir: the newest installed server's programs (initdb, postgres).
pg_bindir() {
	local d
	d=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
	if [ -z "$d" ] || [ ! -x "$d/postgres" ]; then
		d=$(pg_config --bindir 2>/dev/null) || d=""
	fi
	if [ -z "$d" ] || [ ! -x "$d/postgres" ]; then
		echo "pg.sh: no PostgreSQL server installed (postgresql package)" >&2
		return 1
	fi
	echo "$d"
}

# pg_as CMD...: run CMD as the server user (directly when not root).
pg_as() {
	if [ "$(id -u)" -eq 0 ]; then
		setpriv --reuid="$PG_USER" --regid="$(id -g "$PG_USER")" \
			--clear-groups -- "$@"
	else
		"$@"
	fi
}

# pg_reachable DIR: the server user may create files in DIR (and the
# socket path fits a sockaddr_un).
pg_reachable() {
	[ ${#1} -le 80 ] && pg_as test -w "$1" -a -x "$1"
}

pg_start() {
	local dir=$1 bin user
	bin=$(pg_bindir) || return 1
	if [ "$(id -u)" -eq 0 ]; then
		user=${PG_RUN_AS:-nobody}
	else
		user=$(id -un)
	fi
	id "$user" >/dev/null 2>&1 || { echo "pg_start: no user $user" >&2; return 1; }
	PG_USER=$user
	mkdir -p "$dir" || return 1
	dir=$(cd "$dir" && pwd)
	# The directory becomes the cluster's, and pg_stop removes it whole:
	# never one holding anything else.
	if [ -n "$(ls -A "$dir")" ]; then
		echo "pg_start: $dir is not empty" >&2
		return 1
	fi
	[ "$(id -u)" -eq 0 ] && chown "$user:" "$dir"
	if ! pg_reachable "$dir"; then
		dir=$(mktemp -d /tmp/auth-pg.XXXXXX) || return 1
		chmod 0755 "$dir"
		[ "$(id -u)" -eq 0 ] && chown "$user:" "$dir"
		pg_reachable "$dir" || { echo "pg_start: $user cannot use $dir" >&2; return 1; }
	fi
	pg_as mkdir -m 0700 "$dir/data" "$dir/sock" || return 1
	if ! (cd "$dir" && pg_as "$bin/initdb" --no-sync -A trust -U "$user" \
		-E UTF8 --locale=C -D "$dir/data") >"$dir/initdb.log" 2>&1; then
		echo "pg_start: initdb failed:" >&2
		tail -n 5 "$dir/initdb.log" >&2
		rm -rf "$dir"
		return 1
	fi
	PG_DIR=$dir
	PG_HOST=$dir/sock
	# Its own socket directory: any port is free there.
	PG_PORT=$((20000 + RANDOM % 30000))
	PG_BIN=$bin
	export PG_DIR PG_HOST PG_PORT PG_USER PG_BIN
	pg_launch || { pg_stop; return 1; }
}

# pg_launch: start the server of PG_DIR (as pg_start set it up); sets and
# exports PG_PID; returns once pg_isready answers.
pg_launch() {
	local i opts=(-D "$PG_DIR/data" -k "$PG_HOST" -p "$PG_PORT"
		-c listen_addresses='' -c fsync=off -c synchronous_commit=off
		-c full_page_writes=off -c max_connections=200)
	# exec: $! is the server itself. Its output goes to the log only (a
	# descriptor of the test runner held open would hang it).
	(
		cd "$PG_DIR" || exit 1
		exec 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-
		if [ "$(id -u)" -eq 0 ]; then
			exec setpriv --reuid="$PG_USER" --regid="$(id -g "$PG_USER")" \
				--clear-groups -- "$PG_BIN/postgres" "${opts[@]}"
		fi
		exec "$PG_BIN/postgres" "${opts[@]}"
	) </dev/null >>"$PG_DIR/server.log" 2>&1 &
	PG_PID=$!
	export PG_PID
	for i in $(seq 1 300); do
		if "$PG_BIN/pg_isready" -q -h "$PG_HOST" -p "$PG_PORT" -d postgres \
			-U "$PG_USER"; then
			return 0
		fi
		pg_alive "$PG_PID" || break
		sleep 0.1
	done
	echo "pg_start: the server did not answer (after $i tries):" >&2
	tail -n 5 "$PG_DIR/server.log" >&2
	return 1
}

# pg_server_pid: the running server of PG_DIR: the pid its postmaster.pid
# names (current even after a restart in another shell), else PG_PID;
# either only while it is the postgres of PG_DIR (a pid is reused).
pg_server_pid() {
	local pid="" args
	[ -n "${PG_DIR:-}" ] || return 1
	read -r pid 2>/dev/null < "$PG_DIR/data/postmaster.pid"
	[[ $pid =~ ^[0-9]+$ ]] || pid=${PG_PID:-}
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = postgres ] || return 1
	args=$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null)
	[[ $args == *" -D $PG_DIR/data "* ]] || return 1
	echo "$pid"
}

# pg_alive PID: PID runs (a zombie nobody reaped yet has ended).
pg_alive() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[ "${stat%% *}" != Z ]
}

# pg_halt: fast shutdown (SIGINT) of the server, waiting until it is gone.
pg_halt() {
	local pid i
	pid=$(pg_server_pid) || return 0
	kill -INT "$pid" 2>/dev/null
	for i in $(seq 1 300); do
		pg_alive "$pid" || break
		# Still there after 20 s: immediate shutdown, then no more asking.
		[ "$i" -eq 200 ] && kill -QUIT "$pid" 2>/dev/null
		sleep 0.1
	done
	pg_alive "$pid" && kill -KILL "$pid" 2>/dev/null
	# Reap it when it is this shell's child.
	wait "$pid" 2>/dev/null || :
}

# pg_restart_down / pg_restart_up: stop the server, keeping its data, and
# start it again on the same socket and port (the database going away
# under a running stack).
pg_restart_down() {
	pg_halt
}

pg_restart_up() {
	pg_launch
}

pg_stop() {
	pg_halt
	[ -n "${PG_DIR:-}" ] && [ -d "$PG_DIR" ] && rm -rf "$PG_DIR"
	unset PG_PID PG_DIR PG_HOST PG_PORT
}

# pg_newdb NAME: create database NAME on the running server and print a
# DATABASE_URL for it (a libpq URI over the unix socket).
pg_newdb() {
	local name=$1
	[[ $name =~ ^[a-z_][a-z0-9_]{0,62}$ ]] ||
		{ echo "pg_newdb: bad name '$name'" >&2; return 1; }
	"${PG_BIN:-$(pg_bindir)}/createdb" -h "$PG_HOST" -p "$PG_PORT" \
		-U "$PG_USER" "$name" || return 1
	echo "postgresql:///$name?host=$PG_HOST&port=$PG_PORT&user=$PG_USER"
}
