#!/usr/bin/env bats
# The TOTP second factor (API.md Part 2, "Second factor: TOTP (RFC 6238)")
# through the real stack, on either engine (AUTH_TEST_PG=1: PostgreSQL):
# enrollment and its confirmation, login's 403 with an mfa_token,
# /auth/mfa/verify with TOTP and recovery codes, the step window and
# replays, the mfa_token kept apart from every other token, the login
# throttle, disable, authctl reset-mfa and disable, bad input, secrets
# sealed at rest, and the MFA key at start-up and after a key change.
#
# Codes come from oathtool (oath-toolkit), independent of the service's
# own TOTP. A step once accepted is never accepted again for an account,
# so every test has accounts of its own and takes its codes from a step S
# fixed at its start (fix_step), never from the clock of the moment.

load helper
bats_require_minimum_version 1.5.0

setup_file() {
	stack_env "$(mktemp -d "$BATS_FILE_TMPDIR/mfa.XXXXXX")"
	# A per-email limit small enough to reach in the throttle test (every
	# other test keeps each account below it); every request comes from
	# 127.0.0.1, so the address limit and the registration limit are off.
	export LOGIN_MAX_FAILURES=5 LOGIN_WINDOW=900
	export LOGIN_ADDR_MAX_FAILURES=100000 REGISTER_ADDR_MAX=0
	stack_start
}
teardown_file() { stack_stop; }

# A test that runs a stack of its own (the MFA key tests) stops it here.
teardown() {
	if [ -n "${OWN_STACK:-}" ]; then stack_stop; fi
}

AUTHCTL=$BIN_DIR/../sbin/authctl

# --- requests ---------------------------------------------------------

login() { api POST /auth/login "{\"email\":\"$1\",\"password\":\"${2:-secret123}\"}"; }
me() { api GET /auth/me "" -H "Authorization: Bearer $1"; }
# confirm CODE, disable CODE: with the bearer $access.
confirm() { api POST /auth/mfa/totp/confirm "{\"code\":\"$1\"}" -H "Authorization: Bearer $access"; }
disable() { api POST /auth/mfa/totp/disable "{\"code\":\"$1\"}" -H "Authorization: Bearer $access"; }
# verify MFA_TOKEN CODE
verify() { api POST /auth/mfa/verify "{\"mfa_token\":\"$1\",\"code\":\"$2\"}"; }

