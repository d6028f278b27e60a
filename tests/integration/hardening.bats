#!/usr/bin/env bats
# What a security review found (issue "Hardening"): each test fails on the
# code before its fix. Throttling decided before password work, the timing
# of hashes older than the configured one, one mailbox one account, a
# commit reported as one when its flush fails, and shared files that only
# their owner may have made.

load helper

setup() {
	stack_env "$(mktemp -d "$BATS_TEST_TMPDIR/hard.XXXXXX")"
	"$ROOT/scripts/gen-keys.sh" "$WORK/keys" >/dev/null
}

teardown() {
	stack_stop
}

# login_status EMAIL PASSWORD: the status of one login.
login_status() {
	curl -s -o /dev/null -w '%{http_code}\n' -H 'Content-Type: application/json' \
		--data-binary "{\"email\":\"$1\",\"password\":\"$2\"}" "$BASE/auth/login"
}

@test "30 concurrent wrong passwords for one email: at most LOGIN_MAX_FAILURES pass the throttle" {
	# Enough workers and enough hash work that the guesses overlap: with
	# the count read before the hash and written after, they all passed.
	export FCGI_CHILDREN_LOGIN=8 BCRYPT_COST=8 LOGIN_MAX_FAILURES=10 \
		LOGIN_ADDR_MAX_FAILURES=1000
	stack_start
	register race@example.com
	export BASE
	export -f login_status
	seq 1 30 | xargs -P 30 -I{} bash -c 'login_status race@example.com wrong-guess-{}' \
		> "$WORK/statuses"
	passed=$(grep -vc '^429$' "$WORK/statuses" || true)
	echo "not throttled: $passed of $(wc -l < "$WORK/statuses"): $(sort "$WORK/statuses" | uniq -c | tr '\n' ' ')"
	[ "$(wc -l < "$WORK/statuses")" -eq 30 ]
	[ "$passed" -ge 1 ]
	[ "$passed" -le 10 ]
	# Only 401s and 429s: no attempt was lost to an error.
	refute grep -qvE '^(401|429)$' "$WORK/statuses"
	# The right password is refused too while the email is throttled.
	[ "$(login_status race@example.com secret123)" = 429 ]
}

@test "a successful login gives its address back the attempt it was charged" {
	export LOGIN_ADDR_MAX_FAILURES=3 LOGIN_MAX_FAILURES=100
	stack_start
	register refund@example.com
	for _ in 1 2 3 4 5; do
		[ "$(login_status refund@example.com secret123)" = 200 ]
	done
	# Failures still count: two wrong, the third one reaches the limit.
	[ "$(login_status other1@example.com wrong-pass)" = 401 ]
	[ "$(login_status other2@example.com wrong-pass)" = 401 ]
	[ "$(login_status other3@example.com wrong-pass)" = 401 ]
	[ "$(login_status refund@example.com secret123)" = 429 ]
}

