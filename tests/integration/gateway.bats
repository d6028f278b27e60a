#!/usr/bin/env bats
# The gateway: /auth/verify itself, and the shipped front configurations
# of docs/gateway/ (lighttpd authorizer -> FastCGI, lighttpd authorizer ->
# mod_proxy HTTP, nginx auth_request) each protecting /app/ in front of
# an echo service (gateway_echo.py) that logs every request it gets.

load helper

GW_DOCS=$ROOT/docs/gateway
GW_PIDS=()

setup() {
	stack_env "$(mktemp -d "$BATS_TEST_TMPDIR/stack.XXXXXX")"
	GW=$WORK/gw
	mkdir -p "$GW"
}

teardown() {
	local p
	for p in "${GW_PIDS[@]}"; do
		kill "$p" 2>/dev/null || :
	done
	for p in "${GW_PIDS[@]}"; do
		wait "$p" 2>/dev/null || :
	done
	stack_stop
	if [ -n "${NGX:-}" ] && [ "$NGX" != "${GW:-}" ]; then rm -rf "$NGX"; fi
}


# expired ACCESS: the same claims, expired an hour ago, signed with the
# stack's private key (only exp and iat differ).
expired() {
	local h p now input
	now=$(date +%s)
	h=$(jwt_part 0 "$1" | jq -c .)
	p=$(jwt_part 1 "$1" | jq -c --argjson n "$now" '.exp = $n - 3600 | .iat = $n - 4500')
	input="$(printf '%s' "$h" | b64url).$(printf '%s' "$p" | b64url)"
	echo "$input.$(printf '%s' "$input" | openssl dgst -sha256 -sign "$JWT_PRIVATE_KEY_PATH" -binary | b64url)"
}

# wait_port PORT: something listens on 127.0.0.1:PORT (5 s at most).
wait_port() {
	for _ in $(seq 1 100); do
		curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0
		sleep 0.05
	done
	return 1
}
wait_file() {
	for _ in $(seq 1 100); do [ -e "$1" ] && return 0; sleep 0.05; done
	return 1
}

# echo_start http|fcgi: the protected service; sets APP (port or socket)
# and APP_LOG.
echo_start() {
	APP_LOG=$GW/app.log
	if [ "$1" = http ]; then
		APP=$(free_port)
		python3 "$BATS_TEST_DIRNAME/gateway_echo.py" http "$APP" "$APP_LOG" &
		GW_PIDS+=($!)
		wait_port "$APP"
		: > "$APP_LOG"   # the probe's request
	else
		APP=$GW/app.sock
		python3 "$BATS_TEST_DIRNAME/gateway_echo.py" fcgi "$APP" "$APP_LOG" &
		GW_PIDS+=($!)
		wait_file "$APP"
	fi
}

# lighttpd_front fastcgi|proxy: lighttpd with the shipped file included,
# on a free port (FRONT), as the current user, in front of the echo.
lighttpd_front() {
	FRONT=$(free_port)
	{
		echo "server.bind = \"127.0.0.1\""
		echo "server.port = $FRONT"
		echo "server.errorlog = \"$GW/lighttpd.err\""
		echo "server.document-root = \"$GW/no-documents\""
		echo "server.compat-module-load = \"disable\""
		echo "server.modules = ()"
		echo "var.auth_verify_socket = \"$RUN_DIR/verify.sock\""
		echo "var.gateway_dir = \"$GW_DOCS\""
		if [ "$1" = fastcgi ]; then
			echo "var.app_socket = \"$APP\""
		else
			echo "var.app_host = \"127.0.0.1\""
			echo "var.app_port = $APP"
		fi
		echo "include \"$GW_DOCS/lighttpd-$1.conf\""
	} > "$GW/lighttpd.conf"
	lighttpd -D -f "$GW/lighttpd.conf" &
	GW_PIDS+=($!)
	wait_port "$FRONT"
}

