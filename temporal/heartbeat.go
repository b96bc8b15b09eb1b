package ttatemporal

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/api/workflowservicemock/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"

	"github.com/tta-dev/tta"
)

// Progress is what an activity's heartbeats carry: the sandboxes the attempt
// created or ran code in, and whether code may have started in one of them.
// A retried attempt reads it from the last heartbeat of the attempt before
// (see Activity). It is a plain value.
type Progress struct {
	// SandboxIDs are the sandboxes of the attempt, in the order it got them.
	SandboxIDs []string `json:"sandbox_ids,omitempty"`
	// CodeStarted reports whether code may have started running in one of
	// them. It is recorded at the server before the code starts.
	CodeStarted bool `json:"code_started,omitempty"`
}

// heartbeats records an attempt's Progress and heartbeats it: every quarter
// of the heartbeat timeout, at once when a sandbox is added, and
// synchronously, at the server, before code starts.
type heartbeats struct {
	actx     context.Context // the activity's context
	interval time.Duration   // 0: no periodic heartbeats
	wake     chan struct{}   // a new sandbox: heartbeat now
	quit     chan struct{}
	done     chan struct{}

	mu sync.Mutex // protects p
	p  Progress

	// beatMu keeps a snapshot of p and its heartbeat together, so that no
	// older snapshot is recorded after a newer one.
	beatMu sync.Mutex
}

// heartbeatsKey is the context key of an attempt's *heartbeats.
type heartbeatsKey struct{}

