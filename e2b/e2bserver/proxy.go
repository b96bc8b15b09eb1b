package e2bserver

import (
	"context"
	"crypto/subtle"
	"net/http"
	"strings"
	"time"

	"github.com/tta-dev/tta/e2b"
	"github.com/tta-dev/tta/e2b/wire"
)

// Message of envd's 401 answer on a secured sandbox.
const msgEnvdUnauthorized = "unauthorized access, please provide a valid access token or method signing if supported"

// sandboxKey is the context key of the *target a sandbox request is for.
type sandboxKey struct{}

// target is the sandbox a request reached, with its traffic context (done when
// the sandbox is killed, expires or is paused).
type target struct {
	sb  *sandbox
	ctx context.Context
	// cancel ends the request's context, which serveSandbox derived.
	cancel context.CancelFunc
}

// targetFrom returns the sandbox a request routed by serveSandbox is for.
func targetFrom(ctx context.Context) *target {
	t, _ := ctx.Value(sandboxKey{}).(*target)
	return t
}

// targetCtx is the context serveSandbox gives a request: Context is the
// request's, also cancelled when the sandbox goes away, and the target is its
// value under sandboxKey. One allocation holds both.
type targetCtx struct {
	context.Context
	t target
}

// Value returns the target for sandboxKey and defers to Context otherwise.
func (c *targetCtx) Value(key any) any {
	if _, ok := key.(sandboxKey); ok {
		return &c.t
	}
	return c.Context.Value(key)
}

// gone reports whether the sandbox went away (killed, expired, paused).
func (t *target) gone() bool { return t.ctx.Err() != nil }

// abortIfGone aborts the connection when the sandbox went away during the
// request, as E2B's proxy drops connections to a sandbox that disappears.
func (t *target) abortIfGone() {
	if t.gone() {
		panic(http.ErrAbortHandler)
	}
}

// writeProxyError answers 502 like E2B's sandbox proxy. port 0 means the sandbox
// itself was not found.
func writeProxyError(w http.ResponseWriter, id string, port int) {
	body := wire.ProxyErrorBody{SandboxID: id, Message: wire.MessageSandboxNotFound, Code: http.StatusBadGateway}
	if port != 0 {
		body.Message = wire.MessagePortNotOpen
		body.Port = port
	}
	writeJSON(w, http.StatusBadGateway, body)
}

// sandboxOp classifies a request to a sandbox port.
func sandboxOp(port int, r *http.Request) Op {
	p := r.URL.Path
	switch port {
	case e2b.EnvdPort:
		switch {
		case p == "/health":
			return OpEnvdProbe
		case p == "/files":
			return OpFiles
		case strings.HasPrefix(p, "/process.Process/"):
			return OpCommand
		case strings.HasPrefix(p, "/filesystem.Filesystem/"):
			return OpFilesystem
		}
		return OpEnvdOther
	case e2b.InterpreterPort:
		switch {
		case p == "/health":
			return OpProbe
		case p == "/execute":
			return OpRun
		case p == "/contexts" || strings.HasPrefix(p, "/contexts/"):
			return OpContext
		}
		return OpInterpreterOther
	}
	return OpOtherPort
}

// serveSandbox answers a request for port of sandbox id, as E2B's proxy and the
// services behind it do.
func (s *Server) serveSandbox(w http.ResponseWriter, r *http.Request, id string, port int) {
	r = withCleanPath(r)
	sb, sctx, ok := s.liveSandbox(id)
	if !ok {
		writeProxyError(w, id, 0)
		return
	}
	if s.applyFaults(w, r, callInfo{op: sandboxOp(port, r), template: sb.template, sandboxID: id}) {
		return
	}

	var h http.Handler
	open := false
	switch port {
	case e2b.EnvdPort:
		h = s.envd
		open = sb.inst.PortOpen(port)
	case e2b.InterpreterPort:
		h = s.interpreter
		s.mu.Lock()
		open = sb.interpreterOpenLocked(time.Now())
		s.mu.Unlock()
		open = open && sb.inst.PortOpen(port)
	}
	if !open {
		writeProxyError(w, id, port)
		return
	}
	if port == e2b.EnvdPort && sb.accessToken != "" && !envdAccessAllowed(w, r, sb) {
		return
	}

	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(sctx, cancel)
	defer stop()
	h.ServeHTTP(w, r.WithContext(&targetCtx{Context: ctx, t: target{sb: sb, ctx: sctx, cancel: cancel}}))
}

// envdAccessAllowed checks X-Access-Token on a secured sandbox's envd and
// answers 401 as envd does when it is missing or wrong. GET /health is open;
// /files checks the token itself (it also accepts signed URLs).
//
// Only envd checks the token. E2B's proxy does not, and neither does the code
// interpreter: E2B's official SDKs send X-Access-Token to port 49999 on
// /execute but not on /contexts, so a check there would break contexts on
// every secured sandbox.
func envdAccessAllowed(w http.ResponseWriter, r *http.Request, sb *sandbox) bool {
	if r.URL.Path == "/files" || (r.Method == http.MethodGet && r.URL.Path == "/health") {
		return true
	}
	if tokenMatches(r.Header.Get(wire.HeaderAccessToken), sb.accessToken) {
		return true
	}
	writeError(w, http.StatusUnauthorized, msgEnvdUnauthorized)
	return false
}

// withCleanPath collapses repeated slashes in a sandbox request's path. E2B's
// code-interpreter SDK appends "/execute" to E2B_SANDBOX_URL verbatim, so a
// base URL ending in "/" asks for "//execute"; net/http's ServeMux would
// answer that with a redirect, which turns the POST into a GET.
func withCleanPath(r *http.Request) *http.Request {
	if !strings.Contains(r.URL.Path, "//") {
		return r
	}
	u := *r.URL
	for strings.Contains(u.Path, "//") {
		u.Path = strings.ReplaceAll(u.Path, "//", "/")
	}
	u.RawPath = ""
	r = r.WithContext(r.Context()) // a shallow copy: the caller's request is not changed
	r.URL = &u
	return r
}

func tokenMatches(got, want string) bool {
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}
