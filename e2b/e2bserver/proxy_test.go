package e2bserver

import (
	"net/http"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta/e2b"
	"github.com/tta-dev/tta/e2b/internal/envd/filesystem"
	"github.com/tta-dev/tta/e2b/wire"
)

func TestParseSandboxHost(t *testing.T) {
	tests := []struct {
		host   string
		wantID string
		port   int
		ok     bool
	}{
		{"49999-iabc.e2b.app", "iabc", 49999, true},
		{"49983-iabc.localhost:8080", "iabc", 49983, true},
		{"api.e2b.app", "", 0, false},
		{"127.0.0.1:8080", "", 0, false},
		{"localhost", "", 0, false},
		{"49999-iabc", "", 0, false},
		{"x-iabc.e2b.app", "", 0, false},
		{"99999-iabc.e2b.app", "", 0, false},
		{"49999-.e2b.app", "", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			id, port, ok := parseSandboxHost(tt.host)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.wantID, id)
			assert.Equal(t, tt.port, port)
		})
	}
}

func TestRouting(t *testing.T) {
	e := newEnv(t)
	sb := e.create(map[string]any{"templateID": "code-interpreter-v1"})

	t.Run("headers", func(t *testing.T) {
		assert.Equal(t, http.StatusNoContent, e.sandbox(sb.SandboxID, e2b.EnvdPort, http.MethodGet, "/health", nil).StatusCode)
		resp := e.sandbox(sb.SandboxID, e2b.InterpreterPort, http.MethodGet, "/health", nil)
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, `"OK"`+"\n", readBody(t, resp))
	})
	t.Run("host", func(t *testing.T) {
		for port, want := range map[int]int{e2b.EnvdPort: 204, e2b.InterpreterPort: 200} {
			req := newRequest(t, http.MethodGet, "http://"+strconv.Itoa(port)+"-"+sb.SandboxID+".e2b.local/health", nil)
			assert.Equal(t, want, e.do(req).StatusCode, port)
		}
	})
	t.Run("other port is not open", func(t *testing.T) {
		resp := e.sandbox(sb.SandboxID, 8080, http.MethodGet, "/", nil)
		assert.Equal(t, wire.ProxyErrorBody{SandboxID: sb.SandboxID, Message: wire.MessagePortNotOpen, Port: 8080, Code: 502}, proxyError(t, resp))
	})
	t.Run("bad port header", func(t *testing.T) {
		req := newRequest(t, http.MethodGet, baseURL+"/health", nil)
		req.Header.Set(wire.HeaderSandboxID, sb.SandboxID)
		req.Header.Set(wire.HeaderSandboxPort, "nope")
		assert.Equal(t, http.StatusBadRequest, e.do(req).StatusCode)
	})
	t.Run("sandbox traffic needs no API key", func(t *testing.T) {
		req := newRequest(t, http.MethodGet, baseURL+"/health", nil)
		req.Header.Set(wire.HeaderSandboxID, sb.SandboxID)
		req.Header.Set(wire.HeaderSandboxPort, strconv.Itoa(e2b.EnvdPort))
		assert.Equal(t, http.StatusNoContent, e.do(req).StatusCode)
	})
}

func TestPortNotOpenForADuration(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, WithTemplates(Template{
			ID: "mlmin0000000000000000", Alias: "tta-ml-minimal",
			Faults: SandboxFaults{ReadyAfter: 30 * time.Second},
		}))
		sb := e.create(map[string]any{"templateID": "tta-ml-minimal", "timeout": 300})
		assert.Equal(t, "mlmin0000000000000000", sb.TemplateID)

		time.Sleep(30*time.Second - time.Millisecond)
		resp := e.sandbox(sb.SandboxID, e2b.InterpreterPort, http.MethodPost, "/execute", wire.ExecuteRequest{Code: "1"})
		require.Equal(t, http.StatusBadGateway, resp.StatusCode)
		assert.JSONEq(t, `{"sandboxId":"`+sb.SandboxID+`","message":"The sandbox is running but port is not open","port":49999,"code":502}`, readBody(t, resp))
		assert.Equal(t, http.StatusNoContent, e.sandbox(sb.SandboxID, e2b.EnvdPort, http.MethodGet, "/health", nil).StatusCode, "envd is up meanwhile")

		time.Sleep(time.Millisecond)
		assert.Equal(t, http.StatusOK, e.sandbox(sb.SandboxID, e2b.InterpreterPort, http.MethodGet, "/health", nil).StatusCode)
		events := e.execute(sb.SandboxID, wire.ExecuteRequest{Code: "1"})
		assert.Equal(t, []string{wire.EventNumberOfExecutions, wire.EventEndOfExecution}, eventTypes(events))
	})
}

func TestPortNeverOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, WithTemplates(Template{ID: "broken", Faults: SandboxFaults{NeverReady: true}}))
		for _, tmpl := range []string{"broken", "base"} {
			sb := e.create(map[string]any{"templateID": tmpl, "timeout": 3600})
			for range 3 {
				resp := e.sandbox(sb.SandboxID, e2b.InterpreterPort, http.MethodGet, "/health", nil)
				body := proxyError(t, resp)
				assert.Equal(t, wire.MessagePortNotOpen, body.Message, tmpl)
				assert.Equal(t, e2b.InterpreterPort, body.Port)
				time.Sleep(20 * time.Minute)
			}
		}
		assert.Equal(t, 6, e.srv.Calls(OpProbe))
	})
}

