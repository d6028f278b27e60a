#!/usr/bin/env bats
# REFRESH_TOKEN_SIGNING through the real stack: hs256 pairs (RS256 access,
# HS256 refresh), switching either way with live tokens on the same
# database and keys, rotate-keys.sh --refresh, the key's file and secrecy,
# no algorithm confusion on any bearer route nor on refresh and logout,
# and worker counts sized from the machine (within DB_MAX_CONNECTIONS on
# PostgreSQL).

load helper

setup() {
	stack_env "$(mktemp -d "$BATS_TEST_TMPDIR/hs.XXXXXX")"
	"$ROOT/scripts/gen-keys.sh" "$WORK/keys" >/dev/null
	export REFRESH_KEY_PATH=$WORK/keys/refresh.key
	unset REFRESH_TOKEN_SIGNING REFRESH_EXTRA_KEYS
}

teardown() {
	[ -z "${stopped_master:-}" ] || kill -CONT "$stopped_master" 2>/dev/null || :
	stack_stop
}

# Every route that takes a bearer access token, "METHOD PATH"; {sid} is
# the session of the token's owner. A new bearer route is one more line.
BEARER_ROUTES=(
	"GET /auth/me"
	"GET /auth/verify"
	"GET /auth/sessions"
	"DELETE /auth/sessions/{sid}"
	"POST /auth/logout-all"
)

refresh_key() { "$ROOT/scripts/gen-keys.sh" --refresh "$WORK/keys" >/dev/null; }
# has_workers EP N: endpoint EP runs N workers (waiting for them up to 5 s).
has_workers() {
	for _ in $(seq 1 100); do
		[ "$(workers "$1" | wc -w)" = "$2" ] && return 0
		sleep 0.05
	done
	echo "$1 runs $(workers "$1" | wc -w) workers, not $2" >&2
	return 1
}
# restart MODE: the same stack (database, keys, port) with
# REFRESH_TOKEN_SIGNING=MODE.
restart() {
	stack_stop
	export REFRESH_TOKEN_SIGNING=$1
	stack_start
}

hex() { xxd -p | tr -d '\n'; }
alg_of() { jwt_part 0 "$1" | jq -r .alg; }
kid_of() { jwt_part 0 "$1" | jq -r .kid; }
# key_kid FILE: the kid of a refresh key, computed here: base64url of the
# first 16 bytes of the SHA-256 of its 32 bytes.
key_kid() { unb64url < "$1" | openssl dgst -sha256 -binary | head -c 16 | b64url; }
key_hex() { unb64url < "$1" | hex; }