// startHeartbeats starts heartbeating for the attempt of the activity
// context ctx with the heartbeat timeout timeout (0: none).
func startHeartbeats(ctx context.Context, timeout time.Duration) *heartbeats {
	h := &heartbeats{actx: ctx, wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	if timeout > 0 {
		h.interval = max(timeout/4, time.Millisecond)
	}
	go h.loop()
	return h
}

func (h *heartbeats) loop() {
	defer close(h.done)
	var tick <-chan time.Time
	if h.interval > 0 {
		t := time.NewTicker(h.interval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-h.quit:
			return
		case <-tick:
		case <-h.wake:
		}
		h.beat()
	}
}

// beat heartbeats the progress as it is now and returns it.
func (h *heartbeats) beat() Progress {
	h.beatMu.Lock()
	defer h.beatMu.Unlock()
	p := h.progress()
	activity.RecordHeartbeat(h.actx, p)
	return p
}

// stop ends the heartbeats and waits for the loop to end.
func (h *heartbeats) stop() {
	close(h.quit)
	<-h.done
}

// context returns ctx carrying h, for HeartbeatProvider.
func (h *heartbeats) context(ctx context.Context) context.Context {
	return context.WithValue(ctx, heartbeatsKey{}, h)
}

// heartbeatsFrom returns the *heartbeats ctx carries, or nil.
func heartbeatsFrom(ctx context.Context) *heartbeats {
	h, _ := ctx.Value(heartbeatsKey{}).(*heartbeats)
	return h
}

// progress returns a copy of the progress.
func (h *heartbeats) progress() Progress {
	h.mu.Lock()
	defer h.mu.Unlock()
	return Progress{SandboxIDs: slices.Clone(h.p.SandboxIDs), CodeStarted: h.p.CodeStarted}
}

// sandbox records the sandbox id, heartbeating soon if it is new.
func (h *heartbeats) sandbox(id string) {
	h.mu.Lock()
	known := slices.Contains(h.p.SandboxIDs, id)
	if !known {
		h.p.SandboxIDs = append(h.p.SandboxIDs, id)
	}
	h.mu.Unlock()
	if !known {
		select {
		case h.wake <- struct{}{}:
		default:
		}
	}
}

// codeStarting records, at the server, that code is about to start in the
// sandbox id; the code must not start when it fails.
func (h *heartbeats) codeStarting(ctx context.Context, id string) error {
	h.mu.Lock()
	if !slices.Contains(h.p.SandboxIDs, id) {
		h.p.SandboxIDs = append(h.p.SandboxIDs, id)
	}
	h.p.CodeStarted = true
	h.mu.Unlock()
	// The SDK batches heartbeats: this replaces whatever older progress it
	// holds back, so that no later heartbeat says the code has not started.
	p := h.beat()
	// ... and this records it now, before the code starts, so that a worker
	// lost from here on leaves the next attempt knowing.
	return recordNow(ctx, h.actx, p)
}

// recordNow records p as the heartbeat details of the activity of actx at
// the server, without the SDK's batching. It is a variable for the tests
// that make it fail.
var recordNow = func(ctx, actx context.Context, p Progress) error {
	c := activity.GetClient(actx)
	if c == nil {
		return errors.New("ttatemporal: no Temporal client in the activity's context to record that the code starts")
	}
	info := activity.GetInfo(actx)
	if svc, ok := c.WorkflowService().(*workflowservicemock.MockWorkflowServiceClient); ok {
		// The SDK's test environment (package testsuite): its client
		// answers heartbeats only, so call that directly.
		payloads, err := converter.GetDefaultDataConverter().ToPayloads(p)
		if err != nil {
			return err
		}
		_, err = svc.RecordActivityTaskHeartbeat(ctx, &workflowservice.RecordActivityTaskHeartbeatRequest{
			TaskToken: info.TaskToken, Details: payloads, Namespace: info.WorkflowNamespace,
		})
		return err
	}
	return c.RecordActivityHeartbeat(ctx, info.TaskToken, p)
}

// HeartbeatProvider wraps p so that, inside an Activity, the attempt's
// heartbeats name the sandboxes it creates and record, at the Temporal
// server and before the code starts, that code is about to run. Give it to
// the CodeExecutionPrimitive that the activity runs:
//
//	exec, err := tta.NewCodeExecution(tta.WithProvider(ttatemporal.HeartbeatProvider(provider)))
//
// Without it an Activity still heartbeats, but a retried attempt cannot
// tell whether the lost attempt's code had started, and runs it again. When
// the start cannot be recorded (the server is unreachable, the activity was
// cancelled), the code does not start and RunCode fails with a transient
// error. Outside an Activity the wrapped provider behaves exactly as p.
// HeartbeatProvider panics if p is nil, as the root package's constructors
// do: it is a mistake in the program, not in its input.
func HeartbeatProvider(p tta.Provider) tta.Provider {
	if p == nil {
		panic("ttatemporal: HeartbeatProvider: the provider is nil; pass the provider the code execution would use, such as tta.NewE2BProvider(client)")
	}
	return &heartbeatProvider{p: p}
}

type heartbeatProvider struct{ p tta.Provider }

func (p *heartbeatProvider) Create(ctx context.Context, req tta.CreateRequest) (tta.Sandbox, error) {
	sb, err := p.p.Create(ctx, req)
	if err != nil {
		return nil, err
	}
	if h := heartbeatsFrom(ctx); h != nil {
		h.sandbox(sb.ID())
	}
	return &heartbeatSandbox{Sandbox: sb}, nil
}

// heartbeatSandbox is a Sandbox whose RunCode records the start first.
type heartbeatSandbox struct{ tta.Sandbox }

func (s *heartbeatSandbox) RunCode(ctx context.Context, req tta.RunRequest) (tta.Execution, error) {
	if h := heartbeatsFrom(ctx); h != nil {
		if err := h.codeStarting(ctx, s.ID()); err != nil {
			return tta.Execution{}, &notRecordedError{err: err}
		}
	}
	return s.Sandbox.RunCode(ctx, req)
}

// notRecordedError is the error of a run that did not start because its
// start could not be recorded: transient, the code did not start.
type notRecordedError struct{ err error }

func (e *notRecordedError) Error() string {
	return fmt.Sprintf("ttatemporal: the code did not start: could not record its start at the Temporal server: %v", e.err)
}
func (e *notRecordedError) Unwrap() error    { return e.err }
func (e *notRecordedError) Transient() bool  { return true }
func (e *notRecordedError) NotStarted() bool { return true }
