package ttatemporal

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/tta-dev/tta"
	"github.com/tta-dev/tta/e2b"
	"github.com/tta-dev/tta/e2b/e2bserver"
	"github.com/tta-dev/tta/e2b/e2btest"
)

// The end-to-end tests run workflows on a Temporal dev server on loopback
// (devServer). A worker that dies is another process: the test binary run
// again with these variables set, killed with SIGKILL mid-activity.
const (
	workerProcessEnv = "TTA_TEMPORAL_TEST_WORKER" // the dev server's host:port
	workerQueueEnv   = "TTA_TEMPORAL_TEST_QUEUE"  // the activity task queue it polls
	workerModeEnv    = "TTA_TEMPORAL_TEST_MODE"   // "primitive" or "code"
	workerE2BURLEnv  = "TTA_TEMPORAL_TEST_E2B_URL"
	workerE2BKeyEnv  = "TTA_TEMPORAL_TEST_E2B_KEY"
)

// lostWorkerOptions are the options of the activities a worker process
// runs: a short heartbeat timeout, so that a lost worker is noticed soon.
func lostWorkerOptions(queue string) []Option {
	return []Option{
		WithTaskQueue(queue),
		WithHeartbeatTimeout(2 * time.Second),
		WithRetryPolicy(&temporal.RetryPolicy{InitialInterval: 100 * time.Millisecond, MaximumAttempts: 3}),
	}
}

// runWorkerProcess is the body of a worker process: it registers the
// activity its mode names, says "ready" and works until it is killed.
func runWorkerProcess() int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "worker process:", err)
		return 2
	}
	c, err := client.Dial(client.Options{HostPort: os.Getenv(workerProcessEnv), Logger: quietLogger()})
	if err != nil {
		return fail(err)
	}
	queue := os.Getenv(workerQueueEnv)
	w := worker.New(c, queue, worker.Options{})
	switch mode := os.Getenv(workerModeEnv); mode {
	case "primitive":
		hang := tta.Func[int, int](func(ctx context.Context, n int) (int, error) {
			fmt.Printf("started %d\n", activity.GetInfo(ctx).Attempt)
			<-ctx.Done()
			return 0, ctx.Err()
		})
		_, err = Register(w, "e2e.slow", hang, lostWorkerOptions(queue)...)
	case "code":
		url := os.Getenv(workerE2BURLEnv)
		var ec *e2b.Client
		ec, err = e2b.NewClient(e2b.WithAPIKey(os.Getenv(workerE2BKeyEnv)), e2b.WithAPIURL(url), e2b.WithSandboxURL(url))
		if err != nil {
			return fail(err)
		}
		var code *tta.CodeExecutionPrimitive
		code, err = tta.NewCodeExecution(tta.WithProvider(HeartbeatProvider(tta.NewE2BProvider(ec))))
		if err != nil {
			return fail(err)
		}
		_, err = Register(w, "e2e.code", tta.Primitive[tta.CodeInput, tta.CodeOutput](code), lostWorkerOptions(queue)...)
	default:
		err = fmt.Errorf("unknown mode %q", mode)
	}
	if err != nil {
		return fail(err)
	}
	if err := w.Start(); err != nil {
		return fail(err)
	}
	fmt.Println("ready")
	select {} // until killed
}

// workerProcess is a worker running in another process.
type workerProcess struct {
	cmd   *exec.Cmd
	lines chan string
}

// startWorkerProcess starts a worker process in mode on queue and waits
// until it is ready; it is killed when t ends, if not before.
func startWorkerProcess(t *testing.T, hostPort, queue, mode string, env ...string) *workerProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append(env, workerProcessEnv+"="+hostPort, workerQueueEnv+"="+queue, workerModeEnv+"="+mode)...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	p := &workerProcess{cmd: cmd, lines: make(chan string, 16)}
	go func() {
		defer close(p.lines)
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			p.lines <- s.Text()
		}
	}()
	t.Cleanup(func() { p.kill() })
	p.waitFor(t, "ready")
	return p
}

