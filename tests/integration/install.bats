#!/usr/bin/env bats
# make install / make uninstall and the systemd units (docs/production.md):
# the installed tree serves the flow with the source tree out of reach,
# uninstall leaves the destination as it was, systemd-analyze accepts the
# units and rates the endpoint service's exposure at most EXPOSURE_MAX.
#
# Installs what BIN_DIR's build holds (build/cov, build/asan...): make
# install must not rebuild it.

load helper

# systemd-analyze security's scale: 0 (nothing exposed) to 10. The units
# score 0.9 on systemd 252; what is left open is the network, which
# PostgreSQL over TCP needs (AF_INET, no PrivateNetwork=), the host's root
# directory and the RTC read that ProtectClock= leaves. Losing any one of
# User=, CapabilityBoundingSet=, SystemCallFilter=, PrivateUsers=,
# ProtectSystem= or the namespace restrictions costs more than the 0.6 of
# margin, so a unit edited looser fails here.
EXPOSURE_MAX=1.5
PREFIX_IN=/opt/auth-svc

build_dir() { dirname "$BIN_DIR"; }

# inst ARGS...: make in the source tree with the binaries of BIN_DIR's build.
inst() {
	local b
	b=$(build_dir)
	env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS make -s -C "$ROOT" \
		MODE="$(basename "$b")" BUILD="$b" "$@"
}

# mtimes: the build's programs with their modification times (not the
# coverage data beside them, which the other tests' processes rewrite).
mtimes() {
	local f
	for f in "$BIN_DIR"/* "$(build_dir)"/sbin/*; do
		[[ $f == *.gc?? ]] || stat -c '%n %Y' "$f"
	done
}

# tree DIR: every path under DIR with its type and mode, sorted.
tree() { (cd "$1" && find . -printf '%p %y %m\n' | LC_ALL=C sort); }

setup_file() {
	export D=$BATS_FILE_TMPDIR/dest
	mkdir -p "$D"
	mtimes > "$BATS_FILE_TMPDIR/before"
	inst install DESTDIR="$D" PREFIX="$PREFIX_IN" > "$BATS_FILE_TMPDIR/install.out"
}

# The installed stack's directory; stopped here also when a test failed.
STACK=$BATS_FILE_TMPDIR/stack

teardown_file() {
	local sup
	if sup=$(pidfile_live "$STACK/run/supervise.pid" supervise); then
		RUN_DIR=$STACK/run ENV_FILE=/dev/null "$D$PREFIX_IN/sbin/auth-svc-stop" ||
			kill -TERM "$sup"
	fi
}

@test "make install installs the build as it is, without rebuilding" {
	mtimes > "$BATS_FILE_TMPDIR/after"
	diff "$BATS_FILE_TMPDIR/before" "$BATS_FILE_TMPDIR/after"
	p=$D$PREFIX_IN
	# Every program the Makefile builds, the scripts, lib.sh, share files.
	for f in "$BIN_DIR"/*; do
		[ -f "$f" ] && [ -x "$f" ] || continue
		cmp "$f" "$p/libexec/auth-svc/${f##*/}"
	done
	cmp "$(build_dir)/sbin/supervise" "$p/libexec/auth-svc/supervise"
	for s in migrate gen-keys rotate-keys purge reopen-logs sqlite-to-pg start stop; do
		[ -x "$p/sbin/auth-svc-$s" ]
	done
	[ -f "$p/libexec/auth-svc/lib.sh" ] && [ ! -x "$p/libexec/auth-svc/lib.sh" ]
	for f in lighttpd.conf .env.example logrotate.conf auth-svc.env \
		schema/001_initial.sql schema/postgresql/001_initial.sql; do
		[ -f "$p/share/auth-svc/$f" ]
	done
	for u in auth-svc@.socket auth-svc@.service auth-svc.target auth-svc-migrate.service auth-svc-mailer.service; do
		[ -f "$p/lib/systemd/system/$u" ]
		refute grep -q '@[A-Z]*DIR@' "$p/lib/systemd/system/$u"
	done
	grep -q "^ExecStart=$PREFIX_IN/libexec/auth-svc/%i\$" "$p/lib/systemd/system/auth-svc@.service"
	[ -f "$p/lib/sysusers.d/auth-svc.conf" ]
	# Nothing is writable by group or others.
	[ -z "$(find "$D" -perm /022 ! -type l)" ]
}

@test "no installed file but the programs' debug information names the source tree" {
	while IFS= read -r -d '' f; do
		[ "$(head -c 4 "$f" | od -An -c | tr -d ' ')" = '177ELF' ] && continue
		if grep -qF "$ROOT" "$f"; then
			echo "$f names $ROOT" >&2
			return 1
		fi
	done < <(find "$D" -type f -print0)
}

