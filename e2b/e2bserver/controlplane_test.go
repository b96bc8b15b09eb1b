package e2bserver

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta/e2b"
	"github.com/tta-dev/tta/e2b/wire"
)

func TestCreate(t *testing.T) {
	tests := []struct {
		name, path, template string
		wantID, wantAlias    string
		wantToken            bool
	}{
		{"v1 by alias", "/sandboxes", "code-interpreter-v1", CodeInterpreterTemplateID, "code-interpreter-v1", false},
		{"v2 by alias", "/v2/sandboxes?source=js-sdk", "code-interpreter-v1", CodeInterpreterTemplateID, "code-interpreter-v1", true},
		{"by ID", "/sandboxes", CodeInterpreterTemplateID, CodeInterpreterTemplateID, "code-interpreter-v1", false},
		{"by alias with tag", "/sandboxes", "base:default", BaseTemplateID, "base", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			resp := e.api(http.MethodPost, tt.path, map[string]any{
				"templateID": tt.template, "timeout": 300, "unknownField": true,
				"metadata": map[string]string{"k": "v"}, "envVars": map[string]string{"A": "1"},
			})
			require.Equal(t, http.StatusCreated, resp.StatusCode)
			var raw map[string]any
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&raw))
			assert.Equal(t, tt.wantID, raw["templateID"])
			assert.Equal(t, tt.wantAlias, raw["alias"])
			assert.Equal(t, clientID, raw["clientID"])
			assert.Equal(t, DefaultEnvdVersion, raw["envdVersion"])
			assert.Regexp(t, `^i[0-9a-z]{20}$`, raw["sandboxID"])
			domain, present := raw["domain"]
			assert.True(t, present, "domain is sent as null")
			assert.Nil(t, domain)
			if tt.wantToken {
				assert.Regexp(t, `^[0-9a-f]{32}$`, raw["envdAccessToken"], "v2 sandboxes are always secured")
			} else {
				assert.NotContains(t, raw, "envdAccessToken")
			}
			require.Len(t, e.srv.Sandboxes(), 1)
		})
	}
}

func TestCreateErrors(t *testing.T) {
	tests := []struct {
		name       string
		body       any
		wantStatus int
		wantMsg    string
	}{
		{"unknown template", map[string]any{"templateID": "tta-ml-minimal"}, 404, "template 'tta-ml-minimal' not found"},
		{"missing template", map[string]any{"timeout": 10}, 400, `Invalid template reference: property "templateID" is missing`},
		{"empty body", "", 400, "Error when parsing request: request body is empty"},
		{"timeout too long", map[string]any{"templateID": "base", "timeout": 90000}, 400, "Timeout cannot be greater than 24 hours"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			resp := e.api(http.MethodPost, "/sandboxes", tt.body)
			assert.Equal(t, tt.wantStatus, resp.StatusCode)
			assert.Equal(t, wire.ErrorBody{Code: tt.wantStatus, Message: tt.wantMsg}, decodeJSON[wire.ErrorBody](t, resp))
			assert.Empty(t, e.srv.Sandboxes())
		})
	}
}

