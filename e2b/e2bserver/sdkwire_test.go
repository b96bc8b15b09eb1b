package e2bserver

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta/e2b"
	"github.com/tta-dev/tta/e2b/internal/envd/process"
	"github.com/tta-dev/tta/e2b/wire"
)

// These tests pin what E2B's official JS SDK does on the wire (see
// conformance/js/WIRE.md); each is named after what a server got wrong.

func TestV2CreateIsAlwaysSecured(t *testing.T) {
	tests := []struct {
		name, path string
		body       map[string]any
		wantToken  bool
	}{
		{"v2 without secure", "/v2/sandboxes", map[string]any{"templateID": "base"}, true},
		{"v2 with secure false", "/v2/sandboxes", map[string]any{"templateID": "base", "secure": false}, true},
		{"v1 without secure", "/sandboxes", map[string]any{"templateID": "base"}, false},
		{"v1 with secure false", "/sandboxes", map[string]any{"templateID": "base", "secure": false}, false},
		{"v1 with secure true", "/sandboxes", map[string]any{"templateID": "base", "secure": true}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			resp := e.api(http.MethodPost, tt.path, tt.body)
			requireStatus(t, http.StatusCreated, resp)
			sb := decodeJSON[wire.SandboxCreated](t, resp)
			stat := func(hdr ...string) *http.Response {
				return e.sandbox(sb.SandboxID, e2b.EnvdPort, http.MethodPost, "/filesystem.Filesystem/Stat", map[string]string{"path": "/"}, hdr...)
			}
			files := func(hdr ...string) *http.Response {
				return e.sandbox(sb.SandboxID, e2b.EnvdPort, http.MethodGet, "/files?path=/tmp", nil, hdr...)
			}
			if !tt.wantToken {
				assert.Empty(t, sb.EnvdAccessToken)
				assert.Equal(t, http.StatusOK, stat().StatusCode, "an unsecured sandbox's envd needs no token")
				return
			}
			require.Regexp(t, `^[0-9a-f]{32}$`, sb.EnvdAccessToken)
			assert.Equal(t, http.StatusUnauthorized, stat().StatusCode)
			assert.Equal(t, http.StatusUnauthorized, stat(wire.HeaderAccessToken, "wrong").StatusCode)
			assert.Equal(t, http.StatusUnauthorized, files().StatusCode)
			assert.Equal(t, http.StatusOK, stat(wire.HeaderAccessToken, sb.EnvdAccessToken).StatusCode)
			assert.Equal(t, http.StatusBadRequest, files(wire.HeaderAccessToken, sb.EnvdAccessToken).StatusCode, "past the check: /tmp is a directory")

			// Connect hands the same token back, as the SDK needs it for a resumed handle.
			resp = e.api(http.MethodPost, "/v2/sandboxes/"+sb.SandboxID+"/connect", map[string]any{"timeout": 60})
			requireStatus(t, http.StatusOK, resp)
			assert.Equal(t, sb.EnvdAccessToken, decodeJSON[wire.SandboxCreated](t, resp).EnvdAccessToken)
		})
	}
}

func TestInterpreterContextsNeedNoAccessToken(t *testing.T) {
	e := newEnv(t)
	resp := e.api(http.MethodPost, "/v2/sandboxes", map[string]any{"templateID": "code-interpreter-v1"})
	requireStatus(t, http.StatusCreated, resp)
	sb := decodeJSON[wire.SandboxCreated](t, resp)
	require.NotEmpty(t, sb.EnvdAccessToken)
	id := sb.SandboxID

	// Exactly what the SDK sends: Content-Type on every call, no token.
	resp = e.sandbox(id, e2b.InterpreterPort, http.MethodPost, "/contexts", map[string]any{})
	requireStatus(t, http.StatusOK, resp)
	created := decodeJSON[wire.ContextInfo](t, resp)
	require.NotEmpty(t, created.ID)
	resp = e.sandbox(id, e2b.InterpreterPort, http.MethodGet, "/contexts", nil)
	requireStatus(t, http.StatusOK, resp)
	assert.Len(t, decodeJSON[[]wire.ContextInfo](t, resp), 3, "python, javascript and the new one")
	assert.Equal(t, http.StatusOK, e.sandbox(id, e2b.InterpreterPort, http.MethodPost, "/contexts/"+created.ID+"/restart", nil).StatusCode)
	assert.Equal(t, http.StatusOK, e.sandbox(id, e2b.InterpreterPort, http.MethodDelete, "/contexts/"+created.ID, nil).StatusCode)
	// /execute carries the token from the SDK; the interpreter does not need it.
	assert.Equal(t, http.StatusOK, e.sandbox(id, e2b.InterpreterPort, http.MethodPost, "/execute", wire.ExecuteRequest{Code: "1"}, wire.HeaderAccessToken, sb.EnvdAccessToken).StatusCode)
	// envd still checks it.
	assert.Equal(t, http.StatusUnauthorized, e.sandbox(id, e2b.EnvdPort, http.MethodPost, "/process.Process/List", map[string]any{}).StatusCode)
}

