package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"testing"

	"github.com/tta-dev/tta/e2b"
	"github.com/tta-dev/tta/e2b/e2bserver"
	"github.com/tta-dev/tta/e2b/e2btest"
	"github.com/tta-dev/tta/e2b/wire"
)

// BenchmarkRunCode measures one small execution over loopback: `1+1`, which
// the E2B-compatible server's scripted runtime answers with the main result
// "2". tta_e2b is package e2b's Sandbox.RunCode; raw_http is the least a Go
// program can do for the same answer: one POST /execute with the same
// headers through net/http, reading the NDJSON with encoding/json up to
// end_of_execution. Both share one server and one sandbox, so the difference
// is the client's cost.
func BenchmarkRunCode(b *testing.B) {
	env := e2btest.Start(b, e2bserver.WithRuntime(&e2bserver.ScriptedRuntime{
		Replies: map[string]e2bserver.Reply{"1+1": {Result: "2"}},
	}))
	ctx := context.Background()
	sbx, err := env.Client.Create(ctx, e2b.CreateOptions{})
	if err != nil {
		b.Fatal(err)
	}

	b.Run("tta_e2b", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			exec, err := sbx.RunCode(ctx, "1+1", e2b.RunCodeOptions{})
			if err != nil {
				b.Fatal(err)
			}
			if exec.Text() != "2" {
				b.Fatalf("result %q, want 2", exec.Text())
			}
		}
	})
	b.Run("raw_http", func(b *testing.B) {
		raw := newRawInterpreter(env.URL, sbx.ID())
		defer raw.hc.CloseIdleConnections()
		b.ReportAllocs()
		for b.Loop() {
			text, err := raw.runCode(ctx, "1+1")
			if err != nil {
				b.Fatal(err)
			}
			if text != "2" {
				b.Fatalf("result %q, want 2", text)
			}
		}
	})
}

// rawInterpreter is a minimal hand-written client of the code interpreter's
// POST /execute in the single-URL form, for comparison.
type rawInterpreter struct {
	hc        *http.Client
	url       string
	sandboxID string
}

func newRawInterpreter(baseURL, sandboxID string) *rawInterpreter {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	return &rawInterpreter{hc: &http.Client{Transport: tr}, url: baseURL + "/execute", sandboxID: sandboxID}
}

// runCode runs code and returns the text of its main result.
func (r *rawInterpreter) runCode(ctx context.Context, code string) (string, error) {
	body, err := json.Marshal(struct {
		Code string `json:"code"`
	}{code})
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/x-ndjson")
	req.Header.Set("User-Agent", "raw-http-bench")
	req.Header.Set(wire.HeaderSandboxID, r.sandboxID)
	req.Header.Set(wire.HeaderSandboxPort, strconv.Itoa(e2b.InterpreterPort))
	resp, err := r.hc.Do(req)
	if err != nil {
		return "", err
	}
	defer func() {
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %d", resp.StatusCode)
	}
	br := bufio.NewReader(resp.Body)
	text := ""
	for {
		line, err := br.ReadBytes('\n')
		if err != nil {
			return "", fmt.Errorf("the answer ended before end_of_execution: %w", err)
		}
		var ev struct {
			Type         string `json:"type"`
			Text         string `json:"text"`
			IsMainResult bool   `json:"is_main_result"`
		}
		if err := json.Unmarshal(line, &ev); err != nil {
			return "", err
		}
		switch {
		case ev.Type == "end_of_execution":
			return text, nil
		case ev.Type == "result" && ev.IsMainResult:
			text = ev.Text
		}
	}
}
