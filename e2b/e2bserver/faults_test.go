package e2bserver

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta/e2b"
	"github.com/tta-dev/tta/e2b/wire"
)

func TestFaultRateLimitWithRetryAfter(t *testing.T) {
	e := newEnv(t, WithFaults(Fault{Op: OpCreate, Status: 429, RetryAfter: 1500 * time.Millisecond, Times: 2}))
	for i := range 2 {
		resp := e.api(http.MethodPost, "/sandboxes", map[string]any{"templateID": "base"})
		require.Equal(t, http.StatusTooManyRequests, resp.StatusCode, i)
		assert.Equal(t, "2", resp.Header.Get(wire.HeaderRetryAfter), "rounded up to whole seconds")
		assert.Equal(t, wire.ErrorBody{Code: 429, Message: "Rate limit exceeded, please try again later."}, decodeJSON[wire.ErrorBody](t, resp))
	}
	e.create(map[string]any{"templateID": "base"})
	assert.Equal(t, 3, e.srv.Calls(OpCreate))
	assert.Len(t, e.srv.Sandboxes(), 1)
}

func TestFaultNth(t *testing.T) {
	tests := []struct {
		name  string
		fault Fault
		want  []int // status of calls 1 to 5
	}{
		{"the nth call alone", Fault{Op: OpGet, Status: 503, Nth: 3}, []int{200, 200, 503, 200, 200}},
		{"Times calls from the nth", Fault{Op: OpGet, Status: 503, Nth: 2, Times: 2}, []int{200, 503, 503, 200, 200}},
		{"every call from the first", Fault{Op: OpGet, Status: 503}, []int{503, 503, 503, 503, 503}},
		{"a negative count is 0", Fault{Op: OpGet, Status: 503, Nth: -1, Times: -1}, []int{503, 503, 503, 503, 503}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			sb := e.create(map[string]any{"templateID": "base"})
			e.srv.Inject(tt.fault)
			var got []int
			for range tt.want {
				got = append(got, e.api(http.MethodGet, "/sandboxes/"+sb.SandboxID, nil).StatusCode)
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestWithFaultsRejectsNegativeCounts(t *testing.T) {
	_, err := New(WithFaults(Fault{Op: OpGet}, Fault{Op: OpGet, Nth: -1}))
	require.EqualError(t, err, "e2bserver: WithFaults: fault 2 has Nth -1 and Times 0; both must be >= 0 (0 means from the first call, and every call)")
}

func TestFaultServerErrors(t *testing.T) {
	tests := []struct {
		status int
		msg    string
	}{
		{500, "Internal server error"},
		{502, "Backend error"},
		{503, "Service unavailable"},
		{504, "Backend timeout"},
		{507, "Insufficient Storage"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			e := newEnv(t)
			sb := e.create(map[string]any{"templateID": "base"})
			e.srv.Inject(Fault{Op: OpGet, Status: tt.status, Times: 1})
			resp := e.api(http.MethodGet, "/sandboxes/"+sb.SandboxID, nil)
			assert.Equal(t, tt.status, resp.StatusCode)
			assert.Empty(t, resp.Header.Get(wire.HeaderRetryAfter))
			assert.Equal(t, wire.ErrorBody{Code: tt.status, Message: tt.msg}, decodeJSON[wire.ErrorBody](t, resp))
			assert.Equal(t, http.StatusOK, e.api(http.MethodGet, "/sandboxes/"+sb.SandboxID, nil).StatusCode, "Times: 1")
		})
	}
}

func TestFaultMatching(t *testing.T) {
	e := newEnv(t)
	a := e.create(map[string]any{"templateID": "base"})
	b := e.create(map[string]any{"templateID": "code-interpreter-v1"})

	e.srv.Inject(Fault{Op: OpKill, SandboxID: a.SandboxID, Status: 500, Message: "boom"})
	e.srv.Inject(Fault{Template: "code-interpreter-v1", Status: 503})
	resp := e.api(http.MethodDelete, "/sandboxes/"+a.SandboxID, nil)
	assert.Equal(t, wire.ErrorBody{Code: 500, Message: "boom"}, decodeJSON[wire.ErrorBody](t, resp))
	assert.Equal(t, http.StatusOK, e.api(http.MethodGet, "/sandboxes/"+a.SandboxID, nil).StatusCode, "other ops unaffected")
	assert.Equal(t, http.StatusServiceUnavailable, e.api(http.MethodGet, "/sandboxes/"+b.SandboxID, nil).StatusCode)
	assert.Equal(t, http.StatusServiceUnavailable, e.sandbox(b.SandboxID, e2b.EnvdPort, http.MethodGet, "/health", nil).StatusCode, "sandbox traffic too")
	assert.Equal(t, http.StatusServiceUnavailable, e.api(http.MethodPost, "/sandboxes", map[string]any{"templateID": CodeInterpreterTemplateID}).StatusCode, "create by ID matches the alias")
	assert.Equal(t, http.StatusOK, e.api(http.MethodGet, "/v2/sandboxes", nil).StatusCode, "list concerns no template")

	e.srv.ClearFaults()
	assert.Equal(t, http.StatusNoContent, e.api(http.MethodDelete, "/sandboxes/"+a.SandboxID, nil).StatusCode)
	assert.Equal(t, http.StatusOK, e.api(http.MethodGet, "/sandboxes/"+b.SandboxID, nil).StatusCode)
}

func TestFaultSlowCreate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, WithFaults(Fault{Op: OpCreate, Delay: 8 * time.Second}))
		start := time.Now()
		e.create(map[string]any{"templateID": "base"})
		assert.Equal(t, 8*time.Second, time.Since(start))

		// A client that gives up earlier stops the wait; nothing is created.
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
		defer cancel()
		req := newRequest(t, http.MethodPost, baseURL+"/sandboxes", map[string]any{"templateID": "base"}).WithContext(ctx)
		req.Header.Set(wire.HeaderAPIKey, e.key)
		_, err := e.hc.Do(req)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		synctest.Wait()
		assert.Len(t, e.srv.Sandboxes(), 1)
	})
}

