package wire

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
