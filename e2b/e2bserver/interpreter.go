package e2bserver

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"

	"github.com/tta-dev/tta/e2b/wire"
)

// interpreterHandler serves the code interpreter's port: /health, /execute
// and /contexts.
func (s *Server) interpreterHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, "OK")
	})
	mux.HandleFunc("POST /execute", s.handleExecute)
	mux.HandleFunc("POST /contexts", s.handleCreateContext)
	mux.HandleFunc("GET /contexts", s.handleListContexts)
	mux.HandleFunc("DELETE /contexts/{id}", s.handleRemoveContext)
	mux.HandleFunc("POST /contexts/{id}/restart", s.handleRestartContext)
	return mux
}

// writeText answers status with a plain-text body, as the interpreter's
// FastAPI server does for its errors.
func writeText(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(msg))
}

// writeValidationError answers 422 like FastAPI for a body it cannot read,
// and 413 for one over maxInterpreterBody.
func writeValidationError(w http.ResponseWriter, err error) {
	status := http.StatusUnprocessableEntity
	if _, ok := errors.AsType[*errBodyTooLarge](err); ok {
		status = http.StatusRequestEntityTooLarge
	}
	writeJSON(w, status, map[string]string{"detail": err.Error()})
}

// maxInterpreterBody bounds the JSON body of /execute and /contexts: the
// code, its environment variables and a context's settings.
const maxInterpreterBody = 16 << 20

// executeBodyHint says what to do about an /execute body over its limit.
const executeBodyHint = "upload large data as a file (POST /files on port 49983) and read it from the code"

// interpreterStatus maps a runtime error to the interpreter's status.
func interpreterStatus(err error) int {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return http.StatusNotFound
	case errors.Is(err, fs.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, fs.ErrPermission):
		return http.StatusForbidden
	}
	return http.StatusInternalServerError
}

func (s *Server) handleExecute(w http.ResponseWriter, r *http.Request) {
	t := targetFrom(r.Context())
	var req wire.ExecuteRequest
	if err := decodeBody(w, r, maxInterpreterBody, executeBodyHint, &req); err != nil {
		writeValidationError(w, err)
		return
	}
	if req.ContextID != "" && req.Language != "" {
		writeText(w, http.StatusBadRequest, "Only one of context_id or language can be provided")
		return
	}
	s.mu.Lock()
	faults := t.sb.faults
	s.mu.Unlock()

	// The execution runs in the request's context; the stream ends it (cancel)
	// when the client cannot be written to or a fault cuts the stream.
	st := newNDJSONStream(w, t.cancel, func() { s.expireSoon(t.sb) }, faults, keepaliveInterval)
	err := st.execute(r.Context(), t.sb.inst, req)
	started, cut := st.state()

	// The lines accepted so far reach the client before any abort, as they
	// would have had each been sent at once.
	if cut || t.gone() {
		_ = st.finish(nil, true)
		panic(http.ErrAbortHandler)
	}
	if err != nil {
		if r.Context().Err() != nil {
			return // the client went away (or could not be written to)
		}
		if !started {
			msg := err.Error()
			if errors.Is(err, fs.ErrNotExist) && req.ContextID != "" {
				msg = fmt.Sprintf("Context %s not found", req.ContextID)
			}
			writeText(w, interpreterStatus(err), msg)
			return
		}
		_ = st.finish(nil, true)
		panic(http.ErrAbortHandler) // the interpreter failed mid-stream
	}
	if st.finish(&wire.ExecutionEvent{Type: wire.EventEndOfExecution}, false) != nil {
		panic(http.ErrAbortHandler)
	}
}

func (s *Server) handleCreateContext(w http.ResponseWriter, r *http.Request) {
	t := targetFrom(r.Context())
	var req wire.CreateContextRequest // optional: an empty body takes the defaults
	if err := decodeBody(w, r, maxInterpreterBody, "send a shorter language and working directory", &req); err != nil && !errors.Is(err, errEmptyBody) {
		writeValidationError(w, err)
		return
	}
	info, err := t.sb.inst.CreateContext(r.Context(), req)
	if err != nil {
		t.abortIfGone()
		writeText(w, interpreterStatus(err), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, info)
}

func (s *Server) handleListContexts(w http.ResponseWriter, r *http.Request) {
	t := targetFrom(r.Context())
	list, err := t.sb.inst.ListContexts(r.Context())
	if err != nil {
		t.abortIfGone()
		writeText(w, interpreterStatus(err), err.Error())
		return
	}
	if list == nil {
		list = []wire.ContextInfo{}
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) handleRemoveContext(w http.ResponseWriter, r *http.Request) {
	answerContextCall(w, r, Instance.RemoveContext)
}

func (s *Server) handleRestartContext(w http.ResponseWriter, r *http.Request) {
	answerContextCall(w, r, Instance.RestartContext)
}

// answerContextCall makes call, RemoveContext or RestartContext, on the
// target sandbox for the context the path names, and answers 200 or the
// error.
func answerContextCall(w http.ResponseWriter, r *http.Request, call func(Instance, context.Context, string) error) {
	t := targetFrom(r.Context())
	id := r.PathValue("id")
	if err := call(t.sb.inst, r.Context(), id); err != nil {
		t.abortIfGone()
		writeContextError(w, err, id)
		return
	}
	writeJSON(w, http.StatusOK, nil)
}

func writeContextError(w http.ResponseWriter, err error, id string) {
	if errors.Is(err, fs.ErrNotExist) {
		writeText(w, http.StatusNotFound, fmt.Sprintf("Context %s not found", id))
		return
	}
	writeText(w, interpreterStatus(err), err.Error())
}
