package e2b

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"syscall"
	"time"

	"connectrpc.com/connect"
)

// This file maps the errors of envd's Connect services to the package's error
// identity. The Connect clients speak the JSON codec (application/json for
// unary calls, application/connect+json for streams), as the JS SDK does.

// rpcFailure turns an error of a Connect call made under reqCtx (nil for a
// stream bounded by ctx alone), derived from the caller's ctx, into the
// package's error:
//   - the caller's context error when ctx is done or envd applied its deadline;
//   - a *TransportError with ErrRequestTimeout when the request timeout fired,
//     here or (through the deadline Connect sends) in envd;
//   - the *APIError envdDoer made from a proxy or JSON error answer;
//   - a *TransportError for a network failure;
//   - otherwise an *APIError whose status is the one Connect's specification
//     maps the code to (unavailable 503, not_found 404, unauthenticated 401,
//     permission_denied 403, resource_exhausted 429, ...), with the message.
func (s *Sandbox) rpcFailure(ctx, reqCtx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return contextFailure(ctx, op)
	}
	if reqCtx != nil && errors.Is(context.Cause(reqCtx), ErrRequestTimeout) {
		return newTransportError(op, ErrRequestTimeout, s.red)
	}
	if connect.IsWireError(err) && connect.CodeOf(err) == connect.CodeDeadlineExceeded {
		// envd applied the deadline Connect sent (Connect-Timeout-Ms) and answered
		// a moment before the deadline passed here: report whose deadline it was.
		parent, hasParent := ctx.Deadline()
		var own time.Time
		hasOwn := false
		if reqCtx != nil {
			own, hasOwn = reqCtx.Deadline()
		}
		switch {
		case hasOwn && (!hasParent || own.Before(parent)):
			return newTransportError(op, ErrRequestTimeout, s.red)
		case hasParent:
			return fmt.Errorf("e2b: %s: %w", op, context.DeadlineExceeded)
		}
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		e := *apiErr
		e.Op = op
		return &e
	}
	if !connect.IsWireError(err) && isNetworkError(err) {
		return newTransportError(op, err, s.red)
	}
	code := connect.CodeOf(err)
	msg := err.Error()
	var ce *connect.Error
	if errors.As(err, &ce) {
		msg = ce.Message()
	}
	status := httpStatusForCode(code)
	return &APIError{
		Op:         op,
		StatusCode: status,
		Code:       status,
		Message:    s.red.apply(msg),
		SandboxID:  s.id,
		Port:       EnvdPort,
		kind:       kindOther,
	}
}

// isNetworkError reports whether err comes from the network rather than from
// an answer: a failed request, a broken connection or a cut stream.
func isNetworkError(err error) bool {
	var urlErr *url.Error
	var netErr net.Error
	var errno syscall.Errno
	return errors.As(err, &urlErr) || errors.As(err, &netErr) || errors.As(err, &errno) ||
		errors.Is(err, io.ErrUnexpectedEOF)
}

// httpStatusForCode maps a Connect code to an HTTP status as Connect's
// specification does.
func httpStatusForCode(code connect.Code) int {
	switch code {
	case connect.CodeCanceled:
		return 499
	case connect.CodeInvalidArgument, connect.CodeFailedPrecondition, connect.CodeOutOfRange:
		return http.StatusBadRequest
	case connect.CodeDeadlineExceeded:
		return http.StatusGatewayTimeout
	case connect.CodeNotFound:
		return http.StatusNotFound
	case connect.CodeAlreadyExists, connect.CodeAborted:
		return http.StatusConflict
	case connect.CodePermissionDenied:
		return http.StatusForbidden
	case connect.CodeResourceExhausted:
		return http.StatusTooManyRequests
	case connect.CodeUnimplemented:
		return http.StatusNotImplemented
	case connect.CodeUnavailable:
		return http.StatusServiceUnavailable
	case connect.CodeUnauthenticated:
		return http.StatusUnauthorized
	default: // unknown, internal, data_loss
		return http.StatusInternalServerError
	}
}
