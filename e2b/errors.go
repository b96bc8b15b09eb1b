package e2b

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/tta-dev/tta/e2b/wire"
)

// Errors with identity. Test for them with errors.Is; the errors the package
// returns say through a Transient method whether trying the same call again
// can help, so a retry policy needs no string matching.
var (
	// ErrNoAPIKey is returned by NewClient when neither WithAPIKey nor the
	// E2B_API_KEY environment variable gives an API key.
	ErrNoAPIKey = errors.New("e2b: no API key: set the E2B_API_KEY environment variable or pass WithAPIKey (keys are at https://e2b.dev/dashboard?tab=keys)")

	// ErrInvalidAPIKey is returned by NewClient, before any request, when the API
	// key is not "e2b_" followed by hexadecimal digits. The message never
	// contains the key.
	ErrInvalidAPIKey = errors.New(`e2b: invalid API key: expected "e2b_" followed by hexadecimal digits, such as e2b_0123456789abcdef (keys are at https://e2b.dev/dashboard?tab=keys)`)

	// ErrUnauthorized is matched by an *APIError whose status is 401 or 403, or
	// whose Connect code is unauthenticated or permission_denied: a wrong API key,
	// or a missing or wrong sandbox access token. It is terminal.
	ErrUnauthorized = errors.New("e2b: unauthorized")

	// ErrNotFound is matched by an *APIError whose status is 404 or whose Connect
	// code is not_found (an unknown template, file, context or sandbox), and by
	// every error matching ErrSandboxNotFound. It is terminal.
	ErrNotFound = errors.New("e2b: not found")

	// ErrSandboxNotFound is matched by an *APIError that says the sandbox itself
	// is gone: the proxy's 502 "The sandbox was not found", or a 404 from a
	// control-plane call on one sandbox (Get, SetTimeout, Connect, Pause). The
	// sandbox was killed or timed out; it is terminal: never retry on it.
	ErrSandboxNotFound = errors.New("e2b: sandbox not found")

	// ErrPortNotOpen is matched by an *APIError for the proxy's 502 "The sandbox
	// is running but port is not open" (an answer carrying the port): the
	// sandbox exists but the service inside, such as the code interpreter, has
	// not started (yet). It is transient; a caller decides how long to wait.
	ErrPortNotOpen = errors.New("e2b: the sandbox is running but port is not open")

	// ErrExecutionInterrupted is returned by RunCode and RunCommand when the
	// stream of an execution broke off after the request was sent: the answer
	// ended without end_of_execution (or a command's end event), the connection
	// was cut, or a line could not be decoded. The code may have run, in part or
	// entirely, so running it again is not safe: the error is not transient. The
	// output received so far is returned alongside it.
	ErrExecutionInterrupted = errors.New("e2b: execution interrupted")

	// ErrExecutionTimeout is returned by RunCode and RunCommand when the
	// execution outlived its Timeout option; the code was interrupted (RunCode
	// closes the connection) or the process killed (RunCommand). The error also
	// matches context.DeadlineExceeded and is not transient.
	ErrExecutionTimeout = errors.New("e2b: execution timed out")

	// ErrRequestTimeout is matched by a *TransportError when a request outlived
	// the request timeout (WithRequestTimeout), or a stream's connection, or its
	// response headers once the request was written, did not arrive within it.
	// It is transient.
	ErrRequestTimeout = errors.New("e2b: request timed out")
)

// APIError is an error answer from the control plane, the sandbox proxy, envd
// or the code interpreter. It matches ErrUnauthorized, ErrNotFound,
// ErrSandboxNotFound and ErrPortNotOpen through errors.Is as their docs say.
//
// Transient reports whether the same call may succeed later: true for 408,
// 429, 500, 502 (including ErrPortNotOpen, but not ErrSandboxNotFound), 503
// and 504; false for everything else. RetryAfter returns the delay the server
// asked for with Retry-After, or zero.
//
// An APIError is a value: safe for concurrent reads.
type APIError struct {
	// Op names the failed call, such as "create sandbox" or "run code".
	Op string
	// StatusCode is the HTTP status; for a Connect error without one it is the
	// status Connect's specification maps the code to (not_found is 404).
	StatusCode int
	// Code is the numeric code of the answer's body ({"code":...}), or
	// StatusCode when the body had none.
	Code int
	// ErrorCode is the control plane's machine-readable error_code, if any.
	ErrorCode string
	// Message is the server's message, with any secret redacted: the body's
	// "message", or else its "detail" (the code interpreter's FastAPI errors,
	// a list of validation errors rendered as "loc: msg; ..."), or else the
	// body itself when it is not JSON, cut at 512 bytes. Empty when the
	// answer gave none.
	Message string
	// SandboxID is the sandbox the call was about, if any.
	SandboxID string
	// Port is the sandbox port the call was for (EnvdPort, InterpreterPort),
	// or the port named by the proxy's answer; zero for control-plane calls.
	Port int
	// RetryAfterDelay is the delay asked for by a Retry-After header (in seconds
	// or as an HTTP date), or zero.
	RetryAfterDelay time.Duration

	kind errorKind // set when decoding an answer; zero means "derive from fields"
}

