#!/usr/bin/env bash
# rotate-keys.sh [--refresh]: replace the JWT signing key (with --refresh:
# the HS256 refresh-token key, REFRESH_KEY_PATH) on a running (or stopped)
# stack without invalidating the tokens already issued. Run it with the
# stack's environment (.env, BIN_DIR, RUN_DIR) after a key compromise or on
# a schedule. It either reaches every signer or fails loudly, naming the
# endpoint, and never deletes the old private key before every endpoint
# has reloaded.
#
#   1. Checks, before anything changes: ACCESS_TTL, REFRESH_TTL,
#      CLOCK_SKEW, ROTATE_RELOAD_TIMEOUT are plain decimal integers within
#      bounds (those of common/config.c for the first three; 1..600, default
#      30, for the last); JWT_EXTRA_PUBLIC_KEYS lists <public key
#      dir>/retired; each RUN_DIR/<endpoint>.pid ("pid" or "pid starttime")
#      names a live master of this stack: a process running
#      BIN_DIR/<endpoint> (BIN_DIR as for start.sh), holding
#      RUN_DIR/<endpoint>.sock as its listening socket (fd 0), whose parent
#      does not run that program (a worker's does). A pid file naming any
#      other live process stops the run; one naming no process (or another
#      start time: left by a crash or a reboot) is reported and skipped.
#      Nothing else is ever signalled.
#   2. A new RSA-2048 pair is made in a temporary directory; the current
#      public key is copied to retired/jwt_public-<time>.pem (which
#      JWT_EXTRA_PUBLIC_KEYS lists, so its tokens keep verifying); the new
#      pair, a copy of the old private key and the rotation time are then
#      committed, in one rename, as <private key dir>/.rotate-pending/.
#   3. Retired keys no valid token can depend on are deleted (see below).
#   4. The new pair replaces JWT_PRIVATE_KEY_PATH / JWT_PUBLIC_KEY_PATH
#      (each by rename, atomic).
#   5. Every endpoint master reloads: SIGHUP, then its workers finish their
#      request, it re-executes with the new keys and forks a fresh set,
#      the socket keeps accepting. The verifiers reload first, together,
#      then refresh (a signer that also verifies what login and register
#      sign), then login and register, so no verifier meets a kid it does
#      not know yet. A master gets its SIGHUP only once it is
#      ready for one (SIGHUP blocked and none pending, in
#      /proc/PID/status): one still re-executing would die of it. A reload
#      is complete when the master runs as many workers as it was started
#      with (FCGI_CHILDREN in its environment, which start.sh set from
#      FCGI_CHILDREN_<ENDPOINT> or FCGI_CHILDREN; those two, the same way,
#      if the environment cannot be read) and none of the old ones. Each
#      wait is at most ROTATE_RELOAD_TIMEOUT seconds.
#   6. Only then: the retired copy is renamed to the time every signer had
#      let go of the old key, and .rotate-pending/ (the old private key
#      with it) is deleted.
#
# An unfinished rotation (a reload that failed or timed out, an
# interrupted run) exits non-zero naming the endpoints and leaves
# .rotate-pending/ behind, the new pair already in place. A plain re-run
# finishes it: it makes no new key, installs the pending pair if it is not
# in place yet, and signals every endpoint again. Fix (or stop) the
# endpoint first; a stopped stack finishes at once. Two runs never overlap
# (a lock on the private key's directory).
#
# Retention: a retired key is deleted once it is older than
#   max(ACCESS_TTL, REFRESH_TTL) + CLOCK_SKEW + 60 s,
# its age counted from the end of the rotation that retired it (from the
# name of its file). No token it signed can still be valid then: the
# longest-lived token it signed expires max(ACCESS_TTL, REFRESH_TTL)
# after its last signature, and is accepted CLOCK_SKEW beyond; the 60 s
# (the reload allowance) cover the rounding of the recorded time and
# clock adjustments. Deleting them before the reload (step 3) lets the
# reload drop them from memory and from the JWKS; a key no valid token
# depends on can go at any moment. Retired files not named
# jwt_public-<digits>[-<n>].pem are never deleted; the key of an
# unfinished rotation never is either.
# The JWKS document changes at once; clients caching it (max-age 300) see
# the new kid within 5 minutes, and old tokens stay valid meanwhile.
#
# --refresh does the same for the refresh key, with these differences:
# REFRESH_EXTRA_KEYS must list <refresh key dir>/retired-refresh; the key
# in place is kept there as refresh-<time>.key (0600: it is the secret
# itself, and it must keep verifying the refresh tokens it signed); the
# state of an unfinished rotation is <refresh key dir>/.rotate-refresh-
# pending/; only the endpoints that read the key reload (logout, then
# refresh, then login and register); a retired key is deleted once older
# than REFRESH_TTL + CLOCK_SKEW + 60 s (it never signed an access token).
# The JWKS never shows these keys. The key rotates in either
# REFRESH_TOKEN_SIGNING mode (in rs256 mode it only verifies).
set -euo pipefail

