package e2bserver

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"mime"
	"mime/multipart"
	"net/http"
	"path"
	"strings"

	"connectrpc.com/connect"

	"github.com/tta-dev/tta/e2b/internal/envd/filesystem/filesystemconnect"
	"github.com/tta-dev/tta/e2b/internal/envd/process/processconnect"
	"github.com/tta-dev/tta/e2b/wire"
)

// Users a sandbox knows, as in E2B's templates.
const (
	defaultUser = "user"
	rootUser    = "root"
)

// maxRPCMessage bounds one message of envd's Connect services (a command
// line with its environment, a chunk of stdin); a longer one is refused with
// Connect's resource_exhausted.
const maxRPCMessage = 16 << 20

// envdHandler serves envd's port: /health, /files and the Connect services.
func (s *Server) envdHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /files", s.handleDownload)
	mux.HandleFunc("POST /files", s.handleUpload)
	limit := connect.WithReadMaxBytes(maxRPCMessage)
	mux.Handle(processconnect.NewProcessHandler(&processService{}, limit))
	mux.Handle(filesystemconnect.NewFilesystemHandler(&filesystemService{}, limit))
	// Server streams are never compressed. E2B's JS SDK sends no
	// Connect-Accept-Encoding and rejects compressed envelopes, and a client
	// that does ask for gzip (connect-go's does) still reads plain ones. Unary
	// answers stay gzip when the client asks with Accept-Encoding.
	_, stream := processconnect.NewProcessHandler(&processService{}, limit, connect.WithCompressMinBytes(math.MaxInt))
	mux.Handle(processconnect.ProcessStartProcedure, plainStream(stream))
	mux.Handle(processconnect.ProcessConnectProcedure, plainStream(stream))
	return mux
}

// plainStream drops a streaming call's Connect-Accept-Encoding, so that the
// answer does not announce a compression its envelopes never use.
func plainStream(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(headerConnectAcceptEncoding) != "" {
			r = r.WithContext(r.Context())
			r.Header = r.Header.Clone()
			r.Header.Del(headerConnectAcceptEncoding)
		}
		h.ServeHTTP(w, r)
	})
}

// headerConnectAcceptEncoding is how a Connect streaming client offers the
// compressions it accepts for the answer's envelopes.
const headerConnectAcceptEncoding = "Connect-Accept-Encoding"

// lookupUser validates a username as envd does ("" is the default user).
func lookupUser(name string) (string, error) {
	switch name {
	case "":
		return defaultUser, nil
	case defaultUser, rootUser:
		return name, nil
	}
	return "", fmt.Errorf("error looking up user '%s': user: unknown user %s", name, name)
}

// homeOf is the home directory of user.
func homeOf(user string) string {
	if user == rootUser {
		return "/root"
	}
	return "/home/" + user
}

// resolvePath turns a path as clients send it (absolute, relative to the
// user's home, "~" or "~/...") into an absolute clean sandbox path.
func resolvePath(p, user string) string {
	home := homeOf(user)
	switch {
	case p == "" || p == "~":
		return home
	case strings.HasPrefix(p, "~/"):
		return path.Join(home, p[2:])
	case !path.IsAbs(p):
		return path.Join(home, p)
	}
	return path.Clean(p)
}

// rpcUser is the user of a Connect call: the Basic auth user E2B's SDKs send
// to envd before 0.4.0, else the default user.
func rpcUser(h http.Header) (string, error) {
	auth, ok := strings.CutPrefix(h.Get("Authorization"), "Basic ")
	if !ok {
		return defaultUser, nil
	}
	raw, err := base64.StdEncoding.DecodeString(auth)
	if err != nil {
		return defaultUser, nil
	}
	name, _, _ := strings.Cut(string(raw), ":")
	return lookupUser(name)
}

// filesAccess checks a secured sandbox's token on /files as envd does: the
// header when present, else a signature this server does not issue.
func filesAccess(w http.ResponseWriter, r *http.Request, t *target) bool {
	if t.sb.accessToken == "" {
		return true
	}
	got := r.Header.Get(wire.HeaderAccessToken)
	var msg string
	switch {
	case got != "":
		if tokenMatches(got, t.sb.accessToken) {
			return true
		}
		msg = "access token present in header but does not match"
	case r.URL.Query().Get("signature") == "":
		msg = "missing signature query parameter"
	default:
		msg = "invalid signature"
	}
	writeError(w, http.StatusUnauthorized, msg)
	return false
}

func (s *Server) handleDownload(w http.ResponseWriter, r *http.Request) {
	t := targetFrom(r.Context())
	if !filesAccess(w, r, t) {
		return
	}
	user, err := lookupUser(r.URL.Query().Get("username"))
	if err != nil {
		writeError(w, http.StatusUnauthorized, err.Error())
		return
	}
	p := resolvePath(r.URL.Query().Get("path"), user)
	info, err := t.sb.inst.Stat(r.Context(), p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		writeError(w, http.StatusNotFound, fmt.Sprintf("path '%s' does not exist", p))
		return
	case err != nil:
		writeError(w, http.StatusInternalServerError, fmt.Sprintf("error checking if path exists '%s': %v", p, err))
		return
	case info.Type == TypeDir:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("path '%s' is a directory", p))
		return
	}
	rc, err := t.sb.inst.ReadFile(r.Context(), p)
	if err != nil {
		status, msg := fileErrorStatus(err, p)
		writeError(w, status, msg)
		return
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("inline", map[string]string{"filename": path.Base(p)}))
	w.WriteHeader(http.StatusOK)
	_, _ = io.Copy(w, rc)
	t.abortIfGone()
}