# expect STATUS [DETAIL]: the last answer had STATUS (and that detail);
# otherwise say what came instead.
expect() {
	local got
	got=$(jq -r '.detail? // empty' <<<"$body" 2>/dev/null)
	if [ "$status_code" != "$1" ] || { [ $# -gt 1 ] && [ "$got" != "$2" ]; }; then
		echo "expected $1${2:+ \"$2\"}, got $status_code: $body" >&2
		return 1
	fi
}

# enroll: POST /auth/mfa/totp/enroll with $access; sets secret and uri.
# Every secret issued is kept for the at-rest test.
enroll() {
	api POST /auth/mfa/totp/enroll '{}' -H "Authorization: Bearer $access"
	expect 200 || return 1
	secret=$(jq -r .secret <<<"$body")
	uri=$(jq -r .otpauth_uri <<<"$body")
	echo "$secret" >>"$BATS_FILE_TMPDIR/secrets"
}

# mfa_user EMAIL: register EMAIL (password secret123), enroll, and confirm
# with the code of step S-1. Sets access and refresh (its registration
# session), uid, secret, recovery (the 10 codes) and S: the steps S and
# S+1 are the test's to use, S-1 is spent.
mfa_user() {
	register "$1" || return 1
	uid=$(claims "$access" | jq -r .sub)
	enroll || return 1
	fix_step
	confirm "$(totp $((S - 1)))"
	expect 200 || return 1
	mapfile -t recovery < <(jq -r '.recovery_codes[]' <<<"$body")
	printf '%s\n' "${recovery[@]}" >>"$BATS_FILE_TMPDIR/recovery"
}

# login_mfa EMAIL: the right password earns a 403 and an mfa_token (set),
# not a pair.
login_mfa() {
	login "$1"
	expect 403 "mfa required" || return 1
	mfa_token=$(jq -r .mfa_token <<<"$body")
}

# failures EMAIL: the login throttle's count for EMAIL.
failures() {
	db_query "SELECT coalesce(sum(failures), 0) FROM login_attempts WHERE key = 'email:$1'"
}

# --- tokens -----------------------------------------------------------

claims() { jwt_part 1 "$1" | jq -c .; }
amr() { claims "$1" | jq -c .amr; }

# resign TOKEN JQ: TOKEN with its claims changed by the jq filter JQ and
# signed again with the stack's own private key (the header as it was):
# what only the service itself could issue.
resign() {
	local input payload
	payload=$(claims "$1" | jq -c "$2")
	input="${1%%.*}.$(printf '%s' "$payload" | b64url)"
	printf '%s.%s\n' "$input" "$(printf '%s' "$input" |
		openssl dgst -sha256 -sign "$JWT_PRIVATE_KEY_PATH" -binary | b64url)"
}

# Every route that takes a bearer access token, "METHOD PATH".
BEARER_ROUTES=(
	"GET /auth/me"
	"GET /auth/sessions"
	"GET /auth/verify"
	"POST /auth/verify"
	"POST /auth/logout-all"
	"POST /auth/email/resend"
	"POST /auth/mfa/totp/enroll"
	"POST /auth/mfa/totp/confirm"
	"POST /auth/mfa/totp/disable"
)

# bearer_call ROUTE TOKEN: ROUTE ("METHOD PATH") with TOKEN as bearer (a
# POST carries a well-formed body, so only the token can be refused).
bearer_call() {
	local method=${1%% *} path=${1#* }
	if [ "$method" = POST ]; then
		api POST "$path" '{"code":"000000"}' -H "Authorization: Bearer $2"
	else
		api "$method" "$path" "" -H "Authorization: Bearer $2"
	fi
}

# --- codes ------------------------------------------------------------

# fix_step: set S to the current TOTP step, first sleeping into the next
# step when fewer than 10 s of this one remain. From then on the service
# accepts the codes of S-1 for about 10 s more, those of S for 30 s more,
# those of S+1 for 60 s more, and refuses those of S+2 for about 10 s:
# used promptly, no luck is involved.
fix_step() {
	local now left
	now=$(date +%s)
	left=$((30 - now % 30))
	if [ "$left" -lt 10 ]; then
		sleep "$left"
	fi
	S=$(($(date +%s) / 30))
}

# next_step: sleep until the next TOTP step begins; S is that step.
next_step() {
	local now
	now=$(date +%s)
	sleep $((30 - now % 30))
	S=$(($(date +%s) / 30))
}

# totp STEP [SECRET]: the code of STEP (SECRET default $secret).
totp() { oathtool --totp -b "${2:-$secret}" -N "@$(($1 * 30))"; }

# wrong_code: six digits that are the code of none of the steps S-2..S+2.
wrong_code() {
	local c=123456 k avoid=" "
	for k in -2 -1 0 1 2; do avoid+="$(totp $((S + k))) "; done
	while [[ $avoid == *" $c "* ]]; do c=$((c + 1)); done
	echo "$c"
}

# --- enrollment -------------------------------------------------------

@test "enroll: a 160-bit base32 secret and its otpauth URI; 401 without an access token" {
	register enroll@mfa.example
	enroll
	[[ $secret =~ ^[A-Z2-7]{32}$ ]]
	[ "$(base32 -d <<<"$secret" | wc -c)" -eq 20 ]
	[ "$uri" = "otpauth://totp/auth-svc:enroll%40mfa.example?secret=$secret&issuer=auth-svc&algorithm=SHA1&digits=6&period=30" ]
	first=$secret
	# Random: another account gets another secret.
	register enroll2@mfa.example
	enroll
	[ "$secret" != "$first" ]

	api POST /auth/mfa/totp/enroll '{}'
	expect 401
	[ -n "$(header WWW-Authenticate)" ]
	api POST /auth/mfa/totp/enroll '{}' -H "Authorization: Bearer $refresh"
	expect 401
}

@test "enroll: pending until confirmed (login still a pair, /auth/me mfa false); enrolling again replaces the secret" {
	register pending@mfa.example
	enroll
	old=$secret
	# No body at all is accepted too.
	api POST /auth/mfa/totp/enroll "" -H "Authorization: Bearer $access" -H 'Content-Length: 0'
	expect 200
	secret=$(jq -r .secret <<<"$body")
	echo "$secret" >>"$BATS_FILE_TMPDIR/secrets"
	[ "$secret" != "$old" ]
	me "$access"
	[ "$(jq -r .mfa <<<"$body")" = false ]
	login pending@mfa.example
	expect 200
	[ "$(amr "$(jq -r .access_token <<<"$body")")" = '["pwd"]' ]

	# The replaced secret's codes no longer confirm; the new one's do.
	fix_step
	confirm "$(totp "$S" "$old")"
	expect 400 "invalid code"
	confirm "$(totp "$S")"
	expect 200
}

@test "confirm: a wrong code 400, the right one 200 with 10 distinct recovery codes; /auth/me mfa true" {
	register confirm@mfa.example
	uid=$(claims "$access" | jq -r .sub)
	enroll
	fix_step
	confirm "$(wrong_code)"
	expect 400 "invalid code"
	me "$access"
	[ "$(jq -r .mfa <<<"$body")" = false ]

	confirm "$(totp "$S")"
	expect 200
	[ "$(jq -r '.recovery_codes | length' <<<"$body")" -eq 10 ]
	[ "$(jq -r '.recovery_codes[]' <<<"$body" | grep -cxE '[a-z2-7]{5}-[a-z2-7]{5}')" -eq 10 ]
	[ "$(jq -r '.recovery_codes[]' <<<"$body" | sort -u | wc -l)" -eq 10 ]
	jq -r '.recovery_codes[]' <<<"$body" >>"$BATS_FILE_TMPDIR/recovery"
	me "$access"
	expect 200
	[ "$(jq -c 'keys' <<<"$body")" = '["email","email_verified","id","mfa"]' ]
	[ "$(jq -c '[.email, .mfa]' <<<"$body")" = '["confirm@mfa.example",true]' ]
	[ "$(db_query "SELECT count(*) FROM mfa_totp WHERE user_id = '$uid' AND enabled = 1")" = 1 ]
	[ "$(db_query "SELECT count(*) FROM mfa_recovery WHERE user_id = '$uid'")" = 10 ]
	log_has ".event == \"mfa_enabled\" and .user_id == \"$uid\""
}

# --- login and verify -------------------------------------------------

@test "login with TOTP on: a wrong password stays 401; the right one 403 mfa required with an mfa+jwt of 300 s, no session" {
	mfa_user login@mfa.example
	sessions_before=$(db_query "SELECT count(*) FROM sessions WHERE user_id = '$uid'")
	login login@mfa.example wrong-password
	expect 401 "invalid credentials"
	[ "$(jq -r 'has("mfa_token")' <<<"$body")" = false ]

	login login@mfa.example
	expect 403 "mfa required"
	[ "$(jq -c 'keys' <<<"$body")" = '["detail","mfa_token"]' ]
	tok=$(jq -r .mfa_token <<<"$body")
	[ "$(jwt_part 0 "$tok" | jq -r '.alg, .typ' | paste -sd' ')" = "RS256 mfa+jwt" ]
	[ "$(jwt_part 0 "$tok" | jq -r .kid)" = "$(jwt_part 0 "$access" | jq -r .kid)" ]
	[ "$(claims "$tok" | jq -r .sub)" = "$uid" ]
	[ "$(claims "$tok" | jq '.exp - .iat')" -eq 300 ]
	now=$(date +%s)
	[ "$(claims "$tok" | jq -r .iat)" -ge $((now - 10)) ]
	[ "$(claims "$tok" | jq -r .iat)" -le $((now + 1)) ]
	jti=$(claims "$tok" | jq -r .jti)
	[[ $jti =~ ^[0-9a-f-]{36}$ ]]
	[ "$(db_query "SELECT count(*) FROM mfa_tokens WHERE jti = '$jti' AND user_id = '$uid'")" = 1 ]
	# The session starts at verify, not here.
	[ "$(db_query "SELECT count(*) FROM sessions WHERE user_id = '$uid'")" = "$sessions_before" ]
	log_has ".event == \"mfa_required\" and .user_id == \"$uid\""
}

@test "verify: the current code gives a pair with amr pwd+otp, and refresh keeps it" {
	mfa_user verify@mfa.example
	login_mfa verify@mfa.example
	verify "$mfa_token" "$(totp "$S")"
	expect 200
	[ "$(jq -c 'keys' <<<"$body")" = '["access_token","expires_in","refresh_token","token_type"]' ]
	[ "$(jq -r .token_type <<<"$body")" = bearer ]
	a=$(jq -r .access_token <<<"$body")
	r=$(jq -r .refresh_token <<<"$body")
	[ "$(amr "$a")" = '["pwd","otp"]' ]
	[ "$(claims "$a" | jq -r .sub)" = "$uid" ]
	me "$a"
	expect 200
	[ "$(jq -r .mfa <<<"$body")" = true ]
	log_has ".event == \"mfa_success\" and .user_id == \"$uid\""

	api POST /auth/refresh "{\"refresh_token\":\"$r\"}"
	expect 200
	a2=$(jq -r .access_token <<<"$body")
	[ "$(amr "$a2")" = '["pwd","otp"]' ]
	[ "$(claims "$a2" | jq -r .sid)" = "$(claims "$a" | jq -r .sid)" ]
}

@test "codes: one step either side is accepted, two steps away refused" {
	register window@mfa.example
	enroll
	fix_step
	# At confirm, nothing was accepted before: the window alone decides.
	confirm "$(totp $((S - 2)))"
	expect 400 "invalid code"
	confirm "$(totp $((S + 2)))"
	expect 400 "invalid code"
	confirm "$(totp $((S - 1)))"
	expect 200
	# For verify to take "one step before", that step must be newer than
	# the one confirm took (S-1): start afresh at the next step.
	next_step
	login_mfa window@mfa.example
	verify "$mfa_token" "$(totp $((S + 2)))"
	expect 401 "invalid code"
	verify "$mfa_token" "$(totp $((S - 1)))"
	expect 200
	login_mfa window@mfa.example
	verify "$mfa_token" "$(totp $((S + 1)))"
	expect 200
}

@test "codes: a step is never accepted twice, nor an older step after a newer one" {
	mfa_user replay@mfa.example
	login_mfa replay@mfa.example
	# The step confirm took is spent too.
	verify "$mfa_token" "$(totp $((S - 1)))"
	expect 401 "invalid code"
	verify "$mfa_token" "$(totp $((S + 1)))"
	expect 200
	login_mfa replay@mfa.example
	verify "$mfa_token" "$(totp $((S + 1)))"
	expect 401 "invalid code"
	# S is within the window and was never used, but S+1 was.
	verify "$mfa_token" "$(totp "$S")"
	expect 401 "invalid code"
	log_has ".event == \"mfa_failure\" and .user_id == \"$uid\""
	# The token outlived its wrong codes.
	verify "$mfa_token" "${recovery[0]}"
	expect 200
}

@test "codes: concurrent verifies of one code give exactly one pair" {
	mfa_user race@mfa.example
	toks=()
	for _ in 1 2 3; do
		login_mfa race@mfa.example
		toks+=("$mfa_token")
	done
	code=$(totp "$S")
	pids=()
	for i in 0 1 2; do
		curl -s -o /dev/null -w '%{http_code}\n' -X POST -H 'Content-Type: application/json' \
			--data-binary "{\"mfa_token\":\"${toks[$i]}\",\"code\":\"$code\"}" \
			"$BASE/auth/mfa/verify" >"$BATS_TEST_TMPDIR/race.$i" &
		pids+=($!)
	done
	wait "${pids[@]}"
	got=$(cat "$BATS_TEST_TMPDIR"/race.*)
	echo "statuses: $got" >&2
	[ "$(grep -cx 200 <<<"$got")" -eq 1 ]
	# The others are wrong codes (or, past the limit, throttled).
	[ "$(grep -cvxE '401|429' <<<"$got")" -eq 1 ]
}

@test "recovery codes: single use, in any case, with or without the dash, only for their own account" {
	mfa_user other-rec@mfa.example
	foreign=${recovery[0]}
	mfa_user rec@mfa.example
	login_mfa rec@mfa.example
	verify "$mfa_token" "$foreign"
	expect 401 "invalid code"
	verify "$mfa_token" "${recovery[0]}"
	expect 200
	log_has ".event == \"mfa_recovery_used\" and .user_id == \"$uid\""

	login_mfa rec@mfa.example
	verify "$mfa_token" "${recovery[0]}"
	expect 401 "invalid code"
	upper=${recovery[1]^^}
	verify "$mfa_token" "${upper//-/}"
	expect 200
	login_mfa rec@mfa.example
	verify "$mfa_token" "${recovery[2]//-/}"
	expect 200
	login_mfa rec@mfa.example
	verify "$mfa_token" "${recovery[3]^^}"
	expect 200
	# recovery[1], used in another spelling, is the same code: used up.
	login_mfa rec@mfa.example
	verify "$mfa_token" "${recovery[1]}"
	expect 401 "invalid code"
}

# --- the mfa_token ----------------------------------------------------

@test "mfa_token: every other endpoint refuses it, and no other token passes for one" {
	mfa_user types@mfa.example
	login_mfa types@mfa.example
	verify "$mfa_token" "$(totp "$S")"
	expect 200
	a=$(jq -r .access_token <<<"$body")
	r=$(jq -r .refresh_token <<<"$body")

	login_mfa types@mfa.example
	for route in "${BEARER_ROUTES[@]}"; do
		bearer_call "$route" "$mfa_token"
		if [ "$status_code" != 401 ] || [[ $(header WWW-Authenticate) != *invalid_token* ]]; then
			echo "$route took the mfa_token: $status_code $body" >&2
			return 1
		fi
	done
	api POST /auth/refresh "{\"refresh_token\":\"$mfa_token\"}"
	expect 401
	api POST /auth/refresh "\"$mfa_token\""
	expect 401
	api POST /auth/logout "{\"refresh_token\":\"$mfa_token\"}"
	expect 401

	# The other way: the account's own access and refresh tokens, and no
	# JWT at all, are not mfa_tokens, whatever the code.
	for t in "$a" "$r" not-a-jwt; do
		verify "$t" "$(totp $((S + 1)))"
		expect 401 "invalid mfa token"
	done
	# Control: that code, with the mfa_token presented everywhere above.
	verify "$mfa_token" "$(totp $((S + 1)))"
	expect 200
}

@test "mfa_token: a wrong code leaves it usable, a pair uses it up (by jti), an expired one is refused" {
	mfa_user once@mfa.example
	login_mfa once@mfa.example
	verify "$mfa_token" "$(wrong_code)"
	expect 401 "invalid code"
	verify "$mfa_token" "$(totp "$S")"
	expect 200
	verify "$mfa_token" "$(totp $((S + 1)))"
	expect 401 "invalid mfa token"

	# Signed by the service's own key, but expired past CLOCK_SKEW (30 s).
	login_mfa once@mfa.example
	now=$(date +%s)
	expired=$(resign "$mfa_token" ".iat = $((now - 420)) | .exp = $((now - 120))")
	verify "$expired" "$(totp $((S + 1)))"
	expect 401 "invalid mfa token"
	# Control: the same claims re-signed the same way are accepted...
	verify "$(resign "$mfa_token" .)" "$(totp $((S + 1)))"
	expect 200
	# ...and that used up the jti they share with the token as issued.
	verify "$mfa_token" "${recovery[0]}"
	expect 401 "invalid mfa token"
}

# --- throttling -------------------------------------------------------

@test "throttle: wrong codes count with login attempts; 429 with Retry-After past LOGIN_MAX_FAILURES; a pair resets the count" {
	[ "$LOGIN_MAX_FAILURES" -eq 5 ]   # the counts below are written for it
	email=throttle@mfa.example
	mfa_user "$email"
	[ "$(failures "$email")" -eq 0 ]
	login_mfa "$email"
	[ "$(failures "$email")" -eq 1 ]
	verify "$mfa_token" "$(wrong_code)"
	expect 401 "invalid code"
	[ "$(failures "$email")" -eq 2 ]
	# A right password that earned only an mfa_token resets nothing.
	login_mfa "$email"
	[ "$(failures "$email")" -eq 3 ]
	for n in 4 5; do
		verify "$mfa_token" "$(wrong_code)"
		expect 401 "invalid code"
		[ "$(failures "$email")" -eq "$n" ]
	done
	verify "$mfa_token" "$(wrong_code)"
	expect 429 "too many attempts"
	ra=$(header Retry-After)
	[ "$ra" -gt 0 ]
	[ "$ra" -le "$LOGIN_WINDOW" ]
	# Throttled: even the right code, even the right password.
	verify "$mfa_token" "$(totp "$S")"
	expect 429
	login "$email"
	expect 429

	# The window over, the right code gives a pair and clears the count.
	db_query "UPDATE login_attempts SET window_start = window_start - $LOGIN_WINDOW WHERE key = 'email:$email'"
	verify "$mfa_token" "$(totp "$S")"
	expect 200
	[ "$(failures "$email")" -eq 0 ]
}

# --- turning it off ---------------------------------------------------

@test "disable: with a TOTP code or a recovery code 204; login then gives a pair with amr pwd" {
	mfa_user off@mfa.example
	disable "$(wrong_code)"
	expect 400 "invalid code"
	api POST /auth/mfa/totp/disable "{\"code\":\"$(totp "$S")\"}"
	expect 401
	me "$access"
	[ "$(jq -r .mfa <<<"$body")" = true ]
	disable "$(totp "$S")"
	expect 204
	me "$access"
	[ "$(jq -r .mfa <<<"$body")" = false ]
	log_has ".event == \"mfa_disabled\" and .user_id == \"$uid\""
	login off@mfa.example
	expect 200
	[ "$(amr "$(jq -r .access_token <<<"$body")")" = '["pwd"]' ]

	mfa_user off-rec@mfa.example
	disable "${recovery[0]}"
	expect 204
	login off-rec@mfa.example
	expect 200
	[ "$(amr "$(jq -r .access_token <<<"$body")")" = '["pwd"]' ]
	# Off, it can be enrolled afresh.
	enroll
}

@test "conflicts: confirm with nothing pending, disable when not enabled, enroll when enabled: 409" {
	register conflict@mfa.example
	confirm 123456
	expect 409 "nothing pending"
	disable 123456
	expect 409 "mfa not enabled"
	enroll
	fix_step
	confirm "$(totp $((S - 1)))"
	expect 200
	api POST /auth/mfa/totp/enroll '{}' -H "Authorization: Bearer $access"
	expect 409 "mfa already enabled"
	confirm "$(totp "$S")"
	expect 409 "nothing pending"
	# None of it touched the factor.
	me "$access"
	[ "$(jq -r .mfa <<<"$body")" = true ]
	login_mfa conflict@mfa.example
	verify "$mfa_token" "$(totp $((S + 1)))"
	expect 200
}

@test "a disabled account answers account disabled, never mfa required" {
	mfa_user locked@mfa.example
	run "$AUTHCTL" disable locked@mfa.example
	[ "$status" -eq 0 ]
	login locked@mfa.example
	expect 403 "account disabled"
	[ "$(jq -r 'has("mfa_token")' <<<"$body")" = false ]
	login locked@mfa.example wrong-password
	expect 401 "invalid credentials"
	# Enabled again, the factor is still there.
	run "$AUTHCTL" enable locked@mfa.example
	[ "$status" -eq 0 ]
	login_mfa locked@mfa.example
}

@test "authctl reset-mfa: the factor off, every session revoked at once, login gives a pair" {
	# The "second factor" line of authctl show, whatever its wording.
	factor_line() { grep -iE 'factor|mfa|totp' <<<"$output" | grep -v '@' | head -1; }
	register plain@reset.example
	run "$AUTHCTL" show plain@reset.example
	[ "$status" -eq 0 ]
	off_line=$(factor_line)
	[ -n "$off_line" ]

	email=someone@reset.example
	mfa_user "$email"
	a0=$access
	login_mfa "$email"
	verify "$mfa_token" "$(totp "$S")"
	expect 200
	a1=$(jq -r .access_token <<<"$body")
	run "$AUTHCTL" show "$email"
	[ "$status" -eq 0 ]
	[ "$(factor_line)" != "$off_line" ]

	run "$AUTHCTL" reset-mfa "$email"
	echo "$output" >&2
	[ "$status" -eq 0 ]
	log_has "(.event == \"mfa_reset\" or .event == \"admin_reset_mfa\") and .user_id == \"$uid\""
	for a in "$a0" "$a1"; do
		me "$a"
		expect 401
	done
	login "$email"
	expect 200
	a2=$(jq -r .access_token <<<"$body")
	[ "$(amr "$a2")" = '["pwd"]' ]
	me "$a2"
	[ "$(jq -r .mfa <<<"$body")" = false ]
	run "$AUTHCTL" show "$email"
	[ "$status" -eq 0 ]
	[ "$(factor_line)" = "$off_line" ]
	access=$a2
	enroll
}

# --- bad input --------------------------------------------------------

@test "bad input: not JSON, wrong types, missing fields are 422 with a detail, never 500" {
	register bad-pending@mfa.example
	enroll
	pending_access=$access
	mfa_user bad@mfa.example
	login_mfa bad@mfa.example
	while IFS='|' read -r path data field; do
		auth=()
		case $path in
		*/confirm) auth=(-H "Authorization: Bearer $pending_access") ;;
		*/disable) auth=(-H "Authorization: Bearer $access") ;;
		esac
		api POST "$path" "${data//TOKEN/$mfa_token}" "${auth[@]}"
		detail=$(jq -r '.detail | strings' <<<"$body" 2>/dev/null) || detail=""
		if [ "$status_code" != 422 ] || [ -z "$detail" ] ||
			{ [ "$field" != - ] && [[ $detail != "$field:"* ]]; }; then
			echo "$path $data: $status_code $body (want 422, detail of $field)" >&2
			return 1
		fi
	done <<'EOF'
/auth/mfa/verify|not json|-
/auth/mfa/verify|[]|-
/auth/mfa/verify|{}|-
/auth/mfa/verify|{"mfa_token":"TOKEN"}|code
/auth/mfa/verify|{"code":"123456"}|mfa_token
/auth/mfa/verify|{"mfa_token":"TOKEN","code":123456}|code
/auth/mfa/verify|{"mfa_token":"TOKEN","code":null}|code
/auth/mfa/verify|{"mfa_token":7,"code":"123456"}|mfa_token
/auth/mfa/totp/confirm|not json|-
/auth/mfa/totp/confirm|{}|code
/auth/mfa/totp/confirm|{"code":123456}|code
/auth/mfa/totp/confirm|{"code":["123456"]}|code
/auth/mfa/totp/disable|not json|-
/auth/mfa/totp/disable|{}|code
/auth/mfa/totp/disable|{"code":123456}|code
/auth/mfa/totp/disable|{"code":{"totp":"123456"}}|code
EOF
	api GET /auth/mfa/verify
	expect 405
	[[ $(header Allow) == *POST* ]]
	# Nothing above spent the token or turned anything off.
	assert_alive
	verify "$mfa_token" "$(totp "$S")"
	expect 200
	access=$pending_access
	me "$access"
	[ "$(jq -r .mfa <<<"$body")" = false ]
}