# nginx_front: nginx with the shipped server block (its three addresses
# pointed at this test's), on a free port (FRONT). Started as root (CI),
# it runs entirely as nobody through setpriv, like tests/pg.sh's
# PostgreSQL, rather than with "user root;": its workers then hold no
# privilege, and nobody only needs this test's directory (its upstreams
# are TCP ports, no socket permissions involved).
nginx_front() {
	FRONT=$(free_port)
	if [ "$(id -u)" = 0 ]; then
		# A directory of nobody's own: the test's lies under 0700 ones.
		NGX=$(mktemp -d /tmp/auth-gw-nginx.XXXXXX)
	else
		NGX=$GW
	fi
	sed -e "s/127\.0\.0\.1:8080;/127.0.0.1:$PORT;/" \
		-e "s/127\.0\.0\.1:9000;/127.0.0.1:$APP;/" \
		-e "s/listen 127\.0\.0\.1:8000;/listen 127.0.0.1:$FRONT;/" \
		"$GW_DOCS/nginx-auth-request.conf" > "$NGX/site.conf"
	grep -q "127.0.0.1:$FRONT;" "$NGX/site.conf"
	mkdir -p "$NGX/tmp"
	cat > "$NGX/nginx.conf" <<-CONF
	daemon off;
	worker_processes 1;
	pid $NGX/nginx.pid;
	error_log $NGX/nginx.err;
	events { worker_connections 64; }
	http {
		access_log off;
		client_body_temp_path $NGX/tmp/body;
		proxy_temp_path $NGX/tmp/proxy;
		fastcgi_temp_path $NGX/tmp/fastcgi;
		uwsgi_temp_path $NGX/tmp/uwsgi;
		scgi_temp_path $NGX/tmp/scgi;
		include $NGX/site.conf;
	}
	CONF
	if [ "$(id -u)" = 0 ]; then
		chown -R nobody "$NGX"
		setpriv --reuid=nobody --regid=nogroup --clear-groups \
			nginx -e "$NGX/nginx.err" -p "$NGX" -c "$NGX/nginx.conf" &
	else
		nginx -e "$NGX/nginx.err" -p "$NGX" -c "$NGX/nginx.conf" &
	fi
	GW_PIDS+=($!)
	wait_port "$FRONT"
}

# through METHOD TOKEN [curl args...]: METHOD /app/thing?q=1 through the
# front with TOKEN as bearer (none when empty); sets status_code, body,
# headers as api does.
through() {
	local m=$1 t=$2 out
	shift 2
	out=$GW/resp
	local auth=()
	[ -z "$t" ] || auth=(-H "Authorization: Bearer $t")
	status_code=$(curl -sS -o "$out.body" -D "$out.hdr" -w '%{http_code}' \
		-X "$m" "${auth[@]}" "$@" "http://127.0.0.1:$FRONT/app/thing?q=1")
	body=$(cat "$out.body")
	headers=$(tr -d '\r' < "$out.hdr")
}

# refused: the last answer is verify's 401: JSON detail, a Bearer
# challenge, and the service logged nothing.
refused() {
	[ "$status_code" = 401 ] || { echo "status $status_code: $body" >&2; return 1; }
	jq -e '.detail | type == "string"' <<<"$body" >/dev/null
	[[ $(header Content-Type) == application/json* ]]
	[[ $(header WWW-Authenticate) == Bearer* ]]
	[ "$(grep -ci '^WWW-Authenticate:' <<<"$headers")" = 1 ]
	[ ! -s "$APP_LOG" ] || { cat "$APP_LOG" >&2; return 1; }
}

# seen KIND: the identity the service got on its last request, as
# "user email session" (KIND http: headers; fcgi: FastCGI params).
seen() {
	if [ "$1" = http ]; then
		tail -1 "$APP_LOG" | jq -r '[.headers[] | select(.[0] | ascii_downcase == ("x-user-id", "x-user-email", "x-session-id"))] | map(.[1]) | join(" ")'
	else
		tail -1 "$APP_LOG" | jq -r '.params | "\(.X_USER_ID) \(.X_USER_EMAIL) \(.X_SESSION_ID)"'
	fi
}