// waitFor waits, at most 30 s, for the worker process to print line.
func (p *workerProcess) waitFor(t *testing.T, line string) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case got, ok := <-p.lines:
			if !ok {
				t.Fatalf("the worker process ended before printing %q", line)
			}
			if got == line {
				return
			}
		case <-timeout:
			t.Fatalf("the worker process did not print %q within 30s", line)
		}
	}
}

// kill kills the worker process with SIGKILL, as a machine that dies, and
// waits for it.
func (p *workerProcess) kill() {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
	for range p.lines { // drain, so that the reader ends
	}
}

// queues returns a workflow task queue and an activity task queue of t's own.
func queues(t *testing.T) (string, string) {
	name := fmt.Sprintf("%s-%d", t.Name(), time.Now().UnixNano())
	return "wf-" + name, "act-" + name
}

// startWorker starts a worker on queue with register's registrations,
// stopped when t ends.
func startWorker(t *testing.T, c client.Client, queue string, register func(worker.Worker)) {
	t.Helper()
	w := worker.New(c, queue, worker.Options{})
	register(w)
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
}

// runWorkflow starts the workflow named name on queue with arg.
func runWorkflow(t *testing.T, c client.Client, queue, name string, arg any) client.WorkflowRun {
	t.Helper()
	run, err := c.ExecuteWorkflow(t.Context(), client.StartWorkflowOptions{
		ID: queue, TaskQueue: queue, WorkflowExecutionTimeout: 2 * time.Minute,
	}, name, arg)
	require.NoError(t, err)
	return run
}

func TestE2EWorkflowRunsPrimitivesAndKeepsErrorKinds(t *testing.T) {
	c := dial(t, devServer(t))
	srv := e2btest.Start(t, e2bserver.WithRuntime(&e2bserver.ScriptedRuntime{Replies: map[string]e2bserver.Reply{
		"1/0": {Error: &e2bserver.ExecError{Name: "ZeroDivisionError", Value: "division by zero"}},
	}}))
	code, err := tta.NewCodeExecution(tta.WithProvider(HeartbeatProvider(tta.NewE2BProvider(srv.Client))), tta.WithCodeErrorsAsErrors())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, code.Close()) })

	var flakyCalls atomic.Int32
	flaky := tta.Func[int, int](func(ctx context.Context, n int) (int, error) {
		if flakyCalls.Add(1) < 3 {
			return 0, transientErr{}
		}
		return n + 1, nil
	})
	notReady := tta.Func[int, int](func(ctx context.Context, n int) (int, error) {
		return 0, &tta.TemplateNotReadyError{Template: "tta-ml-minimal", SandboxID: "sbx-x", Port: 49999, Window: 2 * time.Minute, Waited: 2 * time.Minute, Probes: 28}
	})
	doubleAct, err := NewActivity("e2e.double", double())
	require.NoError(t, err)
	flakyAct, err := NewActivity("e2e.flaky", tta.Retry(flaky, fastRetry...))
	require.NoError(t, err)
	codeAct, err := NewActivity("e2e.code-error", tta.Retry[tta.CodeInput, tta.CodeOutput](code, fastRetry...))
	require.NoError(t, err)
	notReadyAct, err := NewActivity("e2e.not-ready", tta.Retry(notReady, fastRetry...))
	require.NoError(t, err)

	type summary struct {
		Doubled, Flaky          int
		CodeError, CodeType     string
		CodeRetryable           bool
		Template                string
		Probes                  int
		IsTemplateNotReady      bool
		CodeErrorIsErrCodeFaild bool
	}
	queue, _ := queues(t)
	startWorker(t, c, queue, func(w worker.Worker) {
		for _, r := range []interface{ Register(worker.ActivityRegistry) }{doubleAct, flakyAct, codeAct, notReadyAct} {
			r.Register(w)
		}
		w.RegisterWorkflowWithOptions(func(ctx workflow.Context, n int) (summary, error) {
			var s summary
			var err error
			if s.Doubled, err = doubleAct.Execute(ctx, n); err != nil {
				return s, err
			}
			if s.Flaky, err = flakyAct.Execute(ctx, n); err != nil {
				return s, err
			}
			_, err = codeAct.Execute(ctx, tta.CodeInput{Code: "1/0"})
			var execErr *tta.ExecutionError
			var e *Error
			if errors.As(err, &execErr) && errors.As(err, &e) {
				s.CodeError, s.CodeType, s.CodeRetryable = execErr.Name+": "+execErr.Value, e.Type, e.Retryable
				s.CodeErrorIsErrCodeFaild = errors.Is(err, tta.ErrCodeFailed)
			}
			_, err = notReadyAct.Execute(ctx, n)
			var nr *tta.TemplateNotReadyError
			if errors.As(err, &nr) {
				s.Template, s.Probes = nr.Template, nr.Probes
				s.IsTemplateNotReady = errors.Is(err, tta.ErrTemplateNotReady)
			}
			return s, nil
		}, workflow.RegisterOptions{Name: "e2e.summary"})
	})

	var got summary
	require.NoError(t, runWorkflow(t, c, queue, "e2e.summary", 21).Get(t.Context(), &got))
	assert.Equal(t, summary{
		Doubled: 42, Flaky: 22,
		CodeError: "ZeroDivisionError: division by zero", CodeType: TypeCodeFailed, CodeRetryable: false,
		Template: "tta-ml-minimal", Probes: 28, IsTemplateNotReady: true, CodeErrorIsErrCodeFaild: true,
	}, got)
	assert.Equal(t, int32(3), flakyCalls.Load(), "transient errors were retried by Temporal")
	assert.Empty(t, srv.Server.Sandboxes(), "the code's sandbox was killed")
}

