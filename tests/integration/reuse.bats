#!/usr/bin/env bats
# REFRESH_REUSE_INTERVAL > 0: a token rotated moments ago (lost response,
# two tabs) gets a fresh pair of the same session instead of a replay.

load helper

setup_file() {
	export REFRESH_REUSE_INTERVAL=60
	stack_start
}
teardown_file() { stack_stop; }

@test "within the reuse interval a rotated token gets a fresh pair of its session" {
	register reuse@example.com
	sid=$(jwt_part 1 "$refresh" | jq -r .sid)
	api POST /auth/refresh "{\"refresh_token\":\"$refresh\"}"
	[ "$status_code" = 200 ]
	first=$(jq -r .refresh_token <<<"$body")
	api POST /auth/refresh "{\"refresh_token\":\"$refresh\"}"
	[ "$status_code" = 200 ]
	second=$(jq -r .refresh_token <<<"$body")
	[ "$first" != "$second" ]
	[ "$(jwt_part 1 "$second" | jq -r .sid)" = "$sid" ]
	# Both tabs keep working.
	api POST /auth/refresh "{\"refresh_token\":\"$first\"}"
	[ "$status_code" = 200 ]
	api POST /auth/refresh "{\"refresh_token\":\"$second\"}"
	[ "$status_code" = 200 ]
	log_has '.event == "refresh_rotated" and .reused == "yes"'
	refute log_has '.event == "refresh_replay"'
}

@test "past the reuse interval the same presentation is a replay" {
	register late@example.com
	api POST /auth/refresh "{\"refresh_token\":\"$refresh\"}"
	[ "$status_code" = 200 ]
	newest=$(jq -r .refresh_token <<<"$body")
	jti=$(jwt_part 1 "$refresh" | jq -r .jti)
	db_query "UPDATE refresh_tokens SET revoked_at = revoked_at - 61 WHERE jti = '$jti'"
	api POST /auth/refresh "{\"refresh_token\":\"$refresh\"}"
	[ "$status_code" = 401 ]
	api POST /auth/refresh "{\"refresh_token\":\"$newest\"}"
	[ "$status_code" = 401 ]
	log_has '.event == "refresh_replay"'
}

@test "within the reuse interval a rotated token is exchanged once more, a second time is a replay" {
	register twice@example.com
	api POST /auth/refresh "{\"refresh_token\":\"$refresh\"}"
	[ "$status_code" = 200 ]
	first=$(jq -r .refresh_token <<<"$body")
	api POST /auth/refresh "{\"refresh_token\":\"$refresh\"}"
	[ "$status_code" = 200 ]
	# The third presentation would start a third chain: refused, and the
	# session (both chains) revoked.
	api POST /auth/refresh "{\"refresh_token\":\"$refresh\"}"
	[ "$status_code" = 401 ]
	api POST /auth/refresh "{\"refresh_token\":\"$first\"}"
	[ "$status_code" = 401 ]
	log_has '.event == "refresh_replay"'
}
