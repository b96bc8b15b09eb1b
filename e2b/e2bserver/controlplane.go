package e2bserver

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tta-dev/tta/e2b/wire"
)

// Control-plane limits and defaults, as E2B applies them.
const (
	defaultSandboxTimeout = 15 * time.Second // NewSandbox.timeout default in E2B's OpenAPI spec
	maxSandboxTimeout     = 24 * time.Hour
	defaultListLimit      = 100
	maxListLimit          = 100
	maxRequestBody        = 1 << 20 // a control-plane JSON body
)

// Messages of the control plane's 401 answers.
const (
	msgMissingAPIKey = "authorization header is missing"
	msgInvalidAPIKey = "Invalid API key, please visit https://e2b.dev/docs/api-key for more information."
)

// controlPlaneHandler routes the REST API of api.<domain>.
func (s *Server) controlPlaneHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		if s.applyFaults(w, r, callInfo{op: OpAPIHealth}) {
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.Handle("POST /sandboxes", s.authed(s.createHandler(false)))
	mux.Handle("POST /v2/sandboxes", s.authed(s.createHandler(true)))
	mux.Handle("GET /sandboxes", s.authed(s.handleListV1))
	mux.Handle("GET /v2/sandboxes", s.authed(s.handleListV2))
	mux.Handle("GET /sandboxes/{id}", s.authed(s.handleGet))
	mux.Handle("DELETE /sandboxes/{id}", s.authed(s.handleKill))
	mux.Handle("POST /sandboxes/{id}/timeout", s.authed(s.handleSetTimeout))
	mux.Handle("POST /sandboxes/{id}/connect", s.authed(s.handleConnect))
	mux.Handle("POST /v2/sandboxes/{id}/connect", s.authed(s.handleConnect))
	mux.Handle("POST /sandboxes/{id}/pause", s.authed(s.handlePause))
	mux.Handle("POST /sandboxes/{id}/resume", s.authed(s.handleResume))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern == "" {
			writeError(w, http.StatusNotFound, "Not found")
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// authed checks X-API-Key before h, answering 401 like E2B.
func (s *Server) authed(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get(wire.HeaderAPIKey)
		switch {
		case key == "":
			writeError(w, http.StatusUnauthorized, msgMissingAPIKey)
		case !s.checkAPIKey(key):
			writeError(w, http.StatusUnauthorized, msgInvalidAPIKey)
		default:
			h(w, r)
		}
	})
}

// createBody is NewSandbox with optional fields kept optional, so an absent
// timeout takes E2B's default rather than zero.
type createBody struct {
	TemplateID          string              `json:"templateID"`
	Timeout             *int32              `json:"timeout"`
	AutoPause           *bool               `json:"autoPause"`
	Secure              *bool               `json:"secure"`
	AllowInternetAccess *bool               `json:"allow_internet_access"`
	Network             *wire.NetworkConfig `json:"network"`
	Metadata            map[string]string   `json:"metadata"`
	EnvVars             map[string]string   `json:"envVars"`
}

// timeoutBody is the body of timeout, connect and resume.
type timeoutBody struct {
	Timeout   *int32 `json:"timeout"`
	AutoPause *bool  `json:"autoPause"`
}

// errEmptyBody is decodeBody's error for a missing body.
var errEmptyBody = errors.New("request body is empty")

// errBodyTooLarge is decodeBody's error for a body longer than its limit.
type errBodyTooLarge struct {
	limit int64
	hint  string
}

func (e *errBodyTooLarge) Error() string {
	return fmt.Sprintf("request body is larger than the limit of %s; %s", byteSize(e.limit), e.hint)
}

// byteSize formats n bytes in the largest binary unit that divides it.
func byteSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + " GiB"
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

// decodeBody reads a JSON body of at most limit bytes, ignoring unknown
// fields. A longer body is an *errBodyTooLarge whose message ends with hint,
// and the connection is closed after the answer, as http.MaxBytesReader does.
func decodeBody(w http.ResponseWriter, r *http.Request, limit int64, hint string, v any) error {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return &errBodyTooLarge{limit: limit, hint: hint}
		}
		return err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return errEmptyBody
	}
	return json.Unmarshal(data, v)
}

