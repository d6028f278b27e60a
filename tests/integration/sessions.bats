#!/usr/bin/env bats
# Sessions: logout, logout-all, listing and revoking one's own sessions.

load helper

setup_file() { stack_start; }
teardown_file() { stack_stop; }

bearer() { echo "Authorization: Bearer $1"; }

@test "logout revokes the token's session: its refresh and access tokens stop" {
	register logout@example.com
	api POST /auth/logout "{\"refresh_token\":\"$refresh\"}"
	[ "$status_code" = 204 ]
	[ -z "$body" ]
	api POST /auth/refresh "{\"refresh_token\":\"$refresh\"}"
	[ "$status_code" = 401 ]
	api GET /auth/me "" -H "$(bearer "$access")"
	[ "$status_code" = 401 ]
	log_has '.event == "logout"'
}

@test "logout with an already revoked token is 204 again; a bad token is 401" {
	register twice@example.com
	api POST /auth/logout "{\"refresh_token\":\"$refresh\"}"
	[ "$status_code" = 204 ]
	api POST /auth/logout "\"$refresh\""
	[ "$status_code" = 204 ]
	api POST /auth/logout '{"refresh_token":"not.a.token"}'
	[ "$status_code" = 401 ]
	[ "$(jq -r .detail <<<"$body")" = "invalid refresh token" ]
	api POST /auth/logout "{\"refresh_token\":\"$access\"}"
	[ "$status_code" = 401 ]
	api POST /auth/logout '{}'
	[ "$status_code" = 422 ]
}

@test "logout leaves the user's other sessions alone" {
	register other@example.com
	api POST /auth/login '{"email":"other@example.com","password":"secret123"}'
	second_access=$(jq -r .access_token <<<"$body")
	api POST /auth/logout "{\"refresh_token\":\"$refresh\"}"
	api GET /auth/me "" -H "$(bearer "$second_access")"
	[ "$status_code" = 200 ]
}

@test "logout-all revokes every session of the user and no one else's" {
	register all@example.com
	first_refresh=$refresh
	api POST /auth/login '{"email":"all@example.com","password":"secret123"}'
	second_access=$(jq -r .access_token <<<"$body")
	register bystander@example.com
	bystander=$access
	api POST /auth/logout-all "" -H "$(bearer "$second_access")" -H 'Content-Length: 0'
	[ "$status_code" = 204 ]
	api GET /auth/me "" -H "$(bearer "$second_access")"
	[ "$status_code" = 401 ]
	api POST /auth/refresh "{\"refresh_token\":\"$first_refresh\"}"
	[ "$status_code" = 401 ]
	api GET /auth/me "" -H "$(bearer "$bystander")"
	[ "$status_code" = 200 ]
}

@test "logout-all without a valid bearer token is 401" {
	api POST /auth/logout-all "" -H 'Content-Length: 0'
	[ "$status_code" = 401 ]
	[ "$(header WWW-Authenticate)" = Bearer ]
	api POST /auth/logout-all "" -H "Authorization: Bearer x.y.z" -H 'Content-Length: 0'
	[ "$status_code" = 401 ]
}

@test "sessions lists the live sessions, newest first, marking the current one" {
	register list@example.com
	first_access=$access
	sleep 1
	api POST /auth/login '{"email":"list@example.com","password":"secret123"}' -A 'tab-two/1.0'
	second_access=$(jq -r .access_token <<<"$body")
	api GET /auth/sessions "" -H "$(bearer "$first_access")"
	[ "$status_code" = 200 ]
	[ "$(header Cache-Control)" = no-store ]
	[ "$(jq length <<<"$body")" = 2 ]
	[ "$(jq -r '.[0].user_agent' <<<"$body")" = tab-two/1.0 ]
	[ "$(jq -r '.[0].current' <<<"$body")" = false ]
	[ "$(jq -r '.[1].current' <<<"$body")" = true ]
	[ "$(jq -r '.[1].ip' <<<"$body")" = 127.0.0.1 ]
	[[ $(jq -r '.[0].created_at' <<<"$body") =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$ ]]
	[ "$(jq -r '.[0] | keys | join(",")' <<<"$body")" = created_at,current,id,ip,last_used_at,user_agent ]
	[ "$(jq -r '.[1].id' <<<"$body")" = "$(jwt_part 1 "$first_access" | jq -r .sid)" ]
}

