package e2bserver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta/e2b"
	"github.com/tta-dev/tta/e2b/wire"
)

func TestExecuteNDJSON(t *testing.T) {
	rt := &ScriptedRuntime{Replies: map[string]Reply{
		"print('hi'); 1+1": {Stdout: "hi\n", Result: "2"},
		"1/0":              {Stderr: "warn\n", Error: &ExecError{Name: "ZeroDivisionError", Value: "division by zero", Traceback: "Traceback..."}},
	}}
	e := newEnv(t, WithRuntime(rt))
	sb := e.create(map[string]any{"templateID": "code-interpreter-v1"})

	resp := e.sandbox(sb.SandboxID, e2b.InterpreterPort, http.MethodPost, "/execute", wire.ExecuteRequest{Code: "print('hi'); 1+1"})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "application/x-ndjson", resp.Header.Get("Content-Type"))
	events, err := readEvents(resp.Body)
	require.NoError(t, err)
	require.Equal(t, []string{wire.EventNumberOfExecutions, wire.EventStdout, wire.EventResult, wire.EventEndOfExecution}, eventTypes(events))
	assert.Equal(t, 1, events[0].ExecutionCount)
	assert.Equal(t, "hi\n", events[1].Text)
	assert.NotZero(t, events[1].Timestamp, "stdout is stamped")
	assert.Equal(t, wire.ExecutionEvent{Type: wire.EventResult, Text: "2", IsMainResult: true}, events[2])

	events = e.execute(sb.SandboxID, wire.ExecuteRequest{Code: "1/0"})
	require.Equal(t, []string{wire.EventNumberOfExecutions, wire.EventStderr, wire.EventError, wire.EventEndOfExecution}, eventTypes(events))
	assert.Equal(t, 2, events[0].ExecutionCount)
	assert.Equal(t, "ZeroDivisionError", events[2].Name)
	assert.Equal(t, "division by zero", events[2].Value)
	assert.Equal(t, "Traceback...", events[2].Traceback)
}