// controlBodyHint says what to do about a control-plane body over its limit.
const controlBodyHint = "send metadata and environment variables of at most that size in total"

// decodeControlBody decodes a control-plane JSON body. A body over
// maxRequestBody is answered 413 here and reported as handled; other errors
// are returned for the caller to answer.
func decodeControlBody(w http.ResponseWriter, r *http.Request, v any) (handled bool, err error) {
	err = decodeBody(w, r, maxRequestBody, controlBodyHint, v)
	if tooLarge, ok := errors.AsType[*errBodyTooLarge](err); ok {
		writeError(w, http.StatusRequestEntityTooLarge, tooLarge.Error())
		return true, err
	}
	return false, err
}

// seconds converts a timeout in seconds (negative: 0) to a duration.
func seconds(t int32) time.Duration {
	if t < 0 {
		return 0
	}
	return time.Duration(t) * time.Second
}

// createHandler answers a create call. Sandboxes created through
// /v2/sandboxes are always secured, as E2B's API documents (its SDKs no longer
// send "secure"); those created through /sandboxes are secured when the body
// says "secure": true.
func (s *Server) createHandler(alwaysSecure bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { s.handleCreate(w, r, alwaysSecure) }
}

func (s *Server) handleCreate(w http.ResponseWriter, r *http.Request, alwaysSecure bool) {
	var body createBody
	if handled, err := decodeControlBody(w, r, &body); handled {
		return
	} else if err != nil {
		if s.applyFaults(w, r, callInfo{op: OpCreate}) {
			return
		}
		writeError(w, http.StatusBadRequest, "Error when parsing request: "+err.Error())
		return
	}
	tmpl, known := s.resolveTemplate(body.TemplateID)
	if s.applyFaults(w, r, callInfo{op: OpCreate, template: tmpl}) {
		return
	}
	if body.TemplateID == "" {
		writeError(w, http.StatusBadRequest, `Invalid template reference: property "templateID" is missing`)
		return
	}
	if !known {
		writeError(w, http.StatusNotFound, fmt.Sprintf("template '%s' not found", body.TemplateID))
		return
	}
	timeout, ok := requestedTimeout(w, body.Timeout)
	if !ok {
		return
	}
	var allowOut, denyOut []string
	if body.Network != nil {
		allowOut, denyOut = body.Network.AllowOut, body.Network.DenyOut
	}
	if msg := checkEgressRules(allowOut, denyOut); msg != "" {
		writeError(w, http.StatusBadRequest, msg)
		return
	}

	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		writeError(w, http.StatusServiceUnavailable, "Server is shutting down")
		return
	}

	id := "i" + randomID(20)
	token := ""
	if alwaysSecure || (body.Secure != nil && *body.Secure) {
		token = randomToken(16)
	}
	inst, err := s.runtime.Start(r.Context(), SandboxSpec{
		SandboxID:           id,
		Template:            tmpl,
		EnvVars:             maps.Clone(body.EnvVars),
		Metadata:            maps.Clone(body.Metadata),
		AllowInternetAccess: body.AllowInternetAccess,
		AllowOut:            slices.Clone(allowOut),
		DenyOut:             slices.Clone(denyOut),
	})
	if err != nil {
		writeError(w, http.StatusInternalServerError, "Failed to create sandbox: "+err.Error())
		return
	}

	sb := &sandbox{
		id:            id,
		template:      tmpl,
		inst:          inst,
		accessToken:   token,
		metadata:      maps.Clone(body.Metadata),
		allowInternet: body.AllowInternetAccess,
		autoPause:     body.AutoPause != nil && *body.AutoPause,
		state:         wire.StateRunning,
	}
	sb.ctx, sb.cancel = context.WithCancel(context.Background())
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		sb.cancel()
		_ = inst.Close()
		writeError(w, http.StatusServiceUnavailable, "Server is shutting down")
		return
	}
	now := time.Now()
	s.seq++
	sb.seq = s.seq
	sb.startedAt = now
	sb.setFaults(tmpl.Faults, now)
	s.sandboxes[id] = sb
	s.armTimerLocked(sb, timeout, now)
	resp := s.created(sb)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, resp)
}