// errorKind is what an APIError says about its sandbox.
type errorKind int

const (
	kindUnknown errorKind = iota
	kindOther
	kindPortNotOpen
	kindSandboxGone
)

// Error describes the failure: "e2b: <op>: sandbox <id> port <port>: <status>: <message>".
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("e2b: ")
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	if e.SandboxID != "" {
		fmt.Fprintf(&b, "sandbox %s ", e.SandboxID)
	}
	if e.Port != 0 {
		fmt.Fprintf(&b, "port %d ", e.Port)
	}
	fmt.Fprintf(&b, "status %d", e.StatusCode)
	if t := http.StatusText(e.StatusCode); t != "" {
		fmt.Fprintf(&b, " %s", t)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if e.ErrorCode != "" {
		fmt.Fprintf(&b, " (%s)", e.ErrorCode)
	}
	if e.RetryAfterDelay > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfterDelay)
	}
	return b.String()
}

// RetryAfter returns the delay the server asked for before trying again, or
// zero when it did not say.
func (e *APIError) RetryAfter() time.Duration { return e.RetryAfterDelay }

// Transient reports whether the same call may succeed if tried again later.
func (e *APIError) Transient() bool {
	switch e.kindOf() {
	case kindPortNotOpen:
		return true
	case kindSandboxGone:
		return false
	}
	switch e.StatusCode {
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// Is makes errors.Is match the package's sentinels as their docs say.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrPortNotOpen:
		return e.kindOf() == kindPortNotOpen
	case ErrSandboxNotFound:
		return e.kindOf() == kindSandboxGone
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound || e.kindOf() == kindSandboxGone
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden
	}
	return false
}

// kindOf returns the kind set at decoding, or derives it from the fields of an
// APIError built by hand.
func (e *APIError) kindOf() errorKind {
	if e.kind != kindUnknown {
		return e.kind
	}
	return kindFromMessage(e.StatusCode, e.Message, 0)
}

// kindFromMessage classifies a proxy answer: a 502 about a missing sandbox, or
// a 502 naming a port (or saying it is not open).
func kindFromMessage(status int, message string, bodyPort int) errorKind {
	if status != http.StatusBadGateway {
		return kindOther
	}
	lower := strings.ToLower(message)
	switch {
	case strings.Contains(lower, strings.ToLower(wire.MessageSandboxNotFound)):
		return kindSandboxGone
	case strings.Contains(lower, "port is not open"), bodyPort != 0:
		return kindPortNotOpen
	}
	return kindOther
}

// target says what a request was about, for errors.
type target struct {
	sandboxID string
	port      int
	// sandboxScoped is set for control-plane calls on one sandbox, where 404
	// means the sandbox is gone.
	sandboxScoped bool
}

// maxErrorBody bounds how much of an error answer is read.
const maxErrorBody = 64 << 10

// errorPayload covers the JSON error shapes: the control plane's and envd's
// {"code","message"}, the proxy's {"sandboxId","message","port","code"} and
// the code interpreter's (FastAPI's) {"detail"}.
type errorPayload struct {
	Code      json.RawMessage `json:"code"`
	ErrorCode string          `json:"error_code"`
	Message   string          `json:"message"`
	SandboxID string          `json:"sandboxId"`
	Port      json.RawMessage `json:"port"`
	Detail    json.RawMessage `json:"detail"`
}

// maxMessage bounds a message the package builds from an answer's body
// rather than takes from its "message" field.
const maxMessage = 512

