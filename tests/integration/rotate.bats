#!/usr/bin/env bats
# scripts/rotate-keys.sh on the real stack: every signer reloads whatever
# its worker count; a reload that does not finish fails loudly before the
# old private key goes, and a re-run finishes the job; retired keys are kept
# exactly as long as a token they signed can be valid; the settings the
# script computes with are validated first; only this stack's endpoint
# masters are ever signalled.

load helper

# The script under test; ROTATE_KEYS_SCRIPT runs these tests against
# another copy (it needs lib.sh and gen-keys.sh beside it).
ROTATE=${ROTATE_KEYS_SCRIPT:-$ROOT/scripts/rotate-keys.sh}

setup() {
	stack_env "$(mktemp -d "$BATS_TEST_TMPDIR/rotate.XXXXXX")"
	export JWT_EXTRA_PUBLIC_KEYS=$WORK/keys/retired
	"$ROOT/scripts/gen-keys.sh" "$WORK/keys" >/dev/null
	extra_pids=()
	stopped_master=""
	saved_me_pid=""
}

teardown() {
	# A stopped master must run again to stop; an overwritten pid file
	# must name its master again, or stop.sh would leave it running.
	if [ -n "$stopped_master" ]; then
		kill -CONT "$stopped_master" 2>/dev/null || :
		# Let it finish the reload it was asked for before it is stopped.
		sleep 0.5
	fi
	[ -z "$saved_me_pid" ] || echo "$saved_me_pid" > "$RUN_DIR/me.pid"
	stack_stop
	if [ -d "$WORK/second/run" ]; then
		( cd "$WORK/second" && RUN_DIR="$WORK/second/run" "$ROOT/scripts/stop.sh" )
	fi
	local p
	for p in "${extra_pids[@]}"; do kill "$p" 2>/dev/null || :; done
}

# rotate [VAR=VALUE...]: `run` the script in the stack's directory.
rotate() {
	# shellcheck disable=SC2016 # $WORK and $0 are the inner shell's
	run env "$@" bash -c 'cd "$WORK" && exec "$0"' "$ROTATE"
	echo "$output"
}

kid_of() { jwt_part 0 "$1" | jq -r .kid; }
# pem_kid FILE: the RFC 7638 thumbprint of an RSA public key (its kid).
pem_kid() {
	local n
	n=$(openssl rsa -pubin -in "$1" -noout -modulus | sed 's/^Modulus=//' |
		xxd -r -p | b64url)
	printf '{"e":"AQAB","kty":"RSA","n":"%s"}' "$n" |
		openssl dgst -sha256 -binary | b64url
}
# jwks: the served JWKS in $body, its kids sorted in $kids.
jwks() {
	api GET /.well-known/jwks.json
	[ "$status_code" = 200 ]
	kids=$(jq -r '[.keys[].kid] | sort | join(" ")' <<<"$body")
}
sorted() { printf '%s\n' "$@" | sort | tr '\n' ' ' | sed 's/ $//'; }
# Every file under keys/ with its mode and digest.
keys_state() {
	( cd "$WORK/keys" && find . -printf '%p %m\n' | sort &&
		find . -type f -exec sha256sum {} + | sort )
}
# master EP: the pid of endpoint EP's master (first field of its pid file).
master() {
	local pid _
	read -r pid _ < "$RUN_DIR/$1.pid"
	echo "$pid"
}
# workers_of PID: the worker pids of master PID.
workers_of() { cat "/proc/$1/task/$1/children"; }
ep_workers() { workers_of "$(master "$1")"; }
EPS="register login refresh me verify logout logout_all sessions jwks healthz readyz metrics"
# all_workers: every endpoint's worker pids (a reload replaces them).
all_workers() {
	local ep
	for ep in $EPS; do
		echo "$ep: $(ep_workers "$ep")"
	done
}
# settled_workers: all_workers once it stops changing (a stack answers
# /healthz before every master has forked all its workers; on PostgreSQL
# each worker connects first).
settled_workers() {
	local a b i
	a=$(all_workers)
	for i in $(seq 1 50); do
		sleep 0.2
		b=$(all_workers)
		[ "$a" = "$b" ] && break
		a=$b
	done
	echo "$b"
}
login() {
	api POST /auth/login "{\"email\":\"$1\",\"password\":\"secret123\"}"
	[ "$status_code" = 200 ]
}

