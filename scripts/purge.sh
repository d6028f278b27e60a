#!/usr/bin/env bash
# purge.sh [--grace SECONDS] [--batch ROWS]: delete what can never be used
# again, in small batches (each its own short write transaction, so the
# service keeps serving; safe from cron):
#   - refresh tokens expired for longer than the grace period (default 7
#     days: they still tell a late replay from garbage until then);
#   - sessions left without any refresh token;
#   - login-attempt counters whose window ended (each kind its own window:
#     LOGIN_WINDOW, REGISTER_WINDOW, an hour for the account throttles);
#   - one-time tokens (reset, verification) expired for longer than the
#     grace period (migration 006);
#   - mfa_tokens (a login's pending second factor) likewise (007).
# Rotated or revoked tokens that have not expired are kept: they are what
# replay detection looks up. Either engine of DATABASE_URL (see migrate.sh).
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

grace=604800
batch=1000
while [ $# -gt 0 ]; do
	case $1 in
	--grace) grace=$2; shift 2 ;;
	--batch) batch=$2; shift 2 ;;
	*) die "usage: purge.sh [--grace SECONDS] [--batch ROWS]" ;;
	esac
done
[[ $grace =~ ^[0-9]+$ ]] || die "--grace must be a number of seconds"
if ! [[ $batch =~ ^[0-9]+$ ]] || [ "$batch" -lt 1 ] || [ "$batch" -gt 100000 ]; then
	die "--batch must be between 1 and 100000"
fi
window=${LOGIN_WINDOW:-900}
[[ $window =~ ^[0-9]+$ ]] || die "LOGIN_WINDOW must be a number"
now=$(date +%s)
regwindow=${REGISTER_WINDOW:-3600}
[[ $regwindow =~ ^[0-9]+$ ]] || die "REGISTER_WINDOW must be a number"
# A counter's window by its kind (the prefix of its key): the account
# throttles (forgot, reset and verify tokens) count per hour.
stale="x.window_start + (CASE WHEN substr(x.key, 1, 6) = 'reset_' OR
	substr(x.key, 1, 9) = 'token_ip:' THEN 3600 WHEN substr(x.key, 1, 9) =
	'register:' THEN $regwindow ELSE $window END) <= $now"
busy=${DB_BUSY_TIMEOUT_MS:-5000}
[[ $busy =~ ^[0-9]{1,9}$ ]] || die "DB_BUSY_TIMEOUT_MS must be a number of milliseconds"

if [ "$(db_engine "${DATABASE_URL:-}")" = postgresql ]; then
	# PostgreSQL: rows by primary key (no rowid); rows the service holds
	# locked right now are skipped (the next run takes them), so a purge
	# never waits on, nor deadlocks with, a request.
	command -v psql >/dev/null || die "psql is not installed (make deps)"
	pg_env "${DATABASE_URL:-}" || exit 1
	export PGOPTIONS="${PGOPTIONS:-} -c lock_timeout=$busy -c client_min_messages=warning"
	err=$(mktemp)
	trap 'rm -f "$err"' EXIT
	pg() { psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$PG_CONNINFO" -c "$1" 2>"$err"; }
	pg "SELECT 1" >/dev/null ||
		die "DATABASE_URL: cannot connect to PostgreSQL: $(pg_error "$err")"
	# purge_batch TABLE KEY CONDITION: delete one batch, print how many.
	purge_batch() {
		pg "WITH d AS (DELETE FROM $1 WHERE $2 IN (SELECT $2 FROM $1 x WHERE $3
			LIMIT $batch FOR UPDATE SKIP LOCKED) RETURNING 1)
			SELECT count(*) FROM d" || die "$1: $(pg_error "$err")"
	}
	purge_batches() {
		local label=$1 n total=0
		shift
		while :; do
			n=$(purge_batch "$@") || exit 1
			total=$((total + n))
			[ "$n" -lt "$batch" ] && break
		done
		echo "purge: $total $label"
	}
	purge_batches "expired refresh tokens" refresh_tokens jti \
		"x.expires_at < $((now - grace))"
	purge_batches "sessions without tokens" sessions id \
		"NOT EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.session_id = x.id)"
	purge_batches "stale login counters" login_attempts key "$stale"
	if [ "$(pg "SELECT to_regclass('one_time_tokens') IS NOT NULL")" = t ]; then
		purge_batches "expired one-time tokens" one_time_tokens hash \
			"x.expires_at < $((now - grace))"
	fi
	if [ "$(pg "SELECT to_regclass('mfa_tokens') IS NOT NULL")" = t ]; then
		purge_batches "expired mfa tokens" mfa_tokens jti \
			"x.expires_at < $((now - grace))"
	fi
	exit 0
fi

db=$(db_path) || exit 1
[ -w "$db" ] || die "DATABASE_URL: $db is not writable"

# purge_batches LABEL SQL: run SQL (a DELETE ... LIMIT) until it deletes nothing.
purge_batches() {
	local label=$1 sql=$2 n total=0
	while :; do
		n=$(sqlite3 -batch -bail "$db" ".timeout $busy" \
			"PRAGMA foreign_keys=ON;" "BEGIN IMMEDIATE;" "$sql" \
			"SELECT changes();" "COMMIT;")
		total=$((total + n))
		[ "$n" -lt "$batch" ] && break
	done
	echo "purge: $total $label"
}

purge_batches "expired refresh tokens" \
	"DELETE FROM refresh_tokens WHERE rowid IN (SELECT rowid FROM refresh_tokens WHERE expires_at < $((now - grace)) LIMIT $batch);"
purge_batches "sessions without tokens" \
	"DELETE FROM sessions WHERE rowid IN (SELECT s.rowid FROM sessions s WHERE NOT EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.session_id = s.id) LIMIT $batch);"
purge_batches "stale login counters" \
	"DELETE FROM login_attempts WHERE rowid IN (SELECT x.rowid FROM login_attempts x WHERE $stale LIMIT $batch);"
if [ "$(sqlite3 -batch "$db" "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'one_time_tokens'")" = 1 ]; then
	purge_batches "expired one-time tokens" \
		"DELETE FROM one_time_tokens WHERE rowid IN (SELECT rowid FROM one_time_tokens WHERE expires_at < $((now - grace)) LIMIT $batch);"
fi
if [ "$(sqlite3 -batch "$db" "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'mfa_tokens'")" = 1 ]; then
	purge_batches "expired mfa tokens" \
		"DELETE FROM mfa_tokens WHERE rowid IN (SELECT rowid FROM mfa_tokens WHERE expires_at < $((now - grace)) LIMIT $batch);"
fi
