package e2b

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
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

// sendStreaming sends req, whose body may take long to read, bounding only the
// wait for the response headers by headerTimeout (zero: unbounded). The stream
// itself is bounded by ctx alone, never by a client timeout. On success the
// caller must close the body and then call release. Errors are the package's
// (see requestFailure).
func sendStreaming(ctx context.Context, hc *http.Client, req *http.Request, headerTimeout time.Duration, op string, red redactor) (resp *http.Response, release func(), err error) {
	reqCtx, cancel := context.WithCancelCause(ctx)
	var timer *time.Timer
	if headerTimeout > 0 {
		timer = time.AfterFunc(headerTimeout, func() { cancel(ErrRequestTimeout) })
	}
	resp, err = hc.Do(req.WithContext(reqCtx))
	if timer != nil && !timer.Stop() {
		// The headers came too late, or not at all.
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

// traceSent returns ctx with a trace that sets sent once the request has been
// written or its answer has begun: from then on the server may have acted on
// it, so a failure no longer proves that nothing ran.
func traceSent(ctx context.Context, sent *atomic.Bool) context.Context {
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err == nil {
				sent.Store(true)
			}
		},
		GotFirstResponseByte: func() { sent.Store(true) },
	})
}

// maxDrain bounds how much of an unread answer is read before closing it, so
// that its connection can be reused.
const maxDrain = 64 << 10

// drainClose reads what is left of a short answer and closes it.
func drainClose(body io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, maxDrain))
	_ = body.Close()
}