func TestControlPlaneNotFoundCarriesJSONCode(t *testing.T) {
	e := newEnv(t)
	paused := e.create(map[string]any{"templateID": "base"}).SandboxID
	requireStatus(t, http.StatusNoContent, e.api(http.MethodPost, "/sandboxes/"+paused+"/pause", nil))

	tests := []struct {
		name, method, path string
		body               any
		want               int
	}{
		{"kill", http.MethodDelete, "/sandboxes/inope", nil, 404},
		{"get", http.MethodGet, "/sandboxes/inope", nil, 404},
		{"set timeout", http.MethodPost, "/sandboxes/inope/timeout", map[string]any{"timeout": 10}, 404},
		{"connect v1", http.MethodPost, "/sandboxes/inope/connect", map[string]any{"timeout": 10}, 404},
		{"connect v2", http.MethodPost, "/v2/sandboxes/inope/connect", map[string]any{}, 404},
		{"pause", http.MethodPost, "/sandboxes/inope/pause", nil, 404},
		{"resume", http.MethodPost, "/sandboxes/inope/resume", nil, 404},
		{"unknown route", http.MethodGet, "/v9/nothing", nil, 404},
		{"pause when paused", http.MethodPost, "/sandboxes/" + paused + "/pause", nil, 409},
		{"set timeout when paused", http.MethodPost, "/sandboxes/" + paused + "/timeout", map[string]any{"timeout": 10}, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := e.api(tt.method, tt.path, tt.body)
			require.Equal(t, tt.want, resp.StatusCode)
			assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			var body map[string]any
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
			assert.Equal(t, float64(tt.want), body["code"], "the SDK reads the code from the body")
			assert.NotEmpty(t, body["message"])
		})
	}
}

// sdkMetadataParam encodes a metadata filter as E2B's JS SDK does: each key
// and value with encodeURIComponent, the pairs serialised by URLSearchParams,
// and that string encoded once more as the metadata query parameter.
func sdkMetadataParam(md map[string]string) string {
	encodeURIComponent := func(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }
	pairs := url.Values{}
	for k, v := range md {
		pairs.Set(encodeURIComponent(k), encodeURIComponent(v))
	}
	return "metadata=" + encodeURIComponent(pairs.Encode())
}

