package wire

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