@test "per-endpoint worker counts: every signer reloads and signs with the new kid" {
	export FCGI_CHILDREN=2 FCGI_CHILDREN_REFRESH=3 FCGI_CHILDREN_LOGIN=1 \
		FCGI_CHILDREN_REGISTER=1
	stack_start
	register before@example.com
	old_access=$access old_refresh=$refresh old_kid=$(kid_of "$access")
	[ "$old_kid" = "$(pem_kid "$JWT_PUBLIC_KEY_PATH")" ]

	rotate
	[ "$status" -eq 0 ]
	[[ $output == *"every endpoint in $RUN_DIR reloaded"* ]]
	new_kid=$(pem_kid "$JWT_PUBLIC_KEY_PATH")
	[ "$new_kid" != "$old_kid" ]
	[ ! -e "$WORK/keys/.rotate-pending" ]
	# Each endpoint kept its own worker count through the reload.
	[ "$(ep_workers refresh | wc -w)" = 3 ]
	[ "$(ep_workers login | wc -w)" = 1 ]
	[ "$(ep_workers register | wc -w)" = 1 ]
	[ "$(ep_workers me | wc -w)" = 2 ]

	# Every signer signs with the new key.
	register after@example.com
	[ "$(kid_of "$access")" = "$new_kid" ]
	[ "$(kid_of "$refresh")" = "$new_kid" ]
	login before@example.com
	[ "$(kid_of "$(jq -r .access_token <<<"$body")")" = "$new_kid" ]
	[ "$(kid_of "$(jq -r .refresh_token <<<"$body")")" = "$new_kid" ]
	# Three refreshes for three refresh workers, starting from a token of
	# the retired key, which still verifies.
	r=$old_refresh
	for _ in 1 2 3; do
		api POST /auth/refresh "{\"refresh_token\":\"$r\"}"
		[ "$status_code" = 200 ]
		r=$(jq -r .refresh_token <<<"$body")
		[ "$(kid_of "$r")" = "$new_kid" ]
		[ "$(kid_of "$(jq -r .access_token <<<"$body")")" = "$new_kid" ]
	done

	# Old tokens verify; the JWKS lists both keys, the signing one first.
	api GET /auth/me "" -H "Authorization: Bearer $old_access"
	[ "$status_code" = 200 ]
	api GET /auth/me "" -H "Authorization: Bearer $access"
	[ "$status_code" = 200 ]
	jwks
	[ "$kids" = "$(sorted "$old_kid" "$new_kid")" ]
	[ "$(jq -r '.keys[0].kid' <<<"$body")" = "$new_kid" ]
}

