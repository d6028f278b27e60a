#!/usr/bin/env bash
# migrate.sh [up|status]: apply the migrations of the database engine that
# DATABASE_URL names, in order, each in its own transaction with its version
# recorded in schema_migrations. Running it twice changes nothing; a
# failing migration is rolled back whole and stops the run, leaving the
# database at the previous version. `status` lists applied and pending.
#   SQLite (sqlite:///PATH, the default): schema/NNN_*.sql through sqlite3;
#     one migrate at a time per file (flock).
#   PostgreSQL (postgresql://, postgres://, postgresql+driver://, or a libpq
#     keyword string "host=... dbname=..."): schema/postgresql/NNN_*.sql,
#     the same versions, through psql. Nodes migrating at once take turns
#     on an advisory lock, and each re-checks inside its transaction, so
#     every migration is applied exactly once.
# SCHEMA_DIR overrides the directory of migrations. The password of
# DATABASE_URL is never printed nor passed on a command line.
set -euo pipefail

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
cmd=${1:-up}
case $cmd in
up|status) ;;
*) die "usage: migrate.sh [up|status]" ;;
esac

migrations() {
	local f name
	for f in "$schema_dir"/*.sql; do
		[ -e "$f" ] || continue
		name=${f##*/}
		[[ $name =~ ^[0-9]{3}_[a-z0-9_]+\.sql$ ]] ||
			die "$name: migrations are named NNN_lowercase_words.sql"
		echo "$name"
	done
}

# pg_own_transaction FILE: exit 1 when a PostgreSQL migration opens or
# ends a transaction itself. What is quoted does not count: strings,
# comments, and $$ / $tag$ bodies (a plpgsql BEGIN ... END), nor the
# BEGIN ATOMIC ... END of an SQL-standard function body.
pg_own_transaction() {
	awk '
	BEGIN { dq = ""; sq = 0; bc = 0; atomic = 0; bad = 0 }
	{
		line = $0; out = ""; i = 1; n = length(line)
		while (i <= n) {
			c = substr(line, i, 1)
			if (bc) {
				if (substr(line, i, 2) == "*/") { bc = 0; i += 2 } else i++
				continue
			}
			if (dq != "") {
				if (substr(line, i, length(dq)) == dq) { i += length(dq); dq = ""; out = out " " }
				else i++
				continue
			}
			if (sq) { if (c == "\047") sq = 0; i++; continue }
			if (substr(line, i, 2) == "--") break
			if (substr(line, i, 2) == "/*") { bc = 1; i += 2; continue }
			if (c == "\047") { sq = 1; i++; out = out " "; continue }
			if (c == "$" && match(substr(line, i), /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/)) {
				dq = substr(line, i, RLENGTH); i += RLENGTH; out = out " "; continue
			}
			out = out c; i++
		}
		nseg = split(toupper(out), seg, ";")
		for (k = 1; k <= nseg; k++) {
			l = seg[k]
			if (atomic) {
				if (l ~ /(^|[^A-Z0-9_])END[ \t]*$/ && k < nseg) atomic = 0
				continue
			}
			if (l ~ /(^|[^A-Z0-9_])BEGIN[ \t]+ATOMIC([^A-Z0-9_]|$)/) {
				atomic = 1
				continue
			}
			if (l ~ /^[ \t]*(BEGIN|COMMIT|ROLLBACK|END|ABORT|SAVEPOINT|RELEASE|START[ \t]+TRANSACTION|PREPARE[ \t]+TRANSACTION)([ \t]|$)/)
				bad = 1
		}
	}
	END { exit bad }' "$1"
}

if [ "$(db_engine "${DATABASE_URL:-}")" = postgresql ]; then
	schema_dir=${SCHEMA_DIR:-$AUTH_SHARE/schema/postgresql}
	[ -d "$schema_dir" ] || die "$schema_dir: no PostgreSQL migrations there"
	command -v psql >/dev/null || die "psql is not installed (make deps)"
	pg_env "${DATABASE_URL:-}" || exit 1
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	# Quiet: no command tags, no "already exists, skipping" notices.
	export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
	# Every migrate of every node takes this lock around each transaction.
	lock="SELECT pg_advisory_xact_lock(8315136001) \\gset"
	# psql_in DIR [ARGS...]: psql in DIR (a migration's \i path is
	# relative to it), script on stdin; its output in $tmp/out, errors in
	# $tmp/err.
	psql_in() {
		local dir=$1
		shift
		(cd "$dir" && psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$PG_CONNINFO" "$@") \
			>"$tmp/out" 2>"$tmp/err"
	}
	if ! psql_in "$schema_dir" <<SQL
BEGIN;
$lock
CREATE TABLE IF NOT EXISTS schema_migrations (
	version    TEXT PRIMARY KEY,
	name       TEXT NOT NULL,
	applied_at BIGINT NOT NULL);
COMMIT;
SELECT version || ' ' || to_char(to_timestamp(applied_at) AT TIME ZONE 'UTC',
	'YYYY-MM-DD HH24:MI:SS') FROM schema_migrations;
SQL
	then
		if grep -q '^psql:<stdin>' "$tmp/err"; then
			die "DATABASE_URL: cannot create schema_migrations: $(pg_error "$tmp/err")"
		fi
		die "DATABASE_URL: cannot connect to PostgreSQL: $(pg_error "$tmp/err")"
	fi
	# What is applied: "VERSION DATE TIME" lines.
	cp "$tmp/out" "$tmp/applied"
	case $cmd in
	status)
		migrations | while read -r name; do
			v=${name%%_*}
			at=$(sed -n "s/^$v //p" "$tmp/applied")
			if [ -n "$at" ]; then echo "applied  $name  $at"; else echo "pending  $name"; fi
		done
		;;
	up)
		count=0
		for name in $(migrations); do
			v=${name%%_*}
			grep -q "^$v " "$tmp/applied" && continue
			pg_own_transaction "$schema_dir/$name" ||
				die "$name: must not manage its own transaction"
			# Applied meanwhile by another node: the re-check under the
			# lock skips it.
			if ! psql_in "$schema_dir" <<SQL
