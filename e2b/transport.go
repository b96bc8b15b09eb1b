package e2b

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"time"
)

// This file holds the HTTP plumbing shared by the control plane and the
// sandboxes: the default transports and the two ways a request is bounded.
//
// The package retries nothing, not even establishing a connection: every
// failure is returned at once with its identity and a Transient verdict, and
// the caller's retry policy decides.

// newControlTransport returns the control plane's transport: the standard one,
// HTTP/2 allowed.
func newControlTransport() *http.Transport {
	return http.DefaultTransport.(*http.Transport).Clone()
}

// newSandboxTransport returns the transport for sandbox traffic. It speaks
// HTTP/1.1 only, as the official SDKs do for executions: closing the
// connection is what interrupts a running cell, and with HTTP/2 cancelling a
// request would only reset its stream.
//
// Every switch is set, because a clone of the default transport already offers
// "h2" in its TLS configuration: left there, a server would pick HTTP/2 that
// this transport then could not speak.
func newSandboxTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.ForceAttemptHTTP2 = false
	t.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	if t.TLSClientConfig == nil {
		t.TLSClientConfig = &tls.Config{}
	}
	t.TLSClientConfig.NextProtos = []string{"http/1.1"}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	t.Protocols = &protocols
	return t
}

// sameHostRedirects follows a redirect only to the host of the first request,
// at most 10 times. The API key and tokens travel in custom headers, which
// net/http would forward to any host; a redirect elsewhere is returned as the
// answer instead (an *APIError with its 3xx status).
func sameHostRedirects(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if req.URL.Host != via[0].URL.Host {
		return http.ErrUseLastResponse
	}
	return nil
}

// withRequestTimeout derives the context of a non-streaming call: it ends after
// the request timeout (with cause ErrRequestTimeout) or with ctx. A zero
// timeout only derives a cancellable context.
func withRequestTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeoutCause(ctx, d, ErrRequestTimeout)
}

// sendStreaming sends req, whose body may take long to read, bounding by
// headerTimeout (zero: unbounded) the wait for a connection and, once the
// request has been written, the wait for the response headers; writing the
// request body (an upload) and reading the answer are bounded by ctx alone,
// never by a client timeout. The phases are told apart by the transport's
// httptrace hooks; with a RoundTripper that reports none, headerTimeout bounds
// everything up to the response headers. When sent is not nil it is set as
// traceSent sets it. On success the caller must close the body and then call
// release. Errors are the package's (see requestFailure).
func sendStreaming(ctx context.Context, hc *http.Client, req *http.Request, headerTimeout time.Duration, sent *atomic.Bool, op string, red redactor) (resp *http.Response, release func(), err error) {
	reqCtx, cancel := context.WithCancelCause(ctx)
	st := &streamTrace{d: headerTimeout, cancel: cancel, sent: sentFlag{sent}}
	if headerTimeout > 0 {
		st.t = time.AfterFunc(headerTimeout, st.fire)
	}
	traced := reqCtx
	if headerTimeout > 0 || sent != nil {
		traced = httptrace.WithClientTrace(reqCtx, &httptrace.ClientTrace{
			WroteHeaders:         st.wroteHeaders,
			WroteRequest:         st.wroteRequest,
			GotFirstResponseByte: st.sent.gotFirstResponseByte,
		})
	}
	resp, err = hc.Do(req.WithContext(traced))
	if st.finish() {
		// The connection or the headers came too late, or not at all.
		if err == nil {
			_ = resp.Body.Close()
		}
		cancel(nil)
		if ctx.Err() != nil {
			return nil, nil, contextFailure(ctx, op)
		}
		return nil, nil, newTransportError(op, ErrRequestTimeout, red)
	}
	if err != nil {
		cancel(nil)
		return nil, nil, requestFailure(ctx, nil, op, err, red)
	}
	return resp, func() { cancel(nil) }, nil
}

// streamTrace follows a request of sendStreaming through its httptrace hooks,
// which the transport calls from its own goroutines, possibly after Do has
// returned (a server may answer before reading the whole body).
//
// Its timer is the request timeout. It runs from the start of the request
// until the request headers are written, stands still while the body is
// written, and runs again, afresh, from when the whole request has been written
// until the response headers arrive; finish stops it for good.
type streamTrace struct {
	d      time.Duration
	cancel context.CancelCauseFunc
	sent   sentFlag

	mu    sync.Mutex
	t     *time.Timer // nil without a timeout
	fired bool        // the timeout has cancelled, or is cancelling, the request
	done  bool        // finish was called
}

// fire cancels the request with ErrRequestTimeout, unless finish came first.
func (st *streamTrace) fire() {
	st.mu.Lock()
	if st.done {
		st.mu.Unlock()
		return
	}
	st.fired = true
	st.mu.Unlock()
	st.cancel(ErrRequestTimeout)
}

// wroteHeaders stops the timer while the request body is written.
func (st *streamTrace) wroteHeaders() {
	if st.t == nil {
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.t.Stop()
}

// wroteRequest starts a full timeout for the wait for the response headers,
// unless the request has timed out or Do has returned, and records a request
// sent whole.
func (st *streamTrace) wroteRequest(info httptrace.WroteRequestInfo) {
	st.sent.wroteRequest(info)
	if st.t == nil {
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.done && !st.fired {
		st.t.Reset(st.d)
	}
}

// finish stops the timer for good and reports whether it fired.
func (st *streamTrace) finish() (fired bool) {
	if st.t == nil {
		return false
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.done = true
	st.t.Stop()
	return st.fired
}

// traceSent returns ctx with a trace that sets sent once the request has been
// written or its answer has begun: from then on the server may have acted on
// it, so a failure no longer proves that nothing ran.
func traceSent(ctx context.Context, sent *atomic.Bool) context.Context {
	f := sentFlag{sent}
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest:         f.wroteRequest,
		GotFirstResponseByte: f.gotFirstResponseByte,
	})
}

// sentFlag sets the flag it points to once a request has been written whole
// or its answer has begun (see traceSent); a nil one sets nothing.
type sentFlag struct{ p *atomic.Bool }

func (f sentFlag) wroteRequest(info httptrace.WroteRequestInfo) {
	if f.p != nil && info.Err == nil {
		f.p.Store(true)
	}
}

func (f sentFlag) gotFirstResponseByte() {
	if f.p != nil {
		f.p.Store(true)
	}
}

// maxDrain bounds how much of an unread answer is read before closing it, so
// that its connection can be reused.
const maxDrain = 64 << 10

// drainClose reads what is left of a short answer and closes it.
func drainClose(body io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, maxDrain))
	_ = body.Close()
}
