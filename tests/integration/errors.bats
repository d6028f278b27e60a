#!/usr/bin/env bats
# Every failure the contract names, through the real stack; after each
# hostile request the service still answers.

load helper

setup_file() { stack_start; }
teardown_file() { stack_stop; }

teardown() { assert_alive; }

detail() { jq -r .detail <<<"$body"; }

@test "register: malformed JSON is 422 with a detail" {
	api POST /auth/register '{"email": "a@b.co", "password": '
	[ "$status_code" = 422 ]
	[ "$(detail)" = "body: invalid JSON" ]
}

@test "register: a body that is not an object is 422" {
	api POST /auth/register '["a@b.co","secret123"]'
	[ "$status_code" = 422 ]
	[ "$(detail)" = "body: must be a JSON object" ]
}

@test "register: missing fields are 422 naming the field" {
	api POST /auth/register '{"password":"secret123"}'
	[ "$status_code" = 422 ]
	[ "$(detail)" = "email: field required" ]
	api POST /auth/register '{"email":"a@b.co"}'
	[ "$status_code" = 422 ]
	[ "$(detail)" = "password: field required" ]
}

@test "register: non-string fields are 422" {
	api POST /auth/register '{"email":12345,"password":"secret123"}'
	[ "$status_code" = 422 ]
	[ "$(detail)" = "email: must be a string" ]
}

@test "register: invalid emails are 422" {
	for e in 'noatsign.com' 'two@@x.com' 'a@nodot' 'sp ace@x.com' '@x.com' 'a@.com' 'a@x.' \
		"$(printf 'l%.0s' {1..65})@x.com" 'ab'; do
		api POST /auth/register "{\"email\":\"$e\",\"password\":\"secret123\"}"
		[ "$status_code" = 422 ] || { echo "accepted: $e"; return 1; }
		[[ $(detail) == email:* ]]
	done
}

@test "register: control bytes and invalid UTF-8 in the email are 422" {
	api POST /auth/register '{"email":"a\u0001b@x.com","password":"secret123"}'
	[ "$status_code" = 422 ]
	api POST /auth/register "$(printf '{"email":"a\xff@x.com","password":"secret123"}')"
	[ "$status_code" = 422 ]
}

@test "register: passwords of 7 and 73 bytes are 422, 8 and 72 are accepted" {
	api POST /auth/register '{"email":"p7@x.com","password":"1234567"}'
	[ "$status_code" = 422 ]
	[ "$(detail)" = "password: must be 8 to 72 bytes" ]
	api POST /auth/register "{\"email\":\"p73@x.com\",\"password\":\"$(printf 'p%.0s' {1..73})\"}"
	[ "$status_code" = 422 ]
	api POST /auth/register '{"email":"p8@x.com","password":"12345678"}'
	[ "$status_code" = 201 ]
	api POST /auth/register "{\"email\":\"p72@x.com\",\"password\":\"$(printf 'p%.0s' {1..72})\"}"
	[ "$status_code" = 201 ]
}

@test "register: a NUL inside the password is 422" {
	api POST /auth/register '{"email":"nul@x.com","password":"secret\u0000123"}'
	[ "$status_code" = 422 ]
	[ "$(detail)" = "password: must not contain NUL" ]
}

@test "register: a taken email is 400 and nothing is half-written" {
	register dup@example.com
	before=$(db_query "SELECT (SELECT count(*) FROM users)||'/'||(SELECT count(*) FROM sessions)||'/'||(SELECT count(*) FROM refresh_tokens)")
	api POST /auth/register '{"email":"dup@example.com","password":"otherpass1"}'
	[ "$status_code" = 400 ]
	[ "$(detail)" = "email already registered" ]
	after=$(db_query "SELECT (SELECT count(*) FROM users)||'/'||(SELECT count(*) FROM sessions)||'/'||(SELECT count(*) FROM refresh_tokens)")
	[ "$before" = "$after" ]
}

