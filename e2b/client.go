package e2b

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tta-dev/tta/e2b/wire"
)

// userAgent identifies the package to E2B.
const userAgent = "tta-e2b-go/1"

// maxJSONAnswer bounds a control-plane or interpreter JSON answer.
const maxJSONAnswer = 32 << 20

// Client talks to E2B's control plane (https://api.<domain>) to create, list,
// connect to, pause and kill sandboxes; the *Sandbox values it returns reach
// the sandboxes themselves.
//
// Configuration comes from options and, for what they leave unset, the
// environment exactly as the official SDKs read it (E2B_API_KEY,
// E2B_ACCESS_TOKEN, E2B_DOMAIN, E2B_API_URL, E2B_SANDBOX_URL). Secrets never
// appear in its printed forms or in the errors it returns.
//
// A Client holds no per-call state and does not retry: it is immutable after
// NewClient and safe for concurrent use by multiple goroutines.
type Client struct {
	cfg         config
	red         redactor
	controlHTTP *http.Client // control plane
	sandboxHTTP *http.Client // sandboxes: HTTP/1.1 by default
}

// NewClient returns a Client configured by opts and the environment. It sends
// nothing: it fails with ErrNoAPIKey when there is no API key, with
// ErrInvalidAPIKey when the key is not "e2b_" followed by hexadecimal digits,
// and with a descriptive error for a malformed URL, domain or timeout.
func NewClient(opts ...Option) (*Client, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, red: cfg.redactor()}
	if cfg.httpClient != nil {
		c.controlHTTP, c.sandboxHTTP = cfg.httpClient, cfg.httpClient
	} else {
		c.controlHTTP = &http.Client{Transport: newControlTransport(), CheckRedirect: sameHostRedirects}
		c.sandboxHTTP = &http.Client{Transport: newSandboxTransport(), CheckRedirect: sameHostRedirects}
	}
	return c, nil
}

// APIURL returns the control plane's base URL, without a trailing slash.
func (c *Client) APIURL() string { return c.cfg.apiURL }

// Domain returns the domain sandboxes are reached under in the host form.
func (c *Client) Domain() string { return c.cfg.domain }

// SandboxURL returns the single base URL all sandbox traffic goes to, or "" when
// each port is reached at https://<port>-<id>.<domain>.
func (c *Client) SandboxURL() string { return c.cfg.sandboxURL }

// CloseIdleConnections closes the idle keep-alive connections of the client's
// own transports (and of one given with WithHTTPClient). The Client stays
// usable.
func (c *Client) CloseIdleConnections() {
	c.controlHTTP.CloseIdleConnections()
	c.sandboxHTTP.CloseIdleConnections()
}

// String describes the client with its secrets redacted.
func (c Client) String() string {
	return fmt.Sprintf("e2b.Client{APIURL: %s, Domain: %s, SandboxURL: %s, APIKey: %s, AccessToken: %s}",
		redactURL(c.cfg.apiURL), c.cfg.domain, redactURL(c.cfg.sandboxURL), presence(c.cfg.apiKey), presence(c.cfg.accessToken))
}

// GoString is String: the Go-syntax form would show the secrets.
func (c Client) GoString() string { return c.String() }

// Format prints String for every verb, so no verb or flag reveals a secret.
func (c Client) Format(f fmt.State, verb rune) { formatRedacted(f, verb, c.String()) }