// TestExecuteStampsOutputLikeE2B reads the raw answer: stdout and stderr lines
// carry the time as E2B's interpreter writes it (the Jupyter message date
// through FastAPI), an ISO 8601 string in UTC with microseconds, not a number.
func TestExecuteStampsOutputLikeE2B(t *testing.T) {
	rt := &ScriptedRuntime{Replies: map[string]Reply{"x": {Stdout: "out\n", Stderr: "err\n", Result: "1"}}}
	e := newEnv(t, WithRuntime(rt))
	sb := e.create(map[string]any{"templateID": "code-interpreter-v1"})
	before := time.Now().Add(-time.Second)
	resp := e.sandbox(sb.SandboxID, e2b.InterpreterPort, http.MethodPost, "/execute", wire.ExecuteRequest{Code: "x"})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	after := time.Now().Add(time.Second)

	stamped := 0
	for _, l := range bytes.Split(bytes.TrimSpace(body), []byte("\n")) {
		var raw map[string]any
		require.NoError(t, json.Unmarshal(l, &raw), "%s", l)
		ts, has := raw["timestamp"]
		if raw["type"] != wire.EventStdout && raw["type"] != wire.EventStderr {
			assert.False(t, has, "only output is stamped: %s", l)
			continue
		}
		stamped++
		s, ok := ts.(string)
		require.True(t, ok, "timestamp is a string: %s", l)
		assert.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$`, s)
		at, err := time.Parse(time.RFC3339Nano, s)
		require.NoError(t, err)
		assert.True(t, at.After(before) && at.Before(after), "stamped now: %s", s)
	}
	assert.Equal(t, 2, stamped)
}

func TestExecuteStreamsEachLineAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := &ScriptedRuntime{Exec: func(ctx context.Context, c *Cell) error {
			if err := c.Stdout("a"); err != nil {
				return err
			}
			if err := c.Sleep(3 * time.Second); err != nil {
				return err
			}
			return c.Stdout("b")
		}}
		e := newEnv(t, WithRuntime(rt))
		sb := e.create(map[string]any{"templateID": "code-interpreter-v1", "timeout": 60})
		start := time.Now()
		resp := e.sandbox(sb.SandboxID, e2b.InterpreterPort, http.MethodPost, "/execute", wire.ExecuteRequest{Code: "x"})
		require.Equal(t, http.StatusOK, resp.StatusCode)
		var at []time.Duration
		var texts []string
		eachEvent(t, resp.Body, func(ev wire.ExecutionEvent) {
			at = append(at, time.Since(start))
			texts = append(texts, ev.Type+":"+ev.Text)
		})
		assert.Equal(t, []string{"number_of_executions:", "stdout:a", "stdout:b", "end_of_execution:"}, texts)
		assert.Equal(t, []time.Duration{0, 0, 3 * time.Second, 3 * time.Second}, at)
	})
}

func TestExecuteKeepalive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := &ScriptedRuntime{Replies: map[string]Reply{"train()": {Duration: 12 * time.Second, Stdout: "done\n"}}}
		e := newEnv(t, WithRuntime(rt))
		sb := e.create(map[string]any{"templateID": "code-interpreter-v1", "timeout": 60})
		start := time.Now()
		resp := e.sandbox(sb.SandboxID, e2b.InterpreterPort, http.MethodPost, "/execute", wire.ExecuteRequest{Code: "train()"})
		require.Equal(t, http.StatusOK, resp.StatusCode)
		var got []string
		eachEvent(t, resp.Body, func(ev wire.ExecutionEvent) {
			got = append(got, fmt.Sprintf("%s@%v", ev.Type, time.Since(start)))
		})
		assert.Equal(t, []string{
			"number_of_executions@0s", "keepalive@5s", "keepalive@10s", "stdout@12s", "end_of_execution@12s",
		}, got)
	})
}

func TestExecuteErrors(t *testing.T) {
	e := newEnv(t)
	sb := e.create(map[string]any{"templateID": "code-interpreter-v1"})
	tests := []struct {
		name string
		body any
		want int
		msg  string
	}{
		{"context and language", wire.ExecuteRequest{Code: "1", ContextID: "c", Language: "python"}, 400, "Only one of context_id or language can be provided"},
		{"unknown context", wire.ExecuteRequest{Code: "1", ContextID: "nope"}, 404, "Context nope not found"},
		{"bad json", "{", 422, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := e.sandbox(sb.SandboxID, e2b.InterpreterPort, http.MethodPost, "/execute", tt.body)
			assert.Equal(t, tt.want, resp.StatusCode)
			if tt.msg != "" {
				assert.Equal(t, tt.msg, readBody(t, resp))
			}
		})
	}
}

func TestExecuteFailureMidStream(t *testing.T) {
	rt := &ScriptedRuntime{Exec: func(ctx context.Context, c *Cell) error {
		_ = c.Stdout("partial")
		return fmt.Errorf("kernel died")
	}}
	e := newEnv(t, WithRuntime(rt))
	sb := e.create(map[string]any{"templateID": "code-interpreter-v1"})
	resp := e.sandbox(sb.SandboxID, e2b.InterpreterPort, http.MethodPost, "/execute", wire.ExecuteRequest{Code: "x"})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	events, err := readEvents(resp.Body)
	assert.Error(t, err)
	assert.Equal(t, []string{wire.EventNumberOfExecutions, wire.EventStdout}, eventTypes(events))
}

func TestContexts(t *testing.T) {
	rt := &ScriptedRuntime{Exec: func(ctx context.Context, c *Cell) error {
		n, _ := c.State["n"].(int)
		c.State["n"] = n + 1
		return c.Result(fmt.Sprintf("%s:%d:%s", c.Language, n+1, c.EnvVars["K"]))
	}}
	e := newEnv(t, WithRuntime(rt))
	sb := e.create(map[string]any{"templateID": "code-interpreter-v1", "envVars": map[string]string{"K": "sandbox"}})
	id := sb.SandboxID

	list := decodeJSON[[]wire.ContextInfo](t, e.sandbox(id, e2b.InterpreterPort, http.MethodGet, "/contexts", nil))
	require.Len(t, list, 2)
	assert.Equal(t, "python", list[0].Language)
	assert.Equal(t, "javascript", list[1].Language)
	assert.Equal(t, "/home/user", list[0].Cwd)

	result := func(req wire.ExecuteRequest) (int, string) {
		events := e.execute(id, req)
		require.Len(t, events, 3)
		return events[0].ExecutionCount, events[1].Text
	}
	n, text := result(wire.ExecuteRequest{Code: "x"})
	assert.Equal(t, 1, n)
	assert.Equal(t, "python:1:sandbox", text)
	n, text = result(wire.ExecuteRequest{Code: "x", Language: "python", EnvVars: map[string]string{"K": "call"}})
	assert.Equal(t, 2, n, "the default python context is shared")
	assert.Equal(t, "python:2:call", text)
	_, text = result(wire.ExecuteRequest{Code: "x", Language: "js"})
	assert.Equal(t, "javascript:1:sandbox", text)

	resp := e.sandbox(id, e2b.InterpreterPort, http.MethodPost, "/contexts", wire.CreateContextRequest{Language: "r", Cwd: "/tmp"})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	ctxInfo := decodeJSON[wire.ContextInfo](t, resp)
	assert.Equal(t, wire.ContextInfo{ID: ctxInfo.ID, Language: "r", Cwd: "/tmp"}, ctxInfo)
	n, text = result(wire.ExecuteRequest{Code: "x", ContextID: ctxInfo.ID})
	assert.Equal(t, 1, n)
	assert.Equal(t, "r:1:sandbox", text)
	_, text = result(wire.ExecuteRequest{Code: "x", ContextID: ctxInfo.ID})
	assert.Equal(t, "r:2:sandbox", text)

	resp = e.sandbox(id, e2b.InterpreterPort, http.MethodPost, "/contexts/"+ctxInfo.ID+"/restart", nil)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	n, text = result(wire.ExecuteRequest{Code: "x", ContextID: ctxInfo.ID})
	assert.Equal(t, 1, n, "restart resets the count")
	assert.Equal(t, "r:1:sandbox", text, "and the state")

	assert.Len(t, decodeJSON[[]wire.ContextInfo](t, e.sandbox(id, e2b.InterpreterPort, http.MethodGet, "/contexts", nil)), 3)
	resp = e.sandbox(id, e2b.InterpreterPort, http.MethodDelete, "/contexts/"+ctxInfo.ID, nil)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	resp = e.sandbox(id, e2b.InterpreterPort, http.MethodPost, "/execute", wire.ExecuteRequest{Code: "x", ContextID: ctxInfo.ID})
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	for _, req := range []struct{ method, path string }{{"DELETE", "/contexts/" + ctxInfo.ID}, {"POST", "/contexts/nope/restart"}} {
		resp = e.sandbox(id, e2b.InterpreterPort, req.method, req.path, nil)
		assert.Equal(t, http.StatusNotFound, resp.StatusCode)
		assert.Contains(t, readBody(t, resp), "not found")
	}
}

func TestExecutionsOfAContextQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := &ScriptedRuntime{Replies: map[string]Reply{"slow": {Duration: 4 * time.Second, Stdout: "x"}}}
		e := newEnv(t, WithRuntime(rt))
		sb := e.create(map[string]any{"templateID": "code-interpreter-v1", "timeout": 60})
		start := time.Now()
		done := make(chan time.Duration, 2)
		for range 2 {
			go func() {
				req := newRequest(t, http.MethodPost, baseURL+"/execute", wire.ExecuteRequest{Code: "slow"})
				req.Header.Set(wire.HeaderSandboxID, sb.SandboxID)
				req.Header.Set(wire.HeaderSandboxPort, strconv.Itoa(e2b.InterpreterPort))
				resp, err := e.hc.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
				}
				done <- time.Since(start)
			}()
		}
		first, second := <-done, <-done
		assert.Equal(t, 4*time.Second, first)
		assert.Equal(t, 8*time.Second, second, "one cell at a time per context")
	})
}