func TestMetadataFilterIsUnescapedLikeE2B(t *testing.T) {
	e := newEnv(t)
	spaced := e.create(map[string]any{"templateID": "base", "metadata": map[string]string{"tta-conformance": "a b/c"}}).SandboxID
	tricky := e.create(map[string]any{"templateID": "base", "metadata": map[string]string{"k&=": "x+y%z&w=v", "plain": "p"}}).SandboxID
	e.create(map[string]any{"templateID": "base", "metadata": map[string]string{"tta-conformance": "a%20b%2Fc"}})

	tests := []struct {
		name, query string
		want        []string
	}{
		{"the SDK's bytes for a space and a slash", "metadata=tta-conformance%3Da%252520b%25252Fc", []string{spaced}},
		{"SDK encoding", sdkMetadataParam(map[string]string{"tta-conformance": "a b/c"}), []string{spaced}},
		{"SDK encoding of & = + %", sdkMetadataParam(map[string]string{"k&=": "x+y%z&w=v"}), []string{tricky}},
		{"SDK encoding of two pairs", sdkMetadataParam(map[string]string{"k&=": "x+y%z&w=v", "plain": "p"}), []string{tricky}},
		{"escaped once, plain values", "metadata=" + url.QueryEscape("plain=p"), []string{tricky}},
		{"no match", sdkMetadataParam(map[string]string{"tta-conformance": "a b"}), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := e.api(http.MethodGet, "/v2/sandboxes?"+tt.query, nil)
			requireStatus(t, http.StatusOK, resp)
			var got []string
			for _, d := range decodeJSON[[]wire.SandboxDetail](t, resp) {
				got = append(got, d.SandboxID)
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestUploadWithoutPathKeepsTheFullFileName(t *testing.T) {
	e := newEnv(t)
	id := e.create(map[string]any{"templateID": "base"}).SandboxID

	// Parts as undici writes them for files.write([{path, data}, ...]): field
	// "file", the caller's path verbatim as filename, no ?path=.
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, f := range []struct{ name, data string }{
		{"tta-conformance/sub/a.txt", "A"},
		{"/tmp/abs dir/b.txt", "B"},
	} {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, f.name))
		h.Set("Content-Type", "application/octet-stream")
		part, err := mw.CreatePart(h)
		require.NoError(t, err)
		_, err = part.Write([]byte(f.data))
		require.NoError(t, err)
	}
	require.NoError(t, mw.Close())

	resp := e.upload(id, "", mw.FormDataContentType(), body.Bytes())
	requireStatus(t, http.StatusOK, resp)
	assert.Equal(t, []wire.FileEntry{
		{Name: "a.txt", Type: "file", Path: "/home/user/tta-conformance/sub/a.txt"},
		{Name: "b.txt", Type: "file", Path: "/tmp/abs dir/b.txt"},
	}, decodeJSON[[]wire.FileEntry](t, resp))
	assert.Equal(t, "A", readBody(t, e.sandbox(id, e2b.EnvdPort, http.MethodGet, "/files?path=tta-conformance/sub/a.txt", nil)))
	assert.Equal(t, "B", readBody(t, e.sandbox(id, e2b.EnvdPort, http.MethodGet, "/files?path="+url.QueryEscape("/tmp/abs dir/b.txt"), nil)))
}

// envelope is one frame of a Connect stream.
type envelope struct {
	flags byte
	data  []byte
}

func readEnvelopes(t *testing.T, r io.Reader) []envelope {
	t.Helper()
	var out []envelope
	for {
		var head [5]byte
		_, err := io.ReadFull(r, head[:])
		if err == io.EOF {
			return out
		}
		require.NoError(t, err)
		data := make([]byte, binary.BigEndian.Uint32(head[1:]))
		_, err = io.ReadFull(r, data)
		require.NoError(t, err)
		out = append(out, envelope{flags: head[0], data: data})
	}
}

func TestProcessStreamFramesAreNeverCompressed(t *testing.T) {
	big := strings.Repeat("compressible output ", 4096)
	e := newEnv(t, WithRuntime(&ScriptedRuntime{Commands: map[string]CommandReply{"big": {Stdout: big, ExitCode: 3}}}))
	id := e.create(map[string]any{"templateID": "base"}).SandboxID

	msg, err := json.Marshal(map[string]any{
		"process": map[string]any{"cmd": "/bin/bash", "args": []string{"-l", "-c", "big"}},
		"stdin":   false,
	})
	require.NoError(t, err)
	var frame bytes.Buffer
	frame.WriteByte(0)
	require.NoError(t, binary.Write(&frame, binary.BigEndian, uint32(len(msg))))
	frame.Write(msg)

	for _, offer := range []string{"", "gzip"} {
		t.Run("Connect-Accept-Encoding "+strconv.Quote(offer), func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, baseURL+"/process.Process/Start", bytes.NewReader(frame.Bytes()))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/connect+json")
			req.Header.Set("Connect-Protocol-Version", "1")
			req.Header.Set("Accept-Encoding", "gzip, deflate")
			if offer != "" {
				req.Header.Set("Connect-Accept-Encoding", offer)
			}
			req.Header.Set(wire.HeaderSandboxID, id)
			req.Header.Set(wire.HeaderSandboxPort, strconv.Itoa(e2b.EnvdPort))
			resp := e.do(req)
			requireStatus(t, http.StatusOK, resp)
			assert.Equal(t, "application/connect+json", resp.Header.Get("Content-Type"))
			assert.Empty(t, resp.Header.Get("Connect-Content-Encoding"))
			assert.Empty(t, resp.Header.Get("Content-Encoding"))

			frames := readEnvelopes(t, resp.Body)
			require.NotEmpty(t, frames)
			var stdout strings.Builder
			for i, f := range frames {
				assert.Zero(t, f.flags&0x01, "frame %d is compressed", i)
				var ev struct {
					Event struct {
						Data *struct{ Stdout []byte } `json:"data"`
					} `json:"event"`
				}
				if f.flags == 0 {
					require.NoError(t, json.Unmarshal(f.data, &ev))
					if ev.Event.Data != nil {
						stdout.Write(ev.Event.Data.Stdout)
					}
				}
			}
			assert.Equal(t, byte(0x02), frames[len(frames)-1].flags, "ends with an end-stream frame")
			assert.Equal(t, big, stdout.String())
		})
	}

	t.Run("unary answers are gzip when asked", func(t *testing.T) {
		resp := e.sandbox(id, e2b.EnvdPort, http.MethodPost, "/filesystem.Filesystem/ListDir", map[string]any{"path": "/", "depth": 1},
			"Accept-Encoding", "gzip, deflate", "Connect-Protocol-Version", "1")
		requireStatus(t, http.StatusOK, resp)
		require.Equal(t, "gzip", resp.Header.Get("Content-Encoding"))
		zr, err := gzip.NewReader(resp.Body)
		require.NoError(t, err)
		var list struct{ Entries []map[string]any }
		require.NoError(t, json.NewDecoder(zr).Decode(&list))
		assert.NotEmpty(t, list.Entries)
	})
	t.Run("connect-go clients, which offer gzip, read the plain stream", func(t *testing.T) {
		for _, jsonCodec := range []bool{true, false} {
			proc, _ := e.envdClients(id, jsonCodec, nil)
			stream, err := proc.Start(t.Context(), connect.NewRequest(&process.StartRequest{
				Process: &process.ProcessConfig{Cmd: "/bin/bash", Args: []string{"-l", "-c", "big"}},
			}))
			require.NoError(t, err)
			var stdout strings.Builder
			exit := int32(-100)
			for stream.Receive() {
				ev := stream.Msg().GetEvent()
				stdout.Write(ev.GetData().GetStdout())
				if end := ev.GetEnd(); end != nil {
					exit = end.GetExitCode()
				}
			}
			require.NoError(t, stream.Err())
			require.NoError(t, stream.Close())
			assert.Equal(t, big, stdout.String())
			assert.Equal(t, int32(3), exit)
		}
	})
}

