package e2b

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta/e2b/wire"
)

// line renders one NDJSON line.
func line(t *testing.T, ev wire.ExecutionEvent) string {
	t.Helper()
	b, err := json.Marshal(ev)
	require.NoError(t, err)
	return string(b) + "\n"
}

// streamHandler answers /execute with lines, flushing after each.
func streamHandler(lines ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.WriteHeader(http.StatusOK)
		for _, l := range lines {
			_, _ = io.WriteString(w, l)
			w.(http.Flusher).Flush()
		}
	}
}

func TestRunCodeSendsTheRequest(t *testing.T) {
	tests := []struct {
		name     string
		code     string
		opts     RunCodeOptions
		wantBody string
	}{
		{"defaults", "print(1)", RunCodeOptions{}, `{"code":"print(1)"}`},
		{"language and env", "console.log(1)", RunCodeOptions{Language: "javascript", EnvVars: map[string]string{"A": "1"}},
			`{"code":"console.log(1)","language":"javascript","env_vars":{"A":"1"}}`},
		{"context", "x", RunCodeOptions{ContextID: "ctx1"}, `{"code":"x","context_id":"ctx1"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{status: http.StatusOK, body: `{"type":"end_of_execution"}` + "\n"}
			c := newTestClient(t, rec)
			_, err := testSandbox(c, true).RunCode(context.Background(), tt.code, tt.opts)
			require.NoError(t, err)
			got := rec.only(t)
			assert.Equal(t, http.MethodPost, got.Method)
			assert.Equal(t, "/execute", got.Path)
			assert.Equal(t, "application/json", got.Header.Get("Content-Type"))
			assert.Equal(t, testEnvdToken, got.Header.Get(wire.HeaderAccessToken))
			assert.Equal(t, "49999", got.Header.Get(wire.HeaderSandboxPort))
			assert.JSONEq(t, tt.wantBody, string(got.Body))
		})
	}
}

func TestRunCodeRejectsBadOptionsBeforeSending(t *testing.T) {
	rec := &recorder{status: http.StatusOK}
	c := newTestClient(t, rec)
	sbx := testSandbox(c, false)
	_, err := sbx.RunCode(context.Background(), "x", RunCodeOptions{Language: "python", ContextID: "c"})
	assert.ErrorContains(t, err, "mutually exclusive")
	_, err = sbx.RunCode(context.Background(), "x", RunCodeOptions{Timeout: -1})
	assert.ErrorContains(t, err, "Timeout must be >= 0")
	assert.Empty(t, rec.seen)
}

func TestRunCodeStreamsEventsInOrder(t *testing.T) {
	// The handler waits for the client to see the first line before sending the
	// rest: callbacks must run as lines arrive, not when the stream ends.
	firstSeen := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, line(t, wire.ExecutionEvent{Type: wire.EventNumberOfExecutions, ExecutionCount: 3}))
		// E2B's interpreter stamps output with the Jupyter message's date.
		_, _ = io.WriteString(w, `{"type":"stdout","text":"one\n","timestamp":"2025-06-01T10:00:00.123456+00:00"}`+"\n")
		w.(http.Flusher).Flush()
		select {
		case <-firstSeen:
		case <-r.Context().Done():
			return
		}
		for _, ev := range []wire.ExecutionEvent{
			{Type: wire.EventKeepalive},
			{Type: wire.EventStderr, Text: "warn\n"},
			{Type: "a_future_event"},
			{Type: wire.EventResult, IsMainResult: true, Text: "42", HTML: "<b>42</b>", JSON: map[string]any{"v": 42.0}},
			{Type: wire.EventResult, PNG: "iVBORw0KGgo=", Extra: map[string]any{"application/x-custom": "c"}},
			{Type: wire.EventStdout, Text: "two\n"},
			{Type: wire.EventError, Name: "ValueError", Value: "bad", Traceback: "Traceback..."},
			{Type: wire.EventEndOfExecution},
		} {
			_, _ = io.WriteString(w, line(t, ev))
		}
		_, _ = io.WriteString(w, "\n") // a blank line is skipped
	})
	c := newTestClient(t, h)
	var order []string
	exec, err := testSandbox(c, false).RunCode(context.Background(), "code", RunCodeOptions{
		OnStdout: func(m OutputMessage) {
			order = append(order, "stdout:"+m.Line)
			if m.Line == "one\n" {
				assert.True(t, time.Date(2025, 6, 1, 10, 0, 0, 123456000, time.UTC).Equal(m.Timestamp), "timestamp %v", m.Timestamp)
				assert.False(t, m.Error)
				close(firstSeen)
			}
		},
		OnStderr: func(m OutputMessage) {
			assert.True(t, m.Error)
			order = append(order, "stderr:"+m.Line)
		},
		OnResult: func(r Result) { order = append(order, fmt.Sprintf("result:%v", r.Formats())) },
		OnError:  func(e ExecutionError) { order = append(order, "error:"+e.Name) },
	})
	require.NoError(t, err)
	assert.Equal(t, []string{
		"stdout:one\n",
		"stderr:warn\n",
		"result:[text html json]",
		"result:[png application/x-custom]",
		"stdout:two\n",
		"error:ValueError",
	}, order)
	assert.Equal(t, 3, exec.ExecutionCount)
	assert.Equal(t, []string{"one\n", "two\n"}, exec.Logs.Stdout)
	assert.Equal(t, []string{"warn\n"}, exec.Logs.Stderr)
	require.Len(t, exec.Results, 2)
	assert.Equal(t, "42", exec.Text())
	assert.Equal(t, map[string]any{"v": 42.0}, exec.Results[0].JSON)
	assert.Equal(t, "iVBORw0KGgo=", exec.Results[1].PNG)
	require.NotNil(t, exec.Error)
	assert.Equal(t, ExecutionError{Name: "ValueError", Value: "bad", Traceback: "Traceback..."}, *exec.Error)
}

func TestRunCodeEveryResultField(t *testing.T) {
	body := `{"type":"result","is_main_result":true,"text":"t","html":"h","markdown":"m","svg":"s","png":"p","jpeg":"j",` +
		`"pdf":"d","latex":"l","json":{"a":1},"javascript":"js","data":{"b":2},"chart":{"type":"line"},"extra":{"x":"y"},"unknown":true}` +
		"\n" + `{"type":"end_of_execution"}`
	c := newTestClient(t, streamHandler(body))
	exec, err := testSandbox(c, false).RunCode(context.Background(), "x", RunCodeOptions{})
	require.NoError(t, err)
	require.Len(t, exec.Results, 1)
	assert.Equal(t, Result{
		IsMainResult: true, Text: "t", HTML: "h", Markdown: "m", SVG: "s", PNG: "p", JPEG: "j", PDF: "d", LaTeX: "l",
		JSON: map[string]any{"a": 1.0}, JavaScript: "js", Data: map[string]any{"b": 2.0},
		Chart: map[string]any{"type": "line"}, Extra: map[string]any{"x": "y"},
	}, exec.Results[0])
	assert.Equal(t, []string{"text", "html", "markdown", "svg", "png", "jpeg", "pdf", "latex", "json", "javascript", "data", "chart", "x"},
		exec.Results[0].Formats())
}

func TestRunCodeResultJSONOfAnyType(t *testing.T) {
	// E2B's interpreter passes application/json on unchecked: any JSON value.
	body := strings.Join([]string{
		`{"type":"result","json":{"a":1}}`,
		`{"type":"result","json":[1,"two",null]}`,
		`{"type":"result","json":"text"}`,
		`{"type":"result","json":2.5}`,
		`{"type":"result","json":false}`,
		`{"type":"result","json":null,"text":"t"}`,
		`{"type":"end_of_execution"}`,
	}, "\n")
	c := newTestClient(t, streamHandler(body))
	exec, err := testSandbox(c, false).RunCode(context.Background(), "x", RunCodeOptions{})
	require.NoError(t, err)
	var got []any
	for _, r := range exec.Results {
		got = append(got, r.JSON)
	}
	assert.Equal(t, []any{map[string]any{"a": 1.0}, []any{1.0, "two", nil}, "text", 2.5, false, nil}, got)
	assert.Equal(t, []string{"json"}, exec.Results[4].Formats(), "false is a value")
	assert.Equal(t, []string{"text"}, exec.Results[5].Formats(), "null is absent")
}

func TestDecodeExecutionKeepsEventsWithMistypedFields(t *testing.T) {
	body := strings.Join([]string{
		`{"type":"number_of_executions","execution_count":"3"}`,
		`{"type":"stdout","text":"a\n","timestamp":"2025-06-01T10:00:00Z","is_main_result":"yes"}`,
		`{"text":["not","a","string"],"type":"stderr"}`,
		`{"type":"result","is_main_result":true,"text":"t","data":[1,2],"chart":"bar","extra":7,"png":5,"html":"<p>"}`,
		`{"type":"error","name":"E","value":{"v":1},"traceback":["line 1","line 2"]}`,
		`{"type":"end_of_execution"}`,
	}, "\n")
	var results []Result
	var errs []ExecutionError
	exec, err := decodeExecution(strings.NewReader(body), executionHandlers{
		onResult: func(r Result) { results = append(results, r) },
		onError:  func(e ExecutionError) { errs = append(errs, e) },
	}, nil)
	require.NoError(t, err)
	assert.Equal(t, 0, exec.ExecutionCount, "a string count is left zero")
	assert.Equal(t, []string{"a\n"}, exec.Logs.Stdout)
	assert.Equal(t, []string{""}, exec.Logs.Stderr, "the line is kept, its text zero")
	want := Result{IsMainResult: true, Text: "t", HTML: "<p>"}
	assert.Equal(t, []Result{want}, exec.Results)
	assert.Equal(t, []Result{want}, results)
	require.NotNil(t, exec.Error)
	assert.Equal(t, ExecutionError{Name: "E"}, *exec.Error)
	assert.Equal(t, []ExecutionError{{Name: "E"}}, errs)
}

func TestRunCodeEightMegabyteLine(t *testing.T) {
	png := strings.Repeat("QUJD", 2<<20) // 8 MiB of base64
	c := newTestClient(t, streamHandler(
		line(t, wire.ExecutionEvent{Type: wire.EventResult, PNG: png, IsMainResult: true}),
		line(t, wire.ExecutionEvent{Type: wire.EventStdout, Text: "after\n"}),
		line(t, wire.ExecutionEvent{Type: wire.EventEndOfExecution}),
	))
	exec, err := testSandbox(c, false).RunCode(context.Background(), "plot()", RunCodeOptions{})
	require.NoError(t, err)
	require.Len(t, exec.Results, 1)
	assert.Len(t, exec.Results[0].PNG, 8<<20)
	assert.True(t, exec.Results[0].PNG == png)
	assert.Equal(t, []string{"after\n"}, exec.Logs.Stdout)
}

func TestRunCodeStreamCut(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
	}{
		{
			name: "the answer ends without end_of_execution",
			handler: streamHandler(
				`{"type":"stdout","text":"partial\n"}` + "\n",
			),
		},
		{
			name: "the connection is cut in the middle of a line",
			handler: func(w http.ResponseWriter, r *http.Request) {
				conn, buf, err := w.(http.Hijacker).Hijack()
				if err != nil {
					return
				}
				defer func() { _ = conn.Close() }()
				_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nContent-Length: 1000\r\n\r\n")
				_, _ = buf.WriteString(`{"type":"stdout","text":"partial\n"}` + "\n" + `{"type":"stdo`)
				_ = buf.Flush()
			},
		},
		{
			name:    "a line is not JSON",
			handler: streamHandler(`{"type":"stdout","text":"partial\n"}`+"\n", "not json\n", `{"type":"end_of_execution"}`+"\n"),
		},
		{
			name:    "a line is cut JSON",
			handler: streamHandler(`{"type":"stdout","text":"partial\n"}`+"\n", `{"type":"stdout","execution_count":"3",`+"\n", `{"type":"end_of_execution"}`+"\n"),
		},
		{
			name:    "a line is an array",
			handler: streamHandler(`{"type":"stdout","text":"partial\n"}`+"\n", `[{"type":"end_of_execution"}]`+"\n", `{"type":"end_of_execution"}`+"\n"),
		},
		{
			name:    "a line's type is not a string",
			handler: streamHandler(`{"type":"stdout","text":"partial\n"}`+"\n", `{"type":7,"text":"x"}`+"\n", `{"type":"end_of_execution"}`+"\n"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestClient(t, tt.handler)
			exec, err := testSandbox(c, false).RunCode(context.Background(), "x", RunCodeOptions{})
			require.ErrorIs(t, err, ErrExecutionInterrupted)
			var tr transient
			require.ErrorAs(t, err, &tr)
			assert.False(t, tr.Transient(), "the code may have run: not safe to run again")
			require.NotNil(t, exec, "the output so far comes with the error")
			assert.Equal(t, []string{"partial\n"}, exec.Logs.Stdout)
			assert.Contains(t, err.Error(), "e2b: run code: execution interrupted")
		})
	}
}