BEGIN;
$lock
SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = '$v') AS migrate_done \gset
\if :migrate_done
\else
\i '$name'
INSERT INTO schema_migrations(version, name, applied_at)
VALUES ('$v', '$name', floor(extract(epoch FROM now()))::bigint);
\echo auth-svc-migrate: applied
\endif
COMMIT;
SQL
			then
				pg_error "$tmp/err" >&2
				die "$name failed; rolled back, database left at the previous version"
			fi
			if grep -qx 'auth-svc-migrate: applied' "$tmp/out"; then
				echo "migrate: applied $name"
				count=$((count + 1))
			fi
		done
		[ "$count" -gt 0 ] || echo "migrate: up to date"
		;;
	esac
	exit 0
fi

schema_dir=${SCHEMA_DIR:-$AUTH_SHARE/schema}
db=$(db_path) || exit 1

command -v sqlite3 >/dev/null || die "sqlite3 is not installed (make deps)"
[ -d "$(dirname "$db")" ] || die "DATABASE_URL: directory of $db does not exist"

sql() { sqlite3 -bail -batch "$db" "$@"; }

# The database holds password hashes: readable by its owner only.
( umask 077 && sql "PRAGMA journal_mode=WAL;" >/dev/null ) ||
	die "DATABASE_URL: cannot open $db"
sql "CREATE TABLE IF NOT EXISTS schema_migrations (
       version    TEXT PRIMARY KEY NOT NULL,
       name       TEXT NOT NULL,
       applied_at INTEGER NOT NULL);"

# Exit 1 when a migration opens or ends a transaction itself (outside the
# BEGIN ... END; of a CREATE TRIGGER): its changes would escape ours.
own_transaction() {
	awk '
	{ l = toupper($0); sub(/--.*/, "", l) }
	l ~ /CREATE[ \t]+((TEMP|TEMPORARY)[ \t]+)?TRIGGER/ { trig = 1 }
	trig && l ~ /(^|[^A-Z_])END[ \t]*;/ { trig = 0; next }
	!trig && l ~ /^[ \t]*(BEGIN|COMMIT|ROLLBACK|END|SAVEPOINT|RELEASE)([ \t;]|$)/ { bad = 1 }
	END { exit bad }' "$1"
}

case $cmd in
status)
	migrations | while read -r name; do
		v=${name%%_*}
		at=$(sql "SELECT datetime(applied_at, 'unixepoch') FROM schema_migrations WHERE version = '$v';")
		if [ -n "$at" ]; then echo "applied  $name  $at"; else echo "pending  $name"; fi
	done
	;;
up)
	# One migrate at a time per database file (flock is advisory and does
	# not touch SQLite's own locks).
	exec 9<"$db"
	flock 9
	count=0
	# What is applied, read once under the lock (a fork is not free).
	applied=" $(sql "SELECT version FROM schema_migrations;" | tr '\n' ' ')"
	for name in $(migrations); do
		v=${name%%_*}
		[[ $applied == *" $v "* ]] && continue
		own_transaction "$schema_dir/$name" ||
			die "$name: must not manage its own transaction"
		if ! sql <<SQL
BEGIN IMMEDIATE;
.read '$schema_dir/$name'
INSERT INTO schema_migrations(version, name, applied_at)
VALUES ('$v', '$name', CAST(strftime('%s', 'now') AS INTEGER));
COMMIT;
SQL
		then
			die "$name failed; rolled back, database left at the previous version"
		fi
		echo "migrate: applied $name"
		count=$((count + 1))
	done
	[ "$count" -gt 0 ] || echo "migrate: up to date"
	;;
esac
