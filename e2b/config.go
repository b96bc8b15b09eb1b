package e2b

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/tta-dev/tta/internal/apikey"
)

// Defaults, matching E2B's official SDKs where they have one.
const (
	// DefaultDomain is the domain used when neither WithDomain nor E2B_DOMAIN
	// names one.
	DefaultDomain = "e2b.app"
	// DefaultRequestTimeout bounds each non-streaming request and, for an
	// execution or a file transfer, the wait for a connection and for the
	// response headers once the request is written (the SDKs'
	// requestTimeoutMs); see WithRequestTimeout.
	DefaultRequestTimeout = 60 * time.Second
	// DefaultSandboxTimeout is how long a sandbox lives after Create or Connect
	// when CreateOptions.Timeout or the timeout argument is zero (the SDKs' 300 s).
	DefaultSandboxTimeout = 300 * time.Second
	// DefaultExecutionTimeout bounds a RunCode call whose Timeout option is zero
	// (the Python SDK's 300 s).
	DefaultExecutionTimeout = 300 * time.Second
	// DefaultCommandTimeout bounds a RunCommand call whose Timeout option is zero
	// (the JS SDK's 60 s).
	DefaultCommandTimeout = 60 * time.Second
)

// Environment variables NewClient reads, with the official SDKs' names and
// meanings. An option given to NewClient wins over its variable; an empty
// option or variable counts as unset.
const (
	// EnvAPIKey holds the API key, "e2b_" followed by hexadecimal digits.
	EnvAPIKey = "E2B_API_KEY"
	// EnvAccessToken holds a personal access token, sent to the control plane as
	// "Authorization: Bearer <token>" next to the API key.
	EnvAccessToken = "E2B_ACCESS_TOKEN"
	// EnvDomain names the domain (default DefaultDomain): the control plane is
	// https://api.<domain> and a sandbox port is https://<port>-<id>.<domain>.
	EnvDomain = "E2B_DOMAIN"
	// EnvAPIURL overrides the whole control-plane base URL, for example
	// http://127.0.0.1:3000 for a local server.
	EnvAPIURL = "E2B_API_URL"
	// EnvSandboxURL sends every request for every sandbox and port to this one
	// base URL, naming the target in the E2b-Sandbox-Id and E2b-Sandbox-Port
	// headers.
	EnvSandboxURL = "E2B_SANDBOX_URL"
)

// An Option configures NewClient. Options are applied in order; a later one
// wins over an earlier one of the same kind. An option that is given a bad
// value, and a nil Option, make NewClient fail with an error saying which.
type Option func(*config) error

// WithAPIKey sets the API key sent as X-API-Key to the control plane. It must
// look like "e2b_" followed by hexadecimal digits. An empty key falls back to
// E2B_API_KEY.
func WithAPIKey(key string) Option {
	return func(c *config) error {
		c.apiKey = key
		return nil
	}
}

// WithAccessToken sets a personal access token, sent to the control plane as
// "Authorization: Bearer <token>" next to the API key, as the official SDKs do.
// An empty token falls back to E2B_ACCESS_TOKEN.
func WithAccessToken(token string) Option {
	return func(c *config) error {
		c.accessToken = token
		return nil
	}
}

// WithDomain sets the domain (default DefaultDomain, or E2B_DOMAIN). The
// control plane is https://api.<domain> unless WithAPIURL or E2B_API_URL says
// otherwise, and a sandbox port is https://<port>-<id>.<domain> unless
// WithSandboxURL or E2B_SANDBOX_URL says otherwise. An empty domain falls back
// to E2B_DOMAIN.
func WithDomain(domain string) Option {
	return func(c *config) error {
		c.domain = domain
		return nil
	}
}

// WithAPIURL sets the whole control-plane base URL, for example
// "http://127.0.0.1:3000" for a local server. It wins over E2B_API_URL and over
// the domain. An empty URL falls back to E2B_API_URL.
func WithAPIURL(u string) Option {
	return func(c *config) error {
		c.apiURL = u
		return nil
	}
}

// WithSandboxURL sends every request for every sandbox and port to this base
// URL instead of https://<port>-<id>.<domain>; the target is named by the
// E2b-Sandbox-Id and E2b-Sandbox-Port headers. This is how a local, plain-http
// server is reached. An empty URL falls back to E2B_SANDBOX_URL.
func WithSandboxURL(u string) Option {
	return func(c *config) error {
		c.sandboxURL = u
		return nil
	}
}