// lookup returns the ID of the sandbox a control-plane call names, after
// applying the faults of op to the call. It reports false when a fault
// answered the call. The handler looks the sandbox up again under Server.mu.
func (s *Server) lookup(w http.ResponseWriter, r *http.Request, op Op) (string, bool) {
	id := r.PathValue("id")
	s.mu.Lock()
	var tmpl Template
	if sb := s.sandboxes[id]; sb != nil {
		tmpl = sb.template
	}
	s.mu.Unlock()
	return id, !s.applyFaults(w, r, callInfo{op: op, template: tmpl, sandboxID: id})
}

func (s *Server) handleGet(w http.ResponseWriter, r *http.Request) {
	id, ok := s.lookup(w, r, OpGet)
	if !ok {
		return
	}
	s.mu.Lock()
	sb, found := s.sandboxes[id]
	var d wire.SandboxDetail
	if found {
		d = s.detailLocked(sb)
	}
	s.mu.Unlock()
	if !found {
		writeError(w, http.StatusNotFound, fmt.Sprintf("sandbox %q doesn't exist", id))
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (s *Server) handleKill(w http.ResponseWriter, r *http.Request) {
	id, ok := s.lookup(w, r, OpKill)
	if !ok {
		return
	}
	s.mu.Lock()
	sb, found := s.sandboxes[id]
	if !found {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, "Sandbox not found")
		return
	}
	s.removeLocked(sb)
	s.mu.Unlock()
	_ = sb.inst.Close()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleSetTimeout(w http.ResponseWriter, r *http.Request) {
	id, ok := s.lookup(w, r, OpSetTimeout)
	if !ok {
		return
	}
	var body timeoutBody
	if handled, err := decodeControlBody(w, r, &body); handled {
		return
	} else if err != nil {
		writeError(w, http.StatusBadRequest, "Error when parsing request: "+err.Error())
		return
	}
	if body.Timeout == nil {
		writeError(w, http.StatusBadRequest, `Error when parsing request: property "timeout" is missing`)
		return
	}
	s.mu.Lock()
	sb, found := s.sandboxes[id]
	found = found && sb.state == wire.StateRunning
	if found {
		s.armTimerLocked(sb, seconds(*body.Timeout), time.Now())
	}
	s.mu.Unlock()
	if !found {
		writeError(w, http.StatusNotFound, "Sandbox not found")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleConnect(w http.ResponseWriter, r *http.Request) {
	id, ok := s.lookup(w, r, OpConnect)
	if !ok {
		return
	}
	// E2B's SDKs send {} when the caller names no timeout: a running sandbox
	// then keeps its end time, a paused one resumes for the default timeout.
	body, timeout, ok := resumeTimeout(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	sb, found := s.sandboxes[id]
	if !found {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, "Sandbox can't be resumed, no snapshot found")
		return
	}
	if sb.state == wire.StateRunning {
		// A running sandbox's TTL is only ever extended by connect.
		if now := time.Now(); body.Timeout != nil && now.Add(timeout).After(sb.endAt) {
			s.armTimerLocked(sb, timeout, now)
		}
		resp := s.created(sb)
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, resp)
		return
	}
	s.answerResumeLocked(w, r, sb, timeout)
}

func (s *Server) handlePause(w http.ResponseWriter, r *http.Request) {
	id, ok := s.lookup(w, r, OpPause)
	if !ok {
		return
	}
	s.mu.Lock()
	sb, found := s.sandboxes[id]
	switch {
	case !found:
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, fmt.Sprintf("Error pausing sandbox - snapshot for sandbox '%s' was not found", id))
		return
	case sb.state == wire.StatePaused:
		s.mu.Unlock()
		writeError(w, http.StatusConflict, fmt.Sprintf("Error pausing sandbox - sandbox '%s' is already paused", id))
		return
	}
	s.pauseLocked(sb)
	s.mu.Unlock()
	if p, ok := sb.inst.(Pauser); ok {
		if err := p.Pause(r.Context()); err != nil {
			writeError(w, http.StatusInternalServerError, "Error pausing sandbox")
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleResume(w http.ResponseWriter, r *http.Request) {
	id, ok := s.lookup(w, r, OpResume)
	if !ok {
		return
	}
	body, timeout, ok := resumeTimeout(w, r) // optional body: empty takes the defaults
	if !ok {
		return
	}
	s.mu.Lock()
	sb, found := s.sandboxes[id]
	switch {
	case !found:
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, "Sandbox can't be resumed, no snapshot found")
		return
	case sb.state == wire.StateRunning:
		s.mu.Unlock()
		writeError(w, http.StatusConflict, fmt.Sprintf("Sandbox %s is already running", id))
		return
	}
	if body.AutoPause != nil {
		sb.autoPause = *body.AutoPause
	}
	s.answerResumeLocked(w, r, sb, timeout)
}

// answerResumeLocked resumes the paused sb for timeout and answers 201 with
// it, as connect and resume do. The caller holds Server.mu, which
// answerResumeLocked releases before resuming sb's Instance.
func (s *Server) answerResumeLocked(w http.ResponseWriter, r *http.Request, sb *sandbox, timeout time.Duration) {
	s.resumeLocked(sb, timeout)
	resp := s.created(sb)
	s.mu.Unlock()
	if p, ok := sb.inst.(Pauser); ok {
		_ = p.Resume(r.Context())
	}
	writeJSON(w, http.StatusCreated, resp)
}

// listed describes sb as an entry of a list answer (no token, no domain).
func (s *Server) listedLocked(sb *sandbox) wire.SandboxDetail {
	d := s.detailLocked(sb)
	d.EnvdAccessToken = ""
	d.AllowInternetAccess = nil
	d.Domain = nil
	return d
}

// parseMetadataFilter reads the metadata query parameter as E2B's API does:
// the parameter's value is unescaped once more as a whole, then split into
// "k=v" pairs on "&", and each key and value is unescaped. E2B's SDKs escape
// each key and value, serialise the pairs as a query string (escaping them
// again) and send that as the parameter: {"k": "a b/c"} travels as
// ?metadata=k%3Da%252520b%25252Fc. A filter escaped only once (k%3Da) reads
// the same when its keys and values have no "%" or "+".
func parseMetadataFilter(r *http.Request) (map[string]string, error) {
	raw := r.URL.Query().Get("metadata")
	if raw == "" {
		return nil, nil
	}
	pairs, err := url.QueryUnescape(raw)
	if err != nil {
		return nil, err
	}
	q, err := url.ParseQuery(pairs)
	if err != nil {
		return nil, err
	}
	filter := make(map[string]string, len(q))
	for k, vs := range q {
		filter[k] = vs[len(vs)-1]
	}
	return filter, nil
}

func metadataMatches(md, filter map[string]string) bool {
	for k, v := range filter {
		if got, ok := md[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// matching returns the sandboxes in states whose metadata matches filter,
// newest first.
func (s *Server) matchingLocked(states []wire.SandboxState, filter map[string]string) []*sandbox {
	var out []*sandbox
	for _, sb := range s.sandboxes {
		if slices.Contains(states, sb.state) && metadataMatches(sb.metadata, filter) {
			out = append(out, sb)
		}
	}
	slices.SortFunc(out, func(a, b *sandbox) int { return compareUint(b.seq, a.seq) })
	return out
}

func (s *Server) handleListV1(w http.ResponseWriter, r *http.Request) {
	if s.applyFaults(w, r, callInfo{op: OpList}) {
		return
	}
	filter, err := parseMetadataFilter(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "Error parsing metadata: "+err.Error())
		return
	}
	s.mu.Lock()
	list := []wire.SandboxDetail{}
	for _, sb := range s.matchingLocked([]wire.SandboxState{wire.StateRunning}, filter) {
		list = append(list, s.listedLocked(sb))
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) handleListV2(w http.ResponseWriter, r *http.Request) {
	if s.applyFaults(w, r, callInfo{op: OpList}) {
		return
	}
	q := r.URL.Query()
	states := []wire.SandboxState{wire.StateRunning, wire.StatePaused}
	if vs, ok := q["state"]; ok {
		states = nil
		for _, v := range vs {
			for _, st := range strings.Split(v, ",") {
				switch wire.SandboxState(st) {
				case wire.StateRunning, wire.StatePaused:
					states = append(states, wire.SandboxState(st))
				default:
					writeError(w, http.StatusBadRequest, fmt.Sprintf(`parameter "state" in query has an error: value %q is not one of the allowed values ["running","paused"]`, st))
					return
				}
			}
		}
	}
	limit := defaultListLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxListLimit {
			writeError(w, http.StatusBadRequest, fmt.Sprintf(`parameter "limit" in query has an error: value %q must be an integer from 1 to %d`, v, maxListLimit))
			return
		}
		limit = n
	}
	cursor := uint64(0) // 0: from the newest
	if tok := q.Get("nextToken"); tok != "" {
		c, err := decodeNextToken(tok)
		if err != nil {
			writeError(w, http.StatusBadRequest, "Invalid next token")
			return
		}
		cursor = c
	}
	filter, err := parseMetadataFilter(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "Error parsing metadata")
		return
	}

	s.mu.Lock()
	matching := s.matchingLocked(states, filter)
	running := 0
	for _, sb := range matching {
		if sb.state == wire.StateRunning {
			running++
		}
	}
	list := []wire.SandboxDetail{}
	next := ""
	for _, sb := range matching {
		if cursor != 0 && sb.seq >= cursor {
			continue
		}
		if len(list) == limit {
			next = encodeNextToken(s.seqOf(list[len(list)-1].SandboxID))
			break
		}
		list = append(list, s.listedLocked(sb))
	}
	s.mu.Unlock()

	if slices.Contains(states, wire.StateRunning) {
		w.Header().Set("X-Total-Running", strconv.Itoa(running))
	}
	if next != "" {
		w.Header().Set(wire.HeaderNextToken, next)
	}
	writeJSON(w, http.StatusOK, list)
}

// seqOf is the creation order of sandbox id. The caller holds Server.mu.
func (s *Server) seqOf(id string) uint64 {
	if sb, ok := s.sandboxes[id]; ok {
		return sb.seq
	}
	return 0
}

// encodeNextToken makes the opaque cursor naming the position after seq.
func encodeNextToken(seq uint64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("seq:" + strconv.FormatUint(seq, 10)))
}

func decodeNextToken(tok string) (uint64, error) {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return 0, err
	}
	num, ok := strings.CutPrefix(string(raw), "seq:")
	if !ok {
		return 0, errors.New("malformed cursor")
	}
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil || n == 0 {
		return 0, errors.New("malformed cursor")
	}
	return n, nil
}

// resumeTimeout reads the optional {"timeout": seconds} body of connect and
// resume: no timeout means defaultSandboxTimeout. It answers 400 itself and
// reports false for a malformed body or a timeout above maxSandboxTimeout.
func resumeTimeout(w http.ResponseWriter, r *http.Request) (timeoutBody, time.Duration, bool) {
	var body timeoutBody
	if handled, err := decodeControlBody(w, r, &body); handled {
		return body, 0, false
	} else if err != nil && !errors.Is(err, errEmptyBody) {
		writeError(w, http.StatusBadRequest, "Error when parsing request: "+err.Error())
		return body, 0, false
	}
	timeout, ok := requestedTimeout(w, body.Timeout)
	return body, timeout, ok
}

// requestedTimeout returns the sandbox timeout a request body asks for in
// seconds, or defaultSandboxTimeout when it names none. It answers 400 itself
// and reports false for one above maxSandboxTimeout.
func requestedTimeout(w http.ResponseWriter, secs *int32) (time.Duration, bool) {
	timeout := defaultSandboxTimeout
	if secs != nil {
		timeout = seconds(*secs)
	}
	if timeout > maxSandboxTimeout {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("Timeout cannot be greater than %d hours", int(maxSandboxTimeout/time.Hour)))
		return 0, false
	}
	return timeout, true
}
