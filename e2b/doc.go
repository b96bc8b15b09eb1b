// Package e2b is a Go client for E2B sandboxes (https://e2b.dev), wire-compatible
// with E2B's official SDKs: the control plane (create, list, kill, pause, connect),
// envd (files and processes over Connect RPC) and the code interpreter (streamed
// NDJSON executions).
//
// It stands on its own: nothing in it depends on the rest of module
// github.com/tta-dev/tta. It does not retry requests (other than establishing a
// connection); errors carry their identity (see APIError and the Err variables)
// and say through a Transient method whether trying again can help, so a retry
// policy such as tta.Retry can decide without matching strings.
//
// Package e2b/e2bserver serves the same protocol for tests and local use.
package e2b