@test "the installed tree serves register/login/me/refresh with the source tree hidden" {
	stack_env "$STACK"
	mkdir -p "$WORK"
	p=$D$PREFIX_IN
	# Only the install, the stack's own directory and the system: no
	# BIN_DIR, no SUPERVISE, no SCHEMA_DIR, a cwd outside the source tree.
	installed() {
		(cd "$WORK" && env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$WORK" \
			RUN_DIR="$RUN_DIR" DATABASE_URL="$DATABASE_URL" \
			JWT_PRIVATE_KEY_PATH="$JWT_PRIVATE_KEY_PATH" \
			JWT_PUBLIC_KEY_PATH="$JWT_PUBLIC_KEY_PATH" \
			BCRYPT_COST=4 FCGI_CHILDREN=2 HOST=127.0.0.1 PORT="$PORT" \
			ENV_FILE="$WORK/.env" "$@")
	}
	installed "$p/sbin/auth-svc-gen-keys" "$WORK/keys" >/dev/null
	# The source tree hidden under an empty tmpfs in a mount namespace of
	# the stack's own, where that is allowed (root in CI); the stack's
	# processes keep that view for their life.
	hide=0
	case $D/ in "$ROOT"/*) ;; *)
		unshare -m true 2>/dev/null && hide=1 ;;
	esac
	if [ $hide = 1 ]; then
		installed unshare -m --propagation private sh -c \
			'mount -t tmpfs -o mode=0755,size=64k auth-svc-hidden "$1" && shift &&
			 [ -z "$(ls -A "$0")" ] && exec "$@"' "$ROOT" "$ROOT" \
			"$p/sbin/auth-svc-start" --background >"$WORK/start.out" 2>&1 ||
			{ cat "$WORK/start.out" >&2; return 1; }
	else
		echo "# unshare -m not allowed here: the source tree stays visible" >&3
		installed "$p/sbin/auth-svc-start" --background >"$WORK/start.out" 2>&1 ||
			{ cat "$WORK/start.out" >&2; return 1; }
	fi
	grep -q "auth-svc: serving http://127.0.0.1:$PORT" "$WORK/start.out"

	# Every process of the stack runs an installed program (or lighttpd).
	sup=$(pidfile_live "$RUN_DIR/supervise.pid" supervise)
	n=0
	for pid in $(descendants "$sup"); do
		exe=$(readlink "/proc/$pid/exe")
		exe=${exe% (deleted)}
		case $exe in
		"$p"/libexec/auth-svc/*) n=$((n + 1)) ;;
		"$(command -v lighttpd)") ;;
		*) echo "pid $pid runs $exe" >&2; return 1 ;;
		esac
	done
	[ "$n" -ge 12 ]
	if [ $hide = 1 ]; then
		# The masters do not see the source tree (a coverage build's
		# runtime may have made build/ there for its counters).
		master=$(cat "$RUN_DIR/me.pid")
		[ -d "$ROOT/scripts" ] && [ ! -e "/proc/$master/root$ROOT/scripts" ]
		[ ! -e "/proc/$master/root$ROOT/schema" ]
	fi

	register install@example.com
	api GET /auth/me "" -H "Authorization: Bearer $access"
	[ "$status_code" = 200 ]
	[ "$(jq -r .email <<<"$body")" = install@example.com ]
	api POST /auth/login '{"email":"install@example.com","password":"secret123"}'
	[ "$status_code" = 200 ]
	old=$(jq -r .refresh_token <<<"$body")
	api POST /auth/refresh "{\"refresh_token\":\"$old\"}"
	[ "$status_code" = 200 ]
	api GET /auth/me "" -H "Authorization: Bearer $(jq -r .access_token <<<"$body")"
	[ "$status_code" = 200 ]
	# The schema came from the install (every migration applied).
	schema=$p/share/auth-svc/schema
	db_is_pg && schema=$schema/postgresql
	[ "$(db_query 'SELECT count(*) FROM schema_migrations')" = \
		"$(find "$schema" -maxdepth 1 -name '[0-9]*.sql' | wc -l)" ]
	# The operator's command, installed as auth-svc-authctl, on that database.
	installed "$p/sbin/auth-svc-authctl" --json show install@example.com > "$WORK/show.json"
	[ "$(jq -r .email "$WORK/show.json")" = install@example.com ]

	installed "$p/sbin/auth-svc-stop"
	refute pid_alive "$sup"
	[ ! -e "$RUN_DIR/supervise.pid" ]
}

@test "make uninstall leaves the destination as it was, also after two installs" {
	d=$BATS_TEST_TMPDIR/un
	# What was there before: a directory install also uses, files of others.
	mkdir -p "$d$PREFIX_IN/sbin" "$d$PREFIX_IN/lib/systemd/system" "$d$PREFIX_IN/share"
	echo other > "$d$PREFIX_IN/sbin/other-tool"
	echo '[Unit]' > "$d$PREFIX_IN/lib/systemd/system/other.service"
	tree "$d" > "$BATS_TEST_TMPDIR/before"
	inst install DESTDIR="$d" PREFIX="$PREFIX_IN" >/dev/null
	inst install DESTDIR="$d" PREFIX="$PREFIX_IN" >/dev/null
	[ -x "$d$PREFIX_IN/libexec/auth-svc/login" ]
	# A file of someone else's in a directory install made: kept, and so
	# is that directory.
	inst uninstall DESTDIR="$d" PREFIX="$PREFIX_IN" >/dev/null
	tree "$d" > "$BATS_TEST_TMPDIR/after"
	diff "$BATS_TEST_TMPDIR/before" "$BATS_TEST_TMPDIR/after"

	inst install DESTDIR="$d" PREFIX="$PREFIX_IN" >/dev/null
	echo mine > "$d$PREFIX_IN/share/auth-svc/local.conf"
	inst uninstall DESTDIR="$d" PREFIX="$PREFIX_IN" >/dev/null
	[ "$(cat "$d$PREFIX_IN/share/auth-svc/local.conf")" = mine ]
	[ "$(cd "$d$PREFIX_IN/share/auth-svc" && find . | LC_ALL=C sort | tr '\n' ' ')" = ". ./local.conf " ]
	[ ! -e "$d$PREFIX_IN/libexec" ]
}

@test "systemd-analyze verifies the units and rates the endpoint service" {
	command -v systemd-analyze >/dev/null ||
		{ echo "systemd-analyze missing (scripts/deps.sh installs systemd)" >&2; return 1; }
	# A PREFIX inside a temporary root, so that the units name programs
	# that exist on this machine and systemd-analyze resolves the rest
	# (/bin/sh, sysinit.target) as usual.
	r=$BATS_TEST_TMPDIR/root
	inst install PREFIX="$r/usr" >/dev/null
	units=$r/usr/lib/systemd/system
	eps=()
	for f in "$r"/usr/libexec/auth-svc/*; do
		case ${f##*/} in supervise|mailer|lib.sh) ;; *) eps+=("${f##*/}") ;; esac
	done
	[ ${#eps[@]} -ge 11 ]
	list=(auth-svc.target auth-svc-migrate.service auth-svc-mailer.service)
	for ep in "${eps[@]}"; do list+=("auth-svc@$ep.socket" "auth-svc@$ep.service"); done
	cd "$BATS_TEST_TMPDIR"
	run env SYSTEMD_UNIT_PATH="$units:" systemd-analyze verify "${list[@]}"
	echo "$output"
	[ "$status" = 0 ]
	[ -z "$output" ]
	# The check bites: an instance with no program is refused.
	run env SYSTEMD_UNIT_PATH="$units:" systemd-analyze verify auth-svc@nosuch.service
	[ "$status" != 0 ]
	[[ $output == *"$r/usr/libexec/auth-svc/nosuch"* ]]

	# The sysusers.d entry makes the units' user: a system user, no shell.
	e=$BATS_TEST_TMPDIR/etc-root
	mkdir -p "$e/etc"
	touch "$e/etc/passwd" "$e/etc/group" "$e/etc/shadow" "$e/etc/gshadow"
	systemd-sysusers --root="$e" "$r/usr/lib/sysusers.d/auth-svc.conf" 2>/dev/null
	IFS=: read -r name _ uid _ _ home shell < "$e/etc/passwd"
	[ "$name" = auth-svc ] && [ "$uid" -lt 1000 ] && [ "$uid" -gt 0 ]
	[ "$home" = /var/lib/auth-svc ] && [ "$shell" = /usr/sbin/nologin ]
	grep -q '^User=auth-svc$' "$units/auth-svc@.service"
	# The sockets: the web server's group, never others.
	grep -q '^SocketMode=0660$' "$units/auth-svc@.socket"
	grep -q '^SocketGroup=www-data$' "$units/auth-svc@.socket"
	grep -q '^StandardInput=socket$' "$units/auth-svc@.service"
	grep -q '^User=auth-svc$' "$units/auth-svc-migrate.service"

	for u in auth-svc@login.service auth-svc-migrate.service; do
		run env SYSTEMD_UNIT_PATH="$units:" systemd-analyze security --offline=yes "$u"
		line=$(grep "Overall exposure level for $u:" <<<"$output")
		score=$(awk '{ print $(NF - 2) }' <<<"$line")
		[[ $score =~ ^[0-9]+\.[0-9]$ ]]
		echo "# $u: exposure $score (at most $EXPOSURE_MAX)" >&3
		awk -v s="$score" -v m="$EXPOSURE_MAX" 'BEGIN { exit !(s <= m) }'
	done
}

@test "make run as root says it is a development server" {
	[ "$(id -u)" = 0 ] || skip "not root"
	w=$BATS_TEST_TMPDIR/run
	mkdir -p "$w"
	# A port already taken: start.sh stops at once, before any key or
	# database is made.
	busy=$(free_port)
	python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1)
open(sys.argv[2], "w").close(); time.sleep(60)' "$busy" "$w/ready" &
lpid=$!
	for _ in $(seq 1 100); do [ -e "$w/ready" ] && break; sleep 0.05; done
	RUN_DIR=$w/run PORT=$busy ENV_FILE=/dev/null run inst run
	kill "$lpid"
	wait "$lpid" 2>/dev/null || :
	echo "$output"
	[ "$status" != 0 ]
	[ "$(grep -c 'development server running as root' <<<"$output")" = 1 ]
	[[ $output == *"127.0.0.1:$busy is in use"* ]]
}