func TestRunCodeCancellationInterruptsTheExecution(t *testing.T) {
	observed := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, `{"type":"stdout","text":"started\n"}`+"\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done() // the kernel would be interrupted here
		close(observed)
	})
	c := newTestClient(t, h)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	exec, err := testSandbox(c, false).RunCode(ctx, "while True: pass", RunCodeOptions{
		OnStdout: func(OutputMessage) { cancel() },
	})
	require.ErrorIs(t, err, context.Canceled)
	assert.NotErrorIs(t, err, ErrExecutionInterrupted)
	require.NotNil(t, exec)
	assert.Equal(t, []string{"started\n"}, exec.Logs.Stdout)
	select {
	case <-observed:
	case <-time.After(10 * time.Second):
		t.Fatal("the server never saw the request end: the connection was not closed")
	}
}

// pipeTransport answers /execute with a body the test writes, and closes it
// when the request's context ends, as a real transport does.
func pipeTransport(write func(w *io.PipeWriter)) roundTripFunc {
	return func(r *http.Request) (*http.Response, error) {
		_, _ = io.Copy(io.Discard, r.Body)
		pr, pw := io.Pipe()
		go func() {
			<-r.Context().Done()
			_ = pw.CloseWithError(r.Context().Err())
		}()
		go write(pw)
		return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: pr, Request: r}, nil
	}
}

func TestRunCodeExecutionTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := pipeTransport(func(w *io.PipeWriter) {
			_, _ = io.WriteString(w, `{"type":"stdout","text":"tick\n"}`+"\n")
		})
		clearEnv(t)
		c, err := NewClient(WithAPIKey(testKey), WithHTTPClient(&http.Client{Transport: tr}))
		require.NoError(t, err)
		start := time.Now()
		exec, err := testSandbox(c, false).RunCode(context.Background(), "sleep()", RunCodeOptions{Timeout: 90 * time.Second})
		assert.Equal(t, 90*time.Second, time.Since(start))
		require.ErrorIs(t, err, ErrExecutionTimeout)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.EqualError(t, err, "e2b: run code: execution timed out after 1m30s")
		require.NotNil(t, exec)
		assert.Equal(t, []string{"tick\n"}, exec.Logs.Stdout)
		synctest.Wait()
	})
}

func TestRunCodeDefaultTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := pipeTransport(func(w *io.PipeWriter) {})
		clearEnv(t)
		c, err := NewClient(WithAPIKey(testKey), WithHTTPClient(&http.Client{Transport: tr}))
		require.NoError(t, err)
		start := time.Now()
		_, err = testSandbox(c, false).RunCode(context.Background(), "x", RunCodeOptions{})
		assert.ErrorIs(t, err, ErrExecutionTimeout)
		assert.Equal(t, DefaultExecutionTimeout, time.Since(start))
		synctest.Wait()
	})
}

func TestRunCodeResponseHeaderTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hang := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			<-r.Context().Done()
			return nil, r.Context().Err()
		})
		clearEnv(t)
		c, err := NewClient(WithAPIKey(testKey), WithHTTPClient(&http.Client{Transport: hang}), WithRequestTimeout(30*time.Second))
		require.NoError(t, err)
		start := time.Now()
		_, err = testSandbox(c, false).RunCode(context.Background(), "x", RunCodeOptions{Timeout: time.Hour})
		assert.Equal(t, 30*time.Second, time.Since(start), "the header wait is bounded by the request timeout, not the execution timeout")
		require.ErrorIs(t, err, ErrRequestTimeout)
		var te *TransportError
		require.ErrorAs(t, err, &te, "the request was never written: nothing ran")
		assert.True(t, te.Transient())
	})
}

func TestRunCodeErrorAnswers(t *testing.T) {
	c := newTestClient(t, &recorder{status: http.StatusBadGateway,
		body: `{"sandboxId":"sbx1","message":"The sandbox is running but port is not open","port":49999,"code":502}`})
	exec, err := testSandbox(c, false).RunCode(context.Background(), "x", RunCodeOptions{})
	assert.Nil(t, exec)
	require.ErrorIs(t, err, ErrPortNotOpen)
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, InterpreterPort, apiErr.Port)
	assert.True(t, apiErr.Transient())
	assert.NotErrorIs(t, err, ErrExecutionInterrupted)
}

