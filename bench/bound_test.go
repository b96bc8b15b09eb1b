package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkExecuteBound measures what the requests of BenchmarkExecute cost
// on this machine's loopback with no work behind them: the same requests,
// sent by a minimal net/http client to a minimal net/http server that answers
// each with canned bytes (Content-Length set, nothing parsed but the request
// body it discards).
//
// Each iteration times, one after the other so that both see the same load,
// what a call without a pool must send (POST /sandboxes, GET /health on the
// interpreter, POST /execute read to end_of_execution, DELETE
// /sandboxes/{id}) and what a call with a ready sandbox must send (the POST
// /execute), and reports their mean latencies as cold-ns/call and
// warm-ns/call, and cold-ns/call divided by warm-ns/call as cold/warm.
//
// warm-ns/call is the floor of a warm Execute: no client or server can run
// code with less than that exchange. cold/warm is the ratio when every
// request costs only its exchange; a real server and client add work to each
// request, which moves the ratio up where create and kill carry more of it
// than the run, and down where the run does.
func BenchmarkExecuteBound(b *testing.B) {
	srv := httptest.NewServer(boundHandler())
	defer srv.Close()
	ctx := context.Background()
	raw := newRawInterpreter(srv.URL, "bound")
	defer raw.hc.CloseIdleConnections()

	var lat coldWarm
	b.ReportAllocs()
	for b.Loop() {
		lat.timeCold(func() {
			id, err := raw.create(ctx, srv.URL)
			if err != nil {
				b.Fatal(err)
			}
			if err := raw.send(ctx, http.MethodGet, srv.URL+"/health", http.StatusOK); err != nil {
				b.Fatal(err)
			}
			if text, err := raw.runCode(ctx, "1+1"); err != nil || text != "2" {
				b.Fatalf("run: %q, %v; want \"2\"", text, err)
			}
			if err := raw.send(ctx, http.MethodDelete, srv.URL+"/sandboxes/"+id, http.StatusNoContent); err != nil {
				b.Fatal(err)
			}
		})
		lat.timeWarm(func() {
			if text, err := raw.runCode(ctx, "1+1"); err != nil || text != "2" {
				b.Fatalf("run: %q, %v; want \"2\"", text, err)
			}
		})
	}
	lat.report(b)
}

// Canned answers of the bound server, the sizes of the E2B-compatible
// server's answers to the same requests.
var (
	boundCreated = []byte(`{"sandboxID":"ibound0000000000000000","templateID":"code-interpreter-v1","alias":"code-interpreter-v1","clientID":"6532622b","envdVersion":"0.2.0","envdAccessToken":"0123456789abcdef0123456789abcdef","domain":null}`)
	boundHealth  = []byte(`"OK"`)
	boundEvents  = []byte(`{"type":"number_of_executions","execution_count":1}
{"type":"result","text":"2","is_main_result":true}
{"type":"end_of_execution"}
`)
)

// boundHandler answers the four requests of a cold call with canned bytes.
func boundHandler() http.Handler {
	answer := func(status int, contentType string, body []byte) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			if body != nil {
				w.Header().Set("Content-Type", contentType)
			}
			w.WriteHeader(status)
			_, _ = w.Write(body)
		}
	}
	mux := http.NewServeMux()
	mux.Handle("POST /sandboxes", answer(http.StatusCreated, "application/json", boundCreated))
	mux.Handle("GET /health", answer(http.StatusOK, "application/json", boundHealth))
	mux.Handle("POST /execute", answer(http.StatusOK, "application/x-ndjson", boundEvents))
	mux.Handle("DELETE /sandboxes/{id}", answer(http.StatusNoContent, "", nil))
	return mux
}

// create sends the create request the E2B adapter sends and returns the new
// sandbox's ID.
func (r *rawInterpreter) create(ctx context.Context, baseURL string) (string, error) {
	body := []byte(`{"templateID":"code-interpreter-v1","timeout":300,"secure":true,"metadata":{"tta.template":"code-interpreter-v1"}}`)
	var created struct {
		SandboxID string `json:"sandboxID"`
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/sandboxes", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.hc.Do(req)
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("create: status %d", resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&created); err != nil {
		return "", err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return created.SandboxID, nil
}

// send sends a request without a body, reads the answer and checks its status.
func (r *rawInterpreter) send(ctx context.Context, method, url string, want int) error {
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return err
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: status %d, want %d", method, url, resp.StatusCode, want)
	}
	return nil
}
