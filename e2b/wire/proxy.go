package wire

// Proxy messages real E2B sends with a 502 when a sandbox's port cannot be reached.
const (
	// MessagePortNotOpen means the sandbox exists but nothing listens on the
	// port (yet); the 502 body carries the port. Transient until a readiness deadline.
	MessagePortNotOpen = "The sandbox is running but port is not open"
	// MessageSandboxNotFound means the sandbox is gone (killed or timed out);
	// the 502 body has no port. Terminal: never retry on the same sandbox.
	MessageSandboxNotFound = "The sandbox was not found"
)

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
