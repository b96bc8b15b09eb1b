package e2b

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta/e2b/wire"
)

func TestControlPlaneErrorAnswers(t *testing.T) {
	tests := []struct {
		name          string
		status        int
		header        map[string]string
		body          string
		wantIs        []error
		wantNot       []error
		wantTransient bool
		wantRetry     time.Duration
		wantMessage   string
	}{
		{
			name: "401 bad key", status: 401, body: `{"code":401,"message":"Invalid API key"}`,
			wantIs: []error{ErrUnauthorized}, wantNot: []error{ErrNotFound}, wantMessage: "Invalid API key",
		},
		{
			name: "403 forbidden", status: 403, body: `{"code":403,"message":"forbidden"}`,
			wantIs: []error{ErrUnauthorized},
		},
		{
			name: "404 unknown template", status: 404, body: `{"code":404,"message":"template 'nope' not found"}`,
			wantIs: []error{ErrNotFound}, wantNot: []error{ErrSandboxNotFound}, wantMessage: "template 'nope' not found",
		},
		{
			name: "429 with Retry-After seconds", status: 429, header: map[string]string{"Retry-After": "7"},
			body: `{"code":429,"message":"rate limited"}`, wantTransient: true, wantRetry: 7 * time.Second,
		},
		{
			name: "429 without Retry-After", status: 429, body: `{"code":429,"message":"rate limited"}`,
			wantTransient: true,
		},
		{
			name: "500", status: 500, body: `{"code":500,"error_code":"sandbox_create_failed","message":"boom"}`,
			wantTransient: true, wantMessage: "boom",
		},
		{
			name: "503", status: 503, body: `{"code":503,"error_code":"sandbox_capacity_unavailable","message":"no capacity"}`,
			wantTransient: true,
		},
		{
			name: "504", status: 504, body: `{"code":504,"message":"timeout"}`, wantTransient: true,
		},
		{
			name: "400", status: 400, body: `{"code":400,"message":"bad timeout"}`, wantNot: []error{ErrUnauthorized, ErrNotFound},
		},
		{
			name: "non-JSON 502 from a load balancer", status: 502, body: `<html>bad gateway</html>`,
			wantTransient: true, wantNot: []error{ErrPortNotOpen, ErrSandboxNotFound}, wantMessage: "<html>bad gateway</html>",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestClient(t, &recorder{status: tt.status, header: tt.header, body: tt.body})
			_, err := c.Create(context.Background(), CreateOptions{})
			require.Error(t, err)
			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, tt.status, apiErr.StatusCode)
			assert.Equal(t, tt.status, apiErr.Code)
			assert.Equal(t, "create sandbox", apiErr.Op)
			assert.Equal(t, tt.wantTransient, apiErr.Transient())
			assert.Equal(t, tt.wantRetry, apiErr.RetryAfter())
			for _, target := range tt.wantIs {
				assert.ErrorIs(t, err, target)
			}
			for _, target := range tt.wantNot {
				assert.NotErrorIs(t, err, target)
			}
			if tt.wantMessage != "" {
				assert.Equal(t, tt.wantMessage, apiErr.Message)
			}
			assert.Regexp(t, `^e2b: create sandbox: status \d+`, err.Error())
		})
	}
}

func TestProxyErrorAnswers(t *testing.T) {
	tests := []struct {
		name          string
		body          string
		wantIs        []error
		wantNot       []error
		wantTransient bool
		wantPort      int
	}{
		{
			name:   "port not open",
			body:   `{"sandboxId":"sbx1","message":"The sandbox is running but port is not open","port":49999,"code":502}`,
			wantIs: []error{ErrPortNotOpen}, wantNot: []error{ErrSandboxNotFound, ErrNotFound},
			wantTransient: true, wantPort: 49999,
		},
		{
			name:   "sandbox not found",
			body:   `{"sandboxId":"sbx1","message":"The sandbox was not found","code":502}`,
			wantIs: []error{ErrSandboxNotFound, ErrNotFound}, wantNot: []error{ErrPortNotOpen},
			wantTransient: false, wantPort: InterpreterPort,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestClient(t, &recorder{status: http.StatusBadGateway, body: tt.body})
			err := testSandbox(c, false).InterpreterHealth(context.Background())
			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, 502, apiErr.StatusCode)
			assert.Equal(t, "sbx1", apiErr.SandboxID)
			assert.Equal(t, tt.wantPort, apiErr.Port)
			assert.Equal(t, tt.wantTransient, apiErr.Transient())
			for _, target := range tt.wantIs {
				assert.ErrorIs(t, err, target)
			}
			for _, target := range tt.wantNot {
				assert.NotErrorIs(t, err, target)
			}
		})
	}
}

