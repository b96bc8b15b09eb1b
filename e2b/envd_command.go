package e2b

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"connectrpc.com/connect"

	"github.com/tta-dev/tta/e2b/internal/envd/process"
	"github.com/tta-dev/tta/e2b/wire"
)

// CommandHandle is a command running in the background in a sandbox, made by
// Sandbox.StartCommand or Sandbox.ConnectCommand; SendStdin and CloseStdin
// feed a command started with CommandOptions.Stdin. The handle reads the
// command's output from one stream, in a goroutine of its own, until the
// command ends, the stream breaks, the context given to StartCommand or
// ConnectCommand ends, or Disconnect. In every case but the first the process
// goes on running in the sandbox: ConnectCommand with its PID attaches to it
// again, to keep reading its output; nothing runs the command twice.
//
// A CommandHandle is safe for concurrent use.
type CommandHandle struct {
	s      *Sandbox
	op     string
	pid    uint32
	cancel context.CancelCauseFunc // ends the stream
	done   chan struct{}           // closed when the stream is over

	disconnected atomic.Bool // Disconnect was called

	mu     sync.Mutex // protects stdout and stderr while the stream runs
	stdout strings.Builder
	stderr strings.Builder

	// Set before done is closed.
	exitCode int
	endError string
	err      error
}

// errDisconnected is the cause of a stream ended by Disconnect.
var errDisconnected = errors.New("disconnected")

// StartCommand starts cmd with "/bin/bash -l -c cmd" in the sandbox, as
// RunCommand does, and returns as soon as the sandbox reports the process
// started (its PID known), with a handle to wait for it, kill it, or leave
// it. opts.OnStdout and opts.OnStderr are called from the handle's goroutine,
// in order. opts.Timeout must be 0: a background command runs until it exits
// or is killed. With opts.Stdin the command's standard input stays open for
// CommandHandle.SendStdin.
//
// ctx bounds the stream, not the process: when ctx ends, the handle stops
// reading (Wait returns an error matching ErrExecutionInterrupted) and the
// process keeps running. A failure before the process started is returned
// as RunCommand would return it, with the process, if the request may have
// started one, killed.
func (s *Sandbox) StartCommand(ctx context.Context, cmd string, opts CommandOptions) (*CommandHandle, error) {
	const op = "start command"
	if opts.Timeout != 0 {
		return nil, fmt.Errorf("e2b: %s: Timeout must be 0, got %s: a background command runs until it exits or CommandHandle.Kill", op, opts.Timeout)
	}
	tag := newProcessTag()
	stdin := opts.Stdin
	cfg := &process.ProcessConfig{Cmd: "/bin/bash", Args: []string{"-l", "-c", cmd}, Envs: opts.Envs}
	if opts.Cwd != "" {
		cfg.Cwd = &opts.Cwd
	}
	req := connect.NewRequest(&process.StartRequest{Process: cfg, Tag: &tag, Stdin: &stdin})
	req.Header().Set(wire.HeaderKeepalivePing, strconv.Itoa(keepalivePingSeconds))
	s.nameEnvdUser(req.Header(), opts.User)

	streamCtx, cancel := context.WithCancelCause(ctx)
	var sent atomic.Bool
	stream, err := s.process.Start(traceSent(streamCtx, &sent), req)
	if err != nil {
		cancel(nil)
		return nil, commandRun{s: s, op: op, ctx: ctx, runCtx: streamCtx, tag: tag, sent: sent.Load()}.failure(err)
	}
	h := &CommandHandle{s: s, op: op, cancel: cancel, done: make(chan struct{})}
	events := processEvents[process.StartResponse](stream)
	if err := h.awaitStart(events, stream.Err); err != nil {
		_ = stream.Close()
		cancel(nil)
		return nil, commandRun{s: s, op: op, ctx: ctx, runCtx: streamCtx, tag: tag, sent: true}.failure(err)
	}
	go h.read(events, stream.Err, func() { _ = stream.Close() }, opts)
	return h, nil
}