func TestAuth(t *testing.T) {
	tests := []struct {
		name, key string
		opts      []Option
		want      int
		wantMsg   string
	}{
		{"missing key", "", nil, 401, msgMissingAPIKey},
		{"wrong key", "e2b_0000", nil, 401, msgInvalidAPIKey},
		{"right key", "<env>", nil, 201, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.opts...)
			key := tt.key
			if key == "<env>" {
				key = e.key
			}
			req := newRequest(t, http.MethodPost, baseURL+"/sandboxes", map[string]any{"templateID": "base"})
			if key != "" {
				req.Header.Set(wire.HeaderAPIKey, key)
			}
			resp := e.do(req)
			require.Equal(t, tt.want, resp.StatusCode)
			if tt.wantMsg != "" {
				assert.Equal(t, wire.ErrorBody{Code: 401, Message: tt.wantMsg}, decodeJSON[wire.ErrorBody](t, resp))
			}
		})
	}
	t.Run("every endpoint needs the key", func(t *testing.T) {
		e := newEnv(t)
		for _, ep := range []struct{ method, path string }{
			{"GET", "/sandboxes"}, {"GET", "/v2/sandboxes"}, {"GET", "/sandboxes/x"}, {"DELETE", "/sandboxes/x"},
			{"POST", "/sandboxes/x/timeout"}, {"POST", "/sandboxes/x/connect"}, {"POST", "/v2/sandboxes/x/connect"},
			{"POST", "/sandboxes/x/pause"}, {"POST", "/sandboxes/x/resume"}, {"POST", "/v2/sandboxes"},
		} {
			resp := e.do(newRequest(t, ep.method, baseURL+ep.path, nil))
			assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, ep)
		}
	})
	t.Run("without configured keys any key is accepted", func(t *testing.T) {
		srv, err := New()
		require.NoError(t, err)
		defer srv.Close()
		req := newRequest(t, http.MethodGet, baseURL+"/v2/sandboxes", nil)
		req.Header.Set(wire.HeaderAPIKey, "e2b_anything")
		resp, err := srv.InMemoryClient().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
	})
}

func TestHealthAndUnknownPath(t *testing.T) {
	e := newEnv(t)
	resp := e.do(newRequest(t, http.MethodGet, baseURL+"/health", nil))
	assert.Equal(t, http.StatusNoContent, resp.StatusCode)
	resp = e.api(http.MethodGet, "/templates-nope", nil)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Equal(t, wire.ErrorBody{Code: 404, Message: "Not found"}, decodeJSON[wire.ErrorBody](t, resp))
}

func TestGetAndKill(t *testing.T) {
	rt := &countingRuntime{Runtime: &ScriptedRuntime{}}
	e := newEnv(t, WithRuntime(rt))
	sb := e.create(map[string]any{"templateID": "code-interpreter-v1", "metadata": map[string]string{"user": "ann"}})

	resp := e.api(http.MethodGet, "/sandboxes/"+sb.SandboxID, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	d := decodeJSON[wire.SandboxDetail](t, resp)
	assert.Equal(t, sb.SandboxID, d.SandboxID)
	assert.Equal(t, CodeInterpreterTemplateID, d.TemplateID)
	assert.Equal(t, "code-interpreter-v1", d.Alias)
	assert.Equal(t, wire.StateRunning, d.State)
	assert.Equal(t, map[string]string{"user": "ann"}, d.Metadata)
	assert.Equal(t, defaultSandboxTimeout, d.EndAt.Sub(d.StartedAt), "absent timeout is E2B's default")
	assert.Equal(t, int32(sandboxCPUCount), d.CPUCount)

	resp = e.api(http.MethodDelete, "/sandboxes/"+sb.SandboxID, nil)
	assert.Equal(t, http.StatusNoContent, resp.StatusCode)
	assert.Equal(t, int32(1), rt.closed.Load(), "instance closed on kill")

	resp = e.api(http.MethodGet, "/sandboxes/"+sb.SandboxID, nil)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Equal(t, wire.ErrorBody{Code: 404, Message: `sandbox "` + sb.SandboxID + `" doesn't exist`}, decodeJSON[wire.ErrorBody](t, resp))

	resp = e.api(http.MethodDelete, "/sandboxes/"+sb.SandboxID, nil)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Equal(t, wire.ErrorBody{Code: 404, Message: "Sandbox not found"}, decodeJSON[wire.ErrorBody](t, resp))

	resp = e.sandbox(sb.SandboxID, e2b.InterpreterPort, http.MethodGet, "/health", nil)
	assert.Equal(t, wire.ProxyErrorBody{SandboxID: sb.SandboxID, Message: wire.MessageSandboxNotFound, Code: 502}, proxyError(t, resp))
	assert.Empty(t, e.srv.Sandboxes())
}

func TestProxyNotFoundBodyIsExact(t *testing.T) {
	e := newEnv(t)
	resp := e.sandbox("inope", e2b.EnvdPort, http.MethodGet, "/health", nil)
	require.Equal(t, http.StatusBadGateway, resp.StatusCode)
	assert.JSONEq(t, `{"sandboxId":"inope","message":"The sandbox was not found","code":502}`, readBody(t, resp))
}

func TestTimeoutExpiresSandbox(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := &countingRuntime{Runtime: &ScriptedRuntime{}}
		e := newEnv(t, WithRuntime(rt))
		withDefault := e.create(map[string]any{"templateID": "base"})
		explicit := e.create(map[string]any{"templateID": "base", "timeout": 60})

		time.Sleep(15*time.Second - time.Nanosecond)
		assert.Len(t, e.srv.Sandboxes(), 2)
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		assert.Equal(t, http.StatusNotFound, e.api(http.MethodGet, "/sandboxes/"+withDefault.SandboxID, nil).StatusCode)
		assert.Equal(t, http.StatusOK, e.api(http.MethodGet, "/sandboxes/"+explicit.SandboxID, nil).StatusCode)
		assert.Equal(t, int32(1), rt.closed.Load())

		time.Sleep(45 * time.Second)
		synctest.Wait()
		assert.Empty(t, e.srv.Sandboxes())
		assert.Equal(t, int32(2), rt.closed.Load())
		resp := e.sandbox(explicit.SandboxID, e2b.EnvdPort, http.MethodGet, "/health", nil)
		assert.Equal(t, wire.MessageSandboxNotFound, proxyError(t, resp).Message)
	})
}

func TestSetTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		sb := e.create(map[string]any{"templateID": "base", "timeout": 10})
		time.Sleep(5 * time.Second)
		resp := e.api(http.MethodPost, "/sandboxes/"+sb.SandboxID+"/timeout", map[string]any{"timeout": 20})
		require.Equal(t, http.StatusNoContent, resp.StatusCode)

		time.Sleep(20*time.Second - time.Nanosecond) // 5 s before the old end, 1 ns before the new one
		assert.Len(t, e.srv.Sandboxes(), 1)
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		assert.Empty(t, e.srv.Sandboxes())

		resp = e.api(http.MethodPost, "/sandboxes/"+sb.SandboxID+"/timeout", map[string]any{"timeout": 20})
		assert.Equal(t, http.StatusNotFound, resp.StatusCode)
		assert.Equal(t, "Sandbox not found", decodeJSON[wire.ErrorBody](t, resp).Message)
	})
	t.Run("timeout is required", func(t *testing.T) {
		e := newEnv(t)
		sb := e.create(map[string]any{"templateID": "base"})
		resp := e.api(http.MethodPost, "/sandboxes/"+sb.SandboxID+"/timeout", map[string]any{})
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	})
}

func TestConnect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		sb := e.create(map[string]any{"templateID": "base", "timeout": 100})

		// Running: 200, and the TTL is only ever extended.
		resp := e.api(http.MethodPost, "/sandboxes/"+sb.SandboxID+"/connect", map[string]any{"timeout": 10})
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, sb.SandboxID, decodeJSON[wire.SandboxCreated](t, resp).SandboxID)
		assert.Equal(t, 100*time.Second, time.Until(e.srv.Sandboxes()[0].EndAt))
		resp = e.api(http.MethodPost, "/v2/sandboxes/"+sb.SandboxID+"/connect", map[string]any{"timeout": 200})
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, 200*time.Second, time.Until(e.srv.Sandboxes()[0].EndAt))

		// Paused: 201, resumed with the new timeout.
		require.Equal(t, http.StatusNoContent, e.api(http.MethodPost, "/sandboxes/"+sb.SandboxID+"/pause", nil).StatusCode)
		resp = e.api(http.MethodPost, "/sandboxes/"+sb.SandboxID+"/connect", map[string]any{"timeout": 30})
		require.Equal(t, http.StatusCreated, resp.StatusCode)
		assert.Equal(t, wire.StateRunning, e.srv.Sandboxes()[0].State)
		assert.Equal(t, http.StatusNoContent, e.sandbox(sb.SandboxID, e2b.EnvdPort, http.MethodGet, "/health", nil).StatusCode)
		time.Sleep(30 * time.Second)
		synctest.Wait()
		assert.Empty(t, e.srv.Sandboxes())

		resp = e.api(http.MethodPost, "/sandboxes/"+sb.SandboxID+"/connect", map[string]any{"timeout": 30})
		assert.Equal(t, http.StatusNotFound, resp.StatusCode)
		assert.Equal(t, "Sandbox can't be resumed, no snapshot found", decodeJSON[wire.ErrorBody](t, resp).Message)
	})
}

