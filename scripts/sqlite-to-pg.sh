#!/usr/bin/env bash
# sqlite-to-pg.sh SQLITE_FILE | --from sqlite:///PATH
#   Move the service's data from a SQLite database to the PostgreSQL
#   database DATABASE_URL names:
#
#     DATABASE_URL=postgresql://auth@db.example/auth \
#         scripts/sqlite-to-pg.sh ./auth.db
#
#   Copies users (with their password hashes), sessions (in their order:
#   seq follows SQLite's rowid), refresh tokens and login counters, in one
#   transaction, then recomputes the /metrics counts. Afterwards every user
#   logs in and every live refresh token rotates on PostgreSQL.
#
#   - The SQLite file is only read: a consistent snapshot of it (the
#     service may still run) is migrated to the newest schema in a private
#     temporary directory and copied from there. Writes made after the
#     snapshot are not copied: stop the SQLite service first.
#   - The PostgreSQL database is migrated (scripts/migrate.sh) and must
#     then be empty; both must end at the same schema version.
#   - Any failure rolls the copy back whole: nothing is half-copied.
# The password of DATABASE_URL is never printed nor passed on a command line.
set -euo pipefail
umask 077

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

usage="usage: DATABASE_URL=postgresql://... sqlite-to-pg.sh SQLITE_FILE | --from sqlite:///PATH"
case $# in
1) [[ $1 != -* ]] || die "$usage"; src=$1 ;;
2) [ "$1" = --from ] || die "$usage"; src=$(DATABASE_URL=$2 db_path) || exit 1 ;;
*) die "$usage" ;;
esac
[ "$(db_engine "${DATABASE_URL:-}")" = postgresql ] ||
	die "DATABASE_URL must name the PostgreSQL database to copy into"
command -v sqlite3 >/dev/null || die "sqlite3 is not installed (make deps)"
command -v psql >/dev/null || die "psql is not installed (make deps)"
[ -f "$src" ] || die "$src: no such SQLite database"
[ -r "$src" ] || die "$src: not readable"
pg_env "${DATABASE_URL:-}" || exit 1
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
export PGCLIENTENCODING=UTF8

# Everything here holds password hashes: private, and gone at exit.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The snapshot, at the newest SQLite schema.
sqlite3 -readonly "$src" ".timeout 10000" ".backup '$tmp/snap.db'" 2>"$tmp/err" ||
	die "$src: cannot read it as SQLite: $(head -n 1 "$tmp/err")"
snap() { sqlite3 -batch -bail "$tmp/snap.db" "$@"; }
[ "$(snap "SELECT count(*) FROM sqlite_master WHERE name = 'schema_migrations'")" = 1 ] ||
	die "$src: not a database of this service (no schema_migrations)"
DATABASE_URL="sqlite:///$tmp/snap.db" SCHEMA_DIR="$AUTH_SHARE/schema" ENV_FILE=/dev/null \
	"$(auth_script migrate)" up >"$tmp/out" 2>&1 ||
	die "$src: cannot migrate a copy of it: $(tail -n 1 "$tmp/out")"

# The target, at the newest PostgreSQL schema (its own line on failure).
if ! SCHEMA_DIR="$AUTH_SHARE/schema/postgresql" "$(auth_script migrate)" up >"$tmp/out"; then
	exit 1
fi
grep -vx 'migrate: up to date' "$tmp/out" || :

