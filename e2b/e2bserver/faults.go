package e2bserver

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/tta-dev/tta/e2b/wire"
)

// Op names a kind of call the Server answers: control-plane operations and the
// endpoints of a sandbox's ports. Faults select the calls they affect by Op, and
// Server.Calls counts calls by Op. The names are those package ttatest uses for
// the same operations.
type Op string

// Control-plane operations.
const (
	OpCreate     Op = "create"      // POST /sandboxes, POST /v2/sandboxes
	OpGet        Op = "get"         // GET /sandboxes/{id}
	OpList       Op = "list"        // GET /sandboxes, GET /v2/sandboxes
	OpKill       Op = "kill"        // DELETE /sandboxes/{id}
	OpSetTimeout Op = "set-timeout" // POST /sandboxes/{id}/timeout
	OpConnect    Op = "connect"     // POST /sandboxes/{id}/connect, POST /v2/sandboxes/{id}/connect
	OpPause      Op = "pause"       // POST /sandboxes/{id}/pause
	OpResume     Op = "resume"      // POST /sandboxes/{id}/resume
	OpAPIHealth  Op = "api-health"  // GET /health on the control plane
)

// Sandbox endpoints (traffic routed to a sandbox port).
const (
	OpEnvdProbe  Op = "envd-probe" // envd GET /health
	OpFiles      Op = "files"      // envd GET and POST /files
	OpCommand    Op = "command"    // envd process.Process RPCs: commands and their streams
	OpFilesystem Op = "filesystem" // envd filesystem.Filesystem RPCs
	OpProbe      Op = "probe"      // interpreter GET /health: its readiness
	OpRun        Op = "run"        // interpreter POST /execute: running code
	OpContext    Op = "context"    // interpreter /contexts and below
	OpEnvdOther  Op = "envd-other" // any other envd path
	// OpInterpreterOther is any other interpreter path.
	OpInterpreterOther Op = "interpreter-other"
	// OpOtherPort is traffic to a port that is neither envd's nor the
	// interpreter's (always answered 502 port not open).
	OpOtherPort Op = "other-port"
)

// Fault makes matching calls misbehave, the way E2B's API and proxy do under
// load or failure. A call matches when Op, Template and SandboxID all match
// (empty fields match anything). The first matching fault in injection order
// that is due applies: Nth and Times say which of its matching calls it
// affects. A Fault is a plain value: the Server keeps its own copy.
//
// Effects, in this order: wait Delay (the call then proceeds normally unless
// Reset or Status is set; the wait ends early if the client goes away); then
// Reset drops the connection without an answer, or Status answers with that
// status, a JSON {"code","message"} body and, when RetryAfter > 0, a Retry-After
// header in whole seconds (rounded up).
type Fault struct {
	// Op selects the kind of call; empty matches every call.
	Op Op
	// Template selects calls about sandboxes of this template (ID or alias);
	// for OpCreate, the requested template. Empty matches any. Calls that
	// concern no sandbox (list) never match a non-empty Template.
	Template string
	// SandboxID selects calls about one sandbox. Empty matches any; calls
	// about no particular sandbox (create, list) never match a non-empty one.
	SandboxID string

	// Nth, when > 0, lets the first Nth-1 matching calls through untouched:
	// the fault starts at the nth matching call, 1-based. 0 starts at the
	// first. A negative Nth counts as 0 for Inject and is an error for
	// WithFaults.
	Nth int
	// Times is how many matching calls the fault affects from the one it
	// starts at. 0 means every matching call until ClearFaults, or only the
	// nth when Nth is set: Fault{Nth: 3} fails the third call alone, like
	// ttatest's. A negative Times counts as 0 for Inject and is an error for
	// WithFaults.
	Times int

	// Delay holds each affected call this long before it proceeds.
	Delay time.Duration
	// Reset closes the connection without answering (a reset on TCP).
	Reset bool
	// Status answers with this HTTP status (e.g. 429, 500, 503) instead of
	// handling the call. 0 means no status fault.
	Status int
	// Message is the error body's message; empty picks a message like E2B's
	// for Status.
	Message string
	// RetryAfter, when > 0, sets the Retry-After header of a Status answer.
	RetryAfter time.Duration
}

// SandboxFaults are misbehaviours of one sandbox, set for every sandbox of a
// template (Template.Faults, Server.SetTemplateFaults) or for one live sandbox
// (Server.SetSandboxFaults). The zero value injects nothing. It is a plain
// value: the Server keeps its own copy.
type SandboxFaults struct {
	// ReadyAfter keeps the interpreter port (49999) closed for this long
	// after the sandbox is created (after the SetSandboxFaults call for a
	// live sandbox): requests to it get 502 "The sandbox is running but port
	// is not open" until then.
	ReadyAfter time.Duration
	// NeverReady keeps the interpreter port closed for the sandbox's whole
	// life: the failure of a heavy custom template.
	NeverReady bool
	// CutExecutionAfterLines, when > 0, aborts the connection of every
	// /execute stream of the sandbox after it has written that many NDJSON
	// lines (keepalives included), without end_of_execution.
	CutExecutionAfterLines int
	// ExpireAfterLines, when > 0, makes the sandbox expire, exactly as when
	// its timeout passes, once an /execute stream has written that many NDJSON
	// lines: the stream is cut and the sandbox is gone (502 not found).
	ExpireAfterLines int
}