type transientErr struct{}

func (transientErr) Error() string   { return "503 service unavailable" }
func (transientErr) Transient() bool { return true }

func TestE2EWorkerKilledMidActivityAnotherFinishesIt(t *testing.T) {
	hostPort := devServer(t)
	c := dial(t, hostPort)
	wfQueue, actQueue := queues(t)
	lost := startWorkerProcess(t, hostPort, actQueue, "primitive")

	var finishedIn atomic.Int32
	finish := tta.Func[int, int](func(ctx context.Context, n int) (int, error) {
		finishedIn.Store(activity.GetInfo(ctx).Attempt)
		return 2 * n, nil
	})
	act, err := NewActivity("e2e.slow", finish, lostWorkerOptions(actQueue)...)
	require.NoError(t, err)
	startWorker(t, c, wfQueue, func(w worker.Worker) {
		w.RegisterWorkflowWithOptions(act.Execute, workflow.RegisterOptions{Name: "e2e.lost"})
	})
	run := runWorkflow(t, c, wfQueue, "e2e.lost", 21)
	lost.waitFor(t, "started 1")
	lost.kill()
	startWorker(t, c, actQueue, func(w worker.Worker) { act.Register(w) })

	var out int
	require.NoError(t, run.Get(t.Context(), &out))
	assert.Equal(t, 42, out)
	assert.Equal(t, int32(2), finishedIn.Load(), "the second attempt, on the other worker, finished the work")
}

