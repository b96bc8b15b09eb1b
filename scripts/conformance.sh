#!/usr/bin/env bash
# Runs E2B's official JS SDKs (conformance/js, npm e2b and @e2b/code-interpreter
# at the versions pinned there) against `tta serve`: builds cmd/tta, starts
# `tta serve` on a free loopback port with a generated API key, exports the
# variables it prints, runs conformance/js/run.sh (which installs the pinned
# packages with npm ci when needed), and always stops the server, checking
# that it exits cleanly and leaves no sandbox behind.
#
# Extra arguments go to `node --test`, e.g. --test-name-pattern=files.
# Exits 0 with a message when node (20 or later) is not installed.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v node >/dev/null 2>&1; then
	echo "conformance: skipped: node is not installed (Node.js 20 or later runs E2B's JS SDKs)"
	exit 0
fi

work=$(mktemp -d)
pid=
stop() {
	local status=$?
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid"
		if ! wait "$pid"; then
			echo "conformance: tta serve did not exit cleanly; its log:" >&2
			cat "$work/serve.log" >&2
			status=1
		fi
	fi
	if [ -d "$work/sandboxes" ] && [ -n "$(ls -A "$work/sandboxes")" ]; then
		echo "conformance: sandbox directories left behind after tta serve stopped:" >&2
		ls -A "$work/sandboxes" >&2
		status=1
	fi
	rm -rf "$work"
	exit "$status"
}
trap stop EXIT
trap 'exit 130' INT TERM

go build -o "$work/tta" ./cmd/tta
"$work/tta" serve --addr 127.0.0.1:0 --root "$work/sandboxes" >"$work/exports" 2>"$work/serve.log" &
pid=$!

# tta serve prints three export lines on standard output once it listens.
for _ in $(seq 1 100); do
	[ "$(grep -c '^export ' "$work/exports")" -ge 3 ] && break
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "conformance: tta serve exited before serving; its log:" >&2
		cat "$work/serve.log" >&2
		exit 1
	fi
	sleep 0.1
done
if [ "$(grep -c '^export ' "$work/exports")" -lt 3 ]; then
	echo "conformance: tta serve printed no exports within 10 s; its log:" >&2
	cat "$work/serve.log" >&2
	exit 1
fi
# shellcheck disable=SC1091
. "$work/exports"
echo "conformance: tta serve on $E2B_API_URL"
# The escape tests run where tta serve says its sandboxes are confined.
if grep -q 'isolation: confined:' "$work/serve.log"; then
	export TTA_CONFINED=1
fi

conformance/js/run.sh "$@"