// CreateOptions describes a sandbox to create. The zero value creates a
// DefaultTemplate sandbox that lives DefaultSandboxTimeout.
type CreateOptions struct {
	// Template is the template's ID or name (alias); "" means DefaultTemplate.
	Template string
	// Timeout is how long the sandbox lives before E2B kills (or, with
	// AutoPause, pauses) it; it is sent in whole seconds, rounded up. Zero means
	// DefaultSandboxTimeout; negative is an error.
	Timeout time.Duration
	// Metadata is stored with the sandbox and can filter List.
	Metadata map[string]string
	// EnvVars are set for code and commands run in the sandbox.
	EnvVars map[string]string
	// Secure makes envd require the access token E2B returns on creation (the
	// code interpreter does not check it); the Sandbox sends it as
	// X-Access-Token. Create uses POST /sandboxes, where this field decides;
	// the official SDKs 2.x create through POST /v2/sandboxes, where every
	// sandbox is secured.
	Secure bool
	// AllowInternetAccess, when not nil, allows or denies the sandbox's outbound
	// internet access; nil leaves E2B's default (allowed).
	AllowInternetAccess *bool
	// AllowOut and DenyOut are egress rules, sent as E2B's API takes them
	// (network.allowOut and network.denyOut): AllowOut names CIDR blocks
	// ("8.8.8.8/32"), IP addresses or domains ("example.com",
	// "*.example.com") the sandbox may reach, and wins over DenyOut, which
	// names CIDR blocks or IP addresses it may not ("0.0.0.0/0": everything
	// not allowed). AllowInternetAccess false is DenyOut ["0.0.0.0/0"]. Nil
	// sends no rule.
	AllowOut []string
	DenyOut  []string
	// AutoPause pauses the sandbox instead of killing it when Timeout expires.
	AutoPause bool
}

// Create creates a sandbox (POST /sandboxes) and returns a handle to it.
// Creating is not idempotent: if Create fails after E2B received the request,
// a sandbox may exist anyway and lives until its timeout.
func (c *Client) Create(ctx context.Context, opts CreateOptions) (*Sandbox, error) {
	const op = "create sandbox"
	secs, err := timeoutSeconds(op, opts.Timeout)
	if err != nil {
		return nil, err
	}
	tmpl := opts.Template
	if tmpl == "" {
		tmpl = DefaultTemplate
	}
	body := wire.NewSandboxRequest{
		TemplateID:          tmpl,
		Timeout:             secs,
		AutoPause:           opts.AutoPause,
		Secure:              opts.Secure,
		AllowInternetAccess: opts.AllowInternetAccess,
		Network:             networkConfig(opts.AllowOut, opts.DenyOut),
		Metadata:            opts.Metadata,
		EnvVars:             opts.EnvVars,
	}
	var created wire.SandboxCreated
	if _, err := c.call(ctx, op, http.MethodPost, "/sandboxes", nil, body, &created, target{}); err != nil {
		return nil, err
	}
	if created.SandboxID == "" {
		return nil, fmt.Errorf("e2b: %s: the answer has no sandboxID", op)
	}
	return newSandbox(c, created), nil
}

// networkConfig returns the egress rules to send, or nil when there are none.
func networkConfig(allow, deny []string) *wire.NetworkConfig {
	if len(allow) == 0 && len(deny) == 0 {
		return nil
	}
	return &wire.NetworkConfig{AllowOut: allow, DenyOut: deny}
}

// Connect returns a handle to an existing sandbox (POST
// /sandboxes/{id}/connect), resuming it if it is paused, and makes it live at
// least timeout from now (zero means DefaultSandboxTimeout). An unknown
// sandbox is an error matching ErrSandboxNotFound.
func (c *Client) Connect(ctx context.Context, id string, timeout time.Duration) (*Sandbox, error) {
	const op = "connect to sandbox"
	if err := checkID(op, id); err != nil {
		return nil, err
	}
	secs, err := timeoutSeconds(op, timeout)
	if err != nil {
		return nil, err
	}
	var created wire.SandboxCreated
	path := "/sandboxes/" + url.PathEscape(id) + "/connect"
	if _, err := c.call(ctx, op, http.MethodPost, path, nil, wire.TimeoutRequest{Timeout: secs}, &created, target{sandboxID: id, sandboxScoped: true}); err != nil {
		return nil, err
	}
	if created.SandboxID == "" {
		created.SandboxID = id
	}
	return newSandbox(c, created), nil
}