func TestInterpreterDetailAnswers(t *testing.T) {
	bigDetail := `{"detail":{"k":"` + strings.Repeat("x", 1000) + `"}}`
	tests := []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"string detail", 413, `{"detail":"the body is larger than the limit of 16 MiB: upload large data as a file"}`,
			"the body is larger than the limit of 16 MiB: upload large data as a file"},
		{"validation errors", 422, `{"detail":[` +
			`{"type":"missing","loc":["body","code"],"msg":"Field required","input":{}},` +
			`{"type":"dict_type","loc":["body","env_vars",0],"msg":"Input should be a valid dictionary"},` +
			`{"msg":"no location"}]}`,
			"body.code: Field required; body.env_vars.0: Input should be a valid dictionary; no location"},
		{"object detail", 400, `{"detail": {"reason": "bad", "n": 1}}`, `{"reason":"bad","n":1}`},
		{"list without msg", 400, `{"detail":[1, {"loc":["x"]}]}`, `[1,{"loc":["x"]}]`},
		{"number detail", 400, `{"detail":42}`, `42`},
		{"message wins", 400, `{"message":"from message","detail":"from detail"}`, "from message"},
		{"empty message falls back", 400, `{"message":"","detail":"from detail"}`, "from detail"},
		{"null detail", 400, `{"detail":null}`, ""},
		{"long detail is cut", 400, bigDetail, `{"k":"` + strings.Repeat("x", maxMessage-6) + "..."},
		{"plain text cut between characters, not inside one", 400, strings.Repeat("x", maxMessage-1) + "é and more",
			strings.Repeat("x", maxMessage-1) + "..."},
		{"secrets are redacted", 401, `{"detail":"token envd-token-7f3a9c and key e2b_0123456789abcdef0123456789abcdef refused"}`,
			"token [redacted] and key [redacted] refused"},
		{"secrets in a list are redacted", 422, `{"detail":[{"loc":["header"],"msg":"bad envd-token-7f3a9c"}]}`,
			"header: bad [redacted]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestClient(t, &recorder{status: tt.status, body: tt.body})
			_, err := testSandbox(c, true).RunCode(context.Background(), "x", RunCodeOptions{})
			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, tt.status, apiErr.StatusCode)
			assert.Equal(t, tt.want, apiErr.Message)
			if tt.want != "" {
				assert.Contains(t, err.Error(), tt.want)
			}
		})
	}
}

func TestAPIErrorBuiltByHand(t *testing.T) {
	portErr := &APIError{StatusCode: 502, Message: wire.MessagePortNotOpen, Port: 49999}
	assert.ErrorIs(t, portErr, ErrPortNotOpen)
	assert.True(t, portErr.Transient())

	goneErr := &APIError{StatusCode: 502, Message: wire.MessageSandboxNotFound}
	assert.ErrorIs(t, goneErr, ErrSandboxNotFound)
	assert.ErrorIs(t, goneErr, ErrNotFound)
	assert.False(t, goneErr.Transient())

	wrapped := fmt.Errorf("outer: %w", portErr)
	assert.ErrorIs(t, wrapped, ErrPortNotOpen)
	assert.Equal(t, "e2b: status 502 Bad Gateway: The sandbox is running but port is not open", (&APIError{StatusCode: 502, Message: wire.MessagePortNotOpen}).Error())
	assert.Equal(t, "e2b: run code: sandbox sbx1 port 49999 status 429 Too Many Requests: slow down (retry after 2s)",
		(&APIError{Op: "run code", SandboxID: "sbx1", Port: 49999, StatusCode: 429, Message: "slow down", RetryAfterDelay: 2 * time.Second}).Error())
}

