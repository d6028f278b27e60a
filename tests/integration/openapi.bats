#!/usr/bin/env bats
# docs/openapi.yaml: valid OpenAPI 3.1 (checked by an npm validator,
# installed into tests/openapi/ from its lock file), and every operation it
# lists answers on a running stack as it says (openapi_check.py: a request
# built from the document, the status one it lists, required headers and
# the JSON body valid against the documented schemas).

load helper

DOC="$BATS_TEST_DIRNAME/../../docs/openapi.yaml"
CHECK="$BATS_TEST_DIRNAME/openapi_check.py"
VALIDATOR_DIR="$BATS_TEST_DIRNAME/../openapi"

setup_file() {
	if [ ! -x "$VALIDATOR_DIR/node_modules/.bin/validate-api" ]; then
		( cd "$VALIDATOR_DIR" && npm ci --no-audit --no-fund --silent ) >&2
	fi
}

teardown() {
	stack_stop || true
}

@test "openapi: the document is valid OpenAPI 3.1" {
	run "$VALIDATOR_DIR/node_modules/.bin/validate-api" "$DOC"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *'"valid": true'* ]]
	grep -q '^openapi: 3\.1\.' "$DOC"
}

@test "openapi: the validator refuses a broken copy (it really validates)" {
	# A response without its required description.
	sed '0,/description: a token pair/{/description: a token pair/d}' "$DOC" > "$BATS_TEST_TMPDIR/broken.yaml"
	refute cmp -s "$DOC" "$BATS_TEST_TMPDIR/broken.yaml"
	run "$VALIDATOR_DIR/node_modules/.bin/validate-api" "$BATS_TEST_TMPDIR/broken.yaml"
	echo "$output"
	[ "$status" -ne 0 ]
}

@test "openapi: Part 1 routes answer as documented" {
	stack_start
	run /usr/bin/python3 "$CHECK" "$DOC" "$BASE" '^/(auth/(register|login|refresh|logout|logout-all|me|sessions.*)|healthz|readyz|metrics|\.well-known/jwks\.json)$'
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *" 0 failed"* ]]
}

@test "openapi: the account and second-factor routes answer as documented" {
	stack_start
	run /usr/bin/python3 "$CHECK" "$DOC" "$BASE" '^/auth/(password.*|email/.*|mfa/.*)$'
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *" 0 failed"* ]]
}

@test "openapi: /auth/verify answers as documented, every method" {
	stack_start
	run /usr/bin/python3 "$CHECK" "$DOC" "$BASE" '^/auth/verify$'
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "openapi: discovery with JWT_ISS this stack's URL: metadata" {
	stack_env "$(mktemp -d "$BATS_FILE_TMPDIR/stack.XXXXXX")"
	export JWT_ISS=$BASE
	stack_start
	run /usr/bin/python3 "$CHECK" "$DOC" "$BASE" '^/\.well-known/(openid-configuration|oauth-authorization-server)$' iss-url
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "openapi: discovery with JWT_ISS not a URL: 404" {
	stack_start
	run /usr/bin/python3 "$CHECK" "$DOC" "$BASE" '^/\.well-known/(openid-configuration|oauth-authorization-server)$'
	echo "$output"
	[ "$status" -eq 0 ]
}