// SandboxInfo describes a sandbox as the control plane reports it (GET
// /sandboxes/{id}, GET /v2/sandboxes). It leaves out the envd access token:
// use Connect for a handle that can reach a secure sandbox.
type SandboxInfo struct {
	// ID identifies the sandbox.
	ID string
	// TemplateID is the ID of the template the sandbox was created from.
	TemplateID string
	Alias      string // the template's name, if it has one
	// State is StateRunning or StatePaused.
	State SandboxState
	// StartedAt is when the sandbox was started.
	StartedAt time.Time
	EndAt     time.Time // when E2B kills or pauses it
	// Metadata is the key/value data given at creation; nil when none.
	Metadata map[string]string
	// CPUCount is the number of virtual CPUs.
	CPUCount int
	// MemoryMB is the memory size in MiB.
	MemoryMB int
	// DiskSizeMB is the disk size in MiB.
	DiskSizeMB int
	// EnvdVersion is the version of envd in the sandbox, e.g. "0.4.0".
	EnvdVersion         string
	AllowInternetAccess *bool // nil: not set explicitly
	// Domain is the base domain serving the sandbox's traffic; "" for E2B's
	// own domain and in List entries.
	Domain string
}

// SandboxState is the state of a sandbox: StateRunning or StatePaused.
type SandboxState string

// Sandbox states.
const (
	// StateRunning is a sandbox that is up and reachable.
	StateRunning SandboxState = "running"
	// StatePaused is a paused sandbox; Connect resumes it.
	StatePaused SandboxState = "paused"
)

func infoFromDetail(d wire.SandboxDetail) SandboxInfo {
	info := SandboxInfo{
		ID:                  d.SandboxID,
		TemplateID:          d.TemplateID,
		Alias:               d.Alias,
		State:               SandboxState(d.State),
		StartedAt:           d.StartedAt,
		EndAt:               d.EndAt,
		Metadata:            d.Metadata,
		CPUCount:            int(d.CPUCount),
		MemoryMB:            int(d.MemoryMB),
		DiskSizeMB:          int(d.DiskSizeMB),
		EnvdVersion:         d.EnvdVersion,
		AllowInternetAccess: d.AllowInternetAccess,
	}
	if d.Domain != nil {
		info.Domain = *d.Domain
	}
	return info
}

// Get returns what the control plane knows about a sandbox (GET
// /sandboxes/{id}). An unknown sandbox is an error matching ErrSandboxNotFound.
func (c *Client) Get(ctx context.Context, id string) (*SandboxInfo, error) {
	const op = "get sandbox"
	if err := checkID(op, id); err != nil {
		return nil, err
	}
	var d wire.SandboxDetail
	if _, err := c.call(ctx, op, http.MethodGet, "/sandboxes/"+url.PathEscape(id), nil, nil, &d, target{sandboxID: id, sandboxScoped: true}); err != nil {
		return nil, err
	}
	info := infoFromDetail(d)
	return &info, nil
}

// ListOptions filters and pages List. The zero value lists the first page of
// all sandboxes, running and paused, in the server's default page size (100).
type ListOptions struct {
	// Metadata keeps sandboxes whose metadata has all these pairs.
	Metadata map[string]string
	// State keeps sandboxes in one of these states; empty means all.
	State []SandboxState
	// Limit is the page size (1..100); zero leaves the server's default.
	Limit int
	// NextToken continues from a previous page's ListPage.NextToken.
	NextToken string
}

// ListPage is one page of List. NextToken is "" on the last page.
type ListPage struct {
	// Sandboxes are the sandboxes on this page; empty (not an error) when
	// none match.
	Sandboxes []SandboxInfo
	// NextToken continues with ListOptions.NextToken; "" on the last page.
	NextToken string
}

