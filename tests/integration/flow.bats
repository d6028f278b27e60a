#!/usr/bin/env bats
# The original design's definition of done, through lighttpd and the real
# binaries: register -> me -> login -> refresh -> replay is 401.

load helper

setup_file() { stack_start; }
teardown_file() { stack_stop; }

@test "healthz answers ok" {
	api GET /healthz
	[ "$status_code" = 200 ]
	[ "$(jq -r .status <<<"$body")" = ok ]
}

@test "register, me, login, refresh, replay of the old refresh token is 401" {
	register flow@example.com
	[ "$(jq -r .token_type <<<"$body")" = bearer ]
	[ "$(jq -r .expires_in <<<"$body")" = 900 ]

	api GET /auth/me "" -H "Authorization: Bearer $access"
	[ "$status_code" = 200 ]
	[ "$(jq -r .email <<<"$body")" = flow@example.com ]
	id=$(jq -r .id <<<"$body")
	[[ $id =~ ^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ ]]

	api POST /auth/login '{"email":"flow@example.com","password":"secret123"}'
	[ "$status_code" = 200 ]
	old=$(jq -r .refresh_token <<<"$body")

	api POST /auth/refresh "{\"refresh_token\":\"$old\"}"
	[ "$status_code" = 200 ]
	new_access=$(jq -r .access_token <<<"$body")
	api GET /auth/me "" -H "Authorization: Bearer $new_access"
	[ "$status_code" = 200 ]
	[ "$(jq -r .id <<<"$body")" = "$id" ]

	api POST /auth/refresh "{\"refresh_token\":\"$old\"}"
	[ "$status_code" = 401 ]
	[ "$(jq -r .detail <<<"$body")" = "refresh token revoked or expired" ]
}

@test "token responses carry no-store headers" {
	register headers@example.com
	[ "$(header Cache-Control)" = no-store ]
	[ "$(header Pragma)" = no-cache ]
	[[ $(header Content-Type) == application/json* ]]
}

@test "tokens are typed RS256 JWTs with kid, sid, jti and iss" {
	register claims@example.com
	ah=$(jwt_part 0 "$access"); ap=$(jwt_part 1 "$access")
	rh=$(jwt_part 0 "$refresh"); rp=$(jwt_part 1 "$refresh")
	[ "$(jq -r .alg <<<"$ah")" = RS256 ]
	[ "$(jq -r .typ <<<"$ah")" = at+jwt ]
	[ "$(jq -r .typ <<<"$rh")" = rt+jwt ]
	[ "$(jq -r .kid <<<"$ah")" = "$(jq -r .kid <<<"$rh")" ]
	[ "$(jq -r '.kid | length' <<<"$ah")" = 43 ]
	[ "$(jq -r .iss <<<"$ap")" = taskhub-auth ]
	[ "$(jq -r .sid <<<"$ap")" = "$(jq -r .sid <<<"$rp")" ]
	[ "$(jq -r .sub <<<"$ap")" = "$(jq -r .sub <<<"$rp")" ]
	[ "$(jq -r '.exp - .iat' <<<"$ap")" = 900 ]
	[ "$(jq -r '.exp - .iat' <<<"$rp")" = 2592000 ]
	[ "$(jq -r .jti <<<"$ap")" != "$(jq -r .jti <<<"$rp")" ]
}

@test "the kid is the RFC 7638 thumbprint of the public key" {
	register kid@example.com
	n=$(openssl rsa -pubin -in "$JWT_PUBLIC_KEY_PATH" -noout -modulus | cut -d= -f2 |
		xxd -r -p | base64 -w0 | tr '+/' '-_' | tr -d '=')
	canon="{\"e\":\"AQAB\",\"kty\":\"RSA\",\"n\":\"$n\"}"
	want=$(printf '%s' "$canon" | openssl dgst -sha256 -binary | base64 -w0 | tr '+/' '-_' | tr -d '=')
	[ "$(jwt_part 0 "$access" | jq -r .kid)" = "$want" ]
}

@test "refresh accepts a bare JSON string body, as the original client sends" {
	register bare@example.com
	api POST /auth/refresh "\"$refresh\""
	[ "$status_code" = 200 ]
	[ -n "$(jq -r .access_token <<<"$body")" ]
}

@test "a rotated chain keeps working: refresh the refreshed token" {
	register chain@example.com
	for _ in 1 2 3; do
		api POST /auth/refresh "{\"refresh_token\":\"$refresh\"}"
		[ "$status_code" = 200 ]
		refresh=$(jq -r .refresh_token <<<"$body")
	done
	[ "$(db_query "SELECT count(*) FROM refresh_tokens t JOIN users u ON u.id = t.user_id WHERE u.email = 'chain@example.com' AND t.revoked = 1 AND t.replaced_by IS NOT NULL")" = 3 ]
}

@test "emails are one account whatever their case" {
	register Mixed.Case@Example.COM
	api GET /auth/me "" -H "Authorization: Bearer $access"
	[ "$(jq -r .email <<<"$body")" = mixed.case@example.com ]
	api POST /auth/login '{"email":"MIXED.case@example.com","password":"secret123"}'
	[ "$status_code" = 200 ]
	api POST /auth/register '{"email":"mixed.case@EXAMPLE.com","password":"secret123"}'
	[ "$status_code" = 400 ]
	[ "$(jq -r .detail <<<"$body")" = "email already registered" ]
}

@test "a client X-Request-Id is echoed, an unsafe one replaced" {
	api GET /healthz "" -H "X-Request-Id: trace-42"
	[ "$(header X-Request-Id)" = trace-42 ]
	api GET /healthz "" -H "X-Request-Id: bad id<script>"
	[[ $(header X-Request-Id) =~ ^[0-9a-f-]{36}$ ]]
}

@test "the log names events without ever holding a password or token" {
	register secretive@example.com 'Sup3r-Secret-Pw!'
	api POST /auth/login '{"email":"secretive@example.com","password":"Sup3r-Secret-Pw!"}'
	api POST /auth/refresh "{\"refresh_token\":\"$refresh\"}"
	log=$WORK/run/auth.log
	grep -q '"event":"register"' "$log"
	grep -q '"event":"login_success"' "$log"
	refute grep -qF 'Sup3r-Secret-Pw!' "$log"
	refute grep -qF -e "$refresh" "$log"
	refute grep -qF -e "$(cut -d. -f3 <<<"$access")" "$log"
	refute grep -q '\$2b\$' "$log"
	while IFS= read -r line; do jq -e . >/dev/null <<<"$line"; done < "$log"
}