@test "register: SQL-looking input is only data" {
	e="x');DROP/**/TABLE/**/users;--@evil.com"
	api POST /auth/register "{\"email\":\"$e\",\"password\":\"' OR '1'='1\"}"
	[ "$status_code" = 201 ]
	api POST /auth/login "{\"email\":\"$e\",\"password\":\"' OR '1'='1\"}"
	[ "$status_code" = 200 ]
	api POST /auth/login "{\"email\":\"$e\",\"password\":\"' OR 1=1 --\"}"
	[ "$status_code" = 401 ]
	[ "$(db_query "SELECT count(*) FROM users WHERE email = 'x'');drop/**/table/**/users;--@evil.com'")" = 1 ]
}

@test "login: wrong password and unknown email give the same 401 body" {
	register known@example.com
	api POST /auth/login '{"email":"known@example.com","password":"wrongpass1"}'
	[ "$status_code" = 401 ]
	wrong=$body
	api POST /auth/login '{"email":"nobody@example.com","password":"wrongpass1"}'
	[ "$status_code" = 401 ]
	[ "$body" = "$wrong" ]
	[ "$(detail)" = "invalid credentials" ]
}

@test "login: invalid input is 422 before any lookup" {
	api POST /auth/login '{"email":"known@example.com"}'
	[ "$status_code" = 422 ]
	api POST /auth/login 'not json'
	[ "$status_code" = 422 ]
}

@test "refresh: garbage, missing and non-string tokens" {
	api POST /auth/refresh '{"refresh_token":"not.a.jwt"}'
	[ "$status_code" = 401 ]
	[ "$(detail)" = "invalid refresh token" ]
	api POST /auth/refresh '{}'
	[ "$status_code" = 422 ]
	[ "$(detail)" = "refresh_token: field required" ]
	api POST /auth/refresh '{"refresh_token":42}'
	[ "$status_code" = 422 ]
	api POST /auth/refresh '42'
	[ "$status_code" = 422 ]
	api POST /auth/refresh "\"$(head -c 6000 /dev/zero | tr '\0' a)\""
	[ "$status_code" = 401 ]
}

@test "refresh: an access token is not a refresh token" {
	register typed@example.com
	api POST /auth/refresh "{\"refresh_token\":\"$access\"}"
	[ "$status_code" = 401 ]
	[ "$(detail)" = "invalid refresh token" ]
}

@test "refresh: a tampered token is refused" {
	register tamper@example.com
	payload=$(jwt_part 1 "$refresh" | jq -c '.sub = "00000000-0000-4000-8000-000000000000"' |
		base64 -w0 | tr '+/' '-_' | tr -d '=')
	forged="$(cut -d. -f1 <<<"$refresh").$payload.$(cut -d. -f3 <<<"$refresh")"
	api POST /auth/refresh "{\"refresh_token\":\"$forged\"}"
	[ "$status_code" = 401 ]
}

@test "refresh: alg none and HS256 tokens are refused" {
	register algs@example.com
	p=$(cut -d. -f2 <<<"$refresh")
	none=$(printf '{"alg":"none","typ":"rt+jwt"}' | base64 -w0 | tr '+/' '-_' | tr -d '=')
	api POST /auth/refresh "{\"refresh_token\":\"$none.$p.\"}"
	[ "$status_code" = 401 ]
	kid=$(jwt_part 0 "$refresh" | jq -r .kid)
	h=$(printf '{"alg":"HS256","typ":"rt+jwt","kid":"%s"}' "$kid" | base64 -w0 | tr '+/' '-_' | tr -d '=')
	sig=$(printf '%s' "$h.$p" | openssl dgst -sha256 -mac HMAC -macopt "key:$(cat "$JWT_PUBLIC_KEY_PATH")" -binary |
		base64 -w0 | tr '+/' '-_' | tr -d '=')
	api POST /auth/refresh "{\"refresh_token\":\"$h.$p.$sig\"}"
	[ "$status_code" = 401 ]
}

@test "me: no header is 401 with a bare Bearer challenge" {
	api GET /auth/me
	[ "$status_code" = 401 ]
	[ "$(header WWW-Authenticate)" = "Bearer" ]
}

@test "me: a bad token is 401 with error=invalid_token" {
	api GET /auth/me "" -H "Authorization: Bearer abc.def.ghi"
	[ "$status_code" = 401 ]
	[ "$(header WWW-Authenticate)" = 'Bearer error="invalid_token"' ]
	api GET /auth/me "" -H "Authorization: Basic dXNlcjpwYXNz"
	[ "$status_code" = 401 ]
	[ "$(header WWW-Authenticate)" = 'Bearer error="invalid_token"' ]
}

