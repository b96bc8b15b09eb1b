package e2bserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta/e2b"
	"github.com/tta-dev/tta/e2b/wire"
)

// serveDirect answers req with the Server's handler, without a connection, so
// that a body the server stops reading leaves no connection behind.
func (e *testEnv) serveDirect(req *http.Request) *httptest.ResponseRecorder {
	e.t.Helper()
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, req)
	return rec
}

// directRequest builds a request to the control plane (sandboxID "") or to a
// sandbox port, with body as is; chunked hides its length.
func (e *testEnv) directRequest(method, path, sandboxID string, port int, body []byte, chunked bool) *http.Request {
	var r io.Reader = bytes.NewReader(body)
	if chunked {
		r = io.MultiReader(r) // no length known in advance
	}
	req := httptest.NewRequest(method, baseURL+path, r)
	if chunked {
		req.ContentLength = -1
	}
	req.Header.Set("Content-Type", "application/json")
	if sandboxID == "" {
		req.Header.Set(wire.HeaderAPIKey, e.key)
	} else {
		req.Header.Set(wire.HeaderSandboxID, sandboxID)
		req.Header.Set(wire.HeaderSandboxPort, strconv.Itoa(port))
	}
	return req
}

func jsonString(t *testing.T, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	require.NoError(t, err)
	return data
}

func TestBodyLimits(t *testing.T) {
	e := newEnv(t)
	sb := e.create(map[string]any{"templateID": e2b.DefaultTemplate})
	big := strings.Repeat("x", 2<<20)

	tests := []struct {
		name       string
		method     string
		path       string
		port       int // 0: control plane
		body       []byte
		wantStatus int
		wantIn     []string
	}{
		{"create over 1 MiB", http.MethodPost, "/sandboxes", 0,
			jsonString(t, map[string]any{"templateID": e2b.DefaultTemplate, "metadata": map[string]string{"k": big}}),
			http.StatusRequestEntityTooLarge, []string{"larger than the limit of 1 MiB", "metadata"}},
		{"set timeout over 1 MiB", http.MethodPost, "/sandboxes/" + sb.SandboxID + "/timeout", 0,
			[]byte(`{"timeout": 30, "pad": "` + big + `"}`),
			http.StatusRequestEntityTooLarge, []string{"1 MiB"}},
		{"connect over 1 MiB", http.MethodPost, "/sandboxes/" + sb.SandboxID + "/connect", 0,
			[]byte(`{"timeout": 30, "pad": "` + big + `"}`),
			http.StatusRequestEntityTooLarge, []string{"1 MiB"}},
		{"create malformed JSON is still 400", http.MethodPost, "/sandboxes", 0,
			[]byte(`{"templateID":`), http.StatusBadRequest, []string{"Error when parsing request"}},
		{"execute of 2 MiB runs", http.MethodPost, "/execute", e2b.InterpreterPort,
			jsonString(t, wire.ExecuteRequest{Code: "# " + big}), http.StatusOK, []string{wire.EventEndOfExecution}},
		{"execute over 16 MiB", http.MethodPost, "/execute", e2b.InterpreterPort,
			jsonString(t, wire.ExecuteRequest{Code: strings.Repeat(big, 9)}),
			http.StatusRequestEntityTooLarge, []string{"16 MiB", "POST /files"}},
		{"execute malformed JSON is still 422", http.MethodPost, "/execute", e2b.InterpreterPort,
			[]byte(`{"code":`), http.StatusUnprocessableEntity, []string{"detail"}},
		{"create context over 16 MiB", http.MethodPost, "/contexts", e2b.InterpreterPort,
			jsonString(t, wire.CreateContextRequest{Cwd: strings.Repeat(big, 9)}),
			http.StatusRequestEntityTooLarge, []string{"16 MiB"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := ""
			if tt.port != 0 {
				id = sb.SandboxID
			}
			for _, chunked := range []bool{false, true} {
				rec := e.serveDirect(e.directRequest(tt.method, tt.path, id, tt.port, tt.body, chunked))
				require.Equal(t, tt.wantStatus, rec.Code, rec.Body.String())
				for _, s := range tt.wantIn {
					assert.Contains(t, rec.Body.String(), s)
				}
			}
		})
	}
}

