#!/usr/bin/env bash
# gen-keys.sh [DIR]: make an RSA-2048 signing key pair (DIR/jwt_private.pem,
# DIR/jwt_public.pem) and the DIR/retired/ directory rotate-keys.sh uses.
# The private key is created mode 0600 (umask 077 from the first byte);
# existing keys are never overwritten.
set -euo pipefail

dir=${1:-${KEYS_DIR:-./keys}}
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
