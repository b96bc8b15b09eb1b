// Package envd holds the Go code generated from the project's own .proto
// definitions of envd's Connect services (process.Process and
// filesystem.Filesystem), shared by package e2b's client and its test server.
// Run `go generate` here after editing ./proto; never edit the generated files.
package envd

//go:generate ./generate.sh