func TestTransientClassification(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"400", &APIError{StatusCode: 400}, false},
		{"401", &APIError{StatusCode: 401}, false},
		{"403", &APIError{StatusCode: 403}, false},
		{"404", &APIError{StatusCode: 404}, false},
		{"408", &APIError{StatusCode: 408}, true},
		{"409", &APIError{StatusCode: 409}, false},
		{"429", &APIError{StatusCode: 429}, true},
		{"500", &APIError{StatusCode: 500}, true},
		{"501", &APIError{StatusCode: 501}, false},
		{"502 port not open", &APIError{StatusCode: 502, Message: wire.MessagePortNotOpen, Port: 49999}, true},
		{"502 sandbox not found", &APIError{StatusCode: 502, Message: wire.MessageSandboxNotFound}, false},
		{"502 other", &APIError{StatusCode: 502}, true},
		{"503", &APIError{StatusCode: 503}, true},
		{"504", &APIError{StatusCode: 504}, true},
		{"507 disk full", &APIError{StatusCode: 507}, false},
		{"connection refused", &TransportError{Err: syscall.ECONNREFUSED}, true},
		{"connection reset", &TransportError{Err: &net.OpError{Op: "read", Err: syscall.ECONNRESET}}, true},
		{"unexpected EOF", &TransportError{Err: io.ErrUnexpectedEOF}, true},
		{"closed under a request being written", &TransportError{Err: &net.OpError{Op: "write", Err: net.ErrClosed}}, true},
		{"request timeout", &TransportError{Err: ErrRequestTimeout}, true},
		{"temporary DNS", &TransportError{Err: &net.DNSError{IsTemporary: true}}, true},
		{"unknown host", &TransportError{Err: &net.DNSError{IsNotFound: true}}, false},
		{"other transport failure", &TransportError{Err: errors.New("tls: bad certificate")}, false},
		{"interrupted execution", newInterruptedError("run code", "cut", &TransportError{Err: syscall.ECONNRESET}, nil), false},
		{"execution timeout", &timeoutError{op: "run code", timeout: time.Second}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tr transient
			require.ErrorAs(t, tt.err, &tr)
			assert.Equal(t, tt.want, tr.Transient())
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		value string
		want  time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"3", 3 * time.Second},
		{" 12 ", 12 * time.Second},
		{"-5", 0},
		{"999999999", maxRetryAfter},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"soon", 0},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			assert.Equal(t, tt.want, parseRetryAfter(tt.value, now))
		})
	}
}

func TestConnectionRefusedIsATransientTransportError(t *testing.T) {
	addr := refusingAddr(t)

	clearEnv(t)
	c, err := NewClient(WithAPIKey(testKey), WithAPIURL("http://"+addr))
	require.NoError(t, err)
	_, err = c.Create(context.Background(), CreateOptions{})
	var te *TransportError
	require.ErrorAs(t, err, &te)
	assert.True(t, te.Transient())
	assert.ErrorIs(t, err, syscall.ECONNREFUSED)
	assert.Equal(t, "create sandbox", te.Op)
	assert.Contains(t, err.Error(), "e2b: create sandbox: ")
}

func TestConnectionResetIsATransientTransportError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		buf := make([]byte, 1024)
		_, _ = conn.Read(buf) // the request has arrived
		_ = conn.(*net.TCPConn).SetLinger(0)
		_ = conn.Close() // RST
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
	})

	clearEnv(t)
	c, err := NewClient(WithAPIKey(testKey), WithAPIURL("http://"+ln.Addr().String()))
	require.NoError(t, err)
	_, err = c.Get(context.Background(), "sbx1")
	var te *TransportError
	require.ErrorAs(t, err, &te)
	assert.True(t, te.Transient(), "cause: %v", te.Err)
}

func TestCancelledContextIsNotATransportError(t *testing.T) {
	c := newTestClient(t, &recorder{status: http.StatusCreated, body: createdAnswer})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.Create(ctx, CreateOptions{})
	require.ErrorIs(t, err, context.Canceled)
	var te *TransportError
	assert.False(t, errors.As(err, &te))
	var tr transient
	assert.False(t, errors.As(err, &tr), "a context error carries no Transient verdict")
	assert.Contains(t, err.Error(), "e2b: create sandbox: ")
}

func TestContextCauseIsKept(t *testing.T) {
	c := newTestClient(t, &recorder{status: http.StatusCreated, body: createdAnswer})
	errMine := errors.New("my deadline")
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(errMine)
	_, err := c.Create(ctx, CreateOptions{})
	assert.ErrorIs(t, err, context.Canceled)
	assert.ErrorIs(t, err, errMine)
}

func TestRequestTimeoutOfAControlPlaneCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hang := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			<-r.Context().Done()
			return nil, r.Context().Err()
		})
		clearEnv(t)
		c, err := NewClient(WithAPIKey(testKey), WithHTTPClient(&http.Client{Transport: hang}), WithRequestTimeout(time.Minute))
		require.NoError(t, err)
		start := time.Now()
		_, err = c.Get(context.Background(), "sbx1")
		assert.Equal(t, time.Minute, time.Since(start))
		var te *TransportError
		require.ErrorAs(t, err, &te)
		assert.ErrorIs(t, err, ErrRequestTimeout)
		assert.True(t, te.Transient())
		assert.NotErrorIs(t, err, context.DeadlineExceeded, "the caller's context did not expire")
	})
}