// List returns one page of sandboxes (GET /v2/sandboxes). The metadata filter
// is encoded exactly as the official SDKs encode it (see encodeMetadata),
// states are sent as one comma-separated value, and the next page's token
// comes from X-Next-Token.
func (c *Client) List(ctx context.Context, opts ListOptions) (*ListPage, error) {
	const op = "list sandboxes"
	if opts.Limit < 0 {
		return nil, fmt.Errorf("e2b: %s: Limit must be >= 0, got %d", op, opts.Limit)
	}
	q := url.Values{}
	if len(opts.Metadata) > 0 {
		q.Set("metadata", encodeMetadata(opts.Metadata))
	}
	if len(opts.State) > 0 {
		states := make([]string, len(opts.State))
		for i, s := range opts.State {
			states[i] = string(s)
		}
		q.Set("state", strings.Join(states, ","))
	}
	if opts.Limit > 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	if opts.NextToken != "" {
		q.Set("nextToken", opts.NextToken)
	}
	var listed []wire.SandboxDetail
	header, err := c.call(ctx, op, http.MethodGet, "/v2/sandboxes", q, nil, &listed, target{})
	if err != nil {
		return nil, err
	}
	page := &ListPage{Sandboxes: make([]SandboxInfo, 0, len(listed)), NextToken: header.Get(wire.HeaderNextToken)}
	for _, d := range listed {
		page.Sandboxes = append(page.Sandboxes, infoFromDetail(d))
	}
	return page, nil
}

// encodeMetadata renders a metadata filter as the value of the metadata query
// parameter, as E2B's SDKs do: each key and value is escaped like JavaScript's
// encodeURIComponent, and the pairs are serialised as a query string
// ("k=v&k2=v2", escaping them once more), which the query's own encoding then
// escapes a third time. E2B's API undoes it in that order: it unescapes the
// parameter's value as a whole, splits it into pairs, and unescapes each key
// and value. Keys are sorted.
func encodeMetadata(m map[string]string) string {
	pairs := make(url.Values, len(m))
	for k, v := range m {
		pairs.Set(encodeURIComponent(k), encodeURIComponent(v))
	}
	return pairs.Encode()
}