func TestRunCodeLongStreamHasNoClientTimeout(t *testing.T) {
	// Executions outlive the request timeout: only the header wait is bounded.
	synctest.Test(t, func(t *testing.T) {
		tr := pipeTransport(func(w *io.PipeWriter) {
			for range 10 {
				time.Sleep(30 * time.Second) // fake time: keepalives of a long cell
				_, _ = io.WriteString(w, `{"type":"keepalive"}`+"\n")
			}
			_, _ = io.WriteString(w, `{"type":"end_of_execution"}`+"\n")
		})
		clearEnv(t)
		c, err := NewClient(WithAPIKey(testKey), WithHTTPClient(&http.Client{Transport: tr}), WithRequestTimeout(time.Minute))
		require.NoError(t, err)
		start := time.Now()
		_, err = testSandbox(c, false).RunCode(context.Background(), "train()", RunCodeOptions{Timeout: time.Hour})
		require.NoError(t, err)
		assert.Equal(t, 5*time.Minute, time.Since(start))
		synctest.Wait()
	})
}

func TestContexts(t *testing.T) {
	mux := http.NewServeMux()
	var created request
	mux.HandleFunc("POST /contexts", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		created = request{Header: r.Header.Clone(), Body: body}
		_, _ = io.WriteString(w, `{"id":"c1","language":"python","cwd":"/tmp","extra":1}`)
	})
	mux.HandleFunc("GET /contexts", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `[{"id":"c1","language":"python","cwd":"/tmp"},{"id":"c2","language":"r","cwd":"/home/user"}]`)
	})
	removed := ""
	mux.HandleFunc("DELETE /contexts/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") != "c1" {
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"code":404,"message":"context not found"}`)
			return
		}
		removed = r.PathValue("id")
		w.WriteHeader(http.StatusNoContent)
	})
	restarted := ""
	mux.HandleFunc("POST /contexts/{id}/restart", func(w http.ResponseWriter, r *http.Request) {
		restarted = r.PathValue("id")
	})
	c := newTestClient(t, mux)
	sbx := testSandbox(c, false)
	ctx := context.Background()

	info, err := sbx.CreateContext(ctx, "python", "/tmp")
	require.NoError(t, err)
	assert.Equal(t, ContextInfo{ID: "c1", Language: "python", Cwd: "/tmp"}, *info)
	assert.JSONEq(t, `{"language":"python","cwd":"/tmp"}`, string(created.Body))
	assert.Equal(t, "49999", created.Header.Get(wire.HeaderSandboxPort))

	infos, err := sbx.ListContexts(ctx)
	require.NoError(t, err)
	assert.Equal(t, []ContextInfo{{ID: "c1", Language: "python", Cwd: "/tmp"}, {ID: "c2", Language: "r", Cwd: "/home/user"}}, infos)

	require.NoError(t, sbx.RemoveContext(ctx, "c1"))
	assert.Equal(t, "c1", removed)
	assert.ErrorIs(t, sbx.RemoveContext(ctx, "nope"), ErrNotFound)
	assert.ErrorContains(t, sbx.RemoveContext(ctx, ""), "empty context ID")

	require.NoError(t, sbx.RestartContext(ctx, "c1"))
	assert.Equal(t, "c1", restarted)
}

func TestInterpreterHealth(t *testing.T) {
	rec := &recorder{status: http.StatusOK, body: `"OK"`}
	c := newTestClient(t, rec)
	require.NoError(t, testSandbox(c, false).InterpreterHealth(context.Background()))
	got := rec.only(t)
	assert.Equal(t, "/health", got.Path)
	assert.Equal(t, "49999", got.Header.Get(wire.HeaderSandboxPort))
}

func TestExecutionTextWithoutMainResult(t *testing.T) {
	assert.Equal(t, "", (&Execution{Results: []Result{{Text: "displayed"}}}).Text())
}

// errReader fails after its content.
type errReader struct {
	r   io.Reader
	err error
}

func (e errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if errors.Is(err, io.EOF) {
		return n, e.err
	}
	return n, err
}

func TestDecodeExecutionReadFailure(t *testing.T) {
	cause := errors.New("connection reset by peer")
	exec, err := decodeExecution(errReader{strings.NewReader(`{"type":"stdout","text":"a"}` + "\n"), cause}, executionHandlers{}, nil)
	require.ErrorIs(t, err, ErrExecutionInterrupted)
	assert.ErrorIs(t, err, cause)
	assert.Equal(t, []string{"a"}, exec.Logs.Stdout)
}

func TestDecodeExecutionLastLineWithoutNewline(t *testing.T) {
	exec, err := decodeExecution(strings.NewReader(`{"type":"stdout","text":"a"}`+"\r\n"+`{"type":"end_of_execution"}`), executionHandlers{}, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"a"}, exec.Logs.Stdout)
}

func TestLineReaderLongLines(t *testing.T) {
	long := strings.Repeat("x", 200<<10)
	lr := newLineReader(bufio.NewReader(strings.NewReader(long + "\nshort\n" + long)))
	for _, want := range []string{long, "short", long} {
		got, err := lr.next()
		require.NoError(t, err)
		assert.Equal(t, len(want), len(got))
	}
	_, err := lr.next()
	assert.ErrorIs(t, err, io.EOF)
}

// A caller's deadline that ends at the same moment as the execution timeout
// is reported as the caller's: two timers due at one instant must not race
// for the error's identity (seen as a flaky tta.Timeout around RunCode).
func TestRunCodeTimeoutEqualToCallerDeadlineIsTheCallers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clearEnv(t)
		c, err := NewClient(WithAPIKey(testKey), WithHTTPClient(&http.Client{Transport: pipeTransport(func(w *io.PipeWriter) {})}))
		require.NoError(t, err)
		for range 20 {
			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
			_, err := testSandbox(c, false).RunCode(ctx, "sleep()", RunCodeOptions{Timeout: 3 * time.Second})
			cancel()
			require.ErrorIs(t, err, context.DeadlineExceeded)
			require.NotErrorIs(t, err, ErrExecutionTimeout, "the caller's deadline, not the execution timeout")
		}
		synctest.Wait()
	})
}
