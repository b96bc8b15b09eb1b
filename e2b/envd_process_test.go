package e2b

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tta-dev/tta/e2b/internal/envd/process"
	"github.com/tta-dev/tta/e2b/internal/envd/process/processconnect"

	"github.com/tta-dev/tta/e2b/wire"
)

// fakeProcess is a process.Process whose Start runs a script of events.
type fakeProcess struct {
	processconnect.UnimplementedProcessHandler

	// script is sent by Start; when block is set, Start then waits for its
	// request to end and closes ended.
	script   []*process.ProcessEvent
	block    bool
	ended    chan struct{}
	received chan struct{} // closed, if not nil, once Start has its request

	mu      sync.Mutex // protects the fields below
	start   *process.StartRequest
	headers http.Header
	signals []*process.SendSignalRequest
}

func (p *fakeProcess) Start(ctx context.Context, req *connect.Request[process.StartRequest], stream *connect.ServerStream[process.StartResponse]) error {
	p.mu.Lock()
	p.start = req.Msg
	p.headers = req.Header().Clone()
	p.mu.Unlock()
	if p.received != nil {
		close(p.received)
	}
	for _, ev := range p.script {
		if err := stream.Send(&process.StartResponse{Event: ev}); err != nil {
			return err
		}
	}
	if p.block {
		<-ctx.Done()
		close(p.ended)
		return ctx.Err()
	}
	return nil
}

func (p *fakeProcess) SendSignal(_ context.Context, req *connect.Request[process.SendSignalRequest]) (*connect.Response[process.SendSignalResponse], error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.signals = append(p.signals, req.Msg)
	return connect.NewResponse(&process.SendSignalResponse{}), nil
}

func (p *fakeProcess) signalsSent() []*process.SendSignalRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*process.SendSignalRequest(nil), p.signals...)
}

// assertKilled checks that exactly one SIGKILL was sent, to pid, or to the
// request's tag when the time ran out before the start event arrived.
func assertKilled(t *testing.T, p *fakeProcess, pid uint32) {
	t.Helper()
	signals := p.signalsSent()
	require.Len(t, signals, 1)
	assert.Equal(t, process.Signal_SIGNAL_SIGKILL, signals[0].GetSignal())
	p.mu.Lock()
	tag := p.start.GetTag()
	p.mu.Unlock()
	sel := signals[0].GetProcess()
	assert.True(t, sel.GetPid() == pid || sel.GetTag() == tag, "killed %v, want pid %d or tag %s", sel, pid, tag)
}

func processconnectHandler(p *fakeProcess) (string, http.Handler) {
	return processconnect.NewProcessHandler(p)
}

func startEvent(pid uint32) *process.ProcessEvent {
	return &process.ProcessEvent{Event: &process.ProcessEvent_Start{Start: &process.ProcessEvent_StartEvent{Pid: pid}}}
}

func stdoutEvent(s string) *process.ProcessEvent {
	return &process.ProcessEvent{Event: &process.ProcessEvent_Data{Data: &process.ProcessEvent_DataEvent{
		Output: &process.ProcessEvent_DataEvent_Stdout{Stdout: []byte(s)}}}}
}

func stderrEvent(s string) *process.ProcessEvent {
	return &process.ProcessEvent{Event: &process.ProcessEvent_Data{Data: &process.ProcessEvent_DataEvent{
		Output: &process.ProcessEvent_DataEvent_Stderr{Stderr: []byte(s)}}}}
}

func endEvent(code int32, errText string) *process.ProcessEvent {
	end := &process.ProcessEvent_EndEvent{ExitCode: code, Exited: true, Status: "exit status"}
	if errText != "" {
		end.Error = &errText
	}
	return &process.ProcessEvent{Event: &process.ProcessEvent_End{End: end}}
}

func keepaliveEvent() *process.ProcessEvent {
	return &process.ProcessEvent{Event: &process.ProcessEvent_Keepalive{Keepalive: &process.ProcessEvent_KeepAlive{}}}
}

