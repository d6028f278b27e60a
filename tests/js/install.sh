#!/usr/bin/env bash
# install.sh: the test-only Node packages of tests/js (jose), exactly as
# package-lock.json pins them, from the npm registry; nothing when they are
# already there at the locked versions.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	echo "tests/js: node and npm are needed (scripts/deps.sh installs them)" >&2
	exit 1
fi
# npm records what it installed; the same lock means nothing to do.
if [ -f node_modules/.package-lock.json ] &&
	node -e '
		const a = require("./package-lock.json").packages, b = require("./node_modules/.package-lock.json").packages;
		for (const k of Object.keys(a)) if (k && (!b[k] || b[k].version !== a[k].version || b[k].integrity !== a[k].integrity)) process.exit(1);
	' 2>/dev/null; then
	exit 0
fi
npm ci --no-audit --no-fund --loglevel=error >&2
