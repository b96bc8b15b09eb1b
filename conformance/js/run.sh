#!/usr/bin/env bash
# Runs E2B's official JS SDKs (npm e2b and @e2b/code-interpreter, pinned in
# package.json) against an E2B-compatible server such as `tta serve`, with
# node's built-in test runner.
#
# It starts no server. Start one, export the variables it prints
# (E2B_API_URL, E2B_SANDBOX_URL, E2B_API_KEY; E2B_DOMAIN may also be set),
# then run this script. Without E2B_API_URL the tests are skipped.
# Extra arguments go to `node --test`, e.g. --test-name-pattern=files.
#
# Exits 0 with a message when node is not installed: these tests need
# Node.js 20 or later and nothing else.
set -euo pipefail
here=${BASH_SOURCE[0]%/*}
[ "$here" = "${BASH_SOURCE[0]}" ] && here=.
cd "$here"

if ! command -v node >/dev/null 2>&1; then
	echo "conformance/js: skipped: node is not installed (Node.js 20 or later runs these tests)"
	exit 0
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
	echo "conformance/js: skipped: node $(node --version) is too old (Node.js 20 or later runs these tests)"
	exit 0
fi

if [ -z "${E2B_API_URL:-}" ]; then
	echo "conformance/js: E2B_API_URL is not set: the tests will be skipped (start \`tta serve\` and export what it prints)"
elif [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
	if ! command -v npm >/dev/null 2>&1; then
		echo "conformance/js: npm is not installed and node_modules is missing or stale: install npm, or run \`npm ci\` in $(pwd)" >&2
		exit 1
	fi
	echo "conformance/js: installing the pinned SDKs with npm ci"
	npm ci --no-audit --no-fund --loglevel=error
fi

exec node --test "$@" sdk.test.mjs