func TestFaultConnectionReset(t *testing.T) {
	t.Run("tcp", func(t *testing.T) {
		srv, err := New(WithFaults(Fault{Op: OpCreate, Reset: true}))
		require.NoError(t, err)
		ts := httptest.NewServer(srv)
		defer ts.Close()
		defer srv.Close()
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()

		req := newRequest(t, http.MethodPost, ts.URL+"/sandboxes", map[string]any{"templateID": "base"})
		req.Header.Set(wire.HeaderAPIKey, "e2b_1")
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if resp != nil {
			resp.Body.Close()
		}
		assert.ErrorIs(t, err, syscall.ECONNRESET, "linger 0 turns the close into a reset")
		assert.Empty(t, srv.Sandboxes())
	})
	t.Run("in memory, sandbox endpoint", func(t *testing.T) {
		e := newEnv(t)
		sb := e.create(map[string]any{"templateID": "code-interpreter-v1"})
		e.srv.Inject(Fault{Op: OpRun, Reset: true, Times: 1})
		req := newRequest(t, http.MethodPost, baseURL+"/execute", wire.ExecuteRequest{Code: "1"})
		req.Header.Set(wire.HeaderSandboxID, sb.SandboxID)
		req.Header.Set(wire.HeaderSandboxPort, fmt.Sprint(e2b.InterpreterPort))
		_, err := e.hc.Do(req)
		assert.ErrorIs(t, err, io.EOF)
		assert.Len(t, e.execute(sb.SandboxID, wire.ExecuteRequest{Code: "1"}), 2, "next call works")
	})
}

// countingScript prints "line i" every second for n seconds.
func countingScript(n int) func(ctx context.Context, c *Cell) error {
	return func(ctx context.Context, c *Cell) error {
		for i := range n {
			if err := c.Stdout(fmt.Sprintf("line %d\n", i)); err != nil {
				return err
			}
			if err := c.Sleep(time.Second); err != nil {
				return err
			}
		}
		return nil
	}
}

