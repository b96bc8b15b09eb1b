package e2bserver

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta/e2b"
	"github.com/tta-dev/tta/e2b/wire"
)

func TestNewOptionErrors(t *testing.T) {
	tests := []struct {
		name string
		opt  Option
		msg  string
	}{
		{"empty key", WithAPIKey("e2b_1", ""), "e2bserver: WithAPIKey: empty key"},
		{"template without ID", WithTemplates(Template{Alias: "x"}), `e2bserver: WithTemplates: template "x" has no ID`},
		{"nil runtime", WithRuntime(nil), "e2bserver: WithRuntime: nil Runtime"},
		{"empty envd version", withEnvdVersion(""), "e2bserver: withEnvdVersion: empty version"},
		{"nil option", nil, "e2bserver: New: option 1 is nil; pass only options such as WithRuntime"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, err := New(tt.opt)
			assert.Nil(t, srv)
			assert.EqualError(t, err, tt.msg)
		})
	}
}

func TestTemplates(t *testing.T) {
	e := newEnv(t, withEnvdVersion("0.5.1"), WithTemplates(
		Template{ID: "custom0000000000000001", Alias: "code-interpreter-v1"}, // replaces the default by alias
		Template{ID: "gpu00000000000000000001", Alias: "gpu", NoInterpreter: true},
	))
	sb := e.create(map[string]any{"templateID": "code-interpreter-v1"})
	assert.Equal(t, "custom0000000000000001", sb.TemplateID)
	assert.Equal(t, "0.5.1", sb.EnvdVersion)
	assert.Equal(t, http.StatusNotFound, e.api(http.MethodPost, "/sandboxes", map[string]any{"templateID": CodeInterpreterTemplateID}).StatusCode)
	gpu := e.create(map[string]any{"templateID": "gpu00000000000000000001"})
	assert.Equal(t, "gpu", gpu.Alias)
	assert.Equal(t, http.StatusBadGateway, e.sandbox(gpu.SandboxID, e2b.InterpreterPort, http.MethodGet, "/health", nil).StatusCode)
	assert.Equal(t, BaseTemplateID, e.create(map[string]any{"templateID": "base"}).TemplateID, "other defaults stay")
}

// failingRuntime cannot start sandboxes.
type failingRuntime struct{}

func (failingRuntime) Start(context.Context, SandboxSpec) (Instance, error) {
	return nil, errors.New("no capacity")
}

func TestRuntimeStartFailure(t *testing.T) {
	e := newEnv(t, WithRuntime(failingRuntime{}))
	resp := e.api(http.MethodPost, "/sandboxes", map[string]any{"templateID": "base"})
	assert.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	assert.Equal(t, wire.ErrorBody{Code: 500, Message: "Failed to create sandbox: no capacity"}, decodeJSON[wire.ErrorBody](t, resp))
	assert.Empty(t, e.srv.Sandboxes())
}

func TestCloseKillsEverything(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := &countingRuntime{Runtime: &ScriptedRuntime{Replies: map[string]Reply{"long": {Duration: time.Hour}}}}
		srv, err := New(WithRuntime(rt))
		require.NoError(t, err)
		hc := srv.InMemoryClient()
		e := &testEnv{t: t, srv: srv, hc: hc, key: "e2b_1"}
		sbs := []wire.SandboxCreated{
			e.create(map[string]any{"templateID": "code-interpreter-v1", "timeout": 60}),
			e.create(map[string]any{"templateID": "base", "timeout": 60}),
		}
		require.Equal(t, http.StatusNoContent, e.api(http.MethodPost, "/sandboxes/"+sbs[1].SandboxID+"/pause", nil).StatusCode)

		// An execution in flight is cut when the server closes.
		result := make(chan error, 1)
		go func() {
			req := newRequest(t, http.MethodPost, baseURL+"/execute", wire.ExecuteRequest{Code: "long"})
			req.Header.Set(wire.HeaderSandboxID, sbs[0].SandboxID)
			req.Header.Set(wire.HeaderSandboxPort, "49999")
			resp, err := hc.Do(req)
			if err == nil {
				_, err = readEvents(resp.Body)
				resp.Body.Close()
			}
			result <- err
		}()
		synctest.Wait()

		require.NoError(t, srv.Close())
		assert.Error(t, <-result)
		assert.Equal(t, int32(2), rt.closed.Load(), "running and paused instances closed")
		assert.Empty(t, srv.Sandboxes())
		require.NoError(t, srv.Close(), "idempotent")

		_, err = srv.InMemoryClient().Get(baseURL + "/health")
		assert.Error(t, err, "the in-memory network is closed")

		// The handler still answers directly: creates are refused, sandboxes are gone.
		rec := &recorder{header: http.Header{}}
		req := newRequest(t, http.MethodPost, baseURL+"/sandboxes", map[string]any{"templateID": "base"})
		req.Header.Set(wire.HeaderAPIKey, "e2b_1")
		srv.ServeHTTP(rec, req)
		assert.Equal(t, http.StatusServiceUnavailable, rec.status)
		time.Sleep(2 * time.Minute) // no timer fires after Close
		assert.Equal(t, int32(2), rt.closed.Load())
	})
}

// recorder is a minimal http.ResponseWriter.
type recorder struct {
	header http.Header
	status int
	body   []byte
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(s int)   { r.status = s }
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	r.body = append(r.body, b...)
	return len(b), nil
}

func TestCalls(t *testing.T) {
	e := newEnv(t)
	sb := e.create(map[string]any{"templateID": "code-interpreter-v1"})
	e.api(http.MethodGet, "/sandboxes/"+sb.SandboxID, nil)
	e.execute(sb.SandboxID, wire.ExecuteRequest{Code: "1"})
	e.sandbox(sb.SandboxID, e2b.EnvdPort, http.MethodGet, "/files?path=x", nil)
	for op, want := range map[Op]int{OpCreate: 1, OpGet: 1, OpRun: 1, OpFiles: 1, OpKill: 0} {
		assert.Equal(t, want, e.srv.Calls(op), op)
	}
}
