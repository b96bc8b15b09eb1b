package wire

import "time"

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
	// Network holds egress rules; nil (omitted) sets none.
	Network *NetworkConfig `json:"network,omitempty"`
	// Metadata is free-form key/value data stored with the sandbox and
	// usable as a List filter; nil is omitted.
	Metadata map[string]string `json:"metadata,omitempty"`
	// EnvVars are environment variables set for every process in the sandbox;
	// nil is omitted.
	EnvVars map[string]string `json:"envVars,omitempty"`
}

// NetworkConfig is the egress part of E2B's SandboxNetworkConfig.
type NetworkConfig struct {
	// AllowOut lists the destinations a sandbox may reach: CIDR blocks
	// ("8.8.8.8/32"), IP addresses or domain names ("example.com",
	// "*.example.com"). Allowed entries win over denied ones.
	AllowOut []string `json:"allowOut,omitempty"`
	// DenyOut lists the CIDR blocks or IP addresses a sandbox may not reach;
	// domain names are not accepted.
	DenyOut []string `json:"denyOut,omitempty"`
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