# Signers: read the signing input on stdin, print the base64url signature.
mac() { openssl dgst "-$1" -mac HMAC -macopt "hexkey:$2" -binary | b64url; }
rsa() { openssl dgst "-$1" -sign "$2" -binary | b64url; }
# forge HEADER PAYLOAD [SIGNER ARGS...]: a compact JWS of the two JSON
# texts, signed by the signer (no signer: an empty signature).
forge() {
	local input
	input="$(printf '%s' "$1" | b64url).$(printf '%s' "$2" | b64url)"
	shift 2
	if [ $# -eq 0 ]; then
		echo "$input."
	else
		echo "$input.$(printf '%s' "$input" | "$@")"
	fi
}
hdr() { printf '{"alg":"%s","typ":"%s","kid":"%s"}' "$1" "$2" "$3"; }
claims() { jwt_part 1 "$1" | jq -c .; }

# bearer_call ROUTE TOKEN SID: ROUTE ("METHOD PATH") with the token.
bearer_call() {
	local method=${1%% *} path=${1#* }
	path=${path//\{sid\}/$3}
	if [ "$method" = POST ]; then
		api "$method" "$path" "" -H "Authorization: Bearer $2" -H 'Content-Length: 0'
	else
		api "$method" "$path" "" -H "Authorization: Bearer $2"
	fi
}

# The confusion tokens for a bearer route, built from the victim's real
# access and refresh tokens; fills the arrays names[] and toks[].
confusion_tokens() {
	local access=$1 refresh=$2 rkey=$3 pa rsa_kid rkid pem_hex khex
	pa=$(claims "$access")
	rsa_kid=$(kid_of "$access")
	rkid=$(key_kid "$rkey")
	pem_hex=$(hex < "$JWT_PUBLIC_KEY_PATH")
	khex=$(key_hex "$rkey")
	names=() toks=()
	names+=("HS256 keyed with the public key PEM, RSA kid")
	toks+=("$(forge "$(hdr HS256 at+jwt "$rsa_kid")" "$pa" mac sha256 "$pem_hex")")
	names+=("HS256 keyed with the public key PEM, refresh kid")
	toks+=("$(forge "$(hdr HS256 at+jwt "$rkid")" "$pa" mac sha256 "$pem_hex")")
	names+=("HS256 keyed with the refresh key, refresh kid")
	toks+=("$(forge "$(hdr HS256 at+jwt "$rkid")" "$pa" mac sha256 "$khex")")
	names+=("HS256 keyed with the refresh key, RSA kid")
	toks+=("$(forge "$(hdr HS256 at+jwt "$rsa_kid")" "$pa" mac sha256 "$khex")")
	names+=("HS384 keyed with the refresh key")
	toks+=("$(forge "$(hdr HS384 at+jwt "$rkid")" "$pa" mac sha384 "$khex")")
	names+=("RS512 with the real private key")
	toks+=("$(forge "$(hdr RS512 at+jwt "$rsa_kid")" "$pa" rsa sha512 "$JWT_PRIVATE_KEY_PATH")")
	names+=("alg none")
	toks+=("$(forge "$(hdr none at+jwt "$rsa_kid")" "$pa")")
	names+=("the real refresh token")
	toks+=("$refresh")
}

# no_confusion MODE: on a stack in MODE with the refresh key configured,
# every bearer route refuses every confusion token (401 invalid_token),
# changing nothing; the forger's RS256 control is accepted everywhere.
no_confusion() {
	local route i pa good sid
	refresh_key
	export REFRESH_TOKEN_SIGNING=$1
	stack_start
	register victim@example.com
	[ "$(alg_of "$refresh")" = "${1^^}" ]
	sid=$(claims "$access" | jq -r .sid)
	confusion_tokens "$access" "$refresh" "$REFRESH_KEY_PATH"
	for route in "${BEARER_ROUTES[@]}"; do
		for i in "${!toks[@]}"; do
			bearer_call "$route" "${toks[$i]}" "$sid"
			if [ "$status_code" != 401 ] ||
				[[ $(header WWW-Authenticate) != *invalid_token* ]]; then
				echo "$route accepted ${names[$i]}: $status_code $body" >&2
				return 1
			fi
		done
	done
	# Nothing was revoked by any of it; the same forger, signing RS256
	# with the private key, is accepted by every route.
	pa=$(claims "$access")
	good=$(forge "$(hdr RS256 at+jwt "$(kid_of "$access")")" "$pa" rsa sha256 "$JWT_PRIVATE_KEY_PATH")
	for route in "${BEARER_ROUTES[@]}"; do
		[[ $route == *"{sid}"* || $route == *logout-all* ]] && continue
		bearer_call "$route" "$good" "$sid"
		[ "$status_code" = 200 ] || { echo "$route: control $status_code" >&2; return 1; }
	done
	api POST /auth/login '{"email":"victim@example.com","password":"secret123"}'
	other_sid=$(claims "$(jq -r .access_token <<<"$body")" | jq -r .sid)
	bearer_call "DELETE /auth/sessions/{sid}" "$good" "$other_sid"
	[ "$status_code" = 204 ]
	bearer_call "POST /auth/logout-all" "$good" "$sid"
	[ "$status_code" = 204 ]
	api GET /auth/me "" -H "Authorization: Bearer $access"
	[ "$status_code" = 401 ]
}

@test "hs256: RS256 access and HS256 refresh tokens under the key's kid; full flow; the key is never published or logged" {
	refresh_key
	export REFRESH_TOKEN_SIGNING=hs256
	stack_start
	rkid=$(key_kid "$REFRESH_KEY_PATH")
	register flow@example.com
	[ "$(alg_of "$access")" = RS256 ]
	[ "$(jwt_part 0 "$access" | jq -r .typ)" = at+jwt ]
	[ "$(jwt_part 0 "$refresh" | jq -c .)" = "{\"alg\":\"HS256\",\"typ\":\"rt+jwt\",\"kid\":\"$rkid\"}" ]
	# Same claims as RS256 refresh tokens.
	[ "$(claims "$refresh" | jq -c 'keys')" = '["exp","iat","iss","jti","sid","sub"]' ]
	[ "$(claims "$refresh" | jq '.exp - .iat')" = 2592000 ]
	api GET /auth/me "" -H "Authorization: Bearer $access"
	[ "$status_code" = 200 ]

	first=$refresh
	api POST /auth/refresh "{\"refresh_token\":\"$first\"}"
	[ "$status_code" = 200 ]
	second=$(jq -r .refresh_token <<<"$body")
	[ "$(alg_of "$second")" = HS256 ]
	[ "$(alg_of "$(jq -r .access_token <<<"$body")")" = RS256 ]
	# The bare-string body the original client sends.
	api POST /auth/refresh "\"$second\""
	[ "$status_code" = 200 ]
	third=$(jq -r .refresh_token <<<"$body")
	# A replay revokes the session, as with RS256.
	api POST /auth/refresh "{\"refresh_token\":\"$first\"}"
	[ "$status_code" = 401 ]
	api POST /auth/refresh "{\"refresh_token\":\"$third\"}"
	[ "$status_code" = 401 ]
	log_has '.event == "refresh_replay"'
	api POST /auth/login '{"email":"flow@example.com","password":"secret123"}'
	[ "$(alg_of "$(jq -r .refresh_token <<<"$body")")" = HS256 ]
	api POST /auth/logout "{\"refresh_token\":\"$(jq -r .refresh_token <<<"$body")\"}"
	[ "$status_code" = 204 ]

	# The JWKS lists the RSA key only.
	api GET /.well-known/jwks.json
	[ "$(jq -c '[.keys[] | .kty]' <<<"$body")" = '["RSA"]' ]
	[ "$(jq -r '.keys[0].kid' <<<"$body")" = "$(kid_of "$access")" ]
	[[ $body != *"$rkid"* ]]
	# The key, as stored and in hex, appears in no log.
	run grep -qF -e "$(tr -d '\n' < "$REFRESH_KEY_PATH")" "$RUN_DIR"/*.log
	[ "$status" -eq 1 ]
	run grep -qiF -e "$(key_hex "$REFRESH_KEY_PATH")" "$RUN_DIR"/*.log
	[ "$status" -eq 1 ]
	[ "$(stat -c %a "$REFRESH_KEY_PATH")" = 600 ]
}

@test "rs256 -> hs256 with live tokens: those issued before rotate and log out until they expire, new ones are HS256" {
	stack_start
	[ ! -e "$REFRESH_KEY_PATH" ]
	register before@example.com
	a_access=$access a_refresh=$refresh
	register other@example.com
	b_refresh=$refresh
	api POST /auth/refresh "{\"refresh_token\":\"$a_refresh\"}"
	a_rotated=$a_refresh
	a_refresh=$(jq -r .refresh_token <<<"$body")
	[ "$(alg_of "$a_refresh")" = RS256 ]

	refresh_key
	restart hs256
	api POST /auth/refresh "{\"refresh_token\":\"$a_refresh\"}"
	[ "$status_code" = 200 ]
	next=$(jq -r .refresh_token <<<"$body")
	[ "$(alg_of "$next")" = HS256 ]
	[ "$(kid_of "$next")" = "$(key_kid "$REFRESH_KEY_PATH")" ]
	[ "$(alg_of "$(jq -r .access_token <<<"$body")")" = RS256 ]
	[ "$(claims "$next" | jq -r .sid)" = "$(claims "$a_refresh" | jq -r .sid)" ]
	api POST /auth/refresh "{\"refresh_token\":\"$next\"}"
	[ "$status_code" = 200 ]
	api GET /auth/me "" -H "Authorization: Bearer $a_access"
	[ "$status_code" = 200 ]
	api POST /auth/logout "{\"refresh_token\":\"$b_refresh\"}"
	[ "$status_code" = 204 ]
	api POST /auth/refresh "{\"refresh_token\":\"$b_refresh\"}"
	[ "$status_code" = 401 ]
	register after@example.com
	[ "$(alg_of "$refresh")" = HS256 ]
	# A token rotated before the switch is still a replay after it.
	api POST /auth/refresh "{\"refresh_token\":\"$a_rotated\"}"
	[ "$status_code" = 401 ]
	api GET /auth/me "" -H "Authorization: Bearer $a_access"
	[ "$status_code" = 401 ]
}

@test "hs256 -> rs256 with live tokens: HS256 ones rotate while the key is configured, and are refused without it" {
	refresh_key
	export REFRESH_TOKEN_SIGNING=hs256
	stack_start
	register c@example.com
	c_refresh=$refresh
	register d@example.com
	d_refresh=$refresh
	register e@example.com
	e_refresh=$refresh e_access=$access
	[ "$(alg_of "$e_refresh")" = HS256 ]

	restart rs256
	api POST /auth/refresh "{\"refresh_token\":\"$c_refresh\"}"
	[ "$status_code" = 200 ]
	next=$(jq -r .refresh_token <<<"$body")
	[ "$(alg_of "$next")" = RS256 ]
	[ "$(kid_of "$next")" = "$(kid_of "$e_access")" ]
	api POST /auth/refresh "{\"refresh_token\":\"$next\"}"
	[ "$status_code" = 200 ]
	api POST /auth/logout "{\"refresh_token\":\"$d_refresh\"}"
	[ "$status_code" = 204 ]

	# The key moved away: rs256 alone accepts RS256 alone.
	mv "$REFRESH_KEY_PATH" "$WORK/refresh.key.away"
	restart rs256
	api POST /auth/refresh "{\"refresh_token\":\"$e_refresh\"}"
	[ "$status_code" = 401 ]
	[ "$(jq -r .detail <<<"$body")" = "invalid refresh token" ]
	api POST /auth/logout "{\"refresh_token\":\"$e_refresh\"}"
	[ "$status_code" = 401 ]
	# ...which left the session alone: with the key back it rotates.
	mv "$WORK/refresh.key.away" "$REFRESH_KEY_PATH"
	restart rs256
	api POST /auth/refresh "{\"refresh_token\":\"$e_refresh\"}"
	[ "$status_code" = 200 ]
}

@test "no algorithm confusion on any bearer route (hs256)" {
	no_confusion hs256
}

@test "no algorithm confusion on any bearer route (rs256 with a refresh key configured)" {
	no_confusion rs256
}

@test "refresh and logout accept exactly RS256 and HS256 under a configured refresh key" {
	refresh_key
	export REFRESH_TOKEN_SIGNING=hs256
	stack_start
	register cross@example.com
	pr=$(claims "$refresh")
	pa=$(claims "$access")
	rsa_kid=$(kid_of "$access")
	rkid=$(key_kid "$REFRESH_KEY_PATH")
	khex=$(key_hex "$REFRESH_KEY_PATH")
	pem_hex=$(hex < "$JWT_PUBLIC_KEY_PATH")
	other_hex=$(openssl rand -hex 32)
	other_kid=$(xxd -r -p <<<"$other_hex" | openssl dgst -sha256 -binary | head -c 16 | b64url)
	"$ROOT/scripts/gen-keys.sh" "$WORK/stranger" >/dev/null
	names=() toks=()
	names+=("HS256 keyed with the public key PEM, RSA kid")
	toks+=("$(forge "$(hdr HS256 rt+jwt "$rsa_kid")" "$pr" mac sha256 "$pem_hex")")
	names+=("HS256 keyed with the public key PEM, refresh kid")
	toks+=("$(forge "$(hdr HS256 rt+jwt "$rkid")" "$pr" mac sha256 "$pem_hex")")
	names+=("HS256 under the refresh key, RSA kid")
	toks+=("$(forge "$(hdr HS256 rt+jwt "$rsa_kid")" "$pr" mac sha256 "$khex")")
	names+=("HS256 under another key, its own kid")
	toks+=("$(forge "$(hdr HS256 rt+jwt "$other_kid")" "$pr" mac sha256 "$other_hex")")
	names+=("HS256 under another key, the refresh kid")
	toks+=("$(forge "$(hdr HS256 rt+jwt "$rkid")" "$pr" mac sha256 "$other_hex")")
	names+=("HS384 under the refresh key")
	toks+=("$(forge "$(hdr HS384 rt+jwt "$rkid")" "$pr" mac sha384 "$khex")")
	names+=("HS512 under the refresh key")
	toks+=("$(forge "$(hdr HS512 rt+jwt "$rkid")" "$pr" mac sha512 "$khex")")
	names+=("RS512 with the real private key")
	toks+=("$(forge "$(hdr RS512 rt+jwt "$rsa_kid")" "$pr" rsa sha512 "$JWT_PRIVATE_KEY_PATH")")
	names+=("RS256 with an unknown private key")
	toks+=("$(forge "$(hdr RS256 rt+jwt "$rsa_kid")" "$pr" rsa sha256 "$WORK/stranger/jwt_private.pem")")
	names+=("RS256 under the refresh kid")
	toks+=("$(forge "$(hdr RS256 rt+jwt "$rkid")" "$pr" rsa sha256 "$JWT_PRIVATE_KEY_PATH")")
	names+=("alg none")
	toks+=("$(forge "$(hdr none rt+jwt "$rkid")" "$pr")")
	names+=("an HS256 access token under the refresh key")
	toks+=("$(forge "$(hdr HS256 at+jwt "$rkid")" "$pa" mac sha256 "$khex")")
	names+=("the real access token")
	toks+=("$access")
	for path in /auth/refresh /auth/logout; do
		for i in "${!toks[@]}"; do
			api POST "$path" "{\"refresh_token\":\"${toks[$i]}\"}"
			if [ "$status_code" != 401 ]; then
				echo "$path accepted ${names[$i]}: $status_code $body" >&2
				return 1
			fi
		done
	done
	# Controls, same forger: HS256 under the refresh key and RS256 under
	# the private key are accepted (nothing above touched the session).
	api POST /auth/refresh "{\"refresh_token\":\"$(forge "$(hdr HS256 rt+jwt "$rkid")" "$pr" mac sha256 "$khex")\"}"
	[ "$status_code" = 200 ]
	pr=$(claims "$(jq -r .refresh_token <<<"$body")")
	api POST /auth/logout "{\"refresh_token\":\"$(forge "$(hdr RS256 rt+jwt "$rsa_kid")" "$pr" rsa sha256 "$JWT_PRIVATE_KEY_PATH")\"}"
	[ "$status_code" = 204 ]
}

@test "rotate-keys.sh --refresh: the new key signs, the old one verifies, only its four endpoints reload" {
	refresh_key
	export REFRESH_TOKEN_SIGNING=hs256 FCGI_CHILDREN_REFRESH=3
	export REFRESH_EXTRA_KEYS=$WORK/keys/retired-refresh
	stack_start
	old_kid=$(key_kid "$REFRESH_KEY_PATH")
	register f@example.com
	f_refresh=$refresh
	register g@example.com
	g_refresh=$refresh
	[ "$(kid_of "$f_refresh")" = "$old_kid" ]
	api GET /.well-known/jwks.json
	jwks_before=$body
	declare -A before
	for ep in me verify sessions logout_all jwks healthz readyz metrics logout refresh login register; do
		before[$ep]=$(workers "$ep")
	done

	run bash -c 'cd "$WORK" && exec "$0" --refresh' "$ROOT/scripts/rotate-keys.sh"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"every endpoint in $RUN_DIR reloaded"* ]]
	[[ $output == *"rotation complete"* ]]
	new_kid=$(key_kid "$REFRESH_KEY_PATH")
	[ "$new_kid" != "$old_kid" ]
	[ "$(stat -c %a "$REFRESH_KEY_PATH")" = 600 ]
	[ ! -e "$WORK/keys/.rotate-refresh-pending" ]
	retired=$(echo "$WORK"/keys/retired-refresh/refresh-*.key)
	[ -f "$retired" ]
	[ "$(stat -c %a "$retired")" = 600 ]
	[ "$(key_kid "$retired")" = "$old_kid" ]
	# Exactly the endpoints that read the key reloaded.
	for ep in logout refresh login register; do
		[ "${before[$ep]}" != "$(workers "$ep")" ]
	done
	for ep in me verify sessions logout_all jwks healthz readyz metrics; do
		[ "${before[$ep]}" = "$(workers "$ep")" ]
	done
	has_workers refresh 3

	# The old key's tokens rotate (on each of the three workers) into
	# tokens of the new key; logout reads them too.
	r=$f_refresh
	for _ in 1 2 3; do
		api POST /auth/refresh "{\"refresh_token\":\"$r\"}"
		[ "$status_code" = 200 ]
		r=$(jq -r .refresh_token <<<"$body")
		[ "$(kid_of "$r")" = "$new_kid" ]
	done
	api POST /auth/logout "{\"refresh_token\":\"$g_refresh\"}"
	[ "$status_code" = 204 ]
	api POST /auth/login '{"email":"g@example.com","password":"secret123"}'
	[ "$(kid_of "$(jq -r .refresh_token <<<"$body")")" = "$new_kid" ]
	register h@example.com
	[ "$(kid_of "$refresh")" = "$new_kid" ]
	api GET /.well-known/jwks.json
	[ "$body" = "$jwks_before" ]
}

@test "rotate-keys.sh --refresh: refused unless REFRESH_EXTRA_KEYS lists retired-refresh; an unfinished reload keeps the old key and a re-run finishes" {
	refresh_key
	export REFRESH_TOKEN_SIGNING=hs256
	stack_start
	sum=$(sha256sum < "$REFRESH_KEY_PATH")
	run bash -c 'cd "$WORK" && exec "$0" --refresh' "$ROOT/scripts/rotate-keys.sh"
	[ "$status" -ne 0 ]
	[[ $output == *"REFRESH_EXTRA_KEYS must list $WORK/keys/retired-refresh"* ]]
	[ "$(sha256sum < "$REFRESH_KEY_PATH")" = "$sum" ]
	stack_stop

	export REFRESH_EXTRA_KEYS=$WORK/keys/retired-refresh
	stack_start
	register early@example.com
	old_kid=$(key_kid "$REFRESH_KEY_PATH")
	stopped_master=$(read -r p _ < "$RUN_DIR/login.pid"; echo "$p")
	kill -STOP "$stopped_master"
	run env ROTATE_RELOAD_TIMEOUT=2 bash -c 'cd "$WORK" && exec "$0" --refresh' "$ROOT/scripts/rotate-keys.sh"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ $output == *"login: pid $stopped_master"* ]]
	[[ $output == *"run rotate-keys.sh --refresh again"* ]]
	[ "$(sha256sum < "$WORK/keys/.rotate-refresh-pending/old.key")" = "$sum" ]
	[ "$(stat -c %a "$WORK/keys/.rotate-refresh-pending/old.key")" = 600 ]
	new_kid=$(key_kid "$REFRESH_KEY_PATH")
	[ "$new_kid" != "$old_kid" ]
	# refresh reloaded before login: it signs with the new key and reads
	# the old one's tokens.
	api POST /auth/refresh "{\"refresh_token\":\"$refresh\"}"
	[ "$status_code" = 200 ]
	[ "$(kid_of "$(jq -r .refresh_token <<<"$body")")" = "$new_kid" ]

	# The operator gets login going (it acts on the SIGHUP it got; the
	# script waits until it may signal it again) and runs the script again.
	kill -CONT "$stopped_master"
	stopped_master=""
	run bash -c 'cd "$WORK" && exec "$0" --refresh' "$ROOT/scripts/rotate-keys.sh"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"no new key is made"* ]]
	[ "$(key_kid "$REFRESH_KEY_PATH")" = "$new_kid" ]
	[ ! -e "$WORK/keys/.rotate-refresh-pending" ]
	[ "$(ls "$WORK/keys/retired-refresh" | wc -l)" = 1 ]
	api POST /auth/login '{"email":"early@example.com","password":"secret123"}'
	[ "$(kid_of "$(jq -r .refresh_token <<<"$body")")" = "$new_kid" ]
}

@test "retired refresh keys live REFRESH_TTL + CLOCK_SKEW + 60 s, then go" {
	refresh_key
	# Retention here: 600 + 30 + 60 = 690 s, ACCESS_TTL (900) plays no part.
	export REFRESH_TTL=600 CLOCK_SKEW=30 ACCESS_TTL=900
	export REFRESH_EXTRA_KEYS=$WORK/keys/retired-refresh
	now=$(date +%s)
	for age in 800 650; do
		"$ROOT/scripts/gen-keys.sh" --refresh "$WORK/fake$age" >/dev/null
		cp -p "$WORK/fake$age/refresh.key" "$WORK/keys/retired-refresh/refresh-$((now - age)).key"
	done
	cp -p "$WORK/fake650/refresh.key" "$WORK/keys/retired-refresh/manual.key"
	run bash -c 'cd "$WORK" && exec "$0" --refresh' "$ROOT/scripts/rotate-keys.sh"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"removed $WORK/keys/retired-refresh/refresh-$((now - 800)).key"* ]]
	[ -e "$WORK/keys/retired-refresh/refresh-$((now - 650)).key" ]
	[ -e "$WORK/keys/retired-refresh/manual.key" ]
	[ "$(ls "$WORK/keys/retired-refresh" | wc -l)" = 3 ]
	# The stack starts on them: the kept ones verify.
	export REFRESH_TOKEN_SIGNING=hs256
	stack_start
	register kept@example.com
}

@test "the refresh key file: hs256 needs one, private to its owner; start.sh makes a development key at the default path" {
	# hs256 with no key at the configured path stops the start in one line.
	run env REFRESH_TOKEN_SIGNING=hs256 bash -c 'cd "$WORK" && "$0/scripts/start.sh" --background' "$ROOT"
	[ "$status" -ne 0 ]
	[[ $output == *"REFRESH_KEY_PATH: cannot open $REFRESH_KEY_PATH"* ]]
	[ ! -e "$RUN_DIR/supervise.pid" ]
	refresh_key
	chmod 0640 "$REFRESH_KEY_PATH"
	run env REFRESH_TOKEN_SIGNING=hs256 bash -c 'cd "$WORK" && "$0/scripts/start.sh" --background' "$ROOT"
	[ "$status" -ne 0 ]
	[[ $output == *"REFRESH_KEY_PATH: $REFRESH_KEY_PATH is a secret key, but group or others may access it (mode 0640)"* ]]
	# rs256 too: a key that is there must be sound.
	run bash -c 'cd "$WORK" && "$0/scripts/start.sh" --background' "$ROOT"
	[ "$status" -ne 0 ]
	[[ $output == *"REFRESH_KEY_PATH"* ]]
	run env REFRESH_TOKEN_SIGNING=HS256 bash -c 'cd "$WORK" && "$0/scripts/start.sh" --background' "$ROOT"
	[ "$status" -ne 0 ]
	[[ $output == *"REFRESH_TOKEN_SIGNING must be rs256 or hs256 (got 'HS256')"* ]]
	rm "$REFRESH_KEY_PATH"

	# The default path, as make run: a development key, 0600.
	unset REFRESH_KEY_PATH
	export REFRESH_TOKEN_SIGNING=hs256
	stack_start
	grep -q "generating a DEVELOPMENT refresh key" "$WORK/start.out"
	[ "$(stat -c %a "$WORK/keys/refresh.key")" = 600 ]
	register dev@example.com
	[ "$(kid_of "$refresh")" = "$(key_kid "$WORK/keys/refresh.key")" ]
}

@test "start.sh sizes worker counts from the machine's cores unless set" {
	unset FCGI_CHILDREN
	cores=$(nproc)
	want_refresh=$((cores * 12 > 64 ? 64 : cores * 12))
	want_other=$((cores < 2 ? 2 : cores))
	export ENDPOINTS="healthz me refresh"
	stack_start
	has_workers refresh "$want_refresh"
	has_workers me "$want_other"
	has_workers healthz "$want_other"
	grep -q "refresh $want_refresh" "$WORK/start.out"
	stack_stop
	# FCGI_CHILDREN sets every endpoint; FCGI_CHILDREN_<EP> one.
	export FCGI_CHILDREN=3 FCGI_CHILDREN_ME=1
	stack_start
	has_workers refresh 3
	has_workers healthz 3
	has_workers me 1
}

@test "on PostgreSQL the default worker counts keep within DB_MAX_CONNECTIONS; settings win, defaults that cannot fit stop the start" {
	unset FCGI_CHILDREN
	all="register login refresh me verify logout logout_all sessions account jwks healthz readyz metrics"
	# counts VAR=VALUE...: every endpoint's count as start.sh computes it,
	# and the connections the database endpoints hold; on SQLite unless
	# VAR=VALUE names another DATABASE_URL (the run's own may be PostgreSQL).
	counts() {
		# shellcheck disable=SC2016 # expanded by the inner shell
		env DATABASE_URL=sqlite:///auth.db "$@" ALL="$all" bash -c '. "$0/scripts/lib.sh"
			for e in $ALL; do printf "%s=%s " "$e" "$(children_of "$e" "$ALL")"; done
			echo "total=$(db_connections "$ALL")"' "$ROOT"
	}
	pg=DATABASE_URL=postgresql://auth@127.0.0.1:1/auth
	# SQLite holds no connections: the machine's defaults as they are.
	[ "$(counts CORES=4)" = "register=4 login=4 refresh=48 me=4 verify=4 logout=4 logout_all=4 sessions=4 account=4 jwks=4 healthz=4 readyz=4 metrics=4 total=88" ]
	# 2 cores: 10 x 2 + 24 = 44 do not fit the default 30: 2 each, and the
	# 8 left to refresh, the only one with more than 2.
	[ "$(counts CORES=2 "$pg")" = "register=2 login=2 refresh=10 me=2 verify=2 logout=2 logout_all=2 sessions=2 account=2 jwks=2 healthz=2 readyz=2 metrics=2 total=30" ]
	# 4 cores: 88 do not; 2 each, and the 8 left shared in proportion to
	# what each would have above 2 (refresh 46 of 66: 5).
	[ "$(counts CORES=4 "$pg")" = "register=2 login=2 refresh=7 me=2 verify=2 logout=2 logout_all=2 sessions=2 account=2 jwks=4 healthz=4 readyz=2 metrics=2 total=27" ]
	[ "$(counts CORES=4 "$pg" DB_MAX_CONNECTIONS=88)" = "register=4 login=4 refresh=48 me=4 verify=4 logout=4 logout_all=4 sessions=4 account=4 jwks=4 healthz=4 readyz=4 metrics=4 total=88" ]
	# A setting counts against the budget and is kept as it is.
	[ "$(counts CORES=4 "$pg" FCGI_CHILDREN_REFRESH=10)" = "register=2 login=2 refresh=10 me=2 verify=2 logout=2 logout_all=2 sessions=2 account=2 jwks=4 healthz=4 readyz=2 metrics=2 total=30" ]
	# No shell arithmetic sees anything but a number.
	counts CORES=4 "$pg" "FCGI_CHILDREN_ME=a[\$(touch $WORK/pwned)]" || :
	counts CORES=4 "$pg" "DB_MAX_CONNECTIONS=a[\$(touch $WORK/pwned)]" || :
	counts "CORES=a[\$(touch $WORK/pwned)]" || :
	[ ! -e "$WORK/pwned" ]

	# start.sh: defaults that cannot keep 2 each stop it, before it
	# touches the database; a setting that exceeds it only warns.
	run env "$pg" DB_MAX_CONNECTIONS=21 bash -c 'cd "$WORK" && "$0/scripts/start.sh" --background' "$ROOT"
	[ "$status" -ne 0 ]
	[[ $output == *"DB_MAX_CONNECTIONS=21: the workers would hold 24 PostgreSQL connections"* ]]
	run env "$pg" DB_MAX_CONNECTIONS=0 bash -c 'cd "$WORK" && "$0/scripts/start.sh" --background' "$ROOT"
	[ "$status" -ne 0 ]
	[[ $output == *"DB_MAX_CONNECTIONS must be an integer between 1 and 100000"* ]]
	run env "$pg" FCGI_CHILDREN=4 DB_MAX_CONNECTIONS=20 bash -c 'cd "$WORK" && "$0/scripts/start.sh" --background' "$ROOT"
	[ "$status" -ne 0 ]
	[[ $output == *"the FCGI_CHILDREN settings give 48 PostgreSQL connections, more than DB_MAX_CONNECTIONS=20"* ]]
	[[ $output != *"DB_MAX_CONNECTIONS=20: the workers would hold"* ]]
}
