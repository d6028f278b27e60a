#!/usr/bin/env bats
# Discovery: /.well-known/openid-configuration and
# /.well-known/oauth-authorization-server, and real third-party verifiers
# (Node jose, Debian's PyJWT) that verify our access tokens given only the
# issuer URL. tests/js/install.sh puts jose (pinned by its lock file) in
# tests/js/node_modules from the npm registry when it is not there yet.

load helper

PY=/usr/bin/python3   # Debian's, with python3-jwt (not a pyenv shim)
AUD=https://api.example.test

setup_file() {
	"$ROOT/tests/js/install.sh"
	stack_env "$(mktemp -d "$BATS_FILE_TMPDIR/discovery.XXXXXX")"
	export JWT_ISS=$BASE JWT_AUD=$AUD
	export FILE_WORK=$WORK
	stack_start
}
teardown_file() { stack_stop; }

# A test that starts a stack of its own (other_stack) has it stopped here,
# also when it fails; the file's stack is left to teardown_file.
teardown() {
	if [ "${WORK:-}" != "$FILE_WORK" ]; then
		stack_stop || :
	fi
}

# other_stack: the environment of a second stack in a new directory, with
# JWT_ISS and JWT_AUD unset (the defaults); start it with stack_start.
other_stack() {
	unset JWT_ISS JWT_AUD
	stack_env "$(mktemp -d "$BATS_FILE_TMPDIR/other.XXXXXX")"
	"$ROOT/scripts/gen-keys.sh" "$WORK/keys" >/dev/null
}

# forge HEADER PAYLOAD KEY: a compact RS256 JWS of the two JSON texts.
forge() {
	local input
	input="$(printf '%s' "$1" | b64url).$(printf '%s' "$2" | b64url)"
	echo "$input.$(printf '%s' "$input" | openssl dgst -sha256 -sign "$3" -binary | b64url)"
}

jose() { node "$ROOT/tests/js/verify.mjs" "$@"; }
pyjwt() { "$PY" "$BATS_TEST_DIRNAME/pyjwt_verify.py" "$@"; }

@test "both paths serve one document: issuer, jwks_uri, RS256, cacheable for 5 minutes" {
	local doc
	for p in /.well-known/openid-configuration /.well-known/oauth-authorization-server; do
		api GET "$p"
		[ "$status_code" = 200 ]
		[ "$(header Content-Type)" = application/json ]
		[ "$(header Cache-Control)" = "public, max-age=300" ]
		jq -e --arg iss "$BASE" '
			.issuer == $iss and
			.jwks_uri == $iss + "/.well-known/jwks.json" and
			.id_token_signing_alg_values_supported == ["RS256"] and
			.subject_types_supported == ["public"] and
			.response_types_supported == [] and
			.grant_types_supported == [] and
			(has("authorization_endpoint") or has("token_endpoint") or
			 has("userinfo_endpoint")) == false' <<<"$body"
		if [ -z "${doc:-}" ]; then doc=$body; else [ "$body" = "$doc" ]; fi
	done
	# jwks_uri answers with the key the tokens name.
	register doc@example.com
	curl -fsS "$(jq -r .jwks_uri <<<"$doc")" >"$WORK/jwks.json"
	kid=$(jwt_part 0 "$access" | jq -r .kid)
	jq -e --arg kid "$kid" '.keys | any(.kid == $kid and .alg == "RS256")' "$WORK/jwks.json"
	# The issuer in the document is the one tokens carry, byte for byte.
	[ "$(jwt_part 1 "$access" | jq -r .iss)" = "$BASE" ]
}