func TestPauseResume(t *testing.T) {
	e := newEnv(t)
	sb := e.create(map[string]any{"templateID": "code-interpreter-v1", "timeout": 300})
	id := sb.SandboxID

	resp := e.api(http.MethodPost, "/sandboxes/"+id+"/resume", map[string]any{"timeout": 60})
	assert.Equal(t, http.StatusConflict, resp.StatusCode)
	assert.Equal(t, wire.ErrorBody{Code: 409, Message: "Sandbox " + id + " is already running"}, decodeJSON[wire.ErrorBody](t, resp))

	require.Equal(t, http.StatusNoContent, e.api(http.MethodPost, "/sandboxes/"+id+"/pause", nil).StatusCode)
	resp = e.api(http.MethodPost, "/sandboxes/"+id+"/pause", nil)
	assert.Equal(t, http.StatusConflict, resp.StatusCode)
	assert.Equal(t, wire.ErrorBody{Code: 409, Message: "Error pausing sandbox - sandbox '" + id + "' is already paused"}, decodeJSON[wire.ErrorBody](t, resp))

	d := decodeJSON[wire.SandboxDetail](t, e.api(http.MethodGet, "/sandboxes/"+id, nil))
	assert.Equal(t, wire.StatePaused, d.State)
	assert.Equal(t, wire.MessageSandboxNotFound, proxyError(t, e.sandbox(id, e2b.InterpreterPort, http.MethodGet, "/health", nil)).Message)
	assert.Equal(t, http.StatusNotFound, e.api(http.MethodPost, "/sandboxes/"+id+"/timeout", map[string]any{"timeout": 5}).StatusCode)

	resp = e.api(http.MethodPost, "/sandboxes/"+id+"/resume", map[string]any{"timeout": 60})
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	assert.Equal(t, id, decodeJSON[wire.SandboxCreated](t, resp).SandboxID)
	assert.Equal(t, http.StatusOK, e.sandbox(id, e2b.InterpreterPort, http.MethodGet, "/health", nil).StatusCode)

	for _, path := range []string{"/pause", "/resume"} {
		resp = e.api(http.MethodPost, "/sandboxes/inope"+path, nil)
		assert.Equal(t, http.StatusNotFound, resp.StatusCode, path)
	}
}

func TestAutoPauseOnTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := &countingRuntime{Runtime: &ScriptedRuntime{}}
		e := newEnv(t, WithRuntime(rt))
		sb := e.create(map[string]any{"templateID": "base", "timeout": 10, "autoPause": true})
		time.Sleep(10 * time.Second)
		synctest.Wait()
		list := e.srv.Sandboxes()
		require.Len(t, list, 1)
		assert.Equal(t, wire.StatePaused, list[0].State)
		assert.Zero(t, rt.closed.Load(), "a paused sandbox keeps its instance")
		resp := e.api(http.MethodPost, "/sandboxes/"+sb.SandboxID+"/connect", map[string]any{"timeout": 10})
		assert.Equal(t, http.StatusCreated, resp.StatusCode)
	})
}