# --- secrets at rest --------------------------------------------------

# no_leak PATH...: no regular file in PATH... (directories walked) holds
# a secret this file was given (base32 as shown or in lower case, the raw
# key, its hex in either case, its base64 or base64url) or a recovery
# code (with or without its dash). Prints what it found where.
no_leak() {
	python3 - "$BATS_FILE_TMPDIR/secrets" "$BATS_FILE_TMPDIR/recovery" "$@" <<'PY'
import base64, os, sys

def lines(path):
    return open(path).read().split() if os.path.exists(path) else []

needles = []
for i, s in enumerate(lines(sys.argv[1])):
    raw = base64.b32decode(s)
    for name, n in (("base32", s.encode()), ("base32 lower", s.lower().encode()),
                    ("raw", raw), ("hex", raw.hex().encode()),
                    ("HEX", raw.hex().upper().encode()),
                    ("base64", base64.b64encode(raw).rstrip(b"=")),
                    ("base64url", base64.urlsafe_b64encode(raw).rstrip(b"="))):
        needles.append((f"secret #{i} as {name}", n))
for i, c in enumerate(lines(sys.argv[2])):
    needles.append((f"recovery code #{i}", c.encode()))
    needles.append((f"recovery code #{i} without its dash", c.replace("-", "").encode()))

def files(path):
    if os.path.isdir(path):
        for root, _, names in os.walk(path):
            for n in names:
                yield os.path.join(root, n)
    else:
        yield path

found = 0
for arg in sys.argv[3:]:
    for f in files(arg):
        if not os.path.isfile(f):       # sockets
            continue
        data = open(f, "rb").read()
        for what, n in needles:
            if n in data:
                print(f"{f}: {what}", file=sys.stderr)
                found = 1
sys.exit(found)
PY
}