@test "a reload that does not finish fails naming the endpoint, keeps the old private key; a re-run finishes without another key" {
	stack_start
	register early@example.com
	old_access=$access old_kid=$(kid_of "$access")
	old_priv=$(sha256sum < "$JWT_PRIVATE_KEY_PATH" | cut -d' ' -f1)

	# login's master cannot act on its SIGHUP.
	stopped_master=$(master login)
	kill -STOP "$stopped_master"
	rotate ROTATE_RELOAD_TIMEOUT=2
	[ "$status" -ne 0 ]
	[[ $output == *"did not reload within 2 s"* ]]
	[[ $output == *"login: pid $stopped_master"* ]]
	[[ $output == *"run rotate-keys.sh again"* ]]
	new_kid=$(pem_kid "$JWT_PUBLIC_KEY_PATH")
	[ "$new_kid" != "$old_kid" ]
	new_pub=$(sha256sum < "$JWT_PUBLIC_KEY_PATH")
	# The old private key is not deleted yet.
	[ "$(sha256sum < "$WORK/keys/.rotate-pending/old_private.pem" | cut -d' ' -f1)" = "$old_priv" ]
	[ "$(stat -c %a "$WORK/keys/.rotate-pending/old_private.pem")" = 600 ]
	[ "$(ls "$WORK/keys/retired" | wc -l)" = 1 ]
	# The verifiers reloaded before it: they know both keys.
	api GET /auth/me "" -H "Authorization: Bearer $old_access"
	[ "$status_code" = 200 ]
	jwks
	[ "$kids" = "$(sorted "$old_kid" "$new_kid")" ]

	# The operator gets login going (it then acts on the SIGHUP it got)
	# and runs the script again.
	before=$(ep_workers login)
	kill -CONT "$stopped_master"
	stopped_master=""
	for _ in $(seq 1 200); do
		now_w=$(ep_workers login)
		[ "$(wc -w <<<"$now_w")" = 2 ] && [ -z "$(comm -12 <(tr ' ' '\n' <<<"$before" | sort) <(tr ' ' '\n' <<<"$now_w" | sort) | sed '/^$/d')" ] && break
		sleep 0.05
	done
	rotate
	[ "$status" -eq 0 ]
	[[ $output == *"no new key is made"* ]]
	[[ $output == *"rotation complete"* ]]
	# The same new key, one retired key, and the old private key is gone.
	[ "$(sha256sum < "$JWT_PUBLIC_KEY_PATH")" = "$new_pub" ]
	[ "$(pem_kid "$JWT_PUBLIC_KEY_PATH")" = "$new_kid" ]
	[ "$(ls "$WORK/keys/retired" | wc -l)" = 1 ]
	[ "$(pem_kid "$WORK"/keys/retired/*.pem)" = "$old_kid" ]
	[ ! -e "$WORK/keys/.rotate-pending" ]
	[ -z "$(find "$WORK/keys" -type f -exec sha256sum {} + | grep "$old_priv" || :)" ]
	[ "$(stat -c %a "$JWT_PRIVATE_KEY_PATH")" = 600 ]

	login early@example.com
	[ "$(kid_of "$(jq -r .access_token <<<"$body")")" = "$new_kid" ]
	register late@example.com
	[ "$(kid_of "$access")" = "$new_kid" ]
	api GET /auth/me "" -H "Authorization: Bearer $old_access"
	[ "$status_code" = 200 ]
	jwks
	[ "$kids" = "$(sorted "$old_kid" "$new_kid")" ]
}

