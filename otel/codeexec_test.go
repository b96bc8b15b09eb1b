package otel_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/tta-dev/tta"
	"github.com/tta-dev/tta/e2b/e2bserver"
	"github.com/tta-dev/tta/e2b/e2btest"
	"github.com/tta-dev/tta/internal/testenv"
	"github.com/tta-dev/tta/ttatest"
)

// everything returns every text a span holds: its name, attributes, events
// and their attributes, status, links and resource.
func everything(s tracetest.SpanStub) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s", s.Name, s.Status.Code, s.Status.Description)
	for _, kv := range s.Attributes {
		fmt.Fprintf(&b, " %s=%s", kv.Key, kv.Value.Emit())
	}
	for _, ev := range s.Events {
		fmt.Fprintf(&b, " event %s", ev.Name)
		for _, kv := range ev.Attributes {
			fmt.Fprintf(&b, " %s=%s", kv.Key, kv.Value.Emit())
		}
	}
	for _, l := range s.Links {
		for _, kv := range l.Attributes {
			fmt.Fprintf(&b, " %s=%s", kv.Key, kv.Value.Emit())
		}
	}
	if s.Resource != nil {
		for _, kv := range s.Resource.Attributes() {
			fmt.Fprintf(&b, " %s=%s", kv.Key, kv.Value.Emit())
		}
	}
	return b.String()
}

// The secrets of a run, each of which a span must never hold.
const (
	secretCode   = "token = 'code-secret-7f3a'"
	secretEnvKey = "SERVICE_PASSWORD"
	secretEnvVal = "env-secret-91c2"
	secretOutput = "output-secret-44d0"
	secretRaised = "raised-secret-0b8e"
	secretFile   = "file-secret-5e61"
)

func TestSpans_CodeExecutionOverE2B(t *testing.T) {
	env := e2btest.StartInMemory(t, e2bserver.WithRuntime(&e2bserver.ScriptedRuntime{
		Exec: func(_ context.Context, cell *e2bserver.Cell) error {
			if err := cell.Stdout(secretOutput + "\n"); err != nil {
				return err
			}
			return cell.Raise("KeyError", secretRaised, "Traceback: "+secretRaised)
		},
	}))
	r := newRecorder(t)
	exec := testenv.ServerExec(t, env, tta.WithTelemetry(r.tel))
	in := tta.CodeInput{
		Code:  secretCode,
		Env:   map[string]string{secretEnvKey: secretEnvVal},
		Files: []tta.File{{Path: "secret.txt", Data: []byte(secretFile)}},
	}

	out, err := exec.Execute(t.Context(), in)
	require.NoError(t, err, "the code's error is a result")
	require.NotNil(t, out.Error)

	session, err := exec.NewSession(t.Context())
	require.NoError(t, err)
	sandboxes := env.Server.Sandboxes()
	require.Len(t, sandboxes, 1)
	accessToken := sandboxes[0].EnvdAccessToken
	require.NotEmpty(t, accessToken, "sandboxes are secured: envd requires an access token")
	sessionOut, err := session.Execute(t.Context(), in)
	require.NoError(t, err)
	require.NoError(t, session.Close())

	call := r.one(t, "tta.CodeExecution")
	assert.Equal(t, tta.DefaultTemplateName, mustAttr(t, call.Attributes, "tta.template").AsString())
	assert.Equal(t, "python", mustAttr(t, call.Attributes, "tta.code.language").AsString())
	assert.Equal(t, out.SandboxID, mustAttr(t, call.Attributes, "tta.sandbox.id").AsString())
	assert.False(t, mustAttr(t, call.Attributes, "tta.sandbox.pooled").AsBool())
	assert.True(t, mustAttr(t, call.Attributes, "tta.code.error").AsBool())
	assert.Equal(t, "KeyError", mustAttr(t, call.Attributes, "tta.code.error.name").AsString())
	assert.Equal(t, codes.Unset, call.Status.Code, "code that raised is a result, not a failed call")

	byParent := func(parent tracetest.SpanStub, name string) tracetest.SpanStub {
		t.Helper()
		for _, s := range r.named(name) {
			if s.Parent.SpanID() == parent.SpanContext.SpanID() {
				return s
			}
		}
		t.Fatalf("no %s span under %s in\n%s", name, parent.Name, r.tree())
		return tracetest.SpanStub{}
	}
	create := byParent(call, "tta.sandbox.create")
	assert.Equal(t, out.SandboxID, mustAttr(t, create.Attributes, "tta.sandbox.id").AsString())
	ready := byParent(call, "tta.sandbox.ready")
	assert.Positive(t, mustAttr(t, ready.Attributes, "tta.sandbox.probes").AsInt64())
	assert.Equal(t, 60.0, mustAttr(t, ready.Attributes, "tta.sandbox.init_window").AsFloat64())
	assert.False(t, ready.StartTime.Before(create.EndTime), "the wait follows the create")
	run := byParent(call, "tta.code.run")
	assert.Equal(t, "KeyError", mustAttr(t, run.Attributes, "tta.code.error.name").AsString())
	assert.False(t, run.StartTime.Before(ready.EndTime), "the run follows the wait")
	byParent(call, "tta.sandbox.kill")

	sess := r.one(t, "tta.Session")
	assert.Equal(t, sessionOut.SandboxID, mustAttr(t, sess.Attributes, "tta.sandbox.id").AsString())
	byParent(sess, "tta.code.run")

	secrets := []string{secretCode, "code-secret", secretEnvKey, secretEnvVal, secretOutput, secretRaised, secretFile, env.APIKey, accessToken}
	require.NotEmpty(t, r.ended())
	for _, s := range r.ended() {
		text := everything(s)
		for _, secret := range secrets {
			assert.NotContains(t, text, secret, "span %s", s.Name)
		}
	}
}