// uploadRequest builds POST /files for sandbox id: an octet-stream body to
// path, or, with multipart, one form file per name.
func (e *testEnv) uploadRequest(id, path string, data []byte, multipartNames []string, chunked bool) *http.Request {
	body, ctype := data, "application/octet-stream"
	if multipartNames != nil {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for _, name := range multipartNames {
			fw, err := mw.CreateFormFile("file", name)
			require.NoError(e.t, err)
			_, err = fw.Write(data)
			require.NoError(e.t, err)
		}
		require.NoError(e.t, mw.Close())
		body, ctype = buf.Bytes(), mw.FormDataContentType()
	}
	target := "/files"
	if path != "" {
		target += "?path=" + path
	}
	req := e.directRequest(http.MethodPost, target, id, e2b.EnvdPort, body, chunked)
	req.Header.Set("Content-Type", ctype)
	return req
}

func TestUploadLimit(t *testing.T) {
	const limit = 4 << 10
	e := newEnv(t, withMaxUploadSize(limit))
	sb := e.create(map[string]any{"templateID": e2b.DefaultTemplate})

	exists := func(p string) bool {
		s, _, ok := e.srv.liveSandbox(sb.SandboxID)
		require.True(t, ok)
		_, err := s.inst.Stat(context.Background(), p)
		if errors.Is(err, fs.ErrNotExist) {
			return false
		}
		require.NoError(t, err)
		return true
	}

	tests := []struct {
		name       string
		path       string
		size       int
		multipart  []string
		wantStatus int
	}{
		{"octet-stream at the limit", "at.bin", limit, nil, http.StatusOK},
		{"octet-stream over the limit", "over.bin", limit + 1, nil, http.StatusRequestEntityTooLarge},
		{"multipart under the limit", "", limit / 4, []string{"m1.bin", "m2.bin"}, http.StatusOK},
		{"multipart over the limit", "", limit / 2, []string{"big1.bin", "big2.bin", "big3.bin"}, http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, chunked := range []bool{false, true} {
				req := e.uploadRequest(sb.SandboxID, tt.path, bytes.Repeat([]byte("a"), tt.size), tt.multipart, chunked)
				rec := e.serveDirect(req)
				require.Equal(t, tt.wantStatus, rec.Code, rec.Body.String())
				if tt.wantStatus == http.StatusRequestEntityTooLarge {
					assert.Contains(t, rec.Body.String(), "larger than the limit of 4 KiB")
					assert.Contains(t, rec.Body.String(), "fewer or smaller files")
					for _, name := range append([]string{tt.path}, tt.multipart...) {
						if name != "" {
							assert.False(t, exists("/home/user/"+name), "a truncated %s was left behind", name)
						}
					}
				}
			}
		})
	}
}

func TestWithMaxUploadSizeRejectsNonPositive(t *testing.T) {
	_, err := New(withMaxUploadSize(0))
	require.EqualError(t, err, "e2bserver: withMaxUploadSize: the size must be > 0 bytes, got 0")
}

func TestConnectMessageLimit(t *testing.T) {
	e := newEnv(t)
	sb := e.create(map[string]any{"templateID": e2b.DefaultTemplate})
	huge := jsonString(t, map[string]any{"path": strings.Repeat("x", maxRPCMessage)})
	req := e.directRequest(http.MethodPost, "/filesystem.Filesystem/Stat", sb.SandboxID, e2b.EnvdPort, huge, false)
	rec := e.serveDirect(req)
	assert.Contains(t, rec.Body.String(), "resource_exhausted", "status %d", rec.Code)
}