@test "retired keys live max(ACCESS_TTL, REFRESH_TTL) + CLOCK_SKEW + 60 s, then go" {
	# Retention here: max(900, 600) + 30 + 60 = 990 s.
	export ACCESS_TTL=900 REFRESH_TTL=600 CLOCK_SKEW=30
	now=$(date +%s)
	for age in 1200 960 100; do
		"$ROOT/scripts/gen-keys.sh" "$WORK/fake$age" >/dev/null
		cp "$WORK/fake$age/jwt_public.pem" "$WORK/keys/retired/jwt_public-$((now - age)).pem"
	done
	# Not named by a time: never the script's to delete.
	"$ROOT/scripts/gen-keys.sh" "$WORK/fakeman" >/dev/null
	cp "$WORK/fakeman/jwt_public.pem" "$WORK/keys/retired/jwt_public-manual.pem"
	stack_start
	old_kid=$(pem_kid "$JWT_PUBLIC_KEY_PATH")
	jwks
	[ "$(wc -w <<<"$kids")" = 5 ]

	# Their ages are counted from now: the start may have taken a while
	# (960 s has 30 s to spare), and the keys stay the same keys.
	then=$now
	now=$(date +%s)
	for age in 1200 960 100; do
		[ "$now" = "$then" ] ||
			mv "$WORK/keys/retired/jwt_public-$((then - age)).pem" \
				"$WORK/keys/retired/jwt_public-$((now - age)).pem"
	done
	rotate
	[ "$status" -eq 0 ]
	# 1200 s: past the retention. 960 s: past max TTL + skew (930 s), kept
	# by the 60 s allowance (and by ACCESS_TTL being the longer TTL).
	[[ $output == *"removed $WORK/keys/retired/jwt_public-$((now - 1200)).pem"* ]]
	[ ! -e "$WORK/keys/retired/jwt_public-$((now - 1200)).pem" ]
	[ -e "$WORK/keys/retired/jwt_public-$((now - 960)).pem" ]
	[ -e "$WORK/keys/retired/jwt_public-$((now - 100)).pem" ]
	[ -e "$WORK/keys/retired/jwt_public-manual.pem" ]
	[ "$(ls "$WORK/keys/retired" | wc -l)" = 4 ]
	# The reload dropped the deleted key: the JWKS has exactly these.
	jwks
	[ "$kids" = "$(sorted "$(pem_kid "$JWT_PUBLIC_KEY_PATH")" "$old_kid" \
		"$(pem_kid "$WORK/fake960/jwt_public.pem")" \
		"$(pem_kid "$WORK/fake100/jwt_public.pem")" \
		"$(pem_kid "$WORK/fakeman/jwt_public.pem")")" ]
}

@test "malformed ACCESS_TTL, REFRESH_TTL, CLOCK_SKEW are refused in one line, before any arithmetic, changing nothing" {
	stack_start
	state=$(keys_state)
	procs=$(settled_workers)
	# Arithmetic on an array element runs its subscript's substitutions
	# (an existing array, as set -u would stop at an unset one).
	for bad in "REFRESH_TTL=BASH_VERSINFO[\$(touch $WORK/pwned-refresh)]" \
		"CLOCK_SKEW=BASH_VERSINFO[\$(touch $WORK/pwned-skew)]" \
		"ACCESS_TTL=BASH_VERSINFO[\$(touch $WORK/pwned-access)]" \
		"REFRESH_TTL=a[\$(touch $WORK/pwned-a)]" \
		"CLOCK_SKEW=PATH[\`touch $WORK/pwned-tick\`]" \
		ACCESS_TTL=1+1 ACCESS_TTL=0 ACCESS_TTL=86401 ACCESS_TTL= \
		'ACCESS_TTL= 900' $'ACCESS_TTL=5\n6' REFRESH_TTL=59 \
		REFRESH_TTL=31536001 REFRESH_TTL=0x100 REFRESH_TTL=99999999999999999999 \
		CLOCK_SKEW=301 CLOCK_SKEW=-1 CLOCK_SKEW=30s; do
		rotate "$bad"
		[ -z "$(ls "$WORK" | grep pwned || :)" ]
		[ "$status" -ne 0 ]
		[ "${#lines[@]}" -eq 1 ]
		[[ $output == *"${bad%%=*} must be an integer between"* ]]
	done
	# The same through .env, which the script reads like start.sh.
	echo "CLOCK_SKEW=1+1" > "$WORK/.env"
	rotate
	rm "$WORK/.env"
	[ "$status" -ne 0 ]
	[ "$output" = "rotate-keys.sh: CLOCK_SKEW must be an integer between 0 and 300 (got '1+1')" ]
	[ "$(keys_state)" = "$state" ]
	[ "$(all_workers)" = "$procs" ]
	# Leading zeros are decimal, as for the endpoints (0100 is 100).
	rotate ACCESS_TTL=0100 CLOCK_SKEW=08
	[ "$status" -eq 0 ]
}