func TestRunCommand(t *testing.T) {
	proc := &fakeProcess{script: []*process.ProcessEvent{
		startEvent(42), stdoutEvent("hello "), keepaliveEvent(), stderrEvent("warn\n"), stdoutEvent("world\n"), endEvent(3, ""),
	}}
	c, contentTypes := envdServer(t, nil, proc)
	var out, errOut []string
	res, err := testSandbox(c, true).RunCommand(context.Background(), "echo hello world; exit 3", CommandOptions{
		Envs:     map[string]string{"A": "1"},
		Cwd:      "/tmp",
		User:     "root",
		OnStdout: func(s string) { out = append(out, s) },
		OnStderr: func(s string) { errOut = append(errOut, s) },
	})
	require.NoError(t, err, "a non-zero exit code is a result")
	assert.Equal(t, &CommandResult{ExitCode: 3, Stdout: "hello world\n", Stderr: "warn\n"}, res)
	assert.Equal(t, []string{"hello ", "world\n"}, out)
	assert.Equal(t, []string{"warn\n"}, errOut)

	proc.mu.Lock()
	defer proc.mu.Unlock()
	assert.Equal(t, "/bin/bash", proc.start.GetProcess().GetCmd())
	assert.Equal(t, []string{"-l", "-c", "echo hello world; exit 3"}, proc.start.GetProcess().GetArgs())
	assert.Equal(t, map[string]string{"A": "1"}, proc.start.GetProcess().GetEnvs())
	assert.Equal(t, "/tmp", proc.start.GetProcess().GetCwd())
	require.NotNil(t, proc.start.Stdin)
	assert.False(t, proc.start.GetStdin())
	assert.NotEmpty(t, proc.start.GetTag())
	assert.Equal(t, "50", proc.headers.Get(wire.HeaderKeepalivePing))
	assert.Equal(t, "Basic cm9vdDo=", proc.headers.Get("Authorization"), "base64 of \"root:\"")
	assert.Equal(t, testEnvdToken, proc.headers.Get(wire.HeaderAccessToken))
	assert.Equal(t, "sbx1", proc.headers.Get(wire.HeaderSandboxID))
	assert.Equal(t, "49983", proc.headers.Get(wire.HeaderSandboxPort))
	ct, _ := contentTypes.Load("/process.Process/Start")
	assert.Equal(t, "application/connect+json", ct)
}

func TestRunCommandDefaultsSendNoUser(t *testing.T) {
	proc := &fakeProcess{script: []*process.ProcessEvent{startEvent(1), endEvent(0, "")}}
	c, _ := envdServer(t, nil, proc)
	res, err := testSandbox(c, false).RunCommand(context.Background(), "true", CommandOptions{})
	require.NoError(t, err)
	assert.Equal(t, 0, res.ExitCode)
	proc.mu.Lock()
	defer proc.mu.Unlock()
	assert.Empty(t, proc.headers.Get("Authorization"))
	assert.Nil(t, proc.start.GetProcess().Cwd)
}

func TestRunCommandReportsEnvdError(t *testing.T) {
	proc := &fakeProcess{script: []*process.ProcessEvent{startEvent(1), endEvent(-1, "signal: killed")}}
	c, _ := envdServer(t, nil, proc)
	res, err := testSandbox(c, false).RunCommand(context.Background(), "x", CommandOptions{})
	require.NoError(t, err)
	assert.Equal(t, -1, res.ExitCode)
	assert.Equal(t, "signal: killed", res.Error)
}

func TestRunCommandCancellationKillsTheProcess(t *testing.T) {
	proc := &fakeProcess{script: []*process.ProcessEvent{startEvent(42), stdoutEvent("working\n")}, block: true, ended: make(chan struct{})}
	c, _ := envdServer(t, nil, proc)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res, err := testSandbox(c, false).RunCommand(ctx, "sleep 1000", CommandOptions{
		OnStdout: func(string) { cancel() },
	})
	require.ErrorIs(t, err, context.Canceled)
	require.NotNil(t, res)
	assert.Equal(t, "working\n", res.Stdout)
	signals := proc.signalsSent()
	require.Len(t, signals, 1, "the process is killed before RunCommand returns")
	assert.Equal(t, process.Signal_SIGNAL_SIGKILL, signals[0].GetSignal())
	assert.Equal(t, uint32(42), signals[0].GetProcess().GetPid())
	select {
	case <-proc.ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the server never saw the stream end")
	}
}

func TestRunCommandTimeoutKillsTheProcess(t *testing.T) {
	proc := &fakeProcess{script: []*process.ProcessEvent{startEvent(7)}, block: true, ended: make(chan struct{})}
	c, _ := envdServer(t, nil, proc)
	_, err := testSandbox(c, false).RunCommand(context.Background(), "sleep 1000", CommandOptions{Timeout: 200 * time.Millisecond})
	require.ErrorIs(t, err, ErrExecutionTimeout)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	var tr transient
	require.ErrorAs(t, err, &tr)
	assert.False(t, tr.Transient())
	assertKilled(t, proc, 7)
	<-proc.ended
}