func TestSpans_TemplateNotReady(t *testing.T) {
	r := newRecorder(t)
	fake := ttatest.NewFakeProvider(ttatest.FakeTemplate{Name: "heavy", NeverReady: true})
	exec := testenv.FakeExec(t, fake, tta.WithTemplate(tta.Template{Name: "heavy"}), tta.WithInitWindow(1))
	_, err := exec.Execute(r.ctx(t), tta.CodeInput{Code: "import torch"})
	require.ErrorIs(t, err, tta.ErrTemplateNotReady)

	call := r.one(t, "tta.CodeExecution")
	assert.Equal(t, "template_not_ready", call.Status.Description)
	assert.Equal(t, "heavy", mustAttr(t, call.Attributes, "tta.template").AsString())
	ready := r.one(t, "tta.sandbox.ready")
	assert.Equal(t, codes.Error, ready.Status.Code)
	assert.Equal(t, "template_not_ready", mustAttr(t, ready.Attributes, "error.type").AsString())
	assert.Empty(t, r.named("tta.code.run"), "the code never ran")
	_, hasCodeError := attr(call.Attributes, "tta.code.error")
	assert.False(t, hasCodeError, "no code error when the code did not run")
}

func TestSpans_CreateFailed(t *testing.T) {
	r := newRecorder(t)
	fake := ttatest.NewFakeProvider()
	fake.Fail(ttatest.Fault{Op: ttatest.OpCreate, Err: errors.New("quota exceeded")})
	exec := testenv.FakeExec(t, fake)
	_, err := exec.Execute(r.ctx(t), tta.CodeInput{Code: "1"})
	require.Error(t, err)
	create := r.one(t, "tta.sandbox.create")
	assert.Equal(t, codes.Error, create.Status.Code)
	assert.Equal(t, "sandbox", create.Status.Description)
	assert.Equal(t, "sandbox", r.one(t, "tta.CodeExecution").Status.Description)
	assert.Empty(t, r.named("tta.sandbox.ready"))
}

func TestSpans_RuntimeInstall(t *testing.T) {
	r := newRecorder(t)
	fake := ttatest.NewFakeProvider()
	fake.RejectPackage("missing-package")
	exec := testenv.FakeExec(t, fake, tta.WithPackages("numpy"))
	ctx := r.ctx(t)
	_, err := exec.Execute(ctx, tta.CodeInput{Code: "1"})
	require.NoError(t, err)
	_, err = exec.Execute(ctx, tta.CodeInput{Code: "1", Packages: []string{"missing-package"}})
	var installErr *tta.InstallError
	require.ErrorAs(t, err, &installErr)

	installs := r.named("tta.sandbox.install")
	require.Len(t, installs, 3, "numpy in each sandbox, then missing-package")
	assert.Equal(t, []string{"numpy"}, mustAttr(t, installs[0].Attributes, "tta.packages").AsStringSlice())
	assert.Equal(t, codes.Unset, installs[0].Status.Code)
	assert.Equal(t, []string{"missing-package"}, mustAttr(t, installs[2].Attributes, "tta.packages").AsStringSlice())
	assert.Equal(t, "install", installs[2].Status.Description)
	calls := r.named("tta.CodeExecution")
	require.Len(t, calls, 2)
	for i, call := range []int{0, 1, 1} {
		assert.Equal(t, calls[call].SpanContext.SpanID(), installs[i].Parent.SpanID(), "install %d is part of its call", i)
	}
}