@test "at rest: no secret or recovery code in a copy of the database, nor in any log" {
	# Its own accounts (the file's earlier ones count too): one on, used
	# once, and one pending.
	mfa_user rest@mfa.example
	login_mfa rest@mfa.example
	verify "$mfa_token" "$(totp "$S")"
	expect 200
	register rest-pending@mfa.example
	enroll
	[ "$(wc -l <"$BATS_FILE_TMPDIR/secrets")" -ge 2 ]

	# Control: the search finds a secret where there is one.
	printf '%s\n' "${secret,,}" >"$BATS_TEST_TMPDIR/control"
	run no_leak "$BATS_TEST_TMPDIR/control"
	[ "$status" -eq 1 ]

	if db_is_pg; then
		copy=("$BATS_TEST_TMPDIR/dump.sql")
		( pg_env "$DATABASE_URL" && "${PG_BIN:-$(pg_bindir)}/pg_dump" -d "$PG_CONNINFO" -f "${copy[0]}" )
	else
		db=$(db_path)
		copy=("$db")
		for f in "$db-wal" "$db-journal"; do
			if [ -e "$f" ]; then copy+=("$f"); fi
		done
	fi
	# The copy is the real thing: the account and its sealed secret are in it.
	sealed=$(db_query "SELECT secret FROM mfa_totp WHERE user_id = '$uid'")
	[[ $sealed =~ ^[A-Za-z0-9_-]+$ ]]
	# AES-256-GCM: at least a 12-byte nonce, the 20-byte key, a 16-byte tag.
	[ "$(unb64url <<<"$sealed" | wc -c)" -ge 48 ]
	cat "${copy[@]}" | grep -aqF rest@mfa.example
	cat "${copy[@]}" | grep -aqF -e "$sealed"
	no_leak "${copy[@]}"
	no_leak "$RUN_DIR"
}