func TestE2EWorkerKilledAfterCodeStartedDoesNotRunItAgain(t *testing.T) {
	hostPort := devServer(t)
	c := dial(t, hostPort)
	var execs atomic.Int32
	running := make(chan string, 4)
	srv := e2btest.Start(t, e2bserver.WithRuntime(&e2bserver.ScriptedRuntime{Exec: func(ctx context.Context, cell *e2bserver.Cell) error {
		execs.Add(1)
		running <- cell.SandboxID
		<-ctx.Done()
		return ctx.Err()
	}}))
	wfQueue, actQueue := queues(t)
	lost := startWorkerProcess(t, hostPort, actQueue, "code", workerE2BURLEnv+"="+srv.URL, workerE2BKeyEnv+"="+srv.APIKey)

	code, err := tta.NewCodeExecution(tta.WithProvider(HeartbeatProvider(tta.NewE2BProvider(srv.Client))))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, code.Close()) })
	act, err := NewActivity("e2e.code", tta.Primitive[tta.CodeInput, tta.CodeOutput](code),
		append(lostWorkerOptions(actQueue), WithSandboxKiller(E2BKiller(srv.Client)))...)
	require.NoError(t, err)
	startWorker(t, c, wfQueue, func(w worker.Worker) {
		w.RegisterWorkflowWithOptions(func(ctx workflow.Context, src string) ([]string, error) {
			_, err := act.Execute(ctx, tta.CodeInput{Code: src})
			var mayRun *MayHaveRunError
			if errors.As(err, &mayRun) && errors.Is(err, ErrMayHaveRun) && !tta.IsTransient(err) {
				return mayRun.SandboxIDs, nil
			}
			return nil, fmt.Errorf("want a MayHaveRunError, got %v", err)
		}, workflow.RegisterOptions{Name: "e2e.code"})
	})
	run := runWorkflow(t, c, wfQueue, "e2e.code", `send_invoice()`)
	var sandboxID string
	select {
	case sandboxID = <-running:
	case <-time.After(30 * time.Second):
		t.Fatal("the code did not start within 30s")
	}
	lost.kill()
	startWorker(t, c, actQueue, func(w worker.Worker) { act.Register(w) })

	var ids []string
	require.NoError(t, run.Get(t.Context(), &ids))
	assert.Equal(t, []string{sandboxID}, ids, "the workflow learns which sandbox may have run the code")
	assert.Equal(t, int32(1), execs.Load(), "the code ran once, never a second time")
	assert.Empty(t, srv.Server.Sandboxes(), "the lost worker's sandbox was killed by the next attempt")
}

func TestE2ECancellingTheWorkflowKillsTheSandbox(t *testing.T) {
	c := dial(t, devServer(t))
	running := make(chan string, 1)
	execEnded := make(chan struct{})
	srv := e2btest.Start(t, e2bserver.WithRuntime(&e2bserver.ScriptedRuntime{Exec: func(ctx context.Context, cell *e2bserver.Cell) error {
		running <- cell.SandboxID
		<-ctx.Done()
		close(execEnded)
		return ctx.Err()
	}}))
	code, err := tta.NewCodeExecution(tta.WithProvider(HeartbeatProvider(tta.NewE2BProvider(srv.Client))))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, code.Close()) })
	act, err := NewActivity("e2e.forever", tta.Primitive[tta.CodeInput, tta.CodeOutput](code), WithHeartbeatTimeout(time.Second))
	require.NoError(t, err)
	queue, _ := queues(t)
	startWorker(t, c, queue, func(w worker.Worker) {
		act.Register(w)
		w.RegisterWorkflowWithOptions(func(ctx workflow.Context, src string) (tta.CodeOutput, error) {
			return act.Execute(ctx, tta.CodeInput{Code: src})
		}, workflow.RegisterOptions{Name: "e2e.forever"})
	})
	run := runWorkflow(t, c, queue, "e2e.forever", "while True: pass")
	select {
	case <-running:
	case <-time.After(30 * time.Second):
		t.Fatal("the code did not start within 30s")
	}
	require.NoError(t, c.CancelWorkflow(t.Context(), run.GetID(), run.GetRunID()))

	err = run.Get(t.Context(), nil)
	var canceled *temporal.CanceledError
	require.ErrorAs(t, err, &canceled, "got %v", err)
	select {
	case <-execEnded:
	default:
		t.Fatal("the run was still going when the workflow ended")
	}
	assert.Empty(t, srv.Server.Sandboxes(), "the sandbox was killed before the workflow ended")
	assert.True(t, strings.HasPrefix(queue, "wf-"))
}
