#!/usr/bin/env bash
# gen-keys.sh [--refresh|--mfa] [DIR]: make the keys of the service in DIR
# (default $KEYS_DIR, else ./keys), never overwriting one that exists:
#   (default)  an RSA-2048 signing pair, DIR/jwt_private.pem (0600) and
#              DIR/jwt_public.pem, and the DIR/retired/ directory
#              rotate-keys.sh uses; and the MFA key, DIR/mfa.key, that
#              seals TOTP secrets in the database (MFA_KEY_PATH; made
#              also when the pair exists already);
#   --refresh  the HS256 refresh-token key (REFRESH_TOKEN_SIGNING=hs256),
#              DIR/refresh.key, and DIR/retired-refresh/ (0700) that
#              rotate-keys.sh --refresh uses;
#   --mfa      the MFA key alone.
# A secret key file holds 32 random bytes as 43 base64url characters and
# a newline, mode 0600. Secret files are private from their first byte
# (umask 077).
set -euo pipefail

# secret_key FILE: a new 256-bit key in FILE, unless it exists.
secret_key() {
	local key=$1 tmp text
	if [ -e "$key" ]; then
		echo "gen-keys: $key exists; leaving it" >&2
		return 0
	fi
	# Written beside it and renamed: the key is whole or absent.
	tmp=$(mktemp "$(dirname "$key")/.key.XXXXXX")
	text=$(openssl rand -base64 32 | tr '+/' '-_' | tr -d '=\n')
	if [ ${#text} -ne 43 ]; then
		rm -f "$tmp"
		echo "gen-keys: openssl rand failed" >&2
		return 1
	fi
	printf '%s\n' "$text" > "$tmp"
	chmod 0600 "$tmp"
	mv "$tmp" "$key"
	echo "gen-keys: wrote $key (0600)"
}

kind=rsa
case ${1:-} in
--refresh) kind=refresh; shift ;;
--mfa) kind=mfa; shift ;;
esac
dir=${1:-${KEYS_DIR:-./keys}}

if [ "$kind" = refresh ]; then
	( umask 077 && mkdir -p "$dir/retired-refresh" )
	chmod 0700 "$dir" "$dir/retired-refresh"
	secret_key "$dir/refresh.key"
	exit 0
fi

( umask 077 && mkdir -p "$dir" )
chmod 0700 "$dir"
( umask 077 && secret_key "$dir/mfa.key" )
[ "$kind" = mfa ] && exit 0

priv=$dir/jwt_private.pem
pub=$dir/jwt_public.pem
mkdir -p "$dir/retired"
if [ -e "$priv" ]; then
	echo "gen-keys: $priv exists; leaving it" >&2
	exit 0
fi
( umask 077 && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
	-out "$priv" 2>/dev/null )
openssl pkey -in "$priv" -pubout -out "$pub" 2>/dev/null
chmod 0600 "$priv"
chmod 0644 "$pub"
echo "gen-keys: wrote $priv (0600) and $pub"
