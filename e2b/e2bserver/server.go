package e2bserver

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/tta-dev/tta/e2b/wire"
)

// DefaultEnvdVersion is the envdVersion sandboxes report unless withEnvdVersion
// says otherwise: recent enough that E2B's SDKs use X-Access-Token and the
// default user without Basic auth.
const DefaultEnvdVersion = "0.4.0"

// clientID is the fixed clientID E2B still returns for backwards compatibility.
const clientID = "6532622b"

// Server is an E2B-compatible server: one http.Handler serving the control plane
// (api.<domain>) and, routed by the E2b-Sandbox-Id and E2b-Sandbox-Port headers
// or by a Host of the form <port>-<sandboxID>.<domain>, every sandbox's envd
// (port 49983) and code interpreter (port 49999). Point a client's API URL and
// sandbox URL at it (E2B_API_URL, E2B_SANDBOX_URL).
//
// Time is read with time.Now and timers with time.AfterFunc, so a Server created
// inside a testing/synctest bubble runs its timeouts and delays in the bubble's
// fake time (use InMemoryClient there: real sockets would stop fake time).
//
// A Server is safe for concurrent use. Close kills every sandbox.
type Server struct {
	runtime     Runtime
	apiKeys     [][]byte // empty: any non-empty key
	envdVersion string
	maxUpload   int64        // bound on one POST /files body
	api         http.Handler // control plane
	envd        http.Handler // port 49983
	interpreter http.Handler // port 49999

	mu        sync.Mutex // protects the fields below
	templates []Template
	sandboxes map[string]*sandbox
	seq       uint64 // creation order of sandboxes
	faults    []*fault
	calls     map[Op]int
	closed    bool
	done      chan struct{} // closed by Close
	mem       *memNetwork   // created by the first InMemoryClient

	wg sync.WaitGroup // timer callbacks and background closes in flight
}

// New returns a Server configured by opts. With no options it accepts any API
// key, knows DefaultTemplates and runs sandboxes on a zero ScriptedRuntime.
func New(opts ...Option) (*Server, error) {
	c := config{envdVersion: DefaultEnvdVersion, maxUpload: defaultMaxUploadSize}
	for i, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("e2bserver: New: option %d is nil; pass only options such as WithRuntime", i+1)
		}
		if err := o(&c); err != nil {
			return nil, err
		}
	}
	if c.runtime == nil {
		c.runtime = &ScriptedRuntime{}
	}
	s := &Server{
		runtime:     c.runtime,
		envdVersion: c.envdVersion,
		maxUpload:   c.maxUpload,
		templates:   DefaultTemplates(),
		sandboxes:   make(map[string]*sandbox),
		calls:       make(map[Op]int),
		done:        make(chan struct{}),
	}
	for _, k := range c.apiKeys {
		s.apiKeys = append(s.apiKeys, []byte(k))
	}
	for _, t := range c.templates {
		s.addTemplate(t)
	}
	for _, f := range c.faults {
		s.faults = append(s.faults, newFault(f))
	}
	s.api = s.controlPlaneHandler()
	s.envd = s.envdHandler()
	s.interpreter = s.interpreterHandler()
	return s, nil
}

// addTemplate adds t, replacing every known template sharing its ID or alias.
func (s *Server) addTemplate(t Template) {
	kept := s.templates[:0]
	for _, old := range s.templates {
		if old.ID == t.ID || (t.Alias != "" && old.Alias == t.Alias) {
			continue
		}
		kept = append(kept, old)
	}
	s.templates = append(kept, t)
}

// resolveTemplate finds the template named by ref (ID or alias).
func (s *Server) resolveTemplate(ref string) (Template, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.templates {
		if t.matches(ref) {
			return t, true
		}
	}
	return Template{}, false
}

// ServeHTTP routes sandbox traffic (by E2b-Sandbox-Id/E2b-Sandbox-Port headers
// or by a <port>-<sandboxID>.<domain> Host) to the sandbox's ports and
// everything else to the control plane.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if id := r.Header.Get(wire.HeaderSandboxID); id != "" {
		port, err := strconv.Atoi(r.Header.Get(wire.HeaderSandboxPort))
		if err != nil || port <= 0 || port > 65535 {
			writeJSON(w, http.StatusBadRequest, wire.ErrorBody{Code: http.StatusBadRequest,
				Message: "invalid or missing " + wire.HeaderSandboxPort + " header"})
			return
		}
		s.serveSandbox(w, r, id, port)
		return
	}
	if id, port, ok := parseSandboxHost(r.Host); ok {
		s.serveSandbox(w, r, id, port)
		return
	}
	s.api.ServeHTTP(w, r)
}

// parseSandboxHost reads a Host of the form <port>-<sandboxID>.<domain>.
func parseSandboxHost(host string) (id string, port int, ok bool) {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	label, rest, found := strings.Cut(host, ".")
	if !found || rest == "" {
		return "", 0, false
	}
	p, id, found := strings.Cut(label, "-")
	if !found || id == "" {
		return "", 0, false
	}
	port, err := strconv.Atoi(p)
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, false
	}
	return id, port, true
}

// Close kills every sandbox (closing its runtime Instance), stops every timer,
// closes the in-memory network and waits for background work to finish. Requests
// arriving afterwards find no sandbox; creates are refused with 503. Close is
// idempotent and returns the first error of an Instance's Close.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	var gone []*sandbox
	for _, sb := range s.sandboxes {
		s.removeLocked(sb)
		gone = append(gone, sb)
	}
	mem := s.mem
	s.mu.Unlock()

	var first error
	for _, sb := range gone {
		if err := sb.inst.Close(); err != nil && first == nil {
			first = err
		}
	}
	if mem != nil {
		mem.close()
	}
	s.wg.Wait()
	return first
}

// checkAPIKey reports whether key is accepted, in constant time per key.
func (s *Server) checkAPIKey(key string) bool {
	if key == "" {
		return false
	}
	if len(s.apiKeys) == 0 {
		return true
	}
	ok := false
	for _, k := range s.apiKeys {
		if subtle.ConstantTimeCompare(k, []byte(key)) == 1 {
			ok = true
		}
	}
	return ok
}

// writeJSON answers status with v as a JSON body.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// writeError answers status with E2B's {"code","message"} body.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, wire.ErrorBody{Code: status, Message: msg})
}

// randomID returns n random characters from [0-9a-z].
func randomID(n int) string {
	const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// randomToken returns a random hex token of 2n characters.
func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
