#!/usr/bin/env bash
# rotate-keys.sh: replace the JWT signing key on a running (or stopped)
# stack without invalidating the tokens already issued.
#
#   1. a new RSA-2048 pair is made beside the current one;
#   2. the current public key is kept in <keys dir>/retired/ (named by the
#      rotation time), which JWT_EXTRA_PUBLIC_KEYS must list: tokens signed
#      by it keep verifying until they expire;
#   3. the new pair replaces JWT_PRIVATE_KEY_PATH / JWT_PUBLIC_KEY_PATH
#      (rename, atomic); the old private key is deleted;
#   4. retired keys older than REFRESH_TTL + CLOCK_SKEW (no token they
#      signed can still be valid) are removed;
#   5. every endpoint of the stack in RUN_DIR reloads (SIGHUP to its master:
#      workers finish their request, the master re-executes with the new
#      keys, the socket keeps accepting). Verifiers reload before signers,
#      so no verifier meets a kid it does not know yet.
# The JWKS document changes at once; clients caching it (max-age 300) see
# the new kid within 5 minutes, and old tokens stay valid meanwhile.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"
env_load "${ENV_FILE:-.env}"

priv=${JWT_PRIVATE_KEY_PATH:-./keys/jwt_private.pem}
pub=${JWT_PUBLIC_KEY_PATH:-./keys/jwt_public.pem}
retired=$(dirname "$pub")/retired
RUN_DIR=${RUN_DIR:-./run}
FCGI_CHILDREN=${FCGI_CHILDREN:-2}
keep=$(( ${REFRESH_TTL:-2592000} + ${CLOCK_SKEW:-30} ))

# Refuse rather than break every token issued so far.
listed=0
IFS=: read -r -a extra <<< "${JWT_EXTRA_PUBLIC_KEYS:-}"
for e in "${extra[@]}"; do
	[ -n "$e" ] && [ "$(realpath -m "$e")" = "$(realpath -m "$retired")" ] && listed=1
done
[ $listed -eq 1 ] || die "JWT_EXTRA_PUBLIC_KEYS must list $retired (retired keys verify until their tokens expire)"
[ -r "$pub" ] || die "JWT_PUBLIC_KEY_PATH: $pub is not readable"

now=$(date +%s)
tmp=$(mktemp -d "$(dirname "$priv")/.rotate.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
"$root/scripts/gen-keys.sh" "$tmp" >/dev/null

mkdir -p "$retired"
cp "$pub" "$retired/jwt_public-$now.pem"
chmod 0644 "$retired/jwt_public-$now.pem"
mv -f "$tmp/jwt_private.pem" "$priv"
mv -f "$tmp/jwt_public.pem" "$pub"
echo "rotate-keys: new signing key in place; previous public key kept as $retired/jwt_public-$now.pem"

for f in "$retired"/jwt_public-*.pem; do
	[ -e "$f" ] || continue
	t=${f##*/jwt_public-}
	t=${t%.pem}
	if [[ $t =~ ^[0-9]+$ ]] && [ $((now - t)) -gt "$keep" ]; then
		rm -f "$f"
		echo "rotate-keys: removed $f (older than REFRESH_TTL + CLOCK_SKEW)"
	fi
done

[ -d "$RUN_DIR" ] || exit 0
# workers PID: the worker pids of master PID, sorted.
workers() { tr ' ' '\n' < "/proc/$1/task/$1/children" | sed '/^$/d' | sort; }
for ep in me sessions logout_all logout jwks metrics readyz healthz refresh login register; do
	[ -f "$RUN_DIR/$ep.pid" ] || continue
	master=$(tr -d '\n' < "$RUN_DIR/$ep.pid")
	kill -0 "$master" 2>/dev/null || continue
	before=$(workers "$master")
	kill -HUP "$master"
	# Reloaded when a full set of workers, none of the old ones, serves.
	for _ in $(seq 1 200); do
		now_w=$(workers "$master" 2>/dev/null || true)
		if [ "$(wc -w <<<"$now_w")" -eq "$FCGI_CHILDREN" ] &&
			[ -z "$(comm -12 <(echo "$before") <(echo "$now_w"))" ]; then
			break
		fi
		sleep 0.05
	done
	[ "$(wc -w <<<"$(workers "$master")")" -eq "$FCGI_CHILDREN" ] ||
		die "$ep did not reload (see the log in $RUN_DIR)"
done
echo "rotate-keys: every endpoint in $RUN_DIR reloaded"
