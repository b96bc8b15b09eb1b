package e2b

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta/e2b/wire"
)

// secrets are the values no printed form may contain.
var secrets = []string{testKey, testAccessToken, testEnvdToken, testTrafficToken}

func assertNoSecret(t *testing.T, s string) {
	t.Helper()
	for _, secret := range secrets {
		assert.NotContains(t, s, secret)
	}
}

// printForms renders v in every way a program might print it.
func printForms(v any) []string {
	forms := []string{fmt.Sprint(v), fmt.Sprintln(v)}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T %v", "%10v", "%-10s", "%#q"} {
		forms = append(forms, fmt.Sprintf(verb, v))
	}
	return forms
}

func newSecretClient(t *testing.T) *Client {
	t.Helper()
	clearEnv(t)
	c, err := NewClient(WithAPIKey(testKey), WithAccessToken(testAccessToken), WithSandboxURL("http://user:hunter2@127.0.0.1:1"))
	require.NoError(t, err)
	return c
}

func newSecretSandbox(c *Client) *Sandbox {
	traffic := testTrafficToken
	return newSandbox(c, wire.SandboxCreated{SandboxID: "sbx1", TemplateID: "tmpl1", EnvdAccessToken: testEnvdToken, TrafficAccessToken: &traffic})
}

func TestClientPrintsNoSecret(t *testing.T) {
	c := newSecretClient(t)
	type holder struct {
		Client  Client
		Pointer *Client
		Config  config
	}
	values := map[string]any{
		"pointer":         c,
		"value":           *c,
		"config":          c.cfg,
		"config pointer":  &c.cfg,
		"in a struct":     holder{Client: *c, Pointer: c, Config: c.cfg},
		"in a struct ptr": &holder{Client: *c, Pointer: c, Config: c.cfg},
		"in a slice":      []*Client{c},
		"in a map":        map[string]Client{"c": *c},
	}
	for name, v := range values {
		t.Run(name, func(t *testing.T) {
			for _, s := range printForms(v) {
				assertNoSecret(t, s)
				assert.NotContains(t, s, "hunter2")
			}
		})
	}
	assert.Equal(t, "e2b.Client{APIURL: https://api.e2b.app, Domain: e2b.app, SandboxURL: http://user:xxxxx@127.0.0.1:1, APIKey: [redacted], AccessToken: [redacted]}", c.String())
	assert.Equal(t, c.String(), fmt.Sprintf("%#v", c))
}

func TestSandboxPrintsNoSecret(t *testing.T) {
	c := newSecretClient(t)
	sbx := newSecretSandbox(c)
	for name, v := range map[string]any{"pointer": sbx, "value": *sbx, "in a struct": struct{ S Sandbox }{*sbx}} {
		t.Run(name, func(t *testing.T) {
			for _, s := range printForms(v) {
				assertNoSecret(t, s)
			}
		})
	}
	assert.Equal(t, "e2b.Sandbox{ID: sbx1, TemplateID: tmpl1, Domain: e2b.app, AccessToken: [redacted], TrafficAccessToken: [redacted]}", sbx.String())
}

func TestErrorsPrintNoSecret(t *testing.T) {
	// A server that echoes every credential it received in its error message.
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b strings.Builder
		for _, h := range []string{wire.HeaderAPIKey, "Authorization", wire.HeaderAccessToken, wire.HeaderTrafficToken} {
			fmt.Fprintf(&b, "%s=%s ", h, r.Header.Get(h))
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, `{"code":401,"message":%q}`, b.String())
	})
	c := newTestClient(t, echo, WithAccessToken(testAccessToken))
	sbx := newSecretSandbox(c)
	ctx := context.Background()

	_, err := c.Create(ctx, CreateOptions{})
	require.ErrorIs(t, err, ErrUnauthorized)
	assert.Contains(t, err.Error(), "X-API-Key=[redacted]")
	errs := []error{err}
	healthErr := sbx.InterpreterHealth(ctx)
	require.Error(t, healthErr)
	assert.Contains(t, healthErr.Error(), "X-Access-Token=[redacted] E2B-Traffic-Access-Token=[redacted]")
	errs = append(errs, healthErr)
	_, err = sbx.RunCode(ctx, "1", RunCodeOptions{})
	errs = append(errs, err)
	_, err = sbx.ReadFile(ctx, "/a")
	errs = append(errs, err)
	for _, err := range errs {
		require.Error(t, err)
		for _, s := range printForms(err) {
			assertNoSecret(t, s)
		}
	}
}

func TestTransportErrorPrintsNoSecret(t *testing.T) {
	addr := refusingAddr(t)

	clearEnv(t)
	c, err := NewClient(WithAPIKey(testKey), WithAPIURL("http://user:hunter2@"+addr))
	require.NoError(t, err)
	_, err = c.Create(context.Background(), CreateOptions{})
	require.Error(t, err)
	for _, s := range printForms(err) {
		assertNoSecret(t, s)
		assert.NotContains(t, s, "hunter2")
	}
}

func TestRedactorHidesKeyShapedWords(t *testing.T) {
	r := redactor{"tok-123456"}
	assert.Equal(t, "key [redacted] and [redacted] and [redacted]", r.apply("key e2b_abcdef0123 and tok-123456 and E2B_ABCDEF99"))
	assert.Equal(t, "e2b_ is fine", r.apply("e2b_ is fine"))
}
