package e2b

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta/e2b/wire"
)

// createdAnswer is a create answer with a field the client does not know.
const createdAnswer = `{"templateID":"tmpl1","sandboxID":"sbx1","alias":"code-interpreter-v1","clientID":"c1",` +
	`"envdVersion":"0.4.0","envdAccessToken":"` + testEnvdToken + `","domain":null,"futureField":{"x":1}}`

func TestCreateSendsTheSDKsRequest(t *testing.T) {
	allow := false
	tests := []struct {
		name     string
		opts     CreateOptions
		wantBody string
	}{
		{
			name:     "zero options: default template and 300 s",
			opts:     CreateOptions{},
			wantBody: `{"templateID":"code-interpreter-v1","timeout":300}`,
		},
		{
			name: "every option",
			opts: CreateOptions{
				Template:            "tta-ml-minimal",
				Timeout:             90 * time.Second,
				Metadata:            map[string]string{"run": "r1"},
				EnvVars:             map[string]string{"A": "1"},
				Secure:              true,
				AllowInternetAccess: &allow,
				AutoPause:           true,
			},
			wantBody: `{"templateID":"tta-ml-minimal","timeout":90,"autoPause":true,"secure":true,` +
				`"allow_internet_access":false,"metadata":{"run":"r1"},"envVars":{"A":"1"}}`,
		},
		{
			name:     "a timeout is rounded up to whole seconds",
			opts:     CreateOptions{Template: "base", Timeout: 1500 * time.Millisecond},
			wantBody: `{"templateID":"base","timeout":2}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{status: http.StatusCreated, body: createdAnswer}
			c := newTestClient(t, rec)
			sbx, err := c.Create(context.Background(), tt.opts)
			require.NoError(t, err)
			assert.Equal(t, "sbx1", sbx.ID())
			assert.Equal(t, "tmpl1", sbx.TemplateID())
			assert.Equal(t, "code-interpreter-v1", sbx.Alias())
			assert.Equal(t, "0.4.0", sbx.EnvdVersion())
			assert.True(t, sbx.Secure())

			got := rec.only(t)
			assert.Equal(t, http.MethodPost, got.Method)
			assert.Equal(t, "/sandboxes", got.Path)
			assert.Equal(t, testKey, got.Header.Get(wire.HeaderAPIKey))
			assert.Empty(t, got.Header.Get("Authorization"), "no access token configured")
			assert.Equal(t, "application/json", got.Header.Get("Content-Type"))
			assert.JSONEq(t, tt.wantBody, string(got.Body))
		})
	}
}

func TestCreateSendsTheAccessTokenAsBearer(t *testing.T) {
	rec := &recorder{status: http.StatusCreated, body: createdAnswer}
	c := newTestClient(t, rec, WithAccessToken(testAccessToken))
	_, err := c.Create(context.Background(), CreateOptions{})
	require.NoError(t, err)
	got := rec.only(t)
	assert.Equal(t, "Bearer "+testAccessToken, got.Header.Get("Authorization"))
	assert.Equal(t, testKey, got.Header.Get(wire.HeaderAPIKey))
}

func TestCreateRejectsBadInputBeforeSending(t *testing.T) {
	rec := &recorder{status: http.StatusCreated, body: createdAnswer}
	c := newTestClient(t, rec)
	_, err := c.Create(context.Background(), CreateOptions{Timeout: -time.Second})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "timeout must be >= 0")
	assert.Empty(t, rec.seen)
}

func TestCreateWithMalformedAnswer(t *testing.T) {
	for _, body := range []string{`{"sandboxID":`, `[1,2]`, `{"templateID":"t"}`} {
		t.Run(body, func(t *testing.T) {
			c := newTestClient(t, &recorder{status: http.StatusCreated, body: body})
			sbx, err := c.Create(context.Background(), CreateOptions{})
			require.Error(t, err)
			assert.Nil(t, sbx)
			assert.Contains(t, err.Error(), "e2b: create sandbox: ")
		})
	}
}

func TestGetDecodesTheDetail(t *testing.T) {
	rec := &recorder{status: http.StatusOK, body: `{"templateID":"tmpl1","alias":"base","sandboxID":"sbx1","clientID":"c",` +
		`"startedAt":"2025-01-02T03:04:05Z","endAt":"2025-01-02T03:09:05Z","envdVersion":"0.4.1","envdAccessToken":"x",` +
		`"allowInternetAccess":true,"domain":"e2b.app","cpuCount":2,"memoryMB":512,"diskSizeMB":1024,` +
		`"metadata":{"k":"v"},"state":"running","network":{"allowOut":[]}}`}
	c := newTestClient(t, rec)
	info, err := c.Get(context.Background(), "sbx1")
	require.NoError(t, err)
	got := rec.only(t)
	assert.Equal(t, http.MethodGet, got.Method)
	assert.Equal(t, "/sandboxes/sbx1", got.Path)
	assert.Equal(t, testKey, got.Header.Get(wire.HeaderAPIKey))
	assert.Empty(t, got.Body)

	assert.Equal(t, "sbx1", info.ID)
	assert.Equal(t, "tmpl1", info.TemplateID)
	assert.Equal(t, "base", info.Alias)
	assert.Equal(t, StateRunning, info.State)
	assert.Equal(t, time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), info.StartedAt)
	assert.Equal(t, time.Date(2025, 1, 2, 3, 9, 5, 0, time.UTC), info.EndAt)
	assert.Equal(t, map[string]string{"k": "v"}, info.Metadata)
	assert.Equal(t, 2, info.CPUCount)
	assert.Equal(t, 512, info.MemoryMB)
	assert.Equal(t, 1024, info.DiskSizeMB)
	assert.Equal(t, "0.4.1", info.EnvdVersion)
	require.NotNil(t, info.AllowInternetAccess)
	assert.True(t, *info.AllowInternetAccess)
	assert.Equal(t, "e2b.app", info.Domain)
}

func TestGetUnknownSandbox(t *testing.T) {
	c := newTestClient(t, &recorder{status: http.StatusNotFound, body: `{"code":404,"message":"sandbox \"sbx9\" not found"}`})
	info, err := c.Get(context.Background(), "sbx9")
	assert.Nil(t, info)
	require.ErrorIs(t, err, ErrSandboxNotFound)
	require.ErrorIs(t, err, ErrNotFound)
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, "sbx9", apiErr.SandboxID)
	assert.False(t, apiErr.Transient())
}

func TestEmptySandboxIDIsRejectedBeforeSending(t *testing.T) {
	rec := &recorder{status: http.StatusOK, body: `{}`}
	c := newTestClient(t, rec)
	ctx := context.Background()
	_, err := c.Get(ctx, "")
	assert.ErrorContains(t, err, "empty sandbox ID")
	_, err = c.Kill(ctx, "")
	assert.ErrorContains(t, err, "empty sandbox ID")
	assert.ErrorContains(t, c.SetTimeout(ctx, "", time.Minute), "empty sandbox ID")
	assert.ErrorContains(t, c.Pause(ctx, ""), "empty sandbox ID")
	_, err = c.Connect(ctx, "", 0)
	assert.ErrorContains(t, err, "empty sandbox ID")
	assert.Empty(t, rec.seen)
}

func TestListSendsFiltersAndReadsTheNextToken(t *testing.T) {
	rec := &recorder{
		status: http.StatusOK,
		header: map[string]string{wire.HeaderNextToken: "page-2"},
		body: `[{"templateID":"t","sandboxID":"a","clientID":"c","startedAt":"2025-01-02T03:04:05Z","endAt":"2025-01-02T03:09:05Z",` +
			`"cpuCount":1,"memoryMB":256,"diskSizeMB":512,"state":"paused","envdVersion":"0.4.0","metadata":{"user":"a b"}},` +
			`{"templateID":"t","sandboxID":"b","clientID":"c","startedAt":"2025-01-02T03:04:05Z","endAt":"2025-01-02T03:09:05Z",` +
			`"cpuCount":1,"memoryMB":256,"diskSizeMB":512,"state":"running","envdVersion":"0.4.0"}]`,
	}
	c := newTestClient(t, rec)
	page, err := c.List(context.Background(), ListOptions{
		Metadata:  map[string]string{"user": "a b", "app": "p&q"},
		State:     []SandboxState{StateRunning, StatePaused},
		Limit:     10,
		NextToken: "page-1",
	})
	require.NoError(t, err)
	assert.Equal(t, "page-2", page.NextToken)
	require.Len(t, page.Sandboxes, 2)
	assert.Equal(t, "a", page.Sandboxes[0].ID)
	assert.Equal(t, StatePaused, page.Sandboxes[0].State)
	assert.Equal(t, "b", page.Sandboxes[1].ID)

	got := rec.only(t)
	assert.Equal(t, http.MethodGet, got.Method)
	assert.Equal(t, "/v2/sandboxes", got.Path)
	assert.Equal(t, "limit=10&metadata=app%3Dp%252526q%26user%3Da%252520b&nextToken=page-1&state=running%2Cpaused", got.RawQuery,
		"keys and values escaped three times, as E2B's SDKs do")
	q, err := url.ParseQuery(got.RawQuery)
	require.NoError(t, err)
	assert.Equal(t, "app=p%2526q&user=a%2520b", q.Get("metadata"), "one value holding the pairs")
	// E2B's API unescapes the value as a whole, then each key and value.
	pairs, err := url.QueryUnescape(q.Get("metadata"))
	require.NoError(t, err)
	inner, err := url.ParseQuery(pairs)
	require.NoError(t, err)
	assert.Equal(t, url.Values{"app": {"p&q"}, "user": {"a b"}}, inner)
	assert.Equal(t, "running,paused", q.Get("state"))
}

func TestListEncodesMetadataLikeTheSDK(t *testing.T) {
	rec := &recorder{status: http.StatusOK, body: `[]`}
	c := newTestClient(t, rec)
	_, err := c.List(context.Background(), ListOptions{Metadata: map[string]string{"tta-conformance": "a b/c"}})
	require.NoError(t, err)
	// The bytes E2B's JS SDK 2.51 sends for this filter (conformance/js/WIRE.md).
	assert.Equal(t, "metadata=tta-conformance%3Da%252520b%25252Fc", rec.only(t).RawQuery)
}

func TestListWithoutOptionsSendsNoQuery(t *testing.T) {
	rec := &recorder{status: http.StatusOK, body: `[]`}
	c := newTestClient(t, rec)
	page, err := c.List(context.Background(), ListOptions{})
	require.NoError(t, err)
	assert.Empty(t, page.Sandboxes)
	assert.Empty(t, page.NextToken)
	assert.Empty(t, rec.only(t).RawQuery)

	_, err = c.List(context.Background(), ListOptions{Limit: -1})
	assert.ErrorContains(t, err, "Limit must be >= 0")
}

func TestKill(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		body       string
		wantKilled bool
		wantErr    bool
	}{
		{"killed", http.StatusNoContent, "", true, false},
		{"already gone", http.StatusNotFound, `{"code":404,"message":"not found"}`, false, false},
		{"server error", http.StatusInternalServerError, `{"code":500,"message":"boom"}`, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{status: tt.status, body: tt.body}
			c := newTestClient(t, rec)
			killed, err := c.Kill(context.Background(), "sbx1")
			assert.Equal(t, tt.wantKilled, killed)
			if tt.wantErr {
				assert.Error(t, err)
			} else {
				assert.NoError(t, err)
			}
			got := rec.only(t)
			assert.Equal(t, http.MethodDelete, got.Method)
			assert.Equal(t, "/sandboxes/sbx1", got.Path)
			assert.Equal(t, testKey, got.Header.Get(wire.HeaderAPIKey))
		})
	}
}

func TestKillRunsWithACancelledContext(t *testing.T) {
	rec := &recorder{status: http.StatusNoContent}
	c := newTestClient(t, rec)
	sbx := testSandbox(c, false)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	killed, err := sbx.Kill(ctx)
	require.NoError(t, err)
	assert.True(t, killed)
	assert.Equal(t, "/sandboxes/sbx1", rec.only(t).Path)
}

func TestSetTimeout(t *testing.T) {
	rec := &recorder{status: http.StatusNoContent}
	c := newTestClient(t, rec)
	require.NoError(t, testSandbox(c, false).SetTimeout(context.Background(), 61*time.Second+time.Millisecond))
	got := rec.only(t)
	assert.Equal(t, http.MethodPost, got.Method)
	assert.Equal(t, "/sandboxes/sbx1/timeout", got.Path)
	assert.JSONEq(t, `{"timeout":62}`, string(got.Body))

	assert.ErrorContains(t, c.SetTimeout(context.Background(), "sbx1", 0), "timeout must be > 0")
}

func TestSetTimeoutOnUnknownSandbox(t *testing.T) {
	c := newTestClient(t, &recorder{status: http.StatusNotFound, body: `{"code":404,"message":"gone"}`})
	err := c.SetTimeout(context.Background(), "sbx1", time.Minute)
	assert.ErrorIs(t, err, ErrSandboxNotFound)
}

func TestConnect(t *testing.T) {
	for _, status := range []int{http.StatusOK, http.StatusCreated} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			rec := &recorder{status: status, body: `{"templateID":"tmpl1","sandboxID":"sbx1","clientID":"c","envdVersion":"0.4.0",` +
				`"envdAccessToken":"` + testEnvdToken + `","trafficAccessToken":"` + testTrafficToken + `","domain":"custom.dev"}`}
			c := newTestClient(t, rec)
			sbx, err := c.Connect(context.Background(), "sbx1", 0)
			require.NoError(t, err)
			assert.Equal(t, "sbx1", sbx.ID())
			assert.Equal(t, "custom.dev", sbx.Domain())
			assert.Equal(t, testTrafficToken, sbx.trafficToken)
			got := rec.only(t)
			assert.Equal(t, http.MethodPost, got.Method)
			assert.Equal(t, "/sandboxes/sbx1/connect", got.Path)
			assert.JSONEq(t, `{"timeout":300}`, string(got.Body))
		})
	}
}

func TestPause(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		wantErr error
	}{
		{"paused", http.StatusNoContent, "", nil},
		{"already paused is success", http.StatusConflict, `{"code":409,"message":"sandbox is already paused"}`, nil},
		{"unknown sandbox", http.StatusNotFound, `{"code":404,"message":"not found"}`, ErrSandboxNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{status: tt.status, body: tt.body}
			c := newTestClient(t, rec)
			err := testSandbox(c, false).Pause(context.Background())
			if tt.wantErr == nil {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, tt.wantErr)
			}
			got := rec.only(t)
			assert.Equal(t, http.MethodPost, got.Method)
			assert.Equal(t, "/sandboxes/sbx1/pause", got.Path)
			assert.Empty(t, got.Body)
		})
	}
}

func TestSandboxInfoAsksTheControlPlane(t *testing.T) {
	rec := &recorder{status: http.StatusOK, body: `{"sandboxID":"sbx1","templateID":"tmpl1","state":"paused"}`}
	c := newTestClient(t, rec)
	info, err := testSandbox(c, false).Info(context.Background())
	require.NoError(t, err)
	assert.Equal(t, StatePaused, info.State)
	assert.Equal(t, "/sandboxes/sbx1", rec.only(t).Path)
}
