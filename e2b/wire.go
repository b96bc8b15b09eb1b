package e2b

import "time"

// This file holds the JSON shapes E2B speaks on the wire: the control plane
// (OpenAPI spec, api.<domain>), the sandbox proxy's error answers, and the code
// interpreter's /execute and /contexts endpoints (port 49999). The client and the
// E2B-compatible server in e2b/e2bserver share them, so both agree byte for byte.
// Field names follow E2B exactly, including its mix of camelCase and snake_case.

// Well-known ports inside a sandbox.
const (
	// EnvdPort is the port of envd, the in-sandbox daemon (files, processes).
	EnvdPort = 49983
	// InterpreterPort is the port of the code interpreter (/execute, /contexts).
	InterpreterPort = 49999
)

// Well-known templates.
const (
	// DefaultTemplate is the code-interpreter template used when none is named.
	DefaultTemplate = "code-interpreter-v1"
	// BaseTemplate is E2B's bare template: envd only, no code interpreter.
	BaseTemplate = "base"
)

// Header names on the wire.
const (
	// HeaderAPIKey carries the E2B API key (e2b_<hex>) on control-plane requests.
	HeaderAPIKey = "X-API-Key"
	// HeaderAccessToken carries a sandbox's envdAccessToken on requests to its
	// ports; sent only when the sandbox was created with secure: true.
	HeaderAccessToken = "X-Access-Token"
	// HeaderTrafficToken carries the trafficAccessToken on requests to a
	// sandbox's ports; sent only when the create answer carried one.
	HeaderTrafficToken = "E2B-Traffic-Access-Token"
	// HeaderSandboxID names the target sandbox in the single-URL form
	// (E2B_SANDBOX_URL), where every sandbox and port share one base URL.
	HeaderSandboxID = "E2b-Sandbox-Id"
	// HeaderSandboxPort names the target port (decimal, e.g. "49983") in the
	// single-URL form, alongside HeaderSandboxID.
	HeaderSandboxPort = "E2b-Sandbox-Port"
	// HeaderNextToken is the response header of GET /v2/sandboxes carrying the
	// token for the next page; absent or empty on the last page.
	HeaderNextToken = "X-Next-Token"
	// HeaderRetryAfter is the standard response header an error answer
	// (typically 429) may carry to say when to try again: seconds or an HTTP
	// date.
	HeaderRetryAfter = "Retry-After"
	// HeaderKeepalivePing asks envd to send keepalive events on a process
	// stream at this interval, in seconds (the JS SDK sends 50).
	HeaderKeepalivePing = "Keepalive-Ping-Interval"
)

// Proxy messages real E2B sends with a 502 when a sandbox's port cannot be reached.
const (
	// MessagePortNotOpen means the sandbox exists but nothing listens on the
	// port (yet); the 502 body carries the port. Transient until a readiness deadline.
	MessagePortNotOpen = "The sandbox is running but port is not open"
	// MessageSandboxNotFound means the sandbox is gone (killed or timed out);
	// the 502 body has no port. Terminal: never retry on the same sandbox.
	MessageSandboxNotFound = "The sandbox was not found"
)

// NewSandboxRequest is the body of POST /sandboxes and POST /v2/sandboxes.
type NewSandboxRequest struct {
	// TemplateID is the template ID or name (alias) to start from; required.
	TemplateID string `json:"templateID"`
	Timeout    int32  `json:"timeout,omitempty"` // seconds
	// AutoPause pauses the sandbox instead of killing it when its timeout
	// expires; false (omitted) kills it.
	AutoPause bool `json:"autoPause,omitempty"`
	// Secure makes envd require HeaderAccessToken with the returned
	// envdAccessToken on every request to the sandbox.
	Secure bool `json:"secure,omitempty"`
	// AllowInternetAccess enables or disables outbound internet access; nil
	// (omitted) keeps E2B's default.
	AllowInternetAccess *bool `json:"allow_internet_access,omitempty"`
	// Metadata is free-form key/value data stored with the sandbox and
	// usable as a List filter; nil is omitted.
	Metadata map[string]string `json:"metadata,omitempty"`
	// EnvVars are environment variables set for every process in the sandbox;
	// nil is omitted.
	EnvVars map[string]string `json:"envVars,omitempty"`
}

