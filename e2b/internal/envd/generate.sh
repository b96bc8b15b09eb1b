#!/usr/bin/env bash
# Regenerates the Go code for envd's Connect services from ./proto. The protoc
# plugins are built from the versions pinned in go.mod, so the output depends only
# on protoc (Debian: protobuf-compiler) and this repository.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
(cd "$here" && go build -o "$bin/protoc-gen-go" google.golang.org/protobuf/cmd/protoc-gen-go \
  && go build -o "$bin/protoc-gen-connect-go" connectrpc.com/connect/cmd/protoc-gen-connect-go)
cd "$here/proto"
PATH="$bin:$PATH" protoc -I . \
  --go_out="$here" --go_opt=module=github.com/tta-dev/tta/e2b/internal/envd \
  --connect-go_out="$here" --connect-go_opt=module=github.com/tta-dev/tta/e2b/internal/envd \
  process.proto filesystem.proto