@test "a pid file naming anything but this stack's endpoint master is refused; nothing is signalled" {
	stack_start
	saved_me_pid=$(master me)
	state=$(keys_state)
	procs=$(settled_workers)
	# A live process of the same user that is no endpoint at all.
	sleep 300 3>&- &
	extra_pids+=("$!")
	sleeper=$!
	# A worker of me: the right program and socket, but not the master.
	worker=$(ep_workers me | cut -d' ' -f1)
	# The login master: a master, of another endpoint.
	login_master=$(master login)
	# The me master of another stack: another socket.
	second=$WORK/second
	mkdir -p "$second"
	( cd "$second" && RUN_DIR="$second/run" DATABASE_URL="sqlite:///$second/auth.db" \
		PORT="$(free_port)" ENDPOINTS="healthz me" "$ROOT/scripts/start.sh" --background ) >/dev/null
	other_me=$(read -r p _ < "$second/run/me.pid"; echo "$p")
	# Its master may still be forking: wait until its workers stand still.
	other_workers=$(workers_of "$other_me")
	for _ in $(seq 1 50); do
		sleep 0.2
		[ "$(workers_of "$other_me")" = "$other_workers" ] && break
		other_workers=$(workers_of "$other_me")
	done

	for pid in "$sleeper" "$worker" "$login_master" "$other_me"; do
		echo "$pid" > "$RUN_DIR/me.pid"
		rotate
		[ "$status" -ne 0 ]
		[[ $output == *"me.pid names pid $pid, which is not the me master of this stack"* ]]
		kill -0 "$pid"
	done
	for junk in '1 2 3' '12abc' '$(touch pwned)' '-1' '0' ''; do
		printf '%s\n' "$junk" > "$RUN_DIR/me.pid"
		rotate
		[ "$status" -ne 0 ]
		[[ $output == *"me.pid does not hold a pid"* ]]
	done
	[ ! -e "$WORK/pwned" ]
	# Nothing was signalled, nothing changed.
	echo "$saved_me_pid" > "$RUN_DIR/me.pid"
	[ "$(all_workers)" = "$procs" ]
	[ "$(workers_of "$other_me")" = "$other_workers" ]
	[ "$(keys_state)" = "$state" ]
	# The real master, also as "pid starttime" (common/pidfile.h), reloads.
	me_before=$(ep_workers me)
	echo "$saved_me_pid $(cut -d')' -f2- "/proc/$saved_me_pid/stat" | awk '{ print $20 }')" > "$RUN_DIR/me.pid"
	rotate
	[ "$status" -eq 0 ]
	[ "$(workers_of "$saved_me_pid")" != "$me_before" ]
}

@test "on a stopped stack a stale pid file is reported, not signalled, and the rotation completes" {
	mkdir -p "$RUN_DIR"
	bash -c 'exit 0' &
	dead=$!
	wait "$dead" || :
	# stop.sh must not meet these files: the pids may be reused.
	echo "$dead" > "$RUN_DIR/login.pid"
	# A live pid whose start time is not the recorded one: recycled.
	echo "$$ 1" > "$RUN_DIR/me.pid"
	old_kid=$(pem_kid "$JWT_PUBLIC_KEY_PATH")
	rotate
	rm -f "$RUN_DIR/login.pid" "$RUN_DIR/me.pid"
	[ "$status" -eq 0 ]
	[[ $output == *"login: pid $dead of $RUN_DIR/login.pid is not running"* ]]
	[[ $output == *"me: pid $$ of $RUN_DIR/me.pid is not running"* ]]
	[[ $output == *"rotation complete"* ]]
	[ "$(pem_kid "$JWT_PUBLIC_KEY_PATH")" != "$old_kid" ]
	[ "$(pem_kid "$WORK"/keys/retired/*.pem)" = "$old_kid" ]
	[ ! -e "$WORK/keys/.rotate-pending" ]
	# The stack starts on the new pair.
	stack_start
	register fresh@example.com
	[ "$(kid_of "$access")" = "$(pem_kid "$JWT_PUBLIC_KEY_PATH")" ]
}