// fileErrorStatus maps a runtime file error to envd's status and message.
func fileErrorStatus(err error, p string) (int, string) {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return http.StatusNotFound, fmt.Sprintf("path '%s' does not exist", p)
	case errors.Is(err, fs.ErrInvalid):
		return http.StatusBadRequest, err.Error()
	case errors.Is(err, fs.ErrPermission):
		return http.StatusForbidden, err.Error()
	}
	return http.StatusInternalServerError, err.Error()
}

func (s *Server) handleUpload(w http.ResponseWriter, r *http.Request) {
	t := targetFrom(r.Context())
	if !filesAccess(w, r, t) {
		return
	}
	q := r.URL.Query()
	user, err := lookupUser(q.Get("username"))
	if err != nil {
		writeError(w, http.StatusUnauthorized, err.Error())
		return
	}
	rawPath, hasPath := q.Get("path"), q.Has("path") && q.Get("path") != ""
	if r.ContentLength > s.maxUpload {
		writeUploadTooLarge(w, s.maxUpload)
		return
	}
	body := &limitedBody{r: r.Body, left: s.maxUpload}
	r.Body = body

	entries := []wire.FileEntry{}
	// tooLarge rejects the whole upload: the files it wrote are removed.
	tooLarge := func() {
		for _, e := range entries {
			_ = t.sb.inst.Remove(r.Context(), e.Path)
		}
		t.abortIfGone()
		writeUploadTooLarge(w, s.maxUpload)
	}
	write := func(p string, part io.Reader) bool {
		for _, e := range entries {
			if e.Path == p {
				writeError(w, http.StatusBadRequest, fmt.Sprintf("you cannot upload multiple files to the same path '%s' in one upload request, only the first specified file was uploaded", p))
				return false
			}
		}
		if _, err := t.sb.inst.WriteFile(r.Context(), p, part); err != nil {
			if body.exceeded {
				_ = t.sb.inst.Remove(r.Context(), p) // no truncated file is left behind
				tooLarge()
				return false
			}
			status, msg := fileErrorStatus(err, p)
			writeError(w, status, msg)
			return false
		}
		entries = append(entries, wire.FileEntry{Name: path.Base(p), Type: "file", Path: p})
		return true
	}

	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mediaType == "multipart/form-data" {
		mr, err := r.MultipartReader()
		if err != nil {
			writeError(w, http.StatusInternalServerError, "error parsing multipart form: "+err.Error())
			return
		}
		for {
			part, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				if body.exceeded {
					tooLarge()
					return
				}
				t.abortIfGone()
				writeError(w, http.StatusInternalServerError, "error reading form: "+err.Error())
				return
			}
			if part.FormName() != "file" {
				_ = part.Close()
				continue
			}
			name := rawPath
			if !hasPath {
				name = partFileName(part)
			}
			if name == "" {
				writeError(w, http.StatusBadRequest, "error resolving path: no path or file name given")
				return
			}
			ok := write(resolvePath(name, user), part)
			_ = part.Close()
			if !ok {
				return
			}
		}
	} else {
		if !hasPath {
			writeError(w, http.StatusBadRequest, "the 'path' query parameter is required for an application/octet-stream upload")
			return
		}
		if !write(resolvePath(rawPath, user), r.Body) {
			return
		}
	}
	t.abortIfGone()
	writeJSON(w, http.StatusOK, entries)
}

// limitedBody reads an upload's body up to left bytes; reading past that
// fails with errUploadTooLarge and records that the limit was exceeded.
type limitedBody struct {
	r        io.ReadCloser
	left     int64
	exceeded bool
}

// errUploadTooLarge is limitedBody's read error past its limit.
var errUploadTooLarge = errors.New("upload body too large")

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One byte more tells a body of exactly the limit from a longer one.
		var one [1]byte
		n, err := b.r.Read(one[:])
		if n > 0 {
			b.exceeded = true
			return 0, errUploadTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.r.Close() }

// writeUploadTooLarge answers 413 for an upload over limit bytes. The rest of
// the body is not read: the connection is closed after the answer.
func writeUploadTooLarge(w http.ResponseWriter, limit int64) {
	w.Header().Set("Connection", "close")
	writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf(
		"upload is larger than the limit of %s; upload fewer or smaller files per request", byteSize(limit)))
}

// partFileName is a part's file name with its directories, which
// multipart.Part.FileName strips.
func partFileName(p *multipart.Part) string {
	_, params, err := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
	if err != nil {
		return p.FileName()
	}
	return params["filename"]
}