// SandboxCreated is the answer to create and connect (schema "Sandbox").
type SandboxCreated struct {
	// TemplateID is the ID of the template the sandbox was created from (an
	// ID even when the request named an alias).
	TemplateID string `json:"templateID"`
	// SandboxID identifies the new sandbox; it names the sandbox in every
	// later call and in its port host names.
	SandboxID string `json:"sandboxID"`
	// Alias is the template's alias (name), empty when it has none.
	Alias string `json:"alias,omitempty"`
	// ClientID identifies the client; deprecated by E2B and kept for
	// compatibility.
	ClientID string `json:"clientID"`
	// EnvdVersion is the version of envd in the sandbox, e.g. "0.4.0"; SDKs
	// refuse versions below 0.1.0.
	EnvdVersion string `json:"envdVersion"`
	// EnvdAccessToken is the token for HeaderAccessToken; set when the
	// sandbox was created with Secure, empty otherwise.
	EnvdAccessToken string `json:"envdAccessToken,omitempty"`
	// TrafficAccessToken is the token for HeaderTrafficToken; nil when the
	// sandbox's ports need no traffic token.
	TrafficAccessToken *string `json:"trafficAccessToken,omitempty"`
	Domain             *string `json:"domain"` // null for E2B's own domain
}

// SandboxState is "running" or "paused".
type SandboxState string

// Sandbox states.
const (
	// StateRunning is a sandbox that is up and reachable.
	StateRunning SandboxState = "running"
	// StatePaused is a paused sandbox; Connect resumes it.
	StatePaused SandboxState = "paused"
)

// SandboxDetail is the answer to GET /sandboxes/{id}; ListedSandbox entries of
// GET /v2/sandboxes have the same fields less the access token and domain.
type SandboxDetail struct {
	// TemplateID is the ID of the template the sandbox was created from.
	TemplateID string `json:"templateID"`
	// Alias is the template's alias (name), empty when it has none.
	Alias string `json:"alias,omitempty"`
	// SandboxID identifies the sandbox.
	SandboxID string `json:"sandboxID"`
	// ClientID identifies the client; deprecated by E2B and kept for
	// compatibility.
	ClientID string `json:"clientID"`
	// StartedAt is when the sandbox was started.
	StartedAt time.Time `json:"startedAt"`
	// EndAt is when the sandbox will expire unless its timeout is extended.
	EndAt time.Time `json:"endAt"`
	// EnvdVersion is the version of envd in the sandbox, e.g. "0.4.0".
	EnvdVersion string `json:"envdVersion"`
	// EnvdAccessToken is the token for HeaderAccessToken; empty unless the
	// sandbox is secure, and absent from list entries.
	EnvdAccessToken string `json:"envdAccessToken,omitempty"`
	// AllowInternetAccess is whether internet access was explicitly enabled
	// or disabled at creation; nil when it was not set.
	AllowInternetAccess *bool `json:"allowInternetAccess,omitempty"`
	// Domain is the base domain serving the sandbox's traffic; nil for E2B's
	// own domain, and absent from list entries.
	Domain *string `json:"domain,omitempty"`
	// CPUCount is the number of virtual CPUs.
	CPUCount int32 `json:"cpuCount"`
	// MemoryMB is the memory size in MiB.
	MemoryMB int32 `json:"memoryMB"`
	// DiskSizeMB is the disk size in MiB.
	DiskSizeMB int32 `json:"diskSizeMB"`
	// Metadata is the key/value data given at creation; nil when none.
	Metadata map[string]string `json:"metadata,omitempty"`
	// State is StateRunning or StatePaused.
	State SandboxState `json:"state"`
}

// TimeoutRequest is the body of POST /sandboxes/{id}/timeout and /connect.
type TimeoutRequest struct {
	Timeout int32 `json:"timeout"` // seconds from now
}

// ErrorBody is the control plane's error answer: {"code":404,"message":"..."}.
type ErrorBody struct {
	// Code is the HTTP status code repeated in the body, e.g. 404.
	Code int `json:"code"`
	// ErrorCode is an optional machine-readable reason, an open set such as
	// "sandbox_capacity_unavailable"; empty when the server gives none.
	ErrorCode string `json:"error_code,omitempty"`
	// Message is the human-readable reason.
	Message string `json:"message"`
}

// ProxyErrorBody is the sandbox proxy's 502 answer when a sandbox or one of its
// ports cannot be reached. Port is absent when the sandbox itself is gone.
type ProxyErrorBody struct {
	// SandboxID is the sandbox the request was addressed to.
	SandboxID string `json:"sandboxId"`
	// Message is MessagePortNotOpen or MessageSandboxNotFound.
	Message string `json:"message"`
	// Port is the unreachable port inside the sandbox; 0 (omitted) when the
	// sandbox itself is gone.
	Port int `json:"port,omitempty"`
	// Code repeats the HTTP status, 502.
	Code int `json:"code"`
}

// ExecuteRequest is the body of the interpreter's POST /execute. ContextID and
// Language are mutually exclusive.
type ExecuteRequest struct {
	// Code is the source to run in the context.
	Code string `json:"code"`
	// ContextID names the context to run in; empty means the default
	// context of Language.
	ContextID string `json:"context_id,omitempty"`
	// Language selects the default context for that language, e.g.
	// "python" (the default when both are empty), "javascript", "r", "bash".
	Language string `json:"language,omitempty"`
	// EnvVars are environment variables set for this execution only; nil is
	// omitted.
	EnvVars map[string]string `json:"env_vars,omitempty"`
}