// WithHTTPClient makes the client send every request, control plane and
// sandboxes alike, through hc instead of its own transports. The default
// transports keep sandbox traffic on HTTP/1.1, so that cancelling an execution
// closes its connection and interrupts the running code; a client given here
// should do the same, and should have no Timeout, which would cut long
// executions and command streams. A nil hc keeps the defaults.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *config) error {
		c.httpClient = hc
		return nil
	}
}

// WithRequestTimeout bounds each non-streaming request (control plane, health
// checks, filesystem calls) and, for executions and file downloads and
// uploads, the wait for a connection and the wait for the response headers
// once the request has been written; sending a request body, such as an
// upload, and the streams themselves are bounded by their own Timeout option
// and ctx. Commands (RunCommand) are bounded by their own Timeout and ctx
// alone. The default is
// DefaultRequestTimeout; zero disables the bound; a negative d makes NewClient
// fail.
func WithRequestTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("e2b: WithRequestTimeout: the request timeout must be >= 0 (0 disables it), got %s", d)
		}
		c.requestTimeout = d
		c.requestTimeoutSet = true
		return nil
	}
}

// config is a Client's resolved configuration. It is immutable once NewClient
// returns. It holds secrets: its printed forms redact them.
type config struct {
	apiKey            string
	accessToken       string
	domain            string
	apiURL            string // no trailing slash
	sandboxURL        string // no trailing slash; "" = host form
	httpClient        *http.Client
	requestTimeout    time.Duration
	requestTimeoutSet bool
}

// newConfig applies opts, fills what they left unset from the environment and
// the defaults exactly as the official SDKs do (option || variable || default),
// and validates the result without sending anything.
func newConfig(opts []Option) (config, error) {
	var c config
	for i, opt := range opts {
		if opt == nil {
			return config{}, fmt.Errorf("e2b: NewClient: option %d is nil; pass only options such as WithAPIKey", i+1)
		}
		if err := opt(&c); err != nil {
			return config{}, err
		}
	}
	c.apiKey = firstNonEmpty(c.apiKey, os.Getenv(EnvAPIKey))
	c.accessToken = firstNonEmpty(c.accessToken, os.Getenv(EnvAccessToken))
	c.domain = firstNonEmpty(c.domain, os.Getenv(EnvDomain), DefaultDomain)
	c.apiURL = firstNonEmpty(c.apiURL, os.Getenv(EnvAPIURL), "https://api."+c.domain)
	c.sandboxURL = firstNonEmpty(c.sandboxURL, os.Getenv(EnvSandboxURL))
	if !c.requestTimeoutSet {
		c.requestTimeout = DefaultRequestTimeout
	}

	if c.apiKey == "" {
		return config{}, ErrNoAPIKey
	}
	if !apikey.Valid(c.apiKey) {
		return config{}, ErrInvalidAPIKey
	}
	if strings.ContainsAny(c.domain, "/:@ ") {
		return config{}, fmt.Errorf("e2b: domain %q is not a bare domain name such as %q", c.domain, DefaultDomain)
	}
	var err error
	if c.apiURL, err = baseURL("API URL", c.apiURL); err != nil {
		return config{}, err
	}
	if c.sandboxURL != "" {
		if c.sandboxURL, err = baseURL("sandbox URL", c.sandboxURL); err != nil {
			return config{}, err
		}
	}
	return c, nil
}

// baseURL checks that raw is an absolute http(s) URL and drops a trailing slash.
func baseURL(what, raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		shown := raw
		if err == nil {
			shown = u.Redacted()
		} else {
			shown = "(unparsable)"
		}
		return "", fmt.Errorf("e2b: %s %s is not an absolute http:// or https:// URL", what, shown)
	}
	return strings.TrimRight(raw, "/"), nil
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// redactor lists the secrets this configuration must never print.
func (c config) redactor() redactor {
	return redactor{c.apiKey, c.accessToken}
}

// String describes the configuration with its secrets redacted.
func (c config) String() string {
	return fmt.Sprintf("e2b.config{APIURL: %s, Domain: %s, SandboxURL: %s, APIKey: %s, AccessToken: %s, RequestTimeout: %s}",
		redactURL(c.apiURL), c.domain, redactURL(c.sandboxURL), presence(c.apiKey), presence(c.accessToken), c.requestTimeout)
}

// GoString is String: the Go-syntax form would show the secrets.
func (c config) GoString() string { return c.String() }

// Format prints String for every verb, so no verb or flag can reveal a secret.
func (c config) Format(f fmt.State, verb rune) { formatRedacted(f, verb, c.String()) }