// truncateMessage cuts s to at most maxMessage bytes, at a character
// boundary, marking the cut with "...".
func truncateMessage(s string) string {
	if len(s) <= maxMessage {
		return s
	}
	n := maxMessage
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

// detailMessage renders FastAPI's "detail", cut at maxMessage: a string as it
// is; a list of
// validation errors as their "msg" fields, each after its "loc" joined with
// dots ("body.code: Field required"), separated by "; "; anything else, or a
// list with an item lacking "msg", as compact JSON. null or absent is "".
func detailMessage(raw json.RawMessage) string {
	var v any
	if len(raw) == 0 || json.Unmarshal(raw, &v) != nil || v == nil {
		return ""
	}
	switch d := v.(type) {
	case string:
		return truncateMessage(d)
	case []any:
		if msg, ok := validationMessages(d); ok {
			return truncateMessage(msg)
		}
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return ""
	}
	return truncateMessage(b.String())
}

// validationMessages joins the items of a FastAPI validation error list;
// false when an item is not an object with a string "msg".
func validationMessages(items []any) (string, bool) {
	if len(items) == 0 {
		return "", false
	}
	var b strings.Builder
	for i, item := range items {
		obj, ok := item.(map[string]any)
		if !ok {
			return "", false
		}
		msg, ok := obj["msg"].(string)
		if !ok {
			return "", false
		}
		if i > 0 {
			b.WriteString("; ")
		}
		if loc, ok := obj["loc"].([]any); ok && len(loc) > 0 {
			for j, part := range loc {
				if j > 0 {
					b.WriteByte('.')
				}
				fmt.Fprint(&b, part)
			}
			b.WriteString(": ")
		}
		b.WriteString(msg)
	}
	return b.String(), true
}

// numericCode returns the payload's code when it is a JSON number.
func (p errorPayload) numericCode() (int, bool) {
	if len(p.Code) == 0 {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(p.Code)))
	return n, err == nil
}

// apiErrorFromBody builds the APIError for a non-2xx answer whose body has been
// read. Secrets in the server's message are redacted.
func apiErrorFromBody(op string, status int, header http.Header, body []byte, t target, red redactor) *APIError {
	e := &APIError{
		Op:              op,
		StatusCode:      status,
		Code:            status,
		SandboxID:       t.sandboxID,
		Port:            t.port,
		RetryAfterDelay: parseRetryAfter(header.Get(wire.HeaderRetryAfter), time.Now()),
	}
	bodyPort := 0
	var p errorPayload
	if json.Unmarshal(body, &p) == nil {
		if n, ok := p.numericCode(); ok {
			e.Code = n
		}
		e.ErrorCode = p.ErrorCode
		e.Message = p.Message
		if e.Message == "" {
			e.Message = detailMessage(p.Detail)
		}
		if p.SandboxID != "" && e.SandboxID == "" {
			e.SandboxID = p.SandboxID
		}
		if n, err := strconv.Atoi(strings.TrimSpace(string(p.Port))); err == nil && n > 0 {
			bodyPort = n
			e.Port = n
		}
	} else {
		e.Message = truncateMessage(strings.TrimSpace(string(body)))
	}
	e.Message = red.apply(e.Message)
	e.ErrorCode = red.apply(e.ErrorCode)
	e.kind = kindFromMessage(status, e.Message, bodyPort)
	if t.sandboxScoped && status == http.StatusNotFound {
		e.kind = kindSandboxGone
	}
	return e
}

// readAPIError reads (a bounded part of) resp's body, closes it, and returns
// the APIError it describes.
func readAPIError(op string, resp *http.Response, t target, red redactor) *APIError {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	_ = resp.Body.Close()
	return apiErrorFromBody(op, resp.StatusCode, resp.Header, body, t, red)
}

// maxRetryAfter caps a Retry-After delay, so a bogus header cannot stall a
// caller for days.
const maxRetryAfter = time.Hour

// parseRetryAfter reads a Retry-After value in seconds or as an HTTP date;
// anything else, or a time in the past, is zero.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		if n > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}

// TransportError is a failure to get an answer at all: the connection was
// refused or reset, a name did not resolve, TLS failed, or the request timed
// out (ErrRequestTimeout). Err keeps the cause.
//
// Transient is true for refused, reset, aborted and unreachable connections,
// connections closed early, network timeouts, temporary DNS failures and
// ErrRequestTimeout; false otherwise (a certificate or a name that does not
// exist will not fix itself). A cancelled or expired caller context is never
// reported as a TransportError.
//
// A TransportError is a value: safe for concurrent reads.
type TransportError struct {
	// Op names the failed call, such as "create sandbox".
	Op string
	// Err is the cause.
	Err error

	msg string // redacted text of Err
}

