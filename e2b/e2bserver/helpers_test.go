package e2bserver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta/e2b"
	"github.com/tta-dev/tta/e2b/internal/envd/filesystem/filesystemconnect"
	"github.com/tta-dev/tta/e2b/internal/envd/process/processconnect"
	"github.com/tta-dev/tta/e2b/wire"
	"github.com/tta-dev/tta/internal/apikey"
)

// baseURL is the URL tests use with the in-memory client: any host works.
const baseURL = "http://e2b.test"

// testEnv is a Server reached through its in-memory client with a fresh key.
type testEnv struct {
	t   testing.TB
	srv *Server
	hc  *http.Client
	key string
}

// newEnv starts a Server with a generated API key and opts, closed at cleanup.
// Inside a synctest bubble it must be called from the bubble.
func newEnv(t testing.TB, opts ...Option) *testEnv {
	t.Helper()
	key := apikey.New()
	srv, err := New(append([]Option{WithAPIKey(key)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	return &testEnv{t: t, srv: srv, hc: srv.InMemoryClient(), key: key}
}

// do sends a request and returns the response (body left open).
func (e *testEnv) do(req *http.Request) *http.Response {
	e.t.Helper()
	resp, err := e.hc.Do(req)
	require.NoError(e.t, err)
	e.t.Cleanup(func() { _ = resp.Body.Close() })
	return resp
}

// newRequest builds a request whose body is JSON (string bodies are sent as is).
func newRequest(t testing.TB, method, url string, body any) *http.Request {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		require.NoError(t, err)
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, url, r)
	require.NoError(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

// api calls the control plane with the env's key.
func (e *testEnv) api(method, path string, body any) *http.Response {
	e.t.Helper()
	req := newRequest(e.t, method, baseURL+path, body)
	req.Header.Set(wire.HeaderAPIKey, e.key)
	return e.do(req)
}

// create creates a sandbox from body (map or struct) and requires 201.
func (e *testEnv) create(body any) wire.SandboxCreated {
	e.t.Helper()
	resp := e.api(http.MethodPost, "/sandboxes", body)
	requireStatus(e.t, http.StatusCreated, resp)
	return decodeJSON[wire.SandboxCreated](e.t, resp)
}

// sandbox calls port of sandbox id through the routing headers.
func (e *testEnv) sandbox(id string, port int, method, path string, body any, hdr ...string) *http.Response {
	e.t.Helper()
	req := newRequest(e.t, method, baseURL+path, body)
	req.Header.Set(wire.HeaderSandboxID, id)
	req.Header.Set(wire.HeaderSandboxPort, strconv.Itoa(port))
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return e.do(req)
}

// execute runs code and reads the whole NDJSON answer, requiring 200.
func (e *testEnv) execute(id string, req wire.ExecuteRequest) []wire.ExecutionEvent {
	e.t.Helper()
	resp := e.sandbox(id, e2b.InterpreterPort, http.MethodPost, "/execute", req)
	requireStatus(e.t, http.StatusOK, resp)
	events, err := readEvents(resp.Body)
	require.NoError(e.t, err)
	return events
}

// readEvents reads NDJSON lines until EOF or an error.
func readEvents(r io.Reader) ([]wire.ExecutionEvent, error) {
	var events []wire.ExecutionEvent
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 && err == nil {
			var ev wire.ExecutionEvent
			if jerr := json.Unmarshal(line, &ev); jerr != nil {
				return events, jerr
			}
			events = append(events, ev)
		}
		if err == io.EOF {
			return events, nil
		}
		if err != nil {
			return events, err
		}
	}
}

// eachEvent calls f with each NDJSON event of r as it arrives, until r ends.
func eachEvent(t testing.TB, r io.Reader, f func(wire.ExecutionEvent)) {
	t.Helper()
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadBytes('\n')
		if err != nil {
			return
		}
		var ev wire.ExecutionEvent
		require.NoError(t, json.Unmarshal(line, &ev))
		f(ev)
	}
}

func eventTypes(events []wire.ExecutionEvent) []string {
	var out []string
	for _, ev := range events {
		out = append(out, ev.Type)
	}
	return out
}

// requireStatus requires the status of resp, showing its body otherwise.
func requireStatus(t testing.TB, want int, resp *http.Response) {
	t.Helper()
	if resp.StatusCode != want {
		require.Equal(t, want, resp.StatusCode, readBody(t, resp))
	}
}

func readBody(t testing.TB, resp *http.Response) string {
	t.Helper()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(data)
}

func decodeJSON[T any](t testing.TB, resp *http.Response) T {
	t.Helper()
	var v T
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&v))
	return v
}

// sandboxDoer sends Connect requests to one sandbox port through the routing
// headers, adding extra headers.
type sandboxDoer struct {
	hc    *http.Client
	id    string
	port  int
	extra http.Header
}

func (d sandboxDoer) Do(req *http.Request) (*http.Response, error) {
	req.Header.Set(wire.HeaderSandboxID, d.id)
	req.Header.Set(wire.HeaderSandboxPort, strconv.Itoa(d.port))
	for k, vs := range d.extra {
		req.Header[k] = vs
	}
	return d.hc.Do(req)
}

// envdClients returns Connect clients for sandbox id's envd; json selects the
// JSON codec (as E2B's JS SDK uses) instead of binary protobuf.
func (e *testEnv) envdClients(id string, json bool, extra http.Header) (processconnect.ProcessClient, filesystemconnect.FilesystemClient) {
	d := sandboxDoer{hc: e.hc, id: id, port: e2b.EnvdPort, extra: extra}
	var opts []connect.ClientOption
	if json {
		opts = append(opts, connect.WithProtoJSON())
	}
	return processconnect.NewProcessClient(d, baseURL, opts...), filesystemconnect.NewFilesystemClient(d, baseURL, opts...)
}

// countingRuntime wraps a Runtime and counts Instance closes.
type countingRuntime struct {
	Runtime
	started, closed atomic.Int32
}

func (c *countingRuntime) Start(ctx context.Context, spec SandboxSpec) (Instance, error) {
	inst, err := c.Runtime.Start(ctx, spec)
	if err != nil {
		return nil, err
	}
	c.started.Add(1)
	return &countingInstance{Instance: inst, rt: c}, nil
}

type countingInstance struct {
	Instance
	rt *countingRuntime
}

func (c *countingInstance) Close() error {
	c.rt.closed.Add(1)
	return c.Instance.Close()
}

// proxyError reads a 502 proxy answer.
func proxyError(t testing.TB, resp *http.Response) wire.ProxyErrorBody {
	t.Helper()
	require.Equal(t, http.StatusBadGateway, resp.StatusCode)
	return decodeJSON[wire.ProxyErrorBody](t, resp)
}
