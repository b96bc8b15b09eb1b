#!/usr/bin/env bash
# Runs every check: go vet, gofmt, generated code up to date, the race-enabled
# tests of every module, one iteration of every benchmark so that they keep
# compiling and running, and E2B's official JS SDKs against `tta serve`. Works
# from a fresh clone with only Go installed: the generated-code check needs
# protoc and the SDK conformance tests need node (they install their pinned npm
# packages themselves); each is skipped with a note when its tool is missing.
# As root on Debian it installs slirp4netns and iproute2, which local
# sandboxes' internet access needs.
set -euo pipefail
cd "$(dirname "$0")/.."

modules=(.)
[ -f bench/go.mod ] && modules+=(bench)
[ -f temporal/go.mod ] && modules+=(temporal)
[ -f otel/go.mod ] && modules+=(otel)
[ -f adapters/eino/go.mod ] && modules+=(adapters/eino)
[ -f adapters/langchaingo/go.mod ] && modules+=(adapters/langchaingo)

step() { printf '\n== %s\n' "$*"; }

step "tools of local sandboxes"
# Internet access of local sandboxes goes through slirp4netns, with routes
# set by ip(8); without them the sandbox tests that need it are skipped.
missing=()
command -v slirp4netns >/dev/null 2>&1 || missing+=(slirp4netns)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
if [ ${#missing[@]} -eq 0 ]; then
  echo ok
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${missing[*]}"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } >/dev/null 2>&1 \
    || echo "could not install ${missing[*]}: internet access tests of local sandboxes will be skipped"
else
  echo "skipped: ${missing[*]} not installed (Debian: apt-get install ${missing[*]}); internet access tests of local sandboxes will be skipped"
fi

step "Temporal CLI for the temporal module's tests against a dev server"
# Built once from the Go module proxy (newer versions do not build from it)
# and cached; without it those tests are skipped with a note.
temporal_cli="${TTA_TEMPORAL_CLI:-$HOME/.cache/tta/temporal-cli-v1.5.1/temporal}"
if [ -x "$temporal_cli" ]; then
  echo "ok: $temporal_cli"
else
  echo "building the Temporal CLI v1.5.1 into $(dirname "$temporal_cli") (once: about 2.5 minutes and 2 GB of memory)"
  if GOBIN="$(dirname "$temporal_cli")" go install github.com/temporalio/cli/cmd/temporal@v1.5.1; then
    echo ok
  else
    echo "could not build the Temporal CLI: the tests against a Temporal dev server will be skipped"
  fi
fi
[ -x "$temporal_cli" ] && export TTA_TEMPORAL_CLI="$temporal_cli"

step "go vet"
for m in "${modules[@]}"; do (cd "$m" && go vet ./...); done

step "gofmt"
unformatted=$(gofmt -l $(find . -name '*.go' -not -path './node_modules/*' -not -path '*/node_modules/*'))
if [ -n "$unformatted" ]; then
  echo "these files need gofmt -w:"; echo "$unformatted"; exit 1
fi

step "generated code is up to date"
if command -v protoc >/dev/null 2>&1 && git rev-parse --git-dir >/dev/null 2>&1; then
  e2b/internal/envd/generate.sh
  git diff --exit-code -- e2b/internal/envd || { echo "regenerating changed e2b/internal/envd: run go generate ./e2b/internal/envd and commit"; exit 1; }
  echo ok
else
  echo "skipped: protoc is not installed (Debian: apt-get install protobuf-compiler)"
fi

step "go test -race"
for m in "${modules[@]}"; do (cd "$m" && go test -race -count=1 ./...); done

if [ -f bench/go.mod ]; then
  step "benchmarks compile and run (1 iteration each)"
  (cd bench && go test -run '^$' -bench . -benchtime 1x ./... >/dev/null && echo ok)
fi

step "E2B's official JS SDKs against tta serve"
scripts/conformance.sh