# --- the MFA key ------------------------------------------------------

# start_refused KEYFILE: start.sh with MFA_KEY_PATH=KEYFILE stops before
# anything runs, in exactly one line naming MFA_KEY_PATH ($output).
start_refused() {
	# shellcheck disable=SC2016 # expanded by the inner shell
	run env MFA_KEY_PATH="$1" bash -c 'cd "$WORK" && "$0/scripts/start.sh" --background' "$ROOT"
	echo "start.sh with MFA_KEY_PATH=$1: status $status: $output" >&2
	if [ "$status" -eq 0 ]; then
		stack_stop
		return 1
	fi
	[ "$(grep -c MFA_KEY_PATH <<<"$output")" -eq 1 ] || return 1
	[ ! -e "$RUN_DIR/supervise.pid" ] || return 1
}

@test "MFA key: missing, of the wrong length or readable by others, start.sh stops with one line" {
	stack_env "$(mktemp -d "$BATS_FILE_TMPDIR/key.XXXXXX")"
	OWN_STACK=1
	"$ROOT/scripts/gen-keys.sh" "$WORK/keys" >/dev/null
	good=$MFA_KEY_PATH
	[ "$good" = "$WORK/keys/mfa.key" ]
	[ "$(stat -c %a "$good")" = 600 ]
	grep -qxE '[A-Za-z0-9_-]{43}' "$good"
	[ "$(wc -c <"$good")" -eq 44 ]

	start_refused "$WORK/keys/absent.key"
	( umask 077 && head -c 42 "$good" >"$WORK/keys/short.key" && echo >>"$WORK/keys/short.key" )
	start_refused "$WORK/keys/short.key"
	# The key's text is never shown.
	[[ $output != *"$(head -c 42 "$good")"* ]]
	cp "$good" "$WORK/keys/open.key"
	chmod 0644 "$WORK/keys/open.key"
	start_refused "$WORK/keys/open.key"

	# Control: the same stack starts with its own key, and seals with it.
	stack_start
	register keyok@mfa.example
	enroll
}

