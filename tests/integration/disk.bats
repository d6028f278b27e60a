#!/usr/bin/env bats
# A full disk under the database: writes answer 503 (never 500, never a
# corrupt file), reads that need no write keep answering, /readyz says
# why, and service comes back by itself once space is freed. The test
# mounts a small tmpfs of its own, so it needs root (CI runs as root).

load helper

setup() {
	[ "$(id -u)" -eq 0 ] || skip "mounting a tmpfs needs root"
	# The database file on a full disk: SQLite's; PostgreSQL's disk is
	# its server's.
	[ "${AUTH_TEST_PG:-0}" != 1 ] || skip "SQLite only"
	stack_env "$(mktemp -d "$BATS_TEST_TMPDIR/disk.XXXXXX")"
	"$ROOT/scripts/gen-keys.sh" "$WORK/keys" >/dev/null
	mkdir "$WORK/small"
	mount -t tmpfs -o size=3m,mode=0700 tmpfs "$WORK/small"
	export DATABASE_URL="sqlite:///$WORK/small/auth.db"
	export REGISTER_ADDR_MAX=0 LOGIN_ADDR_MAX_FAILURES=100000 LOGIN_MAX_FAILURES=100000
}

teardown() {
	stack_stop
	mountpoint -q "$WORK/small" 2>/dev/null && umount "$WORK/small"
	return 0
}

status_of() {
	curl -s -o /dev/null -w '%{http_code}' "$@" || true
}

@test "a full database disk: writes 503, reads 200, readyz says why, and it heals by itself" {
	stack_start
	register reader@example.com
	reader_access=$access
	reader_refresh=$refresh
	# Fill the file system to its last byte.
	dd if=/dev/zero of="$WORK/small/fill" bs=64k 2>/dev/null || true
	dd if=/dev/zero of="$WORK/small/fill2" bs=1 2>/dev/null || true
	[ "$(df --output=avail -B1 "$WORK/small" | tail -1 | tr -d ' ')" -lt 4096 ]
	# The WAL may still have room it grew into earlier: writes succeed
	# until it must grow, then every one of them answers 503.
	seen503=0
	for i in $(seq 1 3000); do
		s=$(status_of -H 'Content-Type: application/json' \
			--data-binary "{\"email\":\"fill$i@example.com\",\"password\":\"secret123\"}" \
			"$BASE/auth/register")
		[ "$s" = 201 ] && continue
		[ "$s" = 503 ] && { seen503=1; break; }
		echo "register answered $s"; false
	done
	[ "$seen503" = 1 ]
	for _ in 1 2 3; do
		s=$(status_of -H 'Content-Type: application/json' \
			--data-binary '{"email":"more@example.com","password":"secret123"}' "$BASE/auth/register")
		[ "$s" = 503 ]
		s=$(status_of -H 'Content-Type: application/json' \
			--data-binary '{"email":"reader@example.com","password":"secret123"}' "$BASE/auth/login")
		[ "$s" = 503 ]
		s=$(status_of -H 'Content-Type: application/json' \
			--data-binary "{\"refresh_token\":\"$reader_refresh\"}" "$BASE/auth/refresh")
		[ "$s" = 503 ]
		# Reads that need no write answer as always.
		[ "$(status_of -H "Authorization: Bearer $reader_access" "$BASE/auth/me")" = 200 ]
		[ "$(status_of -H "Authorization: Bearer $reader_access" "$BASE/auth/sessions")" = 200 ]
		[ "$(status_of "$BASE/.well-known/jwks.json")" = 200 ]
		[ "$(status_of "$BASE/metrics")" = 200 ]
		[ "$(status_of "$BASE/healthz")" = 200 ]
	done
	api GET /readyz
	[ "$status_code" = 503 ]
	[ "$(jq -r .reason <<<"$body")" = "database disk full" ]
	api POST /auth/register '{"email":"more@example.com","password":"secret123"}'
	[ "$(jq -r .detail <<<"$body")" = "service unavailable" ]
	# Nothing half-written, nothing corrupt.
	[ "$(sqlite3 "$WORK/small/auth.db" 'PRAGMA integrity_check')" = ok ]
	# Space back: the same requests succeed, with no restart.
	rm -f "$WORK/small/fill" "$WORK/small/fill2"
	api POST /auth/register '{"email":"more@example.com","password":"secret123"}'
	[ "$status_code" = 201 ]
	api POST /auth/login '{"email":"reader@example.com","password":"secret123"}'
	[ "$status_code" = 200 ]
	api POST /auth/refresh "{\"refresh_token\":\"$reader_refresh\"}"
	[ "$status_code" = 200 ]
	api GET /readyz
	[ "$status_code" = 200 ]
	[ "$(sqlite3 "$WORK/small/auth.db" 'PRAGMA integrity_check')" = ok ]
	refute log_has '.event == "request" and .status >= 500 and .status != 503'
}

@test "a full log disk never stops authentication" {
	mkdir "$WORK/logs"
	mount -t tmpfs -o size=64k,mode=0700 tmpfs "$WORK/logs"
	export LOG_FILE=$WORK/logs/auth.log
	stack_start
	dd if=/dev/zero of="$WORK/logs/fill" bs=4k 2>/dev/null || true
	dd if=/dev/zero of="$WORK/logs/fill2" bs=1 2>/dev/null || true
	for i in 1 2 3 4 5; do
		register "logfull$i@example.com"
		api GET /auth/me "" -H "Authorization: Bearer $access"
		[ "$status_code" = 200 ]
	done
	stack_stop
	umount "$WORK/logs"
}
