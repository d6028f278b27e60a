#!/usr/bin/env bats
# readyz and migrations together: a database behind the build's schema is
# not ready until migrate.sh brings it up to date.

load helper

setup_file() {
	stack_env "$(mktemp -d "$BATS_FILE_TMPDIR/ready.XXXXXX")"
	# The database starts at the first migration only.
	mkdir "$WORK/schema-old"
	if db_is_pg; then
		cp "$ROOT/schema/postgresql/001_initial.sql" "$WORK/schema-old/"
	else
		cp "$ROOT/schema/001_initial.sql" "$WORK/schema-old/"
	fi
	export SCHEMA_DIR=$WORK/schema-old
	stack_start
	unset SCHEMA_DIR
}
teardown_file() { stack_stop; }

@test "readyz is 503 with a pending migration, 200 after migrate.sh" {
	api GET /readyz
	[ "$status_code" = 503 ]
	[[ $(jq -r .reason <<<"$body") == "pending migration"* ]]
	# The service itself keeps working on the older schema.
	register early@example.com
	api GET /metrics
	[ "$status_code" = 200 ]
	"$ROOT/scripts/migrate.sh"
	api GET /readyz
	[ "$status_code" = 200 ]
	# The gauges appear once their migration is in.
	curl -s "$BASE/metrics" | grep -q '^auth_users 1$'
}
