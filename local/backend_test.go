package local_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta/e2b"
	"github.com/tta-dev/tta/internal/testenv"
	"github.com/tta-dev/tta/local"
)

// validKey is a key in E2B's format.
const validKey = "e2b_0123456789abcdef0123456789abcdef01234567"

func TestE2BConfigured(t *testing.T) {
	for _, tt := range []struct {
		key  string
		want bool
	}{{"", false}, {validKey, true}, {"not-a-key", true}} {
		t.Setenv(e2b.EnvAPIKey, tt.key)
		assert.Equal(t, tt.want, local.E2BConfigured(), "E2B_API_KEY=%q", tt.key)
	}
}

func TestOpenStartsALocalServerWithoutE2BAPIKey(t *testing.T) {
	t.Setenv(e2b.EnvAPIKey, "")
	root := t.TempDir()
	b, err := local.Open(local.WithRoot(root))
	require.NoError(t, err)
	s := b.Local()
	require.NotNil(t, s)
	assert.Equal(t, "local sandbox server", b.String())
	assert.True(t, s.Loopback())
	assert.Equal(t, s.URL(), b.Client().APIURL())
	assert.Equal(t, s.URL(), b.Client().SandboxURL())
	assert.NotContains(t, b.Client().String(), s.APIKey(), "the key is not printed")

	sbx, err := b.Client().Create(t.Context(), e2b.CreateOptions{Template: e2b.BaseTemplate, Timeout: time.Minute})
	require.NoError(t, err)
	require.NoError(t, sbx.EnvdHealth(t.Context()))
	require.Len(t, s.Handler().Sandboxes(), 1)

	require.NoError(t, b.Close())
	assert.Empty(t, s.Handler().Sandboxes(), "Close killed the sandbox")
	testenv.AssertNoSandboxDirs(t, root)
	_, err = b.Client().List(t.Context(), e2b.ListOptions{})
	assert.Error(t, err, "the server is gone")
	b.Client().CloseIdleConnections()
	assert.NoError(t, b.Close(), "Close is idempotent")
}

func TestOpenChoosesE2BWithoutContactingIt(t *testing.T) {
	var requests atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.WriteHeader(http.StatusTeapot)
	}))
	defer ts.Close()
	t.Setenv(e2b.EnvAPIKey, validKey)
	t.Setenv(e2b.EnvAPIURL, ts.URL)
	t.Setenv(e2b.EnvSandboxURL, ts.URL)
	root := filepath.Join(t.TempDir(), "never")

	b, err := local.Open(local.WithRoot(root), local.WithTemplates(local.Template{Name: "ignored"}), local.WithAddr("127.0.0.1:0"))
	require.NoError(t, err)
	assert.Nil(t, b.Local())
	assert.Equal(t, "E2B", b.String())
	assert.Equal(t, ts.URL, b.Client().APIURL(), "configured from the environment")
	require.NoError(t, b.Close())
	assert.Zero(t, requests.Load(), "Open and Close contact nothing")
	_, err = os.Stat(root)
	assert.ErrorIs(t, err, os.ErrNotExist, "no local runtime was set up")
}

func TestOpenOnE2BDefaultsToE2BDomain(t *testing.T) {
	t.Setenv(e2b.EnvAPIKey, validKey)
	t.Setenv(e2b.EnvAPIURL, "")
	t.Setenv(e2b.EnvSandboxURL, "")
	t.Setenv(e2b.EnvDomain, "")
	b, err := local.Open()
	require.NoError(t, err)
	defer b.Close()
	assert.Equal(t, "https://api.e2b.app", b.Client().APIURL())
	assert.Nil(t, b.Local())
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name    string
		envKey  string
		opts    []local.Option
		wantErr error
	}{
		{name: "E2B_API_KEY not in E2B's format", envKey: "secret-key", wantErr: e2b.ErrInvalidAPIKey},
		{name: "options are checked on E2B too", envKey: validKey, opts: []local.Option{local.WithAPIKey("secret-key")}, wantErr: e2b.ErrInvalidAPIKey},
		{name: "invalid local key", envKey: "", opts: []local.Option{local.WithAPIKey("secret-key")}, wantErr: e2b.ErrInvalidAPIKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(e2b.EnvAPIKey, tt.envKey)
			b, err := local.Open(append([]local.Option{local.WithRoot(t.TempDir())}, tt.opts...)...)
			require.ErrorIs(t, err, tt.wantErr)
			assert.Nil(t, b)
			assert.NotContains(t, err.Error(), "secret-key", "keys are never in errors")
		})
	}
}

func TestOpenAppliesClientOptions(t *testing.T) {
	for _, e2bKey := range []string{"", validKey} {
		t.Run("E2B_API_KEY="+e2bKey, func(t *testing.T) {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte("[]"))
			}))
			defer ts.Close()
			t.Setenv(e2b.EnvAPIKey, e2bKey)
			t.Setenv(e2b.EnvAPIURL, ts.URL)
			var requests countingTransport
			b, err := local.Open(local.WithRoot(t.TempDir()), local.WithClientOptions(e2b.WithHTTPClient(&http.Client{Transport: &requests})))
			require.NoError(t, err)
			_, err = b.Client().List(t.Context(), e2b.ListOptions{})
			require.NoError(t, err)
			require.NoError(t, b.Close())
			requests.inner.CloseIdleConnections()
			assert.Equal(t, 1, requests.n, "the request went through the given HTTP client")
		})
	}
}
