#!/usr/bin/env bash
# deps.sh: install the Debian packages the build, the stack and the tests
# need, only when some are missing (apt-get needs root or sudo).
set -euo pipefail

packages=(build-essential pkg-config libfcgi-dev libjson-c-dev libsqlite3-dev
          libpq-dev postgresql postgresql-client
          libssl-dev libcrypt-dev libcmocka-dev sqlite3 openssl lighttpd
          nginx libnginx-mod-http-headers-more-filter
          bats curl jq lcov xxd python3-prometheus-client logrotate
          python3-jsonschema python3-yaml python3-jwt
          clang libclang-rt-14-dev valgrind cppcheck clang-tidy shellcheck
          systemd parallel lighttpd-modules-lua oathtool)
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
# Node and npm (the tests' OpenAPI validator and JOSE verifiers) by
# command: a machine may have them from elsewhere (NodeSource's nodejs
# carries its own npm and conflicts with Debian's npm package).
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
