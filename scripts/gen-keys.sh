#!/usr/bin/env bash
# gen-keys.sh [--refresh] [DIR]: make a key of the service in DIR (default
# $KEYS_DIR, else ./keys), never overwriting one that exists:
#   (default)  an RSA-2048 signing pair, DIR/jwt_private.pem (0600) and
#              DIR/jwt_public.pem, and the DIR/retired/ directory
#              rotate-keys.sh uses;
#   --refresh  the HS256 refresh-token key (REFRESH_TOKEN_SIGNING=hs256),
#              DIR/refresh.key: 32 random bytes as 43 base64url characters
#              and a newline, mode 0600, and DIR/retired-refresh/ (0700)
#              that rotate-keys.sh --refresh uses.
# Secret files are private from their first byte (umask 077).
set -euo pipefail

kind=rsa
if [ "${1:-}" = --refresh ]; then
	kind=refresh
	shift
fi
dir=${1:-${KEYS_DIR:-./keys}}

if [ "$kind" = refresh ]; then
	key=$dir/refresh.key
	if [ -e "$key" ]; then
		echo "gen-keys: $key exists; leaving it" >&2
		exit 0
	fi
	( umask 077 && mkdir -p "$dir/retired-refresh" )
	chmod 0700 "$dir" "$dir/retired-refresh"
	# Written beside it and renamed: the key is whole or absent.
	tmp=$(mktemp "$dir/.refresh.key.XXXXXX")
	trap 'rm -f "$tmp"' EXIT
	text=$(openssl rand -base64 32 | tr '+/' '-_' | tr -d '=\n')
	[ ${#text} -eq 43 ] || { echo "gen-keys: openssl rand failed" >&2; exit 1; }
	printf '%s\n' "$text" > "$tmp"
	chmod 0600 "$tmp"
	mv "$tmp" "$key"
	echo "gen-keys: wrote $key (0600)"
	exit 0
fi

priv=$dir/jwt_private.pem
pub=$dir/jwt_public.pem
if [ -e "$priv" ]; then
	echo "gen-keys: $priv exists; leaving it" >&2
	exit 0
fi
mkdir -p "$dir/retired"
chmod 0700 "$dir"
( umask 077 && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
	-out "$priv" 2>/dev/null )
openssl pkey -in "$priv" -pubout -out "$pub" 2>/dev/null
chmod 0600 "$priv"
chmod 0644 "$pub"
echo "gen-keys: wrote $priv (0600) and $pub"