// Error describes the failure, with secrets redacted.
func (e *TransportError) Error() string {
	msg := e.msg
	if msg == "" && e.Err != nil {
		msg = redactor(nil).apply(e.Err.Error())
	}
	if e.Op == "" {
		return "e2b: " + msg
	}
	return "e2b: " + e.Op + ": " + msg
}

// Unwrap returns the cause.
func (e *TransportError) Unwrap() error { return e.Err }

// Transient reports whether trying again may succeed.
func (e *TransportError) Transient() bool { return transientTransport(e.Err) }

func transientTransport(err error) bool {
	if err == nil {
		return false
	}
	switch {
	case errors.Is(err, ErrRequestTimeout),
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, syscall.EPIPE),
		errors.Is(err, syscall.EHOSTUNREACH),
		errors.Is(err, syscall.ENETUNREACH),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, io.EOF),
		// The transport closed the connection under a request it was still
		// writing, because the peer reset it: the caller's context is not done
		// (requestFailure reports that first), so the connection broke.
		errors.Is(err, net.ErrClosed):
		return true
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return dnsErr.IsTemporary || dnsErr.IsTimeout
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return true
	}
	return false
}

// newTransportError wraps err, redacting secrets from its text.
func newTransportError(op string, err error, red redactor) *TransportError {
	return &TransportError{Op: op, Err: err, msg: red.apply(err.Error())}
}

// requestFailure turns the error of a request made under reqCtx, derived from
// the caller's ctx, into the package's error: the caller's context error when
// ctx is done (never transient), a TransportError with ErrRequestTimeout when
// the request timeout fired, or a TransportError keeping the cause.
func requestFailure(ctx, reqCtx context.Context, op string, err error, red redactor) error {
	if ctx.Err() != nil {
		return contextFailure(ctx, op)
	}
	if reqCtx != nil && errors.Is(context.Cause(reqCtx), ErrRequestTimeout) {
		return newTransportError(op, ErrRequestTimeout, red)
	}
	return newTransportError(op, err, red)
}

// contextFailure reports that ctx ended the call. It matches ctx.Err() and, when
// ctx was cancelled with a different cause, that cause too.
func contextFailure(ctx context.Context, op string) error {
	err, cause := ctx.Err(), context.Cause(ctx)
	if cause != nil && cause != err {
		return fmt.Errorf("e2b: %s: %w: %w", op, err, cause)
	}
	return fmt.Errorf("e2b: %s: %w", op, err)
}

// interruptedError reports ErrExecutionInterrupted: the code may have run.
type interruptedError struct {
	op     string
	reason string
	cause  error
	msg    string // redacted text of cause
}

func (e *interruptedError) Error() string {
	s := "e2b: " + e.op + ": execution interrupted: " + e.reason
	if e.msg != "" {
		s += ": " + e.msg
	}
	return s + " (the code may have run: it is not safe to run it again blindly)"
}

func (e *interruptedError) Is(target error) bool { return target == ErrExecutionInterrupted }
func (e *interruptedError) Unwrap() error        { return e.cause }

// Transient is false: the code may have run, so trying again is not safe.
func (e *interruptedError) Transient() bool { return false }

func newInterruptedError(op, reason string, cause error, red redactor) *interruptedError {
	e := &interruptedError{op: op, reason: reason, cause: cause}
	if cause != nil {
		e.msg = red.apply(cause.Error())
	}
	return e
}

// endsFirst reports whether a timeout started now ends strictly before ctx's
// deadline. When it does not, ctx's deadline governs the call, so that a
// caller's deadline (tta.Timeout, say) that ends at the same moment is
// reported as the caller's, not as this package's ErrExecutionTimeout:
// two timers due at one instant would otherwise race for the error's identity.
func endsFirst(ctx context.Context, timeout time.Duration) bool {
	dl, ok := ctx.Deadline()
	return !ok || time.Now().Add(timeout).Before(dl)
}

// timeoutError reports ErrExecutionTimeout; it also matches
// context.DeadlineExceeded.
type timeoutError struct {
	op      string
	timeout time.Duration
}

func (e *timeoutError) Error() string {
	return fmt.Sprintf("e2b: %s: execution timed out after %s", e.op, e.timeout)
}

func (e *timeoutError) Is(target error) bool {
	return target == ErrExecutionTimeout || target == context.DeadlineExceeded
}

// Transient is false: the same code would likely run as long again.
func (e *timeoutError) Transient() bool { return false }