# lib.sh is beside this script in the source tree and in libexec/auth-svc
# when installed as auth-svc-<name> (make install); it knows the layout.
here=$(cd "$(dirname "$0")" && pwd)
case ${0##*/} in
auth-svc-*) lib=$here/../libexec/auth-svc/lib.sh ;;
*) lib=$here/lib.sh ;;
esac
# shellcheck source=scripts/lib.sh
. "$lib"
env_load "${ENV_FILE:-.env}"

kind=rsa self=rotate-keys.sh
case ${1:-} in
--refresh) kind=refresh self="rotate-keys.sh --refresh" ;;
"") ;;
*) die "usage: rotate-keys.sh [--refresh]" ;;
esac

# Margin added to the retention of a retired key (documented above).
RELOAD_ALLOWANCE=60
# The endpoints that hold the key; refresh, login, register and mfa sign.
if [ "$kind" = rsa ]; then
	ENDPOINTS="me verify sessions account logout_all logout jwks metrics readyz healthz mfa refresh login register"
else
	ENDPOINTS="logout mfa refresh login register"
fi

# int_setting NAME DEFAULT MIN MAX: $NAME (DEFAULT when unset) as a plain
# decimal integer within bounds (the rules of common/config.c), stored in
# $val; anything else stops here with one line, before any arithmetic.
int_setting() {
	local v shown
	if [ -n "${!1+x}" ]; then v=${!1}; else v=$2; fi
	if ! [[ $v =~ ^[0-9]{1,10}$ ]] || [ $((10#$v)) -lt "$3" ] ||
		[ $((10#$v)) -gt "$4" ]; then
		shown=${v//[^[:print:]]/?}
		die "$1 must be an integer between $3 and $4 (got '${shown:0:32}')"
	fi
	val=$((10#$v))
}
int_setting ACCESS_TTL 900 1 86400
access_ttl=$val
int_setting REFRESH_TTL 2592000 60 31536000
refresh_ttl=$val
int_setting CLOCK_SKEW 30 0 300
clock_skew=$val
int_setting ROTATE_RELOAD_TIMEOUT 30 1 600
reload_timeout=$val
if [ "$kind" = rsa ]; then
	keep=$(( (access_ttl > refresh_ttl ? access_ttl : refresh_ttl) + clock_skew + RELOAD_ALLOWANCE ))
	priv=${JWT_PRIVATE_KEY_PATH:-./keys/jwt_private.pem}
	pub=${JWT_PUBLIC_KEY_PATH:-./keys/jwt_public.pem}
	keys=$(dirname "$priv")
	retired=$(dirname "$pub")/retired
	pending=$keys/.rotate-pending
	list_var=JWT_EXTRA_PUBLIC_KEYS
	# Retired files the script made, by the time they were retired.
	prefix=jwt_public suffix=.pem
else
	keep=$(( refresh_ttl + clock_skew + RELOAD_ALLOWANCE ))
	rkey=${REFRESH_KEY_PATH:-./keys/refresh.key}
	keys=$(dirname "$rkey")
	retired=$keys/retired-refresh
	pending=$keys/.rotate-refresh-pending
	list_var=REFRESH_EXTRA_KEYS
	prefix=refresh suffix=.key
fi
RUN_DIR=${RUN_DIR:-./run}
BIN_DIR=${BIN_DIR:-$AUTH_BIN_DIR}

# Refuse rather than break every token issued so far.
listed=0
IFS=: read -r -a extra <<< "${!list_var:-}"
for e in "${extra[@]}"; do
	[ -n "$e" ] && [ "$(realpath -m "$e")" = "$(realpath -m "$retired")" ] && listed=1
done
[ $listed -eq 1 ] || die "$list_var must list $retired (retired keys verify until their tokens expire)"
if [ "$kind" = rsa ]; then
	[ -r "$pub" ] || die "JWT_PUBLIC_KEY_PATH: $pub is not readable"
	[ -r "$priv" ] || die "JWT_PRIVATE_KEY_PATH: $priv is not readable"
else
	{ [ -f "$rkey" ] && [ -r "$rkey" ]; } ||
		die "REFRESH_KEY_PATH: $rkey is not a readable file (scripts/gen-keys.sh --refresh $keys makes one)"
fi

# exe_of PID: the program PID runs (also once a rebuild replaced the file).
exe_of() {
	local exe
	exe=$(readlink "/proc/$1/exe" 2>/dev/null) || return 1
	echo "${exe% (deleted)}"
}

# is_master EP PID: PID is the master of endpoint EP of this stack.
is_master() {
	local ep=$1 pid=$2 exe want sock ppid
	want=$(realpath -e "$BIN_DIR/$ep" 2>/dev/null) || return 1
	exe=$(exe_of "$pid") && [ "$exe" = "$want" ] || return 1
	# fd 0 is the listening socket the supervisor bound at RUN_DIR/EP.sock.
	sock=$(readlink "/proc/$pid/fd/0" 2>/dev/null) || return 1
	[[ $sock =~ ^socket:\[([0-9]+)\]$ ]] || return 1
	sock=$(awk -v ino="${BASH_REMATCH[1]}" \
		'$7 == ino && NF >= 8 { for (i = 0; i < 7; i++) sub(/^[^ ]+ +/, ""); print; exit }' \
		/proc/net/unix)
	[ -n "$sock" ] &&
		[ "$(realpath -m "$sock")" = "$(realpath -m "$RUN_DIR/$ep.sock")" ] || return 1
	# A worker shares all of that; its parent is the master.
	ppid=$(awk '$1 == "PPid:" { print $2 }' "/proc/$pid/status" 2>/dev/null) || return 1
	[ -n "$ppid" ] && [ "$(exe_of "$ppid" || true)" != "$want" ]
}

# workers PID: the worker pids of master PID, sorted, one a line.
workers() { tr ' ' '\n' < "/proc/$1/task/$1/children" | sed '/^$/d' | sort; }

# expected_workers EP PID: the number of workers master PID keeps, in $val:
# FCGI_CHILDREN in its environment, which start.sh set for it (lib.sh
# children_of: FCGI_CHILDREN_<EP>, FCGI_CHILDREN, or the machine's
# default), and a reload keeps.
expected_workers() {
	local n var
	n=$({ tr '\0' '\n' < "/proc/$2/environ"; } 2>/dev/null |
		sed -n 's/^FCGI_CHILDREN=//p' | tail -n 1 || true)
	if ! [[ $n =~ ^[0-9]{1,2}$ ]] || [ "$((10#$n))" -lt 1 ] || [ "$((10#$n))" -gt 64 ]; then
		# Unreadable: what start.sh would have given it.
		var=$(children_var "$1")
		if [ -n "$var" ]; then
			int_setting "$var" 2 1 64
			n=$val
		else
			n=$(children_of "$1")
		fi
	fi
	val=$((10#$n))
}

# start_time PID: the kernel's start time of PID (field 22 of its stat).
start_time() {
	local st fields
	st=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	read -r -a fields <<<"${st##*) }"
	echo "${fields[19]:-}"
}

# The masters to reload, as EP:PID:WORKERS, checked before anything changes.
masters=()
if [ -d "$RUN_DIR" ]; then
	for ep in $ENDPOINTS; do
		pidf=$RUN_DIR/$ep.pid
		[ -f "$pidf" ] || continue
		# "pid", or "pid starttime" (common/pidfile.h).
		line=$(head -c 64 "$pidf" | tr -d '\n')
		[[ $line =~ ^([1-9][0-9]{0,9})( ([0-9]{1,20}))?$ ]] ||
			die "$pidf does not hold a pid; not rotating"
		pid=${BASH_REMATCH[1]}
		started=${BASH_REMATCH[3]}
		if [ ! -e "/proc/$pid" ] ||
			{ [ -n "$started" ] && [ "$(start_time "$pid")" != "$started" ]; }; then
			echo "rotate-keys: $ep: pid $pid of $pidf is not running (a stale pid file); not signalled" >&2
			continue
		fi
		is_master "$ep" "$pid" ||
			die "$pidf names pid $pid, which is not the $ep master of this stack ($BIN_DIR/$ep listening on $RUN_DIR/$ep.sock); nothing changed, nothing signalled. Run with the BIN_DIR the stack was started with, or remove the stale pid file if $ep is not running"
		expected_workers "$ep" "$pid"
		masters+=("$ep:$pid:$val")
	done
fi

# One rotation at a time (the lock goes with this process).
exec 9<"$keys"
flock -n 9 || die "another rotate-keys.sh is running on $keys"

tmp="" tmpf=""
cleanup() { rm -rf "${tmp:-/nonexistent}" "${tmpf:-/nonexistent}"; }
trap cleanup EXIT
trap 'exit 1' HUP INT TERM
# Leftovers of an interrupted run (the lock says none is running).
rm -rf "$keys"/.rotate.?????? "$keys"/.rotate-key.?????? \
	"$(dirname "$pub")"/.rotate-key.?????? "$retired"/.rotate-key.??????

# put SRC DST MODE: copy SRC to DST atomically (DST is complete or absent).
put() {
	tmpf=$(mktemp "$(dirname "$2")/.rotate-key.XXXXXX")
	cp "$1" "$tmpf"
	chmod "$3" "$tmpf"
	mv -f "$tmpf" "$2"
	tmpf=""
}

# retired_name TIME: a free name in retired/ for a key retired at TIME.
retired_name() {
	local name=$prefix-$1$suffix i=0
	while [ -e "$retired/$name" ]; do
		i=$((i + 1))
		name=$prefix-$1-$i$suffix
	done
	echo "$name"
}

# spki FILE [-pubin]: the public key of FILE, in one canonical form.
spki() { openssl pkey -in "$1" "${@:2}" -pubout 2>/dev/null; }

# resume_rsa, begin_rsa, resume_refresh, begin_refresh: pick up the
# rotation left in $pending, or start one; set $stamp and $rname (the
# retired copy of the key in place) and leave the new key in $pending.

resume_rsa() {
	local part current
	for part in stamp retired new_private.pem new_public.pem old_private.pem; do
		[ -s "$pending/$part" ] || die "$pending is incomplete ($part missing): inspect it by hand"
	done
	read -r stamp < "$pending/stamp"
	read -r rname < "$pending/retired"
	[[ $stamp =~ ^[0-9]{1,12}$ && $rname =~ ^jwt_public-[0-9]{1,12}(-[0-9]+)?\.pem$ ]] ||
		die "$pending is damaged: inspect it by hand"
	current=$(spki "$pub" -pubin) || die "JWT_PUBLIC_KEY_PATH: $pub is not a public key"
	if [ "$current" != "$(spki "$pending/new_public.pem" -pubin)" ] &&
		[ "$current" != "$(spki "$pending/old_private.pem")" ]; then
		die "$pub is neither the key the unfinished rotation in $pending retired nor the one it installs: inspect it by hand"
	fi
	echo "rotate-keys: finishing the rotation begun at $(date -u -d "@$stamp" '+%F %T UTC') (no new key is made)"
	# Tokens of the old key must keep verifying: the copy was made before
	# the pending state was committed; bring it back if it went missing.
	if [ ! -e "$retired/$rname" ]; then
		tmpf=$(mktemp "$retired/.rotate-key.XXXXXX")
		spki "$pending/old_private.pem" > "$tmpf"
		chmod 0644 "$tmpf"
		mv -f "$tmpf" "$retired/$rname"
		tmpf=""
		echo "rotate-keys: restored the retired public key $retired/$rname"
	fi
}

begin_rsa() {
	stamp=$(date +%s)
	tmp=$(mktemp -d "$keys/.rotate.XXXXXX")
	"$(auth_script gen-keys)" "$tmp/new" >/dev/null
	mv "$tmp/new/jwt_private.pem" "$tmp/new_private.pem"
	mv "$tmp/new/jwt_public.pem" "$tmp/new_public.pem"
	rm -rf "$tmp/new"
	( umask 077 && cp "$priv" "$tmp/old_private.pem" )
	rname=$(retired_name "$stamp")
	echo "$stamp" > "$tmp/stamp"
	echo "$rname" > "$tmp/retired"
	put "$pub" "$retired/$rname" 0644
	mv "$tmp" "$pending"
	tmp=""
	echo "rotate-keys: new key pair made; the current public key is kept as $retired/$rname"
}

resume_refresh() {
	local part
	for part in stamp retired new.key old.key; do
		[ -s "$pending/$part" ] || die "$pending is incomplete ($part missing): inspect it by hand"
	done
	read -r stamp < "$pending/stamp"
	read -r rname < "$pending/retired"
	[[ $stamp =~ ^[0-9]{1,12}$ && $rname =~ ^refresh-[0-9]{1,12}(-[0-9]+)?\.key$ ]] ||
		die "$pending is damaged: inspect it by hand"
	if ! cmp -s "$rkey" "$pending/new.key" && ! cmp -s "$rkey" "$pending/old.key"; then
		die "$rkey is neither the key the unfinished rotation in $pending retired nor the one it installs: inspect it by hand"
	fi
	echo "rotate-keys: finishing the refresh key rotation begun at $(date -u -d "@$stamp" '+%F %T UTC') (no new key is made)"
	if [ ! -e "$retired/$rname" ]; then
		put "$pending/old.key" "$retired/$rname" 0600
		echo "rotate-keys: restored the retired refresh key $retired/$rname"
	fi
}

begin_refresh() {
	stamp=$(date +%s)
	tmp=$(mktemp -d "$keys/.rotate.XXXXXX")
	"$(auth_script gen-keys)" --refresh "$tmp/new" >/dev/null
	mv "$tmp/new/refresh.key" "$tmp/new.key"
	rm -rf "$tmp/new"
	( umask 077 && cp "$rkey" "$tmp/old.key" )
	rname=$(retired_name "$stamp")
	echo "$stamp" > "$tmp/stamp"
	echo "$rname" > "$tmp/retired"
	put "$rkey" "$retired/$rname" 0600
	mv "$tmp" "$pending"
	tmp=""
	echo "rotate-keys: new refresh key made; the current one is kept as $retired/$rname"
}

if [ "$kind" = rsa ]; then
	mkdir -p "$retired"
else
	( umask 077 && mkdir -p "$retired" )
fi
if [ -d "$pending" ]; then
	"resume_$kind"
else
	"begin_$kind"
fi

# Retired keys no valid token can depend on (never the one just retired).
now=$(date +%s)
if [ "$kind" = rsa ]; then
	kept_for="max(ACCESS_TTL, REFRESH_TTL) + CLOCK_SKEW + ${RELOAD_ALLOWANCE} s"
else
	kept_for="REFRESH_TTL + CLOCK_SKEW + ${RELOAD_ALLOWANCE} s"
fi
for kf in "$retired/$prefix"-*"$suffix"; do
	[ -e "$kf" ] || continue
	name=${kf##*/}
	[ "$name" != "$rname" ] || continue
	[[ $name =~ ^$prefix-([0-9]{1,12})(-[0-9]+)?[.]${suffix#.}$ ]] || continue
	if [ $((now - 10#${BASH_REMATCH[1]})) -gt "$keep" ]; then
		rm -f "$kf"
		echo "rotate-keys: removed $kf (older than $kept_for)"
	fi
done

if [ "$kind" = rsa ]; then
	cmp -s "$pending/new_private.pem" "$priv" || put "$pending/new_private.pem" "$priv" 0600
	cmp -s "$pending/new_public.pem" "$pub" || put "$pending/new_public.pem" "$pub" 0644
	echo "rotate-keys: new signing key in place"
else
	cmp -s "$pending/new.key" "$rkey" || put "$pending/new.key" "$rkey" 0600
	echo "rotate-keys: new refresh key in place"
fi

# hup_ready PID: master PID takes a SIGHUP as a reload request, i.e. it is
# in its supervising loop with SIGHUP blocked (read from a signalfd) and
# none queued. A master still re-executing has SIGHUP at its default
# action, which would end it; one with a SIGHUP queued reloads already.
hup_ready() {
	local blk pnd
	blk=$(awk '$1 == "SigBlk:" { print $2 }' "/proc/$1/status" 2>/dev/null) || return 1
	pnd=$(awk '$1 == "ShdPnd:" { print $2 }' "/proc/$1/status" 2>/dev/null) || return 1
	[[ $blk =~ ^[0-9a-f]{16}$ && $pnd =~ ^[0-9a-f]{16}$ ]] || return 1
	(( (16#${blk: -1} & 1) == 1 && (16#${pnd: -1} & 1) == 0 ))
}

unfinished() {
	die "$1; the new key is in place, the old ${kind/rsa/private} key stays in $pending until every endpoint has reloaded: fix $2 (see the logs in $RUN_DIR) and run $self again to finish"
}

# reload EP:PID:WORKERS...: SIGHUP each master, then wait until all have
# reloaded: WORKERS workers, none of the old ones, serve.
reload() {
	local m ep pid want now_w left next late="" detail=""
	local -A before
	for m; do
		IFS=: read -r ep pid want <<<"$m"
		is_master "$ep" "$pid" ||
			unfinished "$ep: pid $pid is no longer the $ep master of this stack" "$ep"
		for _ in $(seq 1 $((reload_timeout * 20))); do
			hup_ready "$pid" && break
			[ -e "/proc/$pid" ] ||
				unfinished "$ep: its master (pid $pid) exited" "$ep"
			sleep 0.05
		done
		hup_ready "$pid" ||
			unfinished "$ep (pid $pid) is not ready for a reload after $reload_timeout s (a reload of its own still running, or the master stopped or hung)" "$ep"
		before[$ep]=$(workers "$pid" || true)
		kill -HUP "$pid"
	done
	left=("$@")
	for _ in $(seq 1 $((reload_timeout * 20))); do
		sleep 0.05
		next=()
		for m in "${left[@]}"; do
			IFS=: read -r ep pid want <<<"$m"
			[ -e "/proc/$pid" ] ||
				unfinished "$ep did not reload: its master (pid $pid) exited" "$ep"
			now_w=$(workers "$pid" 2>/dev/null || true)
			if [ "$(wc -w <<<"$now_w")" -ne "$want" ] ||
				[ -n "$(comm -12 <(echo "${before[$ep]}") <(echo "$now_w"))" ]; then
				next+=("$m")
			fi
		done
		left=("${next[@]}")
		[ ${#left[@]} -gt 0 ] || return 0
	done
	for m in "${left[@]}"; do
		IFS=: read -r ep pid want <<<"$m"
		late="$late${late:+, }$ep"
		detail="$detail${detail:+; }$ep: pid $pid, $want workers expected"
	done
	unfinished "$late did not reload within $reload_timeout s ($detail)" "$late"
}

# The verifiers first, together; then refresh, which verifies what login
# and register sign; then those two. No endpoint meets a kid signed by a
# reloaded signer before it has reloaded itself.
verifiers=() refreshers=() signers=()
for m in "${masters[@]}"; do
	case ${m%%:*} in
	refresh) refreshers+=("$m") ;;
	login|register) signers+=("$m") ;;
	*) verifiers+=("$m") ;;
	esac
done
[ ${#verifiers[@]} -eq 0 ] || reload "${verifiers[@]}"
[ ${#refreshers[@]} -eq 0 ] || reload "${refreshers[@]}"
[ ${#signers[@]} -eq 0 ] || reload "${signers[@]}"
[ ${#masters[@]} -eq 0 ] || echo "rotate-keys: every endpoint in $RUN_DIR reloaded"

# No process holds the old private key any more: its retention counts from
# now, and the key itself goes.
done_at=$(date +%s)
if [ -e "$retired/$rname" ] && [[ $rname != "$prefix-$done_at".* && $rname != "$prefix-$done_at"-* ]]; then
	new_name=$(retired_name "$done_at")
	mv -f "$retired/$rname" "$retired/$new_name"
	rname=$new_name
fi
rm -rf "$pending"
if [ "$kind" = rsa ]; then
	echo "rotate-keys: rotation complete; old private key deleted; previous public key kept as $retired/$rname"
else
	echo "rotate-keys: rotation complete; previous refresh key kept (verify only) as $retired/$rname"
fi