# median FILE: the median of the numbers in FILE, one a line.
median() {
	sort -g "$1" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

@test "a wrong password costs the same time for an unknown email and for an account with an older, cheaper hash" {
	# The account is made at cost 4, then the service runs at cost 10:
	# its hash is weaker than the setting until its next login rehashes it.
	export BCRYPT_COST=4 LOGIN_MAX_FAILURES=1000 LOGIN_ADDR_MAX_FAILURES=1000
	stack_start
	register weak@example.com
	stack_stop
	export BCRYPT_COST=10
	stack_start
	login_time() {
		curl -s -o /dev/null -w '%{time_total}\n' -H 'Content-Type: application/json' \
			--data-binary "{\"email\":\"$1\",\"password\":\"not-the-password\"}" "$BASE/auth/login"
	}
	for _ in $(seq 1 21); do
		login_time weak@example.com >> "$WORK/known"
		login_time nobody@example.com >> "$WORK/unknown"
	done
	known=$(median "$WORK/known")
	unknown=$(median "$WORK/unknown")
	echo "median seconds: known (cost-4 hash) $known, unknown (dummy at cost 10) $unknown"
	# A statistical bound, not a deadline: the medians agree within a
	# factor of three even on a loaded machine under ASan with other test
	# files running (CI saw 2.4 there once; unpadded, the cheaper hash
	# answered in a twentieth of the time).
	awk -v k="$known" -v u="$unknown" 'BEGIN { r = k / u; exit !(r > 1 / 3 && r < 3) }'
	# Still the cheaper hash: a wrong password does not rehash.
	[[ $(db_query "SELECT password_hash FROM users WHERE email = 'weak@example.com'") == '$2b$04$'* ]]
}

@test "email: non-ASCII addresses are refused, so one mailbox is one account" {
	stack_start
	nfc=$(printf 'j\xc3\xb6rg@example.com')
	nfd=$(printf 'jo\xcc\x88rg@example.com')
	for e in "$nfc" "$nfd" "$(printf 'a@b\xc3\xbccher.de')" "$(printf '\xef\xbd\x81@example.com')"; do
		api POST /auth/register "{\"email\":\"$e\",\"password\":\"secret123\"}"
		[ "$status_code" = 422 ]
		[ "$(jq -r .detail <<<"$body")" = "email: must be ASCII (internationalized addresses are not accepted)" ]
	done
	# The same refusal through \u escapes, and at login.
	api POST /auth/register '{"email":"j\u00f6rg@example.com","password":"secret123"}'
	[ "$status_code" = 422 ]
	api POST /auth/login '{"email":"j\u00f6rg@example.com","password":"secret123"}'
	[ "$status_code" = 422 ]
	# ASCII case folds: one account, whatever the case.
	register Case@Example.COM
	api POST /auth/register '{"email":"case@example.com","password":"secret123"}'
	[ "$status_code" = 400 ]
	[ "$(login_status CASE@example.com secret123)" = 200 ]
	# The A-label form of an internationalized domain is plain ASCII.
	register a@xn--bcher-kva.de
}

@test "a WAL flush that fails after COMMIT is answered as committed, not 503" {
	skip_on_pg "the SQLite WAL"
	cc -shared -fPIC -O1 -o "$WORK/failsync.so" "$ROOT/tests/integration/faults/failsync.c" -ldl
	export LD_PRELOAD=$WORK/failsync.so FAILSYNC_FLAG=$WORK/failsync.on
	# Under ASan the preloaded library comes before the sanitizer runtime.
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
	stack_start
	# A write first: the WAL is in use, so the next commit appends to it
	# (a commit that starts a new WAL syncs its header inside COMMIT, and
	# failing there is a failed commit, rightly a 503).
	register first@example.com
	touch "$FAILSYNC_FLAG"
	api POST /auth/register '{"email":"flush@example.com","password":"secret123"}'
	echo "register while flushes fail: $status_code $body"
	[ "$status_code" = 201 ]
	refresh=$(jq -r .refresh_token <<<"$body")
	api POST /auth/refresh "{\"refresh_token\":\"$refresh\"}"
	[ "$status_code" = 200 ]
	log_has '.event == "db_flush_failed"'
	rm -f "$FAILSYNC_FLAG"
	# What was answered is what is there: the account logs in, the
	# rotated token is a replay, not a live token.
	[ "$(login_status flush@example.com secret123)" = 200 ]
	api POST /auth/refresh "{\"refresh_token\":\"$refresh\"}"
	[ "$status_code" = 401 ]
}

@test "a metrics segment or epoch file another user could have made is not used" {
	mkdir -p "$RUN_DIR"
	chmod 0700 "$RUN_DIR"
	"$ROOT/scripts/migrate.sh" >/dev/null
	# World-writable: anyone could feed every endpoint's counters.
	head -c 4096 /dev/zero > "$RUN_DIR/metrics-v4.shm"
	chmod 0666 "$RUN_DIR/metrics-v4.shm"
	head -c 8 /dev/zero > "$WORK/auth.db-epoch"
	chmod 0644 "$WORK/auth.db-epoch"
	stack_start
	api GET /metrics
	[ "$status_code" = 200 ]
	grep -qx 'auth_metrics_shared 0' <<<"$body"
	log_has '.event == "metrics_unavailable" and (.reason | test("not a file of ours"))'
	db_is_pg || log_has '.event == "epoch_unavailable"'
	# Served all the same, without the shared state.
	register modes@example.com
	api GET /auth/me "" -H "Authorization: Bearer $access"
	[ "$status_code" = 200 ]
}

@test "a shared file owned by another user is refused even with mode 0600" {
	skip_on_pg "the SQLite epoch file"
	[ "$(id -u)" -eq 0 ] || skip "needs root to make a file another user owns"
	mkdir -p "$RUN_DIR"
	"$ROOT/scripts/migrate.sh" >/dev/null
	head -c 8 /dev/zero > "$WORK/auth.db-epoch"
	chmod 0600 "$WORK/auth.db-epoch"
	chown nobody "$WORK/auth.db-epoch"
	stack_start
	log_has '.event == "epoch_unavailable"'
	assert_alive
}