// fault is an injected Fault with its counts.
type fault struct {
	Fault
	seen int // matching calls so far
	left int // remaining affected calls; 0 when unlimited
}

// newFault returns f ready to be matched: negative counts are 0, and a fault
// with Nth but no Times affects one call.
func newFault(f Fault) *fault {
	f.Nth, f.Times = max(f.Nth, 0), max(f.Times, 0)
	left := f.Times
	if left == 0 && f.Nth > 0 {
		left = 1
	}
	return &fault{Fault: f, left: left}
}

// callInfo is what a fault is matched against.
type callInfo struct {
	op        Op
	template  Template // zero when the call concerns no known template
	sandboxID string
}

func (f *Fault) matches(c callInfo) bool {
	if f.Op != "" && f.Op != c.op {
		return false
	}
	if f.Template != "" && !c.template.matches(f.Template) {
		return false
	}
	if f.SandboxID != "" && f.SandboxID != c.sandboxID {
		return false
	}
	return true
}

// Inject adds a fault. It affects calls made after it returns.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, newFault(f))
}

// ClearFaults removes every injected Fault (not SandboxFaults).
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// SetTemplateFaults replaces the SandboxFaults of the template named by ref (ID
// or alias) for sandboxes created afterwards. It reports whether the template
// is known.
func (s *Server) SetTemplateFaults(ref string, f SandboxFaults) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.templates {
		if s.templates[i].matches(ref) {
			s.templates[i].Faults = f
			return true
		}
	}
	return false
}

// SetSandboxFaults replaces the SandboxFaults of a live sandbox, taking effect
// now (ReadyAfter counts from this call). It reports whether the
// sandbox exists.
func (s *Server) SetSandboxFaults(sandboxID string, f SandboxFaults) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	sb, ok := s.sandboxes[sandboxID]
	if !ok {
		return false
	}
	sb.setFaults(f, time.Now())
	return true
}

// Calls returns how many calls of kind op the Server has received, faulted
// ones included.
func (s *Server) Calls(op Op) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

// applyFaults counts the call and applies the first matching fault. It
// reports whether the call was answered (or dropped) and must not proceed.
func (s *Server) applyFaults(w http.ResponseWriter, r *http.Request, c callInfo) bool {
	s.mu.Lock()
	s.calls[c.op]++
	var f Fault
	found := false
	for i, inj := range s.faults {
		if !inj.matches(c) {
			continue
		}
		inj.seen++
		if inj.seen < inj.Nth {
			continue
		}
		f, found = inj.Fault, true
		if inj.left > 0 {
			inj.left--
			if inj.left == 0 {
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			}
		}
		break
	}
	done := s.done
	s.mu.Unlock()
	if !found {
		return false
	}

	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return true
		case <-done:
			t.Stop()
			writeJSON(w, http.StatusServiceUnavailable, wire.ErrorBody{Code: http.StatusServiceUnavailable, Message: "Server is shutting down"})
			return true
		}
	}
	switch {
	case f.Reset:
		resetConnection(w)
		return true
	case f.Status != 0:
		if f.RetryAfter > 0 {
			secs := (f.RetryAfter + time.Second - 1) / time.Second
			w.Header().Set(wire.HeaderRetryAfter, strconv.FormatInt(int64(secs), 10))
		}
		msg := f.Message
		if msg == "" {
			msg = defaultFaultMessage(f.Status)
		}
		writeJSON(w, f.Status, wire.ErrorBody{Code: f.Status, Message: msg})
		return true
	}
	return false
}

// defaultFaultMessage is a message like the one E2B sends with status.
func defaultFaultMessage(status int) string {
	switch status {
	case http.StatusTooManyRequests:
		return "Rate limit exceeded, please try again later."
	case http.StatusInternalServerError:
		return "Internal server error"
	case http.StatusBadGateway:
		return "Backend error"
	case http.StatusServiceUnavailable:
		return "Service unavailable"
	case http.StatusGatewayTimeout:
		return "Backend timeout"
	}
	if text := http.StatusText(status); text != "" {
		return text
	}
	return fmt.Sprintf("Error %d", status)
}

// resetConnection drops the client's connection without an answer: a TCP reset
// when the connection is TCP (linger 0), a plain close otherwise. Without a
// hijackable connection (HTTP/2), the handler aborts, which resets the stream.
func resetConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = conn.Close()
}