func TestFaultStreamCut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, WithRuntime(&ScriptedRuntime{Exec: countingScript(10)}))
		sb := e.create(map[string]any{"templateID": "code-interpreter-v1", "timeout": 300})
		require.True(t, e.srv.SetSandboxFaults(sb.SandboxID, SandboxFaults{CutExecutionAfterLines: 3}))

		resp := e.sandbox(sb.SandboxID, e2b.InterpreterPort, http.MethodPost, "/execute", wire.ExecuteRequest{Code: "loop"})
		require.Equal(t, http.StatusOK, resp.StatusCode)
		events, err := readEvents(resp.Body)
		assert.ErrorIs(t, err, io.ErrUnexpectedEOF, "the chunked stream ends abruptly")
		assert.Equal(t, []string{wire.EventNumberOfExecutions, wire.EventStdout, wire.EventStdout}, eventTypes(events))
		assert.NotContains(t, eventTypes(events), wire.EventEndOfExecution)

		assert.Len(t, e.srv.Sandboxes(), 1, "the sandbox survives a cut stream")
		assert.Equal(t, http.StatusOK, e.sandbox(sb.SandboxID, e2b.InterpreterPort, http.MethodGet, "/health", nil).StatusCode)
	})
}

func TestFaultExpireMidExecution(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := &countingRuntime{Runtime: &ScriptedRuntime{Exec: countingScript(10)}}
		e := newEnv(t, WithRuntime(rt), WithTemplates(Template{ID: "dying", Faults: SandboxFaults{ExpireAfterLines: 4}}))
		sb := e.create(map[string]any{"templateID": "dying", "timeout": 300})

		resp := e.sandbox(sb.SandboxID, e2b.InterpreterPort, http.MethodPost, "/execute", wire.ExecuteRequest{Code: "loop"})
		require.Equal(t, http.StatusOK, resp.StatusCode)
		events, err := readEvents(resp.Body)
		assert.Error(t, err)
		assert.Len(t, events, 4)
		assert.NotContains(t, eventTypes(events), wire.EventEndOfExecution)

		assert.Equal(t, http.StatusNotFound, e.api(http.MethodGet, "/sandboxes/"+sb.SandboxID, nil).StatusCode)
		assert.Equal(t, wire.MessageSandboxNotFound, proxyError(t, e.sandbox(sb.SandboxID, e2b.InterpreterPort, http.MethodGet, "/health", nil)).Message)
		synctest.Wait()
		assert.Equal(t, int32(1), rt.closed.Load())
	})
}

func TestTimeoutMidExecution(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, WithRuntime(&ScriptedRuntime{Exec: countingScript(60)}))
		sb := e.create(map[string]any{"templateID": "code-interpreter-v1", "timeout": 10})
		start := time.Now()
		resp := e.sandbox(sb.SandboxID, e2b.InterpreterPort, http.MethodPost, "/execute", wire.ExecuteRequest{Code: "loop"})
		require.Equal(t, http.StatusOK, resp.StatusCode)
		events, err := readEvents(resp.Body)
		assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
		assert.Equal(t, 10*time.Second, time.Since(start), "cut when the sandbox expires")
		assert.NotContains(t, eventTypes(events), wire.EventEndOfExecution)
		assert.Equal(t, wire.MessageSandboxNotFound, proxyError(t, e.sandbox(sb.SandboxID, e2b.InterpreterPort, http.MethodGet, "/health", nil)).Message)
	})
}

func TestExpire(t *testing.T) {
	e := newEnv(t)
	sb := e.create(map[string]any{"templateID": "base"})
	assert.True(t, e.srv.Expire(sb.SandboxID))
	assert.False(t, e.srv.Expire(sb.SandboxID))
	assert.Equal(t, http.StatusNotFound, e.api(http.MethodGet, "/sandboxes/"+sb.SandboxID, nil).StatusCode)
}
