package e2b

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/tta-dev/tta/e2b/wire"
)

// This file addresses a sandbox's ports. In the host form each port is its own
// origin, https://<port>-<sandboxID>.<domain>; in the single-URL form
// (WithSandboxURL, E2B_SANDBOX_URL) every request goes to one base URL. Every
// request names its target in the E2b-Sandbox-Id and E2b-Sandbox-Port headers,
// as the official SDKs do, so both forms carry them; the single-URL form
// depends on them.

// Host returns the host a sandbox port is served at in the host form,
// "<port>-<sandboxID>.<domain>", as the SDKs' getHost does.
func (s *Sandbox) Host(port int) string {
	return strconv.Itoa(port) + "-" + s.id + "." + s.domain
}

// legacyEnvdUser is the user the SDKs name to envd older than 0.4.0, which
// has no default user of its own.
const legacyEnvdUser = "user"

// envdUser returns the user to name to envd for an operation: user if given;
// otherwise legacyEnvdUser for envd older than 0.4.0, as the SDKs do, and ""
// (envd's default user) for newer or unknown versions.
func (s *Sandbox) envdUser(user string) string {
	if user == "" && versionBefore(s.envdVersion, 0, 4) {
		return legacyEnvdUser
	}
	return user
}

// nameEnvdUser names to envd, in the headers h of a filesystem or process
// RPC, the user envdUser picks for user, as the SDKs do: "Authorization:
// Basic base64(<user>:)". When envdUser picks none, h is left as it is.
func (s *Sandbox) nameEnvdUser(h http.Header, user string) {
	if u := s.envdUser(user); u != "" {
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(u+":")))
	}
}

// versionBefore reports whether version ("0.3.1", "v0.4.0") is older than
// major.minor; an unparsable version is not.
func versionBefore(version string, major, minor int) bool {
	parts := strings.SplitN(strings.TrimPrefix(version, "v"), ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, errMa := strconv.Atoi(parts[0])
	mi, errMi := strconv.Atoi(parts[1])
	if errMa != nil || errMi != nil {
		return false
	}
	return ma < major || (ma == major && mi < minor)
}

// baseURL returns the base URL of a sandbox port, without a trailing slash.
func (s *Sandbox) baseURL(port int) string {
	if s.c.cfg.sandboxURL != "" {
		return s.c.cfg.sandboxURL
	}
	return "https://" + s.Host(port)
}

// Canonical forms of the headers setHeaders writes into the header map
// directly.
var (
	keySandboxID    = http.CanonicalHeaderKey(wire.HeaderSandboxID)
	keySandboxPort  = http.CanonicalHeaderKey(wire.HeaderSandboxPort)
	keyAccessToken  = http.CanonicalHeaderKey(wire.HeaderAccessToken)
	keyTrafficToken = http.CanonicalHeaderKey(wire.HeaderTrafficToken)
)

// portString is strconv.Itoa(port) without an allocation for the two ports
// every request goes to.
func portString(port int) string {
	switch port {
	case EnvdPort:
		return "49983"
	case InterpreterPort:
		return "49999"
	}
	return strconv.Itoa(port)
}

// setHeaders adds the routing and authentication headers of a request to a
// sandbox port. It sets them as Header.Set would, with one allocation for
// all their values rather than one each: every request to a sandbox pays for
// it.
func (s *Sandbox) setHeaders(h http.Header, port int) {
	vals := make([]string, 0, 5)
	set := func(key, v string) {
		vals = append(vals, v)
		n := len(vals)
		h[key] = vals[n-1 : n : n]
	}
	set(keySandboxID, s.id)
	set(keySandboxPort, portString(port))
	if s.envdToken != "" {
		set(keyAccessToken, s.envdToken)
	}
	if s.trafficToken != "" {
		set(keyTrafficToken, s.trafficToken)
	}
	if h.Get("User-Agent") == "" {
		set("User-Agent", userAgent)
	}
}

// newRequest builds a request to a sandbox port with its headers set.
func (s *Sandbox) newRequest(ctx context.Context, port int, method, path string, query url.Values, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.baseURL(port)+path, body)
	if err != nil {
		return nil, err
	}
	if len(query) > 0 {
		req.URL.RawQuery = query.Encode()
	}
	s.setHeaders(req.Header, port)
	return req, nil
}

// call makes one non-streaming JSON request to a sandbox port, bounded by the
// request timeout: in is sent as JSON if not nil, a 2xx answer is decoded into
// out if not nil, and other answers become *APIError.
func (s *Sandbox) call(ctx context.Context, op string, port int, method, path string, in, out any) error {
	reqCtx, cancel := withRequestTimeout(ctx, s.c.cfg.requestTimeout)
	defer cancel()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("e2b: %s: encoding the request: %w", op, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := s.newRequest(reqCtx, port, method, path, nil, body)
	if err != nil {
		return fmt.Errorf("e2b: %s: %w", op, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.c.sandboxHTTP.Do(req)
	if err != nil {
		return requestFailure(ctx, reqCtx, op, err, s.red)
	}
	defer drainClose(resp.Body)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return readAPIError(op, resp, s.target(port), s.red)
	}
	if out != nil {
		if err := decodeJSON(resp.Body, out); err != nil {
			return s.c.decodeFailure(ctx, reqCtx, op, err)
		}
	}
	return nil
}

func (s *Sandbox) target(port int) target {
	return target{sandboxID: s.id, port: port}
}

// envdDoer is the HTTP client behind the sandbox's Connect clients. It adds
// the sandbox's headers and turns an error answer that is not a Connect error
// (the proxy's JSON with a numeric code, or any 429, 502, 503 or 504) into an
// *APIError before Connect sees it, so the proxy's message and port survive.
type envdDoer struct {
	s *Sandbox
}

// Do implements connect.HTTPClient.
func (d envdDoer) Do(req *http.Request) (*http.Response, error) {
	d.s.setHeaders(req.Header, EnvdPort)
	resp, err := d.s.c.sandboxHTTP.Do(req)
	if err != nil || resp.StatusCode < 400 {
		return resp, err
	}
	body, readErr := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var p errorPayload
	isJSON := readErr == nil && json.Unmarshal(body, &p) == nil
	_, numeric := p.numericCode()
	connectError := isJSON && bytes.HasPrefix(bytes.TrimSpace(p.Code), []byte(`"`))
	switch {
	case connectError:
		// envd's own Connect error ({"code":"not_found",...}): Connect decodes it.
	case numeric, resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode == http.StatusBadGateway,
		resp.StatusCode == http.StatusServiceUnavailable, resp.StatusCode == http.StatusGatewayTimeout:
		_ = resp.Body.Close()
		return nil, apiErrorFromBody("envd "+req.URL.Path, resp.StatusCode, resp.Header, body, d.s.target(EnvdPort), d.s.red)
	}
	// A Connect error answer: hand Connect the body as it came.
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(body), resp.Body), resp.Body}
	return resp, nil
}