func TestList(t *testing.T) {
	e := newEnv(t)
	var ids []string
	for i, md := range []map[string]string{
		{"team": "a", "app": "x y"}, {"team": "b"}, {"team": "a"}, {"team": "a", "app": "x y"},
	} {
		sb := e.create(map[string]any{"templateID": "base", "metadata": md, "timeout": 100 + i})
		ids = append(ids, sb.SandboxID)
	}
	require.Equal(t, http.StatusNoContent, e.api(http.MethodPost, "/sandboxes/"+ids[2]+"/pause", nil).StatusCode)

	listIDs := func(resp *http.Response) []string {
		t.Helper()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		var out []string
		for _, d := range decodeJSON[[]wire.SandboxDetail](t, resp) {
			assert.Empty(t, d.EnvdAccessToken)
			out = append(out, d.SandboxID)
		}
		return out
	}
	meta := func(q string) string { return url.QueryEscape(q) }

	tests := []struct {
		name, path string
		want       []string
	}{
		{"v2 all states newest first", "/v2/sandboxes", []string{ids[3], ids[2], ids[1], ids[0]}},
		{"v2 running", "/v2/sandboxes?state=running", []string{ids[3], ids[1], ids[0]}},
		{"v2 paused", "/v2/sandboxes?state=paused", []string{ids[2]}},
		{"v2 both comma", "/v2/sandboxes?state=running,paused", []string{ids[3], ids[2], ids[1], ids[0]}},
		{"v2 metadata", "/v2/sandboxes?metadata=" + meta("team=a"), []string{ids[3], ids[2], ids[0]}},
		{"v2 metadata two keys encoded", "/v2/sandboxes?metadata=" + meta("team=a&app="+url.QueryEscape("x y")), []string{ids[3], ids[0]}},
		{"v2 metadata and state", "/v2/sandboxes?state=running&metadata=" + meta("team=a"), []string{ids[3], ids[0]}},
		{"v2 no match", "/v2/sandboxes?metadata=" + meta("team=z"), nil},
		{"v1 running only", "/sandboxes?metadata=" + meta("team=a"), []string{ids[3], ids[0]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, listIDs(e.api(http.MethodGet, tt.path, nil)))
		})
	}

	t.Run("paging", func(t *testing.T) {
		resp := e.api(http.MethodGet, "/v2/sandboxes?limit=3", nil)
		assert.Equal(t, "3", resp.Header.Get("X-Total-Running"))
		next := resp.Header.Get(wire.HeaderNextToken)
		require.NotEmpty(t, next)
		assert.Equal(t, []string{ids[3], ids[2], ids[1]}, listIDs(resp))

		resp = e.api(http.MethodGet, "/v2/sandboxes?limit=3&nextToken="+url.QueryEscape(next), nil)
		assert.Empty(t, resp.Header.Get(wire.HeaderNextToken), "last page")
		assert.Equal(t, []string{ids[0]}, listIDs(resp))

		resp = e.api(http.MethodGet, "/v2/sandboxes?limit=4", nil)
		assert.Empty(t, resp.Header.Get(wire.HeaderNextToken), "exactly full page has no next token")
		assert.Len(t, listIDs(resp), 4)
	})

	bad := []struct{ name, path, msg string }{
		{"limit zero", "/v2/sandboxes?limit=0", ""},
		{"limit too big", "/v2/sandboxes?limit=101", ""},
		{"bad token", "/v2/sandboxes?nextToken=%21%21", "Invalid next token"},
		{"bad state", "/v2/sandboxes?state=dead", ""},
		{"bad metadata", "/v2/sandboxes?metadata=" + meta("a=%zz"), "Error parsing metadata"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			resp := e.api(http.MethodGet, tt.path, nil)
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
			body := decodeJSON[wire.ErrorBody](t, resp)
			assert.Equal(t, 400, body.Code)
			if tt.msg != "" {
				assert.Equal(t, tt.msg, body.Message)
			}
		})
	}
}
