#!/usr/bin/env bash
# migrate.sh [up|status]: apply schema/NNN_*.sql in order to the SQLite
# database of DATABASE_URL, each in its own transaction with its version
# recorded in schema_migrations. Running it twice changes nothing; a
# failing migration is rolled back whole and stops the run, leaving the
# database at the previous version. `status` lists applied and pending.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"
env_load "${ENV_FILE:-.env}"
schema_dir=${SCHEMA_DIR:-$root/schema}
cmd=${1:-up}
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

migrations() {
	local f name
	for f in "$schema_dir"/*.sql; do
		[ -e "$f" ] || continue
		name=$(basename "$f")
		[[ $name =~ ^[0-9]{3}_[a-z0-9_]+\.sql$ ]] ||
			die "$name: migrations are named NNN_lowercase_words.sql"
		echo "$name"
	done
}

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

applied() { sql "SELECT version FROM schema_migrations WHERE version = '$1';"; }

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
	for name in $(migrations); do
		v=${name%%_*}
		[ -n "$(applied "$v")" ] && continue
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
*)
	die "usage: migrate.sh [up|status]"
	;;
esac