func TestRunCommandKillsByTagBeforeTheStartEvent(t *testing.T) {
	proc := &fakeProcess{block: true, ended: make(chan struct{}), received: make(chan struct{})}
	c, _ := envdServer(t, nil, proc)
	ctx, cancel := context.WithCancel(context.Background())
	// Cancel once the server has the request (the start event never comes).
	go func() {
		<-proc.received
		cancel()
	}()
	_, err := testSandbox(c, false).RunCommand(ctx, "sleep 1000", CommandOptions{})
	require.ErrorIs(t, err, context.Canceled)
	signals := proc.signalsSent()
	require.Len(t, signals, 1)
	proc.mu.Lock()
	tag := proc.start.GetTag()
	proc.mu.Unlock()
	assert.Equal(t, tag, signals[0].GetProcess().GetTag())
	<-proc.ended
}

func TestRunCommandStreamEndsWithoutEndEvent(t *testing.T) {
	proc := &fakeProcess{script: []*process.ProcessEvent{startEvent(9), stdoutEvent("partial")}}
	c, _ := envdServer(t, nil, proc)
	res, err := testSandbox(c, false).RunCommand(context.Background(), "x", CommandOptions{})
	require.ErrorIs(t, err, ErrExecutionInterrupted)
	var tr transient
	require.ErrorAs(t, err, &tr)
	assert.False(t, tr.Transient())
	assert.Equal(t, "partial", res.Stdout)
	signals := proc.signalsSent()
	require.Len(t, signals, 1, "a best-effort kill of the orphan")
	assert.Equal(t, uint32(9), signals[0].GetProcess().GetPid())
}

func TestRunCommandErrors(t *testing.T) {
	tests := append(slices.Clone(envdProxyAnswers), []envdAnswer{
		{"unauthenticated", 401, `{"code":"unauthenticated","message":"invalid access token"}`, ErrUnauthorized},
	}...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{status: tt.status, body: tt.body}
			c := newTestClient(t, rec)
			res, err := testSandbox(c, false).RunCommand(context.Background(), "x", CommandOptions{})
			require.ErrorIs(t, err, tt.want)
			assert.NotErrorIs(t, err, ErrExecutionInterrupted)
			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, "run command", apiErr.Op)
			assert.Equal(t, tt.status, apiErr.StatusCode)
			require.NotNil(t, res)
			rec.mu.Lock()
			assert.Len(t, rec.seen, 1, "nothing started: no kill is sent")
			rec.mu.Unlock()
		})
	}
}

func TestRunCommandUnavailableIsTransient(t *testing.T) {
	h := &unavailableProcess{}
	mux := http.NewServeMux()
	mux.Handle(processconnect.NewProcessHandler(h))
	c := newTestClient(t, mux)
	_, err := testSandbox(c, false).RunCommand(context.Background(), "x", CommandOptions{})
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 503, apiErr.StatusCode)
	assert.Equal(t, "envd is restarting", apiErr.Message)
	assert.True(t, apiErr.Transient())
}

type unavailableProcess struct {
	processconnect.UnimplementedProcessHandler
}

func (unavailableProcess) Start(context.Context, *connect.Request[process.StartRequest], *connect.ServerStream[process.StartResponse]) error {
	return connect.NewError(connect.CodeUnavailable, errors.New("envd is restarting"))
}

func TestRunCommandRejectsNegativeTimeout(t *testing.T) {
	c := newTestClient(t, &recorder{status: 200})
	_, err := testSandbox(c, false).RunCommand(context.Background(), "x", CommandOptions{Timeout: -time.Second})
	assert.ErrorContains(t, err, "Timeout must be >= 0")
}

func TestRunCommandCallerDeadlineKillsTheProcess(t *testing.T) {
	// Connect sends ctx's deadline to envd, which may end the stream a moment
	// before the deadline passes here: the error is still the deadline's.
	proc := &fakeProcess{script: []*process.ProcessEvent{startEvent(11)}, block: true, ended: make(chan struct{})}
	c, _ := envdServer(t, nil, proc)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := testSandbox(c, false).RunCommand(ctx, "sleep 1000", CommandOptions{Timeout: time.Hour})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.NotErrorIs(t, err, ErrExecutionTimeout)
	var apiErr *APIError
	assert.False(t, errors.As(err, &apiErr), "not an answer: %v", err)
	assertKilled(t, proc, 11)
	<-proc.ended
}

func TestRunCommandConnectionRefusedIsTransient(t *testing.T) {
	addr := refusingAddr(t)
	clearEnv(t)
	c, err := NewClient(WithAPIKey(testKey), WithAPIURL("http://"+addr), WithSandboxURL("http://"+addr))
	require.NoError(t, err)
	_, err = testSandbox(c, false).RunCommand(context.Background(), "x", CommandOptions{})
	var te *TransportError
	require.ErrorAs(t, err, &te)
	assert.True(t, te.Transient())
	assert.NotErrorIs(t, err, ErrExecutionInterrupted, "nothing was sent")
	assert.ErrorIs(t, err, syscall.ECONNREFUSED)
}