// Types of the NDJSON lines /execute streams.
const (
	// EventNumberOfExecutions carries the cell's execution count; sent first.
	EventNumberOfExecutions = "number_of_executions"
	// EventStdout carries a chunk of standard output.
	EventStdout = "stdout"
	// EventStderr carries a chunk of standard error.
	EventStderr = "stderr"
	// EventResult carries a rich result (the cell's value or a display call).
	EventResult = "result"
	// EventError means the user's code raised; a result, not a transport
	// failure, so never retried.
	EventError = "error"
	// EventKeepalive is sent about every 5 s while the code runs and carries
	// no data.
	EventKeepalive = "keepalive"
	// EventEndOfExecution is the last line of a complete execution.
	EventEndOfExecution = "end_of_execution"
)

// ExecutionEvent is one NDJSON line of /execute. Which fields are set depends on
// Type: Text and Timestamp for stdout/stderr; the MIME fields for result; Name,
// Value and Traceback for error; ExecutionCount for number_of_executions.
//
// The client keeps a line whose type it can read even when another known field
// has an unexpected JSON type (say, a string execution_count): that field is
// left zero and the rest of the line is used.
type ExecutionEvent struct {
	// Type is one of the Event constants; unknown types are ignored.
	Type string `json:"type"`

	// stdout / stderr
	Text string `json:"text,omitempty"`
	// Timestamp is when the interpreter saw a stdout or stderr line: an ISO
	// 8601 string on the wire (see EventTime); zero, and omitted, when absent
	// or unreadable.
	Timestamp EventTime `json:"timestamp,omitzero"`

	// number_of_executions
	ExecutionCount int `json:"execution_count,omitempty"`

	// error
	Name string `json:"name,omitempty"`
	// Value is the exception's message.
	Value string `json:"value,omitempty"`
	// Traceback is the formatted traceback, possibly with ANSI colour codes.
	Traceback string `json:"traceback,omitempty"`

	// result (Text above carries text/plain)
	IsMainResult bool `json:"is_main_result,omitempty"`
	// HTML is the text/html representation; empty when absent.
	HTML string `json:"html,omitempty"`
	// Markdown is the text/markdown representation; empty when absent.
	Markdown string `json:"markdown,omitempty"`
	// SVG is the image/svg+xml representation; empty when absent.
	SVG  string `json:"svg,omitempty"`
	PNG  string `json:"png,omitempty"`  // base64
	JPEG string `json:"jpeg,omitempty"` // base64
	PDF  string `json:"pdf,omitempty"`  // base64
	// LaTeX is the text/latex representation; empty when absent.
	LaTeX string `json:"latex,omitempty"`
	// JSON is the application/json representation as sent, decoded as
	// encoding/json decodes into an any: an object (map[string]any), an array
	// ([]any), a string, a float64 or a bool. nil when absent or null.
	JSON any `json:"json,omitempty"`
	// JavaScript is the application/javascript representation; empty when
	// absent.
	JavaScript string `json:"javascript,omitempty"`
	// Data is a tabular representation (e.g. a pandas DataFrame); nil when
	// absent.
	Data map[string]any `json:"data,omitempty"`
	// Chart is E2B's structured description of a plotted chart; nil when
	// absent.
	Chart map[string]any `json:"chart,omitempty"`
	// Extra holds any other representations, keyed by name; nil when
	// absent.
	Extra map[string]any `json:"extra,omitempty"`
}

// CreateContextRequest is the body of the interpreter's POST /contexts.
type CreateContextRequest struct {
	// Language of the new context, e.g. "python" (the default when empty).
	Language string `json:"language,omitempty"`
	// Cwd is the context's working directory; empty means the interpreter's
	// default (/home/user in E2B templates).
	Cwd string `json:"cwd,omitempty"`
}

// ContextInfo describes an interpreter context (POST/GET /contexts).
type ContextInfo struct {
	// ID identifies the context in ExecuteRequest.ContextID and the
	// /contexts/{id} paths.
	ID string `json:"id"`
	// Language is the context's language, e.g. "python".
	Language string `json:"language"`
	// Cwd is the context's working directory.
	Cwd string `json:"cwd"`
}

// FileEntry is one element of envd's answer to POST /files.
type FileEntry struct {
	// Name is the file's base name.
	Name string `json:"name"`
	// Type is "file" for uploads; envd reports no other type here.
	Type string `json:"type"`
	// Path is the file's absolute path inside the sandbox.
	Path string `json:"path"`
}