// ConnectCommand attaches to the process pid running in the sandbox (envd's
// Process.Connect) and returns a handle that reads its output from now on:
// what it printed before is not sent again. Use it after a stream broke
// (Wait returned an error matching ErrExecutionInterrupted), with
// CommandHandle.PID, to keep reading a long command. opts.OnStdout and
// opts.OnStderr receive the output; opts' other fields must be zero. A
// process that has ended, or never was, is an *APIError matching ErrNotFound.
// ctx bounds the stream as for StartCommand.
func (s *Sandbox) ConnectCommand(ctx context.Context, pid uint32, opts CommandOptions) (*CommandHandle, error) {
	const op = "connect to command"
	if pid == 0 {
		return nil, fmt.Errorf("e2b: %s: pid must be > 0", op)
	}
	if opts.Timeout != 0 || opts.Cwd != "" || opts.User != "" || len(opts.Envs) > 0 || opts.Stdin {
		return nil, fmt.Errorf("e2b: %s: only OnStdout and OnStderr apply to a running process; Timeout, Cwd, User, Envs and Stdin must be zero", op)
	}
	req := connect.NewRequest(&process.ConnectRequest{Process: &process.ProcessSelector{Selector: &process.ProcessSelector_Pid{Pid: pid}}})
	req.Header().Set(wire.HeaderKeepalivePing, strconv.Itoa(keepalivePingSeconds))
	s.nameEnvdUser(req.Header(), "")

	streamCtx, cancel := context.WithCancelCause(ctx)
	stream, err := s.process.Connect(streamCtx, req)
	if err != nil {
		cancel(nil)
		return nil, s.rpcFailure(ctx, nil, op, err)
	}
	h := &CommandHandle{s: s, op: op, cancel: cancel, done: make(chan struct{})}
	events := processEvents[process.ConnectResponse](stream)
	if err := h.awaitStart(events, stream.Err); err != nil {
		_ = stream.Close()
		cancel(nil)
		if errors.Is(err, ErrExecutionInterrupted) {
			return nil, err
		}
		return nil, s.rpcFailure(ctx, nil, op, err)
	}
	go h.read(events, stream.Err, func() { _ = stream.Close() }, opts)
	return h, nil
}

// awaitStart reads events until the start event, and records the PID. A
// stream that ends first is an error: the stream's own, or an interruption.
func (h *CommandHandle) awaitStart(next func() (*process.ProcessEvent, bool), streamErr func() error) error {
	for {
		ev, ok := next()
		if !ok {
			if err := streamErr(); err != nil {
				return err
			}
			return newInterruptedError(h.op, "the stream ended before the process started", nil, h.s.red)
		}
		if start := ev.GetStart(); start != nil {
			h.pid = start.GetPid()
			return nil
		}
	}
}

// read reads the stream to its end, in the handle's goroutine.
func (h *CommandHandle) read(next func() (*process.ProcessEvent, bool), streamErr func() error, closeStream func(), opts CommandOptions) {
	defer close(h.done)
	defer h.cancel(nil)
	defer closeStream()
	for {
		ev, ok := next()
		if !ok {
			break
		}
		switch {
		case ev.GetData() != nil:
			d := ev.GetData()
			if out := d.GetStdout(); len(out) > 0 {
				h.mu.Lock()
				h.stdout.Write(out)
				h.mu.Unlock()
				if opts.OnStdout != nil {
					opts.OnStdout(string(out))
				}
			}
			if out := d.GetStderr(); len(out) > 0 {
				h.mu.Lock()
				h.stderr.Write(out)
				h.mu.Unlock()
				if opts.OnStderr != nil {
					opts.OnStderr(string(out))
				}
			}
		case ev.GetEnd() != nil:
			h.exitCode = int(ev.GetEnd().GetExitCode())
			h.endError = ev.GetEnd().GetError()
			return
		}
	}
	reason := fmt.Sprintf("the stream broke before process %d exited; it may still be running: ConnectCommand(%d) reads on", h.pid, h.pid)
	if h.disconnected.Load() {
		reason = fmt.Sprintf("disconnected from process %d, which may still be running: ConnectCommand(%d) reads on", h.pid, h.pid)
	}
	h.err = newInterruptedError(h.op, reason, streamErr(), h.s.red)
}