func TestExecuteNeverWritesBlankLines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := &ScriptedRuntime{Exec: func(_ context.Context, c *Cell) error {
			for _, text := range []string{"\n", "\n\n", "two\n\nlines\n", ""} {
				if err := c.Stdout(text); err != nil {
					return err
				}
			}
			if err := c.Sleep(12 * time.Second); err != nil { // keepalives
				return err
			}
			if err := c.Emit(wire.ExecutionEvent{Type: wire.EventResult, Text: "\n", HTML: "<p>\n\n</p>", IsMainResult: true}); err != nil {
				return err
			}
			return c.Raise("ValueError", "bad\n\nvalue", "Traceback\n\n  line 1\n")
		}}
		e := newEnv(t, WithRuntime(rt))
		id := e.create(map[string]any{"templateID": "code-interpreter-v1"}).SandboxID
		resp := e.sandbox(id, e2b.InterpreterPort, http.MethodPost, "/execute", wire.ExecuteRequest{Code: "x"})
		requireStatus(t, http.StatusOK, resp)
		raw := readBody(t, resp)
		require.True(t, strings.HasSuffix(raw, "\n"), "every line ends with a newline")
		lines := strings.Split(strings.TrimSuffix(raw, "\n"), "\n")
		for i, line := range lines {
			require.NotEmpty(t, strings.TrimSpace(line), "line %d of %q is blank", i+1, raw)
			var ev map[string]any
			require.NoError(t, json.Unmarshal([]byte(line), &ev), "line %d", i+1)
		}
		assert.Len(t, lines, 1+4+2+1+1+1, "count, 4 stdout, 2 keepalives, result, error, end")
	})
}

func TestDoubleSlashSandboxPathIsServed(t *testing.T) {
	e := newEnv(t)
	id := e.create(map[string]any{"templateID": "code-interpreter-v1"}).SandboxID
	// What @e2b/code-interpreter requests when E2B_SANDBOX_URL ends in "/".
	resp := e.sandbox(id, e2b.InterpreterPort, http.MethodPost, "//execute", wire.ExecuteRequest{Code: "1"})
	requireStatus(t, http.StatusOK, resp)
	events, err := readEvents(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, []string{wire.EventNumberOfExecutions, wire.EventEndOfExecution}, eventTypes(events))
	assert.Equal(t, 1, e.srv.Calls(OpRun), "classified as an execution")
	assert.Equal(t, http.StatusNoContent, e.sandbox(id, e2b.EnvdPort, http.MethodGet, "//health", nil).StatusCode)
}

func TestConnectWithoutTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		id := e.create(map[string]any{"templateID": "base", "timeout": 100}).SandboxID

		// The SDK sends {} when the caller names no timeout.
		resp := e.api(http.MethodPost, "/v2/sandboxes/"+id+"/connect", map[string]any{})
		requireStatus(t, http.StatusOK, resp)
		assert.Equal(t, id, decodeJSON[wire.SandboxCreated](t, resp).SandboxID)
		assert.Equal(t, 100*time.Second, time.Until(e.srv.Sandboxes()[0].EndAt), "a running sandbox keeps its end time")

		requireStatus(t, http.StatusNoContent, e.api(http.MethodPost, "/sandboxes/"+id+"/pause", nil))
		resp = e.api(http.MethodPost, "/v2/sandboxes/"+id+"/connect", map[string]any{"memory": false})
		requireStatus(t, http.StatusCreated, resp)
		assert.Equal(t, defaultSandboxTimeout, time.Until(e.srv.Sandboxes()[0].EndAt), "a paused one resumes for the default timeout")
	})
}
