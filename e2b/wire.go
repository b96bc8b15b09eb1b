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
	HeaderAPIKey        = "X-API-Key"
	HeaderAccessToken   = "X-Access-Token"
	HeaderTrafficToken  = "E2B-Traffic-Access-Token"
	HeaderSandboxID     = "E2b-Sandbox-Id"
	HeaderSandboxPort   = "E2b-Sandbox-Port"
	HeaderNextToken     = "X-Next-Token"
	HeaderRetryAfter    = "Retry-After"
	HeaderKeepalivePing = "Keepalive-Ping-Interval"
)

// Proxy messages real E2B sends with a 502 when a sandbox's port cannot be reached.
const (
	MessagePortNotOpen     = "The sandbox is running but port is not open"
	MessageSandboxNotFound = "The sandbox was not found"
)

// NewSandboxRequest is the body of POST /sandboxes and POST /v2/sandboxes.
type NewSandboxRequest struct {
	TemplateID          string            `json:"templateID"`
	Timeout             int32             `json:"timeout,omitempty"` // seconds
	AutoPause           bool              `json:"autoPause,omitempty"`
	Secure              bool              `json:"secure,omitempty"`
	AllowInternetAccess *bool             `json:"allow_internet_access,omitempty"`
	Metadata            map[string]string `json:"metadata,omitempty"`
	EnvVars             map[string]string `json:"envVars,omitempty"`
}

// SandboxCreated is the answer to create and connect (schema "Sandbox").
type SandboxCreated struct {
	TemplateID         string  `json:"templateID"`
	SandboxID          string  `json:"sandboxID"`
	Alias              string  `json:"alias,omitempty"`
	ClientID           string  `json:"clientID"`
	EnvdVersion        string  `json:"envdVersion"`
	EnvdAccessToken    string  `json:"envdAccessToken,omitempty"`
	TrafficAccessToken *string `json:"trafficAccessToken,omitempty"`
	Domain             *string `json:"domain"` // null for E2B's own domain
}

// SandboxState is "running" or "paused".
type SandboxState string

// Sandbox states.
const (
	StateRunning SandboxState = "running"
	StatePaused  SandboxState = "paused"
)

// SandboxDetail is the answer to GET /sandboxes/{id}; ListedSandbox entries of
// GET /v2/sandboxes have the same fields less the access token and domain.
type SandboxDetail struct {
	TemplateID          string            `json:"templateID"`
	Alias               string            `json:"alias,omitempty"`
	SandboxID           string            `json:"sandboxID"`
	ClientID            string            `json:"clientID"`
	StartedAt           time.Time         `json:"startedAt"`
	EndAt               time.Time         `json:"endAt"`
	EnvdVersion         string            `json:"envdVersion"`
	EnvdAccessToken     string            `json:"envdAccessToken,omitempty"`
	AllowInternetAccess *bool             `json:"allowInternetAccess,omitempty"`
	Domain              *string           `json:"domain,omitempty"`
	CPUCount            int32             `json:"cpuCount"`
	MemoryMB            int32             `json:"memoryMB"`
	DiskSizeMB          int32             `json:"diskSizeMB"`
	Metadata            map[string]string `json:"metadata,omitempty"`
	State               SandboxState      `json:"state"`
}

// TimeoutRequest is the body of POST /sandboxes/{id}/timeout and /connect.
type TimeoutRequest struct {
	Timeout int32 `json:"timeout"` // seconds from now
}

// ErrorBody is the control plane's error answer: {"code":404,"message":"..."}.
type ErrorBody struct {
	Code      int    `json:"code"`
	ErrorCode string `json:"error_code,omitempty"`
	Message   string `json:"message"`
}

// ProxyErrorBody is the sandbox proxy's 502 answer when a sandbox or one of its
// ports cannot be reached. Port is absent when the sandbox itself is gone.
type ProxyErrorBody struct {
	SandboxID string `json:"sandboxId"`
	Message   string `json:"message"`
	Port      int    `json:"port,omitempty"`
	Code      int    `json:"code"`
}

// ExecuteRequest is the body of the interpreter's POST /execute. ContextID and
// Language are mutually exclusive.
type ExecuteRequest struct {
	Code      string            `json:"code"`
	ContextID string            `json:"context_id,omitempty"`
	Language  string            `json:"language,omitempty"`
	EnvVars   map[string]string `json:"env_vars,omitempty"`
}

// Types of the NDJSON lines /execute streams.
const (
	EventNumberOfExecutions = "number_of_executions"
	EventStdout             = "stdout"
	EventStderr             = "stderr"
	EventResult             = "result"
	EventError              = "error"
	EventKeepalive          = "keepalive"
	EventEndOfExecution     = "end_of_execution"
)

// ExecutionEvent is one NDJSON line of /execute. Which fields are set depends on
// Type: Text and Timestamp for stdout/stderr; the MIME fields for result; Name,
// Value and Traceback for error; ExecutionCount for number_of_executions.
type ExecutionEvent struct {
	Type string `json:"type"`

	// stdout / stderr
	Text      string `json:"text,omitempty"`
	Timestamp int64  `json:"timestamp,omitempty"` // unix nanoseconds

	// number_of_executions
	ExecutionCount int `json:"execution_count,omitempty"`

	// error
	Name      string `json:"name,omitempty"`
	Value     string `json:"value,omitempty"`
	Traceback string `json:"traceback,omitempty"`

	// result (Text above carries text/plain)
	IsMainResult bool           `json:"is_main_result,omitempty"`
	HTML         string         `json:"html,omitempty"`
	Markdown     string         `json:"markdown,omitempty"`
	SVG          string         `json:"svg,omitempty"`
	PNG          string         `json:"png,omitempty"`  // base64
	JPEG         string         `json:"jpeg,omitempty"` // base64
	PDF          string         `json:"pdf,omitempty"`  // base64
	LaTeX        string         `json:"latex,omitempty"`
	JSON         map[string]any `json:"json,omitempty"`
	JavaScript   string         `json:"javascript,omitempty"`
	Data         map[string]any `json:"data,omitempty"`
	Chart        map[string]any `json:"chart,omitempty"`
	Extra        map[string]any `json:"extra,omitempty"`
}

// CreateContextRequest is the body of the interpreter's POST /contexts.
type CreateContextRequest struct {
	Language string `json:"language,omitempty"`
	Cwd      string `json:"cwd,omitempty"`
}

// ContextInfo describes an interpreter context (POST/GET /contexts).
type ContextInfo struct {
	ID       string `json:"id"`
	Language string `json:"language"`
	Cwd      string `json:"cwd"`
}

// FileEntry is one element of envd's answer to POST /files.
type FileEntry struct {
	Name string `json:"name"`
	Type string `json:"type"`
	Path string `json:"path"`
}