// encodeURIComponent escapes s as JavaScript's encodeURIComponent does, up to
// the characters !*'() it leaves alone, which decode the same either way.
func encodeURIComponent(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// Kill kills a sandbox (DELETE /sandboxes/{id}). It reports killed == false
// and a nil error when the sandbox was already gone (404).
//
// Kill is clean-up, so it still runs when ctx is already cancelled or is
// cancelled during the call: it keeps ctx's values but not its cancellation,
// and is bounded by the request timeout instead (DefaultRequestTimeout unless
// configured; when that is disabled, by one minute). `defer sbx.Kill(ctx)`
// therefore kills on every path.
func (c *Client) Kill(ctx context.Context, id string) (killed bool, err error) {
	const op = "kill sandbox"
	if err := checkID(op, id); err != nil {
		return false, err
	}
	ctx, cancel := c.cleanupContext(ctx)
	defer cancel()
	_, err = c.call(ctx, op, http.MethodDelete, "/sandboxes/"+url.PathEscape(id), nil, nil, nil, target{sandboxID: id})
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusNotFound {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, nil
}

// cleanupContext derives a context for clean-up calls: ctx's values without its
// cancellation, bounded by the request timeout (or one minute if that is off).
func (c *Client) cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	d := c.cfg.requestTimeout
	if d <= 0 {
		d = time.Minute
	}
	return context.WithTimeout(context.WithoutCancel(ctx), d)
}

// SetTimeout makes the sandbox live d from now (POST /sandboxes/{id}/timeout),
// sent in whole seconds rounded up; it can shorten or extend its life. d must
// be > 0. An unknown sandbox is an error matching ErrSandboxNotFound.
func (c *Client) SetTimeout(ctx context.Context, id string, d time.Duration) error {
	const op = "set sandbox timeout"
	if err := checkID(op, id); err != nil {
		return err
	}
	if d <= 0 {
		return fmt.Errorf("e2b: %s: timeout must be > 0, got %s", op, d)
	}
	secs, err := timeoutSeconds(op, d)
	if err != nil {
		return err
	}
	path := "/sandboxes/" + url.PathEscape(id) + "/timeout"
	_, err = c.call(ctx, op, http.MethodPost, path, nil, wire.TimeoutRequest{Timeout: secs}, nil, target{sandboxID: id, sandboxScoped: true})
	return err
}

// Pause pauses a sandbox (POST /sandboxes/{id}/pause); Connect resumes it.
// Pausing a sandbox that is already paused (409) succeeds: Pause returns nil,
// as the official SDKs do (they return false rather than fail). An unknown
// sandbox is an error matching ErrSandboxNotFound.
func (c *Client) Pause(ctx context.Context, id string) error {
	const op = "pause sandbox"
	if err := checkID(op, id); err != nil {
		return err
	}
	path := "/sandboxes/" + url.PathEscape(id) + "/pause"
	_, err := c.call(ctx, op, http.MethodPost, path, nil, nil, nil, target{sandboxID: id, sandboxScoped: true})
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusConflict {
		return nil
	}
	return err
}

// call makes one control-plane request: it sends in as JSON (if not nil),
// decodes a 2xx answer into out (if not nil; unknown fields are ignored) and
// returns the answer's header. Non-2xx answers become *APIError.
func (c *Client) call(ctx context.Context, op, method, path string, query url.Values, in, out any, t target) (http.Header, error) {
	reqCtx, cancel := withRequestTimeout(ctx, c.cfg.requestTimeout)
	defer cancel()

	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("e2b: %s: encoding the request: %w", op, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(reqCtx, method, c.cfg.apiURL+path, body)
	if err != nil {
		return nil, fmt.Errorf("e2b: %s: %w", op, err)
	}
	if len(query) > 0 {
		req.URL.RawQuery = query.Encode()
	}
	req.Header.Set(wire.HeaderAPIKey, c.cfg.apiKey)
	if c.cfg.accessToken != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.accessToken)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)

	resp, err := c.controlHTTP.Do(req)
	if err != nil {
		return nil, requestFailure(ctx, reqCtx, op, err, c.red)
	}
	defer drainClose(resp.Body)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, readAPIError(op, resp, t, c.red)
	}
	if out != nil {
		if err := decodeJSON(resp.Body, out); err != nil {
			return nil, c.decodeFailure(ctx, reqCtx, op, err)
		}
	}
	return resp.Header, nil
}

// decodeJSON decodes one bounded JSON value.
func decodeJSON(r io.Reader, out any) error {
	return json.NewDecoder(io.LimitReader(r, maxJSONAnswer)).Decode(out)
}

// decodeFailure classifies an error met while decoding an answer: a body that
// is not the expected JSON is a protocol error; a read that failed is a
// transport or context failure.
func (c *Client) decodeFailure(ctx, reqCtx context.Context, op string, err error) error {
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &syntaxErr) || errors.As(err, &typeErr) || errors.Is(err, io.EOF) {
		return fmt.Errorf("e2b: %s: malformed answer: %s", op, c.red.apply(err.Error()))
	}
	return requestFailure(ctx, reqCtx, op, err, c.red)
}

// timeoutSeconds converts a sandbox timeout to whole seconds, rounded up; zero
// means DefaultSandboxTimeout.
func timeoutSeconds(op string, d time.Duration) (int32, error) {
	if d < 0 {
		return 0, fmt.Errorf("e2b: %s: timeout must be >= 0 (0 means %s), got %s", op, DefaultSandboxTimeout, d)
	}
	if d == 0 {
		d = DefaultSandboxTimeout
	}
	secs := (d + time.Second - 1) / time.Second
	if secs > math.MaxInt32 {
		return 0, fmt.Errorf("e2b: %s: timeout %s is too long", op, d)
	}
	return int32(secs), nil
}

func checkID(op, id string) error {
	if id == "" {
		return fmt.Errorf("e2b: %s: empty sandbox ID", op)
	}
	return nil
}
