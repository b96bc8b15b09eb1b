// Package e2b is a Go client for E2B sandboxes (https://e2b.dev), wire-compatible
// with E2B's official SDKs: the control plane (create, list, kill, pause, connect),
// envd (files and processes over Connect RPC) and the code interpreter (streamed
// NDJSON executions).
//
// It stands on its own: it depends on nothing else of module
// github.com/tta-dev/tta but an internal package that knows the shape of an
// API key, shared with the servers that make keys for it.
//
// # Configuration
//
// NewClient reads options and, for what they leave unset, the environment as
// the official SDKs do: E2B_API_KEY (required, "e2b_" followed by hexadecimal
// digits, checked before any request), E2B_ACCESS_TOKEN, E2B_DOMAIN (default
// e2b.app), E2B_API_URL (the whole control-plane base URL; default
// https://api.<domain>) and E2B_SANDBOX_URL. E2B_DEBUG is not supported.
//
// Options follow one convention: each is an Option named With..., applied in
// order, a later one winning over an earlier one of the same kind; an option
// given a bad value, and a nil Option, make NewClient return an error that
// says which. NewClient never panics.
//
// # Reaching a sandbox
//
// Each sandbox port has its own origin, https://<port>-<sandboxID>.<domain>
// (envd on EnvdPort, the code interpreter on InterpreterPort), unless a single
// sandbox URL is configured: then every request goes there and names its target
// in the E2b-Sandbox-Id and E2b-Sandbox-Port headers, which is how a local
// plain-http server is reached. Secure sandboxes get X-Access-Token, and
// E2B-Traffic-Access-Token is sent when E2B issued one. Sandbox traffic uses
// HTTP/1.1, so cancelling an execution closes its connection and interrupts the
// running code.
//
// # Commands
//
// Sandbox.RunCommand runs a command and waits for it. Sandbox.StartCommand
// starts one in the background and returns a *CommandHandle (Wait, Kill,
// SendStdin, CloseStdin, Disconnect, PID). A command outlives the stream reading it: when the
// stream breaks (the network was cut, a proxy's deadline passed), Wait says
// so with ErrExecutionInterrupted and Sandbox.ConnectCommand with the PID
// reads on; the command is never started again.
//
// # Errors and retries
//
// The package retries nothing, not even establishing a connection. Errors carry
// their identity: *APIError for error answers (matching ErrPortNotOpen,
// ErrSandboxNotFound, ErrUnauthorized or ErrNotFound through errors.Is, with
// RetryAfter from Retry-After), *TransportError when no answer came, and
// ErrExecutionInterrupted and ErrExecutionTimeout for executions. Each says
// through a Transient method whether trying again can help, so a retry policy
// such as tta.Retry can decide without matching strings. The caller's context
// errors are returned as they are and are never transient. The user's code
// raising an exception is a result (Execution.Error), not an error; so is a
// command's non-zero exit code.
//
// # Secrets
//
// API keys and access tokens never appear in errors or in the printed forms
// (String, %v, %+v, %#v) of Client and Sandbox.
//
// Package e2b/wire holds the protocol's JSON shapes and header names, and
// package e2b/e2bserver serves the same protocol for tests and local use.
package e2b