# The names an identity may travel under, and what a client puts there.
FORGED=(-H "X-User-Id: forged" -H "X_User_Id: forged" -H "Remote-User: forged"
	-H "X-Auth-Request-User: forged" -H "X-Auth-Request-Email: forged"
	-H "X-User-Email: forged" -H "X-Session-Id: forged" -H "Remote-Email: forged"
	-H "X-Forwarded-User: forged")

# no_forgery: nothing of the last request the service got says "forged".
no_forgery() {
	! tail -1 "$APP_LOG" | grep -q forged || { tail -1 "$APP_LOG" >&2; return 1; }
}

# gateway KIND(http|fcgi): the whole protection check through FRONT.
gateway() {
	local kind=$1 bad sid uid revoked
	register gw@example.com
	uid=$(jwt_part 1 "$access" | jq -r .sub)
	sid=$(jwt_part 1 "$access" | jq -r .sid)
	good=$access
	good_refresh=$refresh
	api POST /auth/login '{"email":"gw@example.com","password":"secret123"}'
	revoked=$(jq -r .access_token <<<"$body")
	api POST /auth/logout "{\"refresh_token\":\"$(jq -r .refresh_token <<<"$body")\"}" \
		-H "Authorization: Bearer $revoked"
	[ "${status_code:0:1}" = 2 ]
	# The signature with one character in its middle changed.
	local sig=${good##*.} c
	c=${sig:20:1}
	[ "$c" = A ] && c=B || c=A
	bad=${good%.*}.${sig:0:20}$c${sig:21}
	[ "$bad" != "$good" ]

	# Refused, whatever else the client sends; the service never reached.
	through GET "" "${FORGED[@]}"; refused
	[[ $(header WWW-Authenticate) == "Bearer" ]]
	through GET "not.a.jwt"; refused
	[[ $(header WWW-Authenticate) == *invalid_token* ]]
	through POST "$bad" --data-binary 'x=1' "${FORGED[@]}"; refused
	through DELETE "$revoked"; refused
	through GET "$good_refresh"; refused
	through GET "$(expired "$good")"; refused
	through PUT "$(expired "$good")" --data-binary 'abc'; refused

	# A good token passes with its identity, forged headers or not, for
	# every method; the body reaches the service whole.
	through GET "$good"
	[ "$status_code" = 200 ]
	[ "$(seen "$kind")" = "$uid gw@example.com $sid" ]
	[ "$(tail -1 "$APP_LOG" | jq -r .method)" = GET ]
	through POST "$good" --data-binary 'hello=world' "${FORGED[@]}"
	[ "$status_code" = 200 ]
	[ "$(seen "$kind")" = "$uid gw@example.com $sid" ]
	[ "$(tail -1 "$APP_LOG" | jq -r '"\(.method) \(.body_len)"')" = "POST 11" ]
	no_forgery
	through DELETE "$good" "${FORGED[@]}"
	[ "$status_code" = 200 ]
	[ "$(tail -1 "$APP_LOG" | jq -r .method)" = DELETE ]
	[ "$(seen "$kind")" = "$uid gw@example.com $sid" ]
	no_forgery
	if [ "$kind" = http ]; then
		# Every alias carries the identity too.
		[ "$(tail -1 "$APP_LOG" | jq -r '[.headers[] | {(.[0] | ascii_downcase): .[1]}] | add | "\(.["remote-user"]) \(.["x-auth-request-user"]) \(.["remote-email"]) \(.["x-auth-request-email"])"')" = "$uid $uid gw@example.com gw@example.com" ]
	else
		[ "$(tail -1 "$APP_LOG" | jq -r '.params | "\(.REMOTE_USER) \(.REMOTE_EMAIL) \(.X_AUTH_REQUEST_USER) \(.X_AUTH_REQUEST_EMAIL)"')" = "$uid gw@example.com $uid gw@example.com" ]
	fi
	# Three requests reached the service, no more.
	[ "$(wc -l < "$APP_LOG")" = 3 ]
}

@test "verify: any method and URI, exactly 200 with the identity or 401, a body neither read nor awaited" {
	stack_start
	register v@example.com
	uid=$(jwt_part 1 "$access" | jq -r .sub)
	sid=$(jwt_part 1 "$access" | jq -r .sid)
	# (lighttpd itself answers a POST without Content-Length 411, before
	# any route: fronts never send one, nginx's auth_request asks by GET.)
	for m in GET POST DELETE PUT PATCH OPTIONS; do
		api "$m" "/auth/verify" "" -H "Authorization: Bearer $access" -H "Content-Length: 0"
		[ "$status_code" = 200 ] || { echo "$m: $status_code" >&2; false; }
		[ -z "$body" ]
		[ "$(header Cache-Control)" = no-store ]
		[ "$(header X-User-Id)" = "$uid" ]
		[ "$(header X-User-Email)" = v@example.com ]
		[ "$(header X-Session-Id)" = "$sid" ]
		[ "$(header Remote-User)" = "$uid" ]
		[ "$(header Remote-Email)" = v@example.com ]
		[ "$(header X-Auth-Request-User)" = "$uid" ]
		[ "$(header X-Auth-Request-Email)" = v@example.com ]
		refute grep -qi '^Variable-' <<<"$headers"
		api "$m" "/auth/verify" "" -H "Content-Length: 0"
		[ "$status_code" = 401 ]
		[ "$(jq -r .detail <<<"$body")" = "not authenticated" ]
		[ "$(header WWW-Authenticate)" = Bearer ]
	done
	api HEAD /auth/verify "" -H "Authorization: Bearer $access"
	[ "$status_code" = 200 ]
	# Not routed on the URI: a query, or what a front hands on.
	api GET "/auth/verify?next=/admin/../x&redirect=https://evil.example" "" -H "Authorization: Bearer $access"
	[ "$status_code" = 200 ]
	api GET "/auth/verify" "" -H "Authorization: Bearer $access" -H "X-Original-URI: /anything"
	[ "$status_code" = 200 ]
	# A body that would be 422/413 elsewhere, or one announced and never
	# sent: answered at once, 200 or 401, never 4xx otherwise.
	api POST /auth/verify '{not json' -H "Authorization: Bearer $access"
	[ "$status_code" = 200 ]
	head -c 3000000 /dev/zero > "$WORK/big"
	api POST /auth/verify "" --data-binary @"$WORK/big" -H "Authorization: Bearer $access"
	[ "$status_code" = 200 ]
	api POST /auth/verify "" --data-binary @"$WORK/big"
	[ "$status_code" = 401 ]
	# Behind lighttpd a length announced and never sent is answered at
	# once. nginx awaits any announced body before it passes a request
	# on, whatever the location says (docs/nginx.md); its auth_request
	# sends none, and a client is dropped after READ_TIMEOUT as anywhere.
	if [ "$FRONT" = lighttpd ]; then
		t0=$(date +%s%N)
		api POST /auth/verify "" -m 3 -H "Content-Length: 100" -H "Authorization: Bearer $access"
		[ "$status_code" = 200 ]
		api POST /auth/verify "" -m 3 -H "Content-Length: 100000000"
		[ "$status_code" = 401 ]
		[ $(( ($(date +%s%N) - t0) / 1000000 )) -lt 2000 ]
	fi
	# Refused like /auth/me: bad signature, refresh token, revoked session.
	sig=${access##*.}
	api GET /auth/verify "" -H "Authorization: Bearer ${access%.*}.${sig:0:20}$([ "${sig:20:1}" = A ] && echo B || echo A)${sig:21}"
	[ "$status_code" = 401 ]
	[[ $(header WWW-Authenticate) == *invalid_token* ]]
	api GET /auth/verify "" -H "Authorization: Bearer $refresh"
	[ "$status_code" = 401 ]
	api GET /auth/verify "" -H "Authorization: Bearer $(expired "$access")"
	[ "$status_code" = 401 ]
	api POST /auth/logout "{\"refresh_token\":\"$refresh\"}" -H "Authorization: Bearer $access"
	api GET /auth/verify "" -H "Authorization: Bearer $access"
	[ "$status_code" = 401 ]
	assert_alive
}

@test "verify: a disabled account's token is refused at once, also with its session revived behind our back" {
	stack_start
	register off@example.com
	other=$access
	login_body='{"email":"off@example.com","password":"secret123"}'
	api POST /auth/login "$login_body"
	[ "$status_code" = 200 ]
	access=$(jq -r .access_token <<<"$body")
	uid=$(jwt_part 1 "$access" | jq -r .sub)
	api GET /auth/verify "" -H "Authorization: Bearer $access"
	[ "$status_code" = 200 ]
	"$BIN_DIR/../sbin/authctl" disable off@example.com >/dev/null
	for a in "$access" "$other"; do
		api GET /auth/verify "" -H "Authorization: Bearer $a"
		[ "$status_code" = 401 ]
		[ "$(header WWW-Authenticate)" != "" ]
		[ -z "$(header X-User-Id)" ]
	done
	# The account's flag alone refuses it: a session made live again
	# by hand (after the cached answer's second) is still not served.
	db_query "UPDATE sessions SET revoked = 0 WHERE user_id = '$uid'"
	sleep 1.1
	api GET /auth/verify "" -H "Authorization: Bearer $access"
	[ "$status_code" = 401 ]
	api GET /auth/me "" -H "Authorization: Bearer $access"
	[ "$status_code" = 401 ]
	"$BIN_DIR/../sbin/authctl" enable off@example.com >/dev/null
	# Enabled again, that revived session is served: the flag was the
	# only thing refusing it above.
	sleep 1.1
	api GET /auth/verify "" -H "Authorization: Bearer $access"
	[ "$status_code" = 200 ]
	[ "$(header X-User-Id)" = "$uid" ]
}

@test "verify under the FastCGI AUTHORIZER role also sends Variable-* headers" {
	stack_start
	register role@example.com
	uid=$(jwt_part 1 "$access" | jq -r .sub)
	out=$(cd "$WORK" && env -i FCGI_ROLE=AUTHORIZER REQUEST_METHOD=GET \
		HTTP_AUTHORIZATION="Bearer $access" DATABASE_URL="$DATABASE_URL" \
		JWT_PRIVATE_KEY_PATH="$JWT_PRIVATE_KEY_PATH" JWT_PUBLIC_KEY_PATH="$JWT_PUBLIC_KEY_PATH" \
		RUN_DIR="$RUN_DIR" ENV_FILE="$ENV_FILE" "$BIN_DIR/verify" 2>/dev/null | tr -d '\r')
	grep -qx "Status: 200 OK" <<<"$out"
	grep -qx "Variable-X-User-Id: $uid" <<<"$out"
	grep -qx "Variable-Remote-User: $uid" <<<"$out"
	grep -qx "Variable-X-User-Email: role@example.com" <<<"$out"
	grep -qx "X-User-Id: $uid" <<<"$out"
}

@test "gateway: lighttpd authorizer in front of a FastCGI service" {
	stack_start
	echo_start fcgi
	lighttpd_front fastcgi
	gateway fcgi
}

@test "gateway: lighttpd authorizer in front of an HTTP service (mod_proxy, identity as headers)" {
	stack_start
	echo_start http
	lighttpd_front proxy
	gateway http
}

@test "gateway: nginx auth_request; our JSON 401 reaches the client" {
	stack_start
	echo_start http
	nginx_front
	gateway http
	# Not nginx's page: verify's own JSON, whatever the refusal.
	through GET ""
	[ "$status_code" = 401 ]
	[ "$(jq -r .detail <<<"$body")" = "not authenticated" ]
}