// PID returns the process's ID in the sandbox, for ConnectCommand and Kill.
func (h *CommandHandle) PID() uint32 { return h.pid }

// Wait waits until the handle's stream is over and returns the result: the
// exit code and the output read by this handle (a non-zero exit code is not
// an error). When the stream ended before the process did (it broke, its
// context ended, or Disconnect) the error matches ErrExecutionInterrupted
// and the result holds the output read so far; the process may still be
// running. When ctx ends first, Wait returns ctx's error and the stream goes
// on. Wait may be called any number of times.
func (h *CommandHandle) Wait(ctx context.Context) (*CommandResult, error) {
	select {
	case <-h.done:
	case <-ctx.Done():
		return h.partial(), contextFailure(ctx, "wait for command")
	}
	res := h.partial()
	if h.err != nil {
		return res, h.err
	}
	res.ExitCode, res.Error = h.exitCode, h.endError
	return res, nil
}

// partial returns the output read so far.
func (h *CommandHandle) partial() *CommandResult {
	h.mu.Lock()
	defer h.mu.Unlock()
	return &CommandResult{Stdout: h.stdout.String(), Stderr: h.stderr.String()}
}

// Kill sends SIGKILL to the process. It is clean-up, as Sandbox.Kill: it runs
// even when ctx is already cancelled. The handle's stream then ends with the
// process's end event.
func (h *CommandHandle) Kill(ctx context.Context) error {
	if err := h.s.killProcess(ctx, h.pid, ""); err != nil {
		return h.s.rpcFailure(context.WithoutCancel(ctx), nil, "kill command", err)
	}
	return nil
}

// SendStdin writes data to the command's standard input (envd's SendInput);
// the command must have been started with CommandOptions.Stdin. It returns
// once the sandbox has the data, not once the command has read it. An error
// answer from envd is an *APIError: ErrNotFound when the process has ended.
func (h *CommandHandle) SendStdin(ctx context.Context, data []byte) error {
	const op = "send stdin"
	_, err := h.s.process.SendInput(ctx, connect.NewRequest(&process.SendInputRequest{
		Process: h.selector(),
		Input:   &process.ProcessInput{Input: &process.ProcessInput_Stdin{Stdin: data}},
	}))
	if err != nil {
		return h.s.rpcFailure(ctx, nil, op, err)
	}
	return nil
}

// CloseStdin closes the command's standard input: it reads end of file once
// it has read what SendStdin sent. Errors as for SendStdin.
func (h *CommandHandle) CloseStdin(ctx context.Context) error {
	const op = "close stdin"
	_, err := h.s.process.CloseStdin(ctx, connect.NewRequest(&process.CloseStdinRequest{Process: h.selector()}))
	if err != nil {
		return h.s.rpcFailure(ctx, nil, op, err)
	}
	return nil
}

// selector names the handle's process by PID.
func (h *CommandHandle) selector() *process.ProcessSelector {
	return &process.ProcessSelector{Selector: &process.ProcessSelector_Pid{Pid: h.pid}}
}

// Disconnect stops reading the command's output and waits for the handle's
// goroutine to end; the process keeps running. Wait then returns an error
// matching ErrExecutionInterrupted. Disconnect after the stream is over does
// nothing.
func (h *CommandHandle) Disconnect() {
	h.disconnected.Store(true)
	h.cancel(errDisconnected)
	<-h.done
}

// processEvents reads the events of a Start or Connect stream: the next one,
// or false at its end.
func processEvents[T any, PT interface {
	*T
	GetEvent() *process.ProcessEvent
}](stream *connect.ServerStreamForClient[T]) func() (*process.ProcessEvent, bool) {
	return func() (*process.ProcessEvent, bool) {
		if !stream.Receive() {
			return nil, false
		}
		return PT(stream.Msg()).GetEvent(), true
	}
}