pg() { psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$PG_CONNINFO" "$@" 2>"$tmp/err"; }
from_versions=$(snap "SELECT version FROM schema_migrations ORDER BY version" | tr '\n' ' ')
to_versions=$(pg -c "SELECT version FROM schema_migrations ORDER BY version" | tr '\n' ' ') ||
	die "DATABASE_URL: $(pg_error "$tmp/err")"
[ "$from_versions" = "$to_versions" ] ||
	die "schema versions differ: SQLite has ${from_versions% }, PostgreSQL ${to_versions% }: nothing copied"

# Every table of the SQLite schema must be known here: a table added by a
# later migration and not copied would be lost without a word.
tables="users sessions refresh_tokens login_attempts"
# Migration 006: one-time tokens (hashes only) and the mail outbox; 007:
# the second factor, its secrets sealed under MFA_KEY_PATH (the nodes on
# PostgreSQL need the same key file to read them).
for t in one_time_tokens mail_outbox mfa_totp mfa_recovery mfa_tokens; do
	[ "$(snap "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '$t'")" = 0 ] ||
		tables="$tables $t"
done
unknown=$(snap "SELECT name FROM sqlite_master WHERE type = 'table' AND
	name NOT LIKE 'sqlite_%' AND name NOT IN ('schema_migrations', 'counters',
	'users', 'sessions', 'refresh_tokens', 'login_attempts',
	'one_time_tokens', 'mail_outbox', 'mfa_totp', 'mfa_recovery', 'mfa_tokens',
	'sqlite_sequence') ORDER BY name" | tr '\n' ' ')
[ -z "$unknown" ] ||
	die "SQLite table(s) ${unknown% } unknown to sqlite-to-pg.sh: nothing copied"

# Each table: its SQLite columns, all of which PostgreSQL must have, out
# to CSV in rowid order (sqlite3 quotes what CSV needs; NULL is an empty
# field, the empty string "", as COPY reads them).
script=$tmp/copy.sql
{
	echo 'BEGIN;'
	echo "LOCK TABLE ${tables// /, }, counter_shards IN EXCLUSIVE MODE;"
	echo "DO \$\$ BEGIN IF EXISTS (SELECT 1 FROM users) OR EXISTS (SELECT 1 FROM sessions)"
	echo "  OR EXISTS (SELECT 1 FROM refresh_tokens) OR EXISTS (SELECT 1 FROM login_attempts)"
	echo "  THEN RAISE EXCEPTION 'sqlite-to-pg: target not empty'; END IF; END \$\$;"
	# The counts are recomputed below. Counted row by row, every row would
	# update one shard row again within one transaction: each update walks
	# all the versions before it (200k tokens: minutes instead of seconds).
	echo "ALTER TABLE users DISABLE TRIGGER counters_users_insert;"
	echo "ALTER TABLE refresh_tokens DISABLE TRIGGER counters_tokens_insert;"
} >"$script"
check="TRUE"
declare -A count
for t in $tables; do
	cols=$(snap "SELECT group_concat(name, ',') FROM (SELECT name FROM pragma_table_info('$t') ORDER BY cid)")
	[[ $cols =~ ^[a-z_,]+$ ]] || die "$src: unexpected columns in $t: $cols"
	missing=$(pg -c "SELECT string_agg(c, ' ') FROM unnest(string_to_array('$cols', ',')) c
		WHERE NOT EXISTS (SELECT 1 FROM information_schema.columns i
		WHERE i.table_schema = current_schema() AND i.table_name = '$t' AND i.column_name = c)") ||
		die "DATABASE_URL: $(pg_error "$tmp/err")"
	[ -z "$missing" ] || die "PostgreSQL table $t lacks column(s) $missing: nothing copied"
	select="SELECT $cols FROM $t ORDER BY rowid"
	into="$t($cols)"
	if [ "$t" = sessions ]; then
		# Insertion order: the sessions list breaks ties by it.
		select="SELECT rowid, $cols FROM $t ORDER BY rowid"
		into="$t(seq,$cols)"
	fi
	snap -csv "$select" >"$tmp/$t.csv"
	count[$t]=$(snap "SELECT count(*) FROM $t")
	echo "\\copy $into FROM '$t.csv' WITH (FORMAT csv)" >>"$script"
	check+=" AND (SELECT count(*) FROM $t) = ${count[$t]}"
done
cat >>"$script" <<SQL
SELECT setval(pg_get_serial_sequence('sessions', 'seq'),
	(SELECT coalesce(max(seq), 0) + 1 FROM sessions), false) AS seq_next \\gset
$([[ " $tables " != *" mail_outbox "* ]] || echo "SELECT setval(pg_get_serial_sequence('mail_outbox', 'id'),
	(SELECT coalesce(max(id), 0) + 1 FROM mail_outbox), false) AS outbox_next \\gset")
ALTER TABLE users ENABLE TRIGGER counters_users_insert;
ALTER TABLE refresh_tokens ENABLE TRIGGER counters_tokens_insert;
DELETE FROM counter_shards WHERE name IN ('users', 'refresh_tokens_unrevoked');
INSERT INTO counter_shards(name, shard, value)
SELECT 'users', 0, count(*) FROM users
UNION ALL
SELECT 'refresh_tokens_unrevoked', 0, count(*) FROM refresh_tokens WHERE revoked = 0;
DO \$\$ BEGIN IF NOT ($check)
	THEN RAISE EXCEPTION 'sqlite-to-pg: row counts differ from the source'; END IF; END \$\$;
COMMIT;
ANALYZE ${tables// /, };
SQL

if ! (cd "$tmp" && pg -f copy.sql); then
	if grep -q 'sqlite-to-pg: target not empty' "$tmp/err"; then
		die "DATABASE_URL: the PostgreSQL database already holds data: nothing copied"
	fi
	die "copy failed, rolled back, nothing copied: $(pg_error "$tmp/err")"
fi
read -r -a versions <<<"$to_versions"
echo "sqlite-to-pg: copied ${count[users]} users, ${count[sessions]} sessions," \
	"${count[refresh_tokens]} refresh tokens, ${count[login_attempts]} login counters" \
	"(schema ${versions[-1]})"