func TestSetSandboxAndTemplateFaults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		sb := e.create(map[string]any{"templateID": "code-interpreter-v1", "timeout": 300})
		require.True(t, e.srv.SetSandboxFaults(sb.SandboxID, SandboxFaults{ReadyAfter: 10 * time.Second}))
		assert.False(t, e.srv.SetSandboxFaults("inope", SandboxFaults{}))
		assert.Equal(t, http.StatusBadGateway, e.sandbox(sb.SandboxID, e2b.InterpreterPort, http.MethodGet, "/health", nil).StatusCode)
		time.Sleep(10 * time.Second)
		assert.Equal(t, http.StatusOK, e.sandbox(sb.SandboxID, e2b.InterpreterPort, http.MethodGet, "/health", nil).StatusCode)

		require.True(t, e.srv.SetTemplateFaults(CodeInterpreterTemplateID, SandboxFaults{NeverReady: true}))
		assert.False(t, e.srv.SetTemplateFaults("nope", SandboxFaults{}))
		later := e.create(map[string]any{"templateID": "code-interpreter-v1", "timeout": 300})
		assert.Equal(t, http.StatusBadGateway, e.sandbox(later.SandboxID, e2b.InterpreterPort, http.MethodGet, "/health", nil).StatusCode)
		assert.Equal(t, http.StatusOK, e.sandbox(sb.SandboxID, e2b.InterpreterPort, http.MethodGet, "/health", nil).StatusCode, "earlier sandboxes keep their faults")
	})
}

func TestSecureSandbox(t *testing.T) {
	e := newEnv(t)
	sb := e.create(map[string]any{"templateID": "code-interpreter-v1", "secure": true})
	require.Regexp(t, `^[0-9a-f]{32}$`, sb.EnvdAccessToken)
	token := sb.EnvdAccessToken
	id := sb.SandboxID

	d := decodeJSON[wire.SandboxDetail](t, e.api(http.MethodGet, "/sandboxes/"+id, nil))
	assert.Equal(t, token, d.EnvdAccessToken)

	t.Run("health is open", func(t *testing.T) {
		assert.Equal(t, http.StatusNoContent, e.sandbox(id, e2b.EnvdPort, http.MethodGet, "/health", nil).StatusCode)
		assert.Equal(t, http.StatusOK, e.sandbox(id, e2b.InterpreterPort, http.MethodGet, "/health", nil).StatusCode)
	})
	t.Run("interpreter does not check the token", func(t *testing.T) {
		for _, hdr := range [][]string{nil, {wire.HeaderAccessToken, token}, {wire.HeaderAccessToken, "wrong"}} {
			resp := e.sandbox(id, e2b.InterpreterPort, http.MethodPost, "/execute", wire.ExecuteRequest{Code: "1"}, hdr...)
			assert.Equal(t, http.StatusOK, resp.StatusCode, hdr)
			assert.Equal(t, http.StatusOK, e.sandbox(id, e2b.InterpreterPort, http.MethodGet, "/contexts", nil, hdr...).StatusCode, hdr)
		}
	})
	t.Run("envd rpc", func(t *testing.T) {
		_, fsNo := e.envdClients(id, true, nil)
		_, err := fsNo.Stat(t.Context(), connect.NewRequest(&filesystem.StatRequest{Path: "/home/user"}))
		assert.Equal(t, connect.CodeUnauthenticated, connect.CodeOf(err))

		resp := e.sandbox(id, e2b.EnvdPort, http.MethodPost, "/filesystem.Filesystem/Stat", map[string]string{"path": "/"})
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		assert.Equal(t, wire.ErrorBody{Code: 401, Message: msgEnvdUnauthorized}, decodeJSON[wire.ErrorBody](t, resp))

		_, fsYes := e.envdClients(id, false, http.Header{wire.HeaderAccessToken: {token}})
		res, err := fsYes.Stat(t.Context(), connect.NewRequest(&filesystem.StatRequest{Path: "/home/user"}))
		require.NoError(t, err)
		assert.Equal(t, filesystem.FileType_FILE_TYPE_DIRECTORY, res.Msg.GetEntry().GetType())
	})
	t.Run("files", func(t *testing.T) {
		tests := []struct {
			name, token, query string
			want               int
			msg                string
		}{
			{"no token", "", "", 401, "missing signature query parameter"},
			{"wrong token", "nope", "", 401, "access token present in header but does not match"},
			{"unknown signature", "", "&signature=v1_x", 401, "invalid signature"},
			{"right token", token, "", 404, "path '/home/user/missing' does not exist"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var hdr []string
				if tt.token != "" {
					hdr = []string{wire.HeaderAccessToken, tt.token}
				}
				resp := e.sandbox(id, e2b.EnvdPort, http.MethodGet, "/files?path=missing"+tt.query, nil, hdr...)
				assert.Equal(t, tt.want, resp.StatusCode)
				assert.Equal(t, wire.ErrorBody{Code: tt.want, Message: tt.msg}, decodeJSON[wire.ErrorBody](t, resp))
			})
		}
	})
}
