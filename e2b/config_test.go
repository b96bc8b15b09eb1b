package e2b

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewClientConfigPrecedence(t *testing.T) {
	tests := []struct {
		name           string
		env            map[string]string
		opts           []Option
		wantAPIURL     string
		wantDomain     string
		wantSandboxURL string
	}{
		{
			name:       "defaults",
			env:        map[string]string{EnvAPIKey: testKey},
			wantAPIURL: "https://api.e2b.app",
			wantDomain: "e2b.app",
		},
		{
			name:       "domain from the environment",
			env:        map[string]string{EnvAPIKey: testKey, EnvDomain: "example.dev"},
			wantAPIURL: "https://api.example.dev",
			wantDomain: "example.dev",
		},
		{
			name:       "WithDomain wins over E2B_DOMAIN",
			env:        map[string]string{EnvAPIKey: testKey, EnvDomain: "example.dev"},
			opts:       []Option{WithDomain("other.dev")},
			wantAPIURL: "https://api.other.dev",
			wantDomain: "other.dev",
		},
		{
			name:       "E2B_API_URL overrides the domain's API URL",
			env:        map[string]string{EnvAPIKey: testKey, EnvDomain: "example.dev", EnvAPIURL: "http://127.0.0.1:3000/"},
			wantAPIURL: "http://127.0.0.1:3000",
			wantDomain: "example.dev",
		},
		{
			name:       "E2B_API_URL wins over WithDomain, as in the SDKs",
			env:        map[string]string{EnvAPIKey: testKey, EnvAPIURL: "http://127.0.0.1:3000"},
			opts:       []Option{WithDomain("other.dev")},
			wantAPIURL: "http://127.0.0.1:3000",
			wantDomain: "other.dev",
		},
		{
			name:       "WithAPIURL wins over E2B_API_URL",
			env:        map[string]string{EnvAPIKey: testKey, EnvAPIURL: "http://127.0.0.1:3000"},
			opts:       []Option{WithAPIURL("http://127.0.0.1:4000")},
			wantAPIURL: "http://127.0.0.1:4000",
			wantDomain: "e2b.app",
		},
		{
			name:           "sandbox URL from the environment",
			env:            map[string]string{EnvAPIKey: testKey, EnvSandboxURL: "http://127.0.0.1:5000/"},
			wantAPIURL:     "https://api.e2b.app",
			wantDomain:     "e2b.app",
			wantSandboxURL: "http://127.0.0.1:5000",
		},
		{
			name:           "WithSandboxURL wins over E2B_SANDBOX_URL",
			env:            map[string]string{EnvAPIKey: testKey, EnvSandboxURL: "http://127.0.0.1:5000"},
			opts:           []Option{WithSandboxURL("http://127.0.0.1:6000")},
			wantAPIURL:     "https://api.e2b.app",
			wantDomain:     "e2b.app",
			wantSandboxURL: "http://127.0.0.1:6000",
		},
		{
			name:       "empty options fall back to the environment",
			env:        map[string]string{EnvAPIKey: testKey, EnvDomain: "example.dev"},
			opts:       []Option{WithAPIKey(""), WithDomain(""), WithAPIURL("")},
			wantAPIURL: "https://api.example.dev",
			wantDomain: "example.dev",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			c, err := NewClient(tt.opts...)
			require.NoError(t, err)
			assert.Equal(t, tt.wantAPIURL, c.APIURL())
			assert.Equal(t, tt.wantDomain, c.Domain())
			assert.Equal(t, tt.wantSandboxURL, c.SandboxURL())
		})
	}
}

func TestNewClientKeyAndTokenSources(t *testing.T) {
	clearEnv(t)
	t.Setenv(EnvAPIKey, "e2b_aaaa")
	t.Setenv(EnvAccessToken, "env-token")

	c, err := NewClient()
	require.NoError(t, err)
	assert.Equal(t, "e2b_aaaa", c.cfg.apiKey)
	assert.Equal(t, "env-token", c.cfg.accessToken)

	c, err = NewClient(WithAPIKey("e2b_bbbb"), WithAccessToken("opt-token"))
	require.NoError(t, err)
	assert.Equal(t, "e2b_bbbb", c.cfg.apiKey)
	assert.Equal(t, "opt-token", c.cfg.accessToken)
}

func TestNewClientRequestTimeout(t *testing.T) {
	clearEnv(t)
	c, err := NewClient(WithAPIKey(testKey))
	require.NoError(t, err)
	assert.Equal(t, DefaultRequestTimeout, c.cfg.requestTimeout)

	c, err = NewClient(WithAPIKey(testKey), WithRequestTimeout(0))
	require.NoError(t, err)
	assert.Equal(t, time.Duration(0), c.cfg.requestTimeout, "zero disables the bound")

	_, err = NewClient(WithAPIKey(testKey), WithRequestTimeout(-time.Second))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "request timeout must be >= 0")
}

func TestNewClientRejectsANilOption(t *testing.T) {
	clearEnv(t)
	_, err := NewClient(WithAPIKey(testKey), nil)
	require.EqualError(t, err, "e2b: NewClient: option 2 is nil; pass only options such as WithAPIKey")
}

func TestNewClientWithoutKeyNamesTheVariable(t *testing.T) {
	clearEnv(t)
	c, err := NewClient()
	require.ErrorIs(t, err, ErrNoAPIKey)
	assert.Nil(t, c)
	assert.Contains(t, err.Error(), "E2B_API_KEY")
}

func TestNewClientValidatesKeyShape(t *testing.T) {
	tests := []struct {
		key   string
		valid bool
	}{
		{"e2b_0123456789abcdef", true},
		{"E2B_ABCDEF0123", true}, // the SDKs' check ignores case
		{"e2b_xyz123", false},
		{"sk-9f8e7d6c5b4a", false},
		{"9f8e7d6c5b4a", false},
		{" e2b_9f8e7d", false},
		{"e2b_9f8e7d ", false},
		{"e2b_9f8e7d-6c5b", false},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			clearEnv(t)
			c, err := NewClient(WithAPIKey(tt.key))
			if tt.valid {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrInvalidAPIKey)
			assert.Nil(t, c)
			assert.NotContains(t, err.Error(), tt.key, "the message must not echo the key")
			assert.Contains(t, err.Error(), `"e2b_" followed by hexadecimal digits`)
		})
	}
}

func TestNewClientInvalidKeyFromEnvironment(t *testing.T) {
	clearEnv(t)
	t.Setenv(EnvAPIKey, "not-a-key-secret-value")
	_, err := NewClient()
	require.ErrorIs(t, err, ErrInvalidAPIKey)
	assert.NotContains(t, err.Error(), "not-a-key-secret-value")
}

func TestNewClientRejectsMalformedURLsAndDomains(t *testing.T) {
	tests := []struct {
		name string
		opt  Option
		want string
	}{
		{"relative API URL", WithAPIURL("api.e2b.app"), "API URL"},
		{"ftp API URL", WithAPIURL("ftp://api.e2b.app"), "API URL"},
		{"sandbox URL without host", WithSandboxURL("http://"), "sandbox URL"},
		{"domain with a scheme", WithDomain("https://e2b.app"), "not a bare domain"},
		{"API URL password is not shown", WithAPIURL("ftp://user:hunter2@host"), "API URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			_, err := NewClient(WithAPIKey(testKey), tt.opt)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), "hunter2")
		})
	}
}