@test "HEAD, POST, PUT and DELETE get what they get from jwks, the other GET-only document" {
	local -a got=()
	for m in HEAD POST PUT DELETE; do
		for p in /.well-known/jwks.json /.well-known/openid-configuration \
			/.well-known/oauth-authorization-server; do
			if [ "$m" = HEAD ]; then
				api HEAD "$p" "" --head
			elif [ "$m" = POST ]; then
				api POST "$p" '{}'
			else
				api "$m" "$p"
			fi
			got[${#got[@]}]="$m $status_code $(header Allow) $(header Cache-Control)"
			# Every answer other than HEAD's carries a JSON body.
			[ "$m" = HEAD ] || jq -e . <<<"$body" >/dev/null
		done
		echo "${got[*]}"
		[ "${got[0]}" = "${got[1]}" ] && [ "${got[0]}" = "${got[2]}" ]
		got=()
	done
	# The contract's only method still answers, and the stack lives.
	api GET /.well-known/openid-configuration
	[ "$status_code" = 200 ]
	assert_alive
}

@test "nothing but the two paths: near misses are the front's JSON 404" {
	for p in /.well-known/openid-configuration/ /.well-known/openid-configurationx \
		/.well-known/oauth-authorization-server/x /x/.well-known/openid-configuration \
		/.well-known/oauth-authorization-server.json; do
		api GET "$p"
		[ "$status_code" = 404 ]
		[ "$(jq -c . <<<"$body")" = '{"detail":"not found"}' ]
	done
}

@test "Node jose verifies an access token given only the issuer URL" {
	register jose@example.com
	run jose "$BASE" "$access" "$AUD"
	echo "$output"
	[ "$status" -eq 0 ]
	api GET /auth/me "" -H "Authorization: Bearer $access"
	[ "$(jq -r .claims.sub <<<"$output")" = "$(jq -r .id <<<"$body")" ]
	[ "$(jq -r .header.typ <<<"$output")" = at+jwt ]
	[ "$(jq -r .claims.aud <<<"$output")" = "$AUD" ]
}

@test "PyJWT (PyJWKClient) verifies an access token given only the issuer URL" {
	register pyjwt@example.com
	run pyjwt "$BASE" "$access" "$AUD"
	echo "$output"
	[ "$status" -eq 0 ]
	api GET /auth/me "" -H "Authorization: Bearer $access"
	[ "$(jq -r .sub <<<"$output")" = "$(jq -r .id <<<"$body")" ]
	[ "$(jq -r .iss <<<"$output")" = "$BASE" ]
}

@test "both refuse another key's token, another issuer's, another audience's, and a refresh token" {
	register forged@example.com
	local hdr claims other
	hdr=$(jwt_part 0 "$access")
	claims=$(jwt_part 1 "$access")
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
		-out "$WORK/other.pem" 2>/dev/null
	declare -A bad
	# Our kid, another key's signature.
	bad[other-key]=$(forge "$hdr" "$claims" "$WORK/other.pem")
	# Our key, another issuer (the same host with a trailing path).
	other=$(jq -c --arg iss "$BASE/evil" '.iss = $iss' <<<"$claims")
	bad[other-issuer]=$(forge "$hdr" "$other" "$JWT_PRIVATE_KEY_PATH")
	other=$(jq -c '.aud = "https://other.example.test"' <<<"$claims")
	bad[other-audience]=$(forge "$hdr" "$other" "$JWT_PRIVATE_KEY_PATH")
	bad[refresh]=$refresh
	# Control: our key re-signing the very same texts passes both.
	good=$(forge "$hdr" "$claims" "$JWT_PRIVATE_KEY_PATH")
	jose "$BASE" "$good" "$AUD" >/dev/null
	pyjwt "$BASE" "$good" "$AUD" >/dev/null
	for k in "${!bad[@]}"; do
		run jose "$BASE" "${bad[$k]}" "$AUD"
		echo "jose $k: $status $output"
		[ "$status" -eq 1 ]
		run pyjwt "$BASE" "${bad[$k]}" "$AUD"
		echo "pyjwt $k: $status $output"
		[ "$status" -eq 1 ]
		# And the service itself agrees.
		api GET /auth/me "" -H "Authorization: Bearer ${bad[$k]}"
		[ "$status_code" = 401 ]
	done
	# An issuer that merely looks like ours (trailing slash) finds no
	# document that names it: the verifiers refuse to configure.
	run jose "$BASE/" "$access" "$AUD"
	[ "$status" -eq 1 ]
	run pyjwt "$BASE/" "$access" "$AUD"
	[ "$status" -eq 1 ]
}

@test "with JWT_ISS not a URL (the default) both paths are 404 and the rest serves" {
	other_stack
	stack_start
	for p in /.well-known/openid-configuration /.well-known/oauth-authorization-server; do
		api GET "$p"
		[ "$status_code" = 404 ]
		[ "$(jq -r .detail <<<"$body")" = "discovery needs JWT_ISS to be this service's URL" ]
	done
	api GET /.well-known/jwks.json
	[ "$status_code" = 200 ]
	register default@example.com
	[ "$(jwt_part 1 "$access" | jq -r .iss)" = taskhub-auth ]
}

@test "a JWT_ISS URL with a trailing slash stops start-up with one line naming it" {
	other_stack
	export JWT_ISS="$BASE/"
	cd "$WORK"
	run "$ROOT/scripts/start.sh" --background
	echo "$output"
	[ "$status" -ne 0 ]
	[ "$(grep -c JWT_ISS <<<"$output")" -eq 1 ]
	grep -q "JWT_ISS must not end with '/'" <<<"$output"
	# Nothing was started: no supervisor, nothing on the port.
	refute pidfile_live "$RUN_DIR/supervise.pid" supervise
	refute port_answers 127.0.0.1 "$PORT"
}