@test "MFA key: under a different key nothing decrypts: 500 and mfa_decrypt_failed, login still needs the factor" {
	stack_env "$(mktemp -d "$BATS_FILE_TMPDIR/rekey.XXXXXX")"
	OWN_STACK=1
	stack_start
	mfa_user rekey@mfa.example
	key=$MFA_KEY_PATH
	cp -p "$key" "$WORK/mfa.key.orig"

	stack_stop
	( umask 077 && openssl rand -base64 32 | tr '+/' '-_' | tr -d '=\n' >"$key" && echo >>"$key" )
	chmod 0600 "$key"
	[ "$(wc -c <"$key")" -eq 44 ]
	run cmp -s "$key" "$WORK/mfa.key.orig"
	[ "$status" -eq 1 ]
	stack_start
	# Not an account without the factor: login still asks for it.
	login_mfa rekey@mfa.example
	fix_step
	verify "$mfa_token" "$(totp "$S")"
	expect 500
	jq -e '.detail | strings' <<<"$body" >/dev/null
	log_has '.event == "mfa_decrypt_failed"'
	# Nor can it be turned off with a code nobody can check.
	disable "$(totp "$S")"
	[ "$status_code" != 204 ]
	me "$access"
	[ "$(jq -r .mfa <<<"$body")" = true ]

	# The right key back: nothing was lost. (The attempts above are not
	# what this part is about: the throttle starts afresh.)
	db_query "DELETE FROM login_attempts WHERE key = 'email:rekey@mfa.example'"
	stack_stop
	cp -p "$WORK/mfa.key.orig" "$key"
	stack_start
	fix_step
	login_mfa rekey@mfa.example
	verify "$mfa_token" "$(totp "$S")"
	expect 200
	[ "$(amr "$(jq -r .access_token <<<"$body")")" = '["pwd","otp"]' ]
	no_leak "$RUN_DIR"
}