@test "me: a refresh token used as bearer is 401" {
	register bearer@example.com
	api GET /auth/me "" -H "Authorization: Bearer $refresh"
	[ "$status_code" = 401 ]
	[ "$(header WWW-Authenticate)" = 'Bearer error="invalid_token"' ]
}

@test "me: the access token of a deleted user is 401" {
	register gone@example.com
	db_query "PRAGMA foreign_keys=ON; DELETE FROM users WHERE email = 'gone@example.com';"
	api GET /auth/me "" -H "Authorization: Bearer $access"
	[ "$status_code" = 401 ]
}

@test "a method a route does not serve is 405 with Allow" {
	api GET /auth/login
	[ "$status_code" = 405 ]
	[ "$(header Allow)" = POST ]
	api DELETE /auth/me
	[ "$status_code" = 405 ]
	[ "$(header Allow)" = GET ]
	api PUT /auth/register '{}'
	[ "$status_code" = 405 ]
}

@test "POST without Content-Length is 411" {
	api POST /auth/login
	[ "$status_code" = 411 ]
	[ -n "$(detail)" ]
}

@test "a body over MAX_BODY_BYTES is 413" {
	big=$(head -c 70000 /dev/zero | tr '\0' a)
	api POST /auth/login "{\"email\":\"$big\"}"
	[ "$status_code" = 413 ]
	[ "$(detail)" = "request body too large" ]
}

@test "a 2 MiB body is refused and the service still answers" {
	head -c 2097152 /dev/zero | tr '\0' a > "$WORK/2mib"
	code=$(curl -s -o "$WORK/2mib.out" -w '%{http_code}' -X POST \
		-H 'Content-Type: application/json' --data-binary "@$WORK/2mib" "$BASE/auth/register")
	[ "$code" = 413 ]
	jq -e .detail "$WORK/2mib.out"
}

# Straight to the FastCGI sockets: how a worker ends a connection
# (http.c, http_finish). After reading the whole request it closes at once;
# after answering without reading the body it keeps reading until the web
# server is done sending, so that nothing is cut off mid-write.
@test "a worker closes at once after a whole request, and drains a body it did not read" {
	close_after() { "$BATS_TEST_DIRNAME/fcgi_close.py" "$RUN_DIR/$1.sock" "${@:2}"; }
	[ "$(close_after healthz GET /healthz)" = "status=200 after=closed" ]
	[ "$(close_after refresh POST /auth/refresh 7 '"a.b.c"')" = "status=401 after=closed" ]
	[ "$(close_after refresh POST /auth/refresh 99999999)" = "status=413 after=open" ]
	[ "$(close_after logout_all POST /auth/logout-all 3 abc)" = "status=401 after=open" ]
	[ "$(close_after healthz DELETE /healthz)" = "status=405 after=open" ]
	[ "$(close_after healthz GET /healthz)" = "status=200 after=closed" ]
}

@test "an unknown path is a JSON 404" {
	api GET /auth/nothing-here
	[ "$status_code" = 404 ]
	[ "$(detail)" = "not found" ]
	api GET /auth/me/extra
	[ "$status_code" = 404 ]
}

@test "a chunked body reaches the endpoint whole" {
	register chunked@example.com
	status_code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Transfer-Encoding: chunked' \
		-H 'Content-Type: application/json' \
		--data-binary '{"email":"chunked@example.com","password":"secret123"}' "$BASE/auth/login")
	[ "$status_code" = 200 ]
}

@test "a slow client that never sends its body does not stall others" {
	( exec 3<>"/dev/tcp/127.0.0.1/$PORT"
	  printf 'POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"em' >&3
	  sleep 3 ) &
	slow=$!
	sleep 0.2
	api GET /healthz
	[ "$status_code" = 200 ]
	api POST /auth/login '{"email":"nobody@x.com","password":"secret123"}'
	[ "$status_code" = 401 ]
	kill "$slow" 2>/dev/null || true
	wait "$slow" 2>/dev/null || true
}