@test "deleting one of my sessions revokes it; another user's id is 404 and untouched" {
	register mine@example.com
	mine_refresh=$refresh mine_access=$access
	api POST /auth/login '{"email":"mine@example.com","password":"secret123"}'
	keep_access=$(jq -r .access_token <<<"$body")
	register victim@example.com
	victim_access=$access
	victim_sid=$(jwt_part 1 "$access" | jq -r .sid)
	mine_sid=$(jwt_part 1 "$mine_access" | jq -r .sid)

	api DELETE "/auth/sessions/$victim_sid" "" -H "$(bearer "$keep_access")"
	[ "$status_code" = 404 ]
	api GET /auth/me "" -H "$(bearer "$victim_access")"
	[ "$status_code" = 200 ]

	api DELETE "/auth/sessions/$mine_sid" "" -H "$(bearer "$keep_access")"
	[ "$status_code" = 204 ]
	api POST /auth/refresh "{\"refresh_token\":\"$mine_refresh\"}"
	[ "$status_code" = 401 ]
	api GET /auth/me "" -H "$(bearer "$keep_access")"
	[ "$status_code" = 200 ]
	api DELETE "/auth/sessions/$mine_sid" "" -H "$(bearer "$keep_access")"
	[ "$status_code" = 404 ]
}

@test "sessions: malformed ids are 404, wrong methods 405, no token 401" {
	register shape@example.com
	api DELETE /auth/sessions/not-a-uuid "" -H "$(bearer "$access")"
	[ "$status_code" = 404 ]
	api DELETE "/auth/sessions/%27%20OR%201=1" "" -H "$(bearer "$access")"
	[ "$status_code" = 404 ]
	api GET /auth/sessions/00000000-0000-4000-8000-000000000000 "" -H "$(bearer "$access")"
	[ "$status_code" = 405 ]
	[ "$(header Allow)" = DELETE ]
	api DELETE /auth/sessions "" -H "$(bearer "$access")"
	[ "$status_code" = 405 ]
	[ "$(header Allow)" = GET ]
	api GET /auth/sessions
	[ "$status_code" = 401 ]
	api GET /auth/sessions "" -H "$(bearer "$refresh")"
	[ "$status_code" = 401 ]
}

# me_all STATUS TOKEN: /auth/me answers STATUS to TOKEN every time, asked
# often enough that each of its workers has the answer cached.
me_all() {
	local i
	for i in $(seq 1 $((3 * FCGI_CHILDREN))); do
		api GET /auth/me "" -H "$(bearer "$2")"
		[ "$status_code" = "$1" ] || { echo "me #$i: $status_code, not $1" >&2; return 1; }
	done
}

# revoked_by TOKEN WANT METHOD PATH [BODY [curl args...]]: me accepts
# TOKEN in every worker; the request answers WANT; then every worker
# refuses TOKEN.
revoked_by() {
	local token=$1 want=$2
	shift 2
	me_all 200 "$token"
	api "$@"
	[ "$status_code" = "$want" ] || { echo "$1 $2: $status_code, not $want" >&2; return 1; }
	me_all 401 "$token"
}

@test "a cached me answer ends at once with every kind of revocation, from any process" {
	register cached-logout@example.com
	revoked_by "$access" 204 POST /auth/logout "{\"refresh_token\":\"$refresh\"}"

	register cached-delete@example.com
	sid=$(jwt_part 1 "$access" | jq -r .sid)
	revoked_by "$access" 204 DELETE "/auth/sessions/$sid" "" -H "$(bearer "$access")"

	register cached-all@example.com
	first_access=$access
	api POST /auth/login '{"email":"cached-all@example.com","password":"secret123"}'
	second_access=$(jq -r .access_token <<<"$body")
	revoked_by "$first_access" 204 POST /auth/logout-all "" \
		-H "$(bearer "$second_access")" -H 'Content-Length: 0'

	register cached-replay@example.com
	first_refresh=$refresh
	api POST /auth/refresh "{\"refresh_token\":\"$first_refresh\"}"
	newest_access=$(jq -r .access_token <<<"$body")
	revoked_by "$newest_access" 401 POST /auth/refresh "{\"refresh_token\":\"$first_refresh\"}"

	# Logged out by a process outside the stack (the logout program run
	# as plain CGI): the same database, the same epoch file.
	register cached-cgi@example.com
	me_all 200 "$access"
	body="{\"refresh_token\":\"$refresh\"}"
	run bash -c "printf '%s' '$body' | REQUEST_METHOD=POST CONTENT_LENGTH=${#body} '$BIN_DIR/logout' 2>/dev/null"
	[[ ${lines[0]} == "Status: 204"* ]]
	me_all 401 "$access"
}
