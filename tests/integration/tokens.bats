#!/usr/bin/env bats
# Token lifecycle: JWKS, key rotation on a running stack, replay
# detection, and the reuse interval both ways.

load helper

setup_file() {
	stack_env "$(mktemp -d "$BATS_FILE_TMPDIR/tokens.XXXXXX")"
	export JWT_EXTRA_PUBLIC_KEYS=$WORK/keys/retired
	stack_start
}
teardown_file() { stack_stop; }

kid_of() { jwt_part 0 "$1" | jq -r .kid; }

@test "jwks lists the signing key as an RSA JWK whose kid tokens carry" {
	register jwks@example.com
	api GET /.well-known/jwks.json
	[ "$status_code" = 200 ]
	[ "$(header Cache-Control)" = "public, max-age=300" ]
	k=$(jq -c '.keys[0]' <<<"$body")
	[ "$(jq -r .kty <<<"$k")" = RSA ]
	[ "$(jq -r .use <<<"$k")" = sig ]
	[ "$(jq -r .alg <<<"$k")" = RS256 ]
	[ "$(jq -r .e <<<"$k")" = AQAB ]
	[ "$(jq -r .kid <<<"$k")" = "$(kid_of "$access")" ]
	# n is the 2048-bit modulus, base64url without padding.
	[ "$(jq -r '.n | length' <<<"$k")" = 342 ]
	[[ $(jq -r .n <<<"$k") =~ ^[A-Za-z0-9_-]+$ ]]
	[ "$(jq -r '.keys | length' <<<"$body")" = 1 ]
}

@test "a rotated replay revokes the whole session, its newest tokens too" {
	register replay@example.com
	first=$refresh
	api POST /auth/refresh "{\"refresh_token\":\"$first\"}"
	[ "$status_code" = 200 ]
	newest_refresh=$(jq -r .refresh_token <<<"$body")
	newest_access=$(jq -r .access_token <<<"$body")
	api GET /auth/me "" -H "Authorization: Bearer $newest_access"
	[ "$status_code" = 200 ]
	# The stolen, already rotated token comes back.
	api POST /auth/refresh "{\"refresh_token\":\"$first\"}"
	[ "$status_code" = 401 ]
	api POST /auth/refresh "{\"refresh_token\":\"$newest_refresh\"}"
	[ "$status_code" = 401 ]
	api GET /auth/me "" -H "Authorization: Bearer $newest_access"
	[ "$status_code" = 401 ]
	api GET /auth/me "" -H "Authorization: Bearer $access"
	[ "$status_code" = 401 ]
	log_has '.event == "refresh_replay"'
}

@test "another session of the same user survives a replay" {
	register twosessions@example.com
	stolen=$refresh
	api POST /auth/login '{"email":"twosessions@example.com","password":"secret123"}'
	other_access=$(jq -r .access_token <<<"$body")
	api POST /auth/refresh "{\"refresh_token\":\"$stolen\"}"
	api POST /auth/refresh "{\"refresh_token\":\"$stolen\"}"
	[ "$status_code" = 401 ]
	api GET /auth/me "" -H "Authorization: Bearer $other_access"
	[ "$status_code" = 200 ]
}

@test "keys rotate on the running stack: old tokens verify, new ones use the new kid" {
	register rotate@example.com
	old_access=$access old_refresh=$refresh old_kid=$(kid_of "$access")
	( cd "$WORK" && "$ROOT/scripts/rotate-keys.sh" ) >/dev/null
	api GET /auth/me "" -H "Authorization: Bearer $old_access"
	[ "$status_code" = 200 ]
	register rotated@example.com
	new_kid=$(kid_of "$access")
	[ "$new_kid" != "$old_kid" ]
	api GET /auth/me "" -H "Authorization: Bearer $access"
	[ "$status_code" = 200 ]
	api GET /.well-known/jwks.json
	[ "$(jq -r '[.keys[].kid] | sort | join(" ")' <<<"$body")" = \
	  "$(printf '%s\n' "$old_kid" "$new_kid" | sort | tr '\n' ' ' | sed 's/ $//')" ]
	[ "$(jq -r '.keys[0].kid' <<<"$body")" = "$new_kid" ]
	# A refresh token signed by the retired key still rotates, to the new key.
	api POST /auth/refresh "{\"refresh_token\":\"$old_refresh\"}"
	[ "$status_code" = 200 ]
	[ "$(kid_of "$(jq -r .access_token <<<"$body")")" = "$new_kid" ]
	[ "$(stat -c %a "$JWT_PRIVATE_KEY_PATH")" = 600 ]
}

@test "a retired key past REFRESH_TTL is dropped, and its tokens stop verifying" {
	register retire@example.com
	old_access=$access
	( cd "$WORK" && "$ROOT/scripts/rotate-keys.sh" ) >/dev/null
	api GET /auth/me "" -H "Authorization: Bearer $old_access"
	[ "$status_code" = 200 ]
	# Age every retired key beyond REFRESH_TTL + CLOCK_SKEW, rotate again.
	i=0
	for f in "$WORK"/keys/retired/jwt_public-*.pem; do
		i=$((i + 1))
		mv "$f" "$WORK/keys/retired/jwt_public-$((1000 + i)).pem"
	done
	run bash -c "cd '$WORK' && '$ROOT/scripts/rotate-keys.sh'"
	[ "$status" -eq 0 ]
	[[ $output == *"removed"* ]]
	api GET /auth/me "" -H "Authorization: Bearer $old_access"
	[ "$status_code" = 401 ]
	api GET /.well-known/jwks.json
	[ "$(jq -r '.keys | length' <<<"$body")" = 2 ]
}

@test "rotate-keys.sh refuses when JWT_EXTRA_PUBLIC_KEYS does not list the retired keys" {
	run env JWT_EXTRA_PUBLIC_KEYS= bash -c "cd '$WORK' && '$ROOT/scripts/rotate-keys.sh'"
	[ "$status" -ne 0 ]
	[[ $output == *"JWT_EXTRA_PUBLIC_KEYS must list"* ]]
}
