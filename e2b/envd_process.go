package e2b

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"connectrpc.com/connect"

	"github.com/tta-dev/tta/e2b/internal/envd/process"

	"github.com/tta-dev/tta/e2b/wire"
)

// This file runs commands through envd's Connect service process.Process.

// keepalivePingSeconds asks envd for a keepalive event this often on a
// command's stream, as the official SDKs do.
const keepalivePingSeconds = 50

// CommandOptions configures RunCommand. The zero value runs the command as the
// sandbox's default user, in its home directory, with DefaultCommandTimeout.
type CommandOptions struct {
	// Envs are environment variables for this command only.
	Envs map[string]string
	// Cwd is the working directory; "" means the user's home.
	Cwd string
	// User runs the command as this user (sent as "Authorization: Basic
	// base64(user:)", as the SDKs do); "" means the sandbox's default user
	// ("user" for envd older than 0.4.0, which has no default).
	User string
	// OnStdout and OnStderr, when not nil, are called in the calling goroutine
	// with each chunk of output as it arrives, in order, before RunCommand
	// returns.
	OnStdout func(string)
	// OnStderr receives each chunk of standard error.
	OnStderr func(string)
	// Timeout bounds the whole command; zero means DefaultCommandTimeout.
	// Negative is an error.
	Timeout time.Duration
	// Stdin keeps the command's standard input open for
	// CommandHandle.SendStdin (StartCommand only: RunCommand fails when it
	// is set). Without it the command reads no input.
	Stdin bool
}

// CommandResult is what a finished command left behind. A non-zero ExitCode is
// a result, not an error.
type CommandResult struct {
	// ExitCode is the process's exit code as envd reports it; 0 means
	// success.
	ExitCode int
	// Stdout is everything the command wrote to standard output.
	Stdout string
	// Stderr is everything the command wrote to standard error.
	Stderr string
	// Error is envd's description of a failure to run or wait for the process,
	// if any.
	Error string
}

// RunCommand runs cmd with "/bin/bash -l -c cmd" in the sandbox, as the JS SDK's
// commands.run does, streams its output to the callbacks and returns its exit
// code and output. The command exiting non-zero is not an error.
//
// Once opts are valid, the result is never nil: on error it holds the output
// received so far. Cancelling ctx, or reaching opts.Timeout, kills the process
// (SIGKILL, by the pid from its start event, or by the unique tag the request
// gave it if the start event has not arrived) before RunCommand returns ctx's
// error or an error matching ErrExecutionTimeout. A stream that ends or breaks
// before the process's end event is an error matching ErrExecutionInterrupted
// (the process is then killed on a best-effort basis). Other errors are an
// *APIError (ErrPortNotOpen, ErrUnauthorized, ...) or a *TransportError.
func (s *Sandbox) RunCommand(ctx context.Context, cmd string, opts CommandOptions) (*CommandResult, error) {
	const op = "run command"
	timeout := opts.Timeout
	if timeout < 0 {
		return nil, fmt.Errorf("e2b: %s: Timeout must be >= 0 (0 means %s), got %s", op, DefaultCommandTimeout, timeout)
	}
	if timeout == 0 {
		timeout = DefaultCommandTimeout
	}
	if opts.Stdin {
		return nil, fmt.Errorf("e2b: %s: Stdin applies to StartCommand, whose handle sends the input; RunCommand gives a command no input", op)
	}
	tag := newProcessTag()
	stdin := false
	cfg := &process.ProcessConfig{Cmd: "/bin/bash", Args: []string{"-l", "-c", cmd}, Envs: opts.Envs}
	if opts.Cwd != "" {
		cfg.Cwd = &opts.Cwd
	}
	req := connect.NewRequest(&process.StartRequest{Process: cfg, Tag: &tag, Stdin: &stdin})
	req.Header().Set(wire.HeaderKeepalivePing, strconv.Itoa(keepalivePingSeconds))
	s.nameEnvdUser(req.Header(), opts.User)

	// The timeout is a timer rather than a deadline: Connect would send a
	// deadline to envd, which could then end the stream a moment before the
	// timer fires here, and the timeout would look like an answer.
	timeoutErr := &timeoutError{op: op, timeout: timeout}
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if endsFirst(ctx, timeout) {
		timer := time.AfterFunc(timeout, func() { cancel(timeoutErr) })
		defer timer.Stop()
	}
	var sent atomic.Bool
	runCtx = traceSent(runCtx, &sent)
	run := commandRun{s: s, op: op, ctx: ctx, runCtx: runCtx, tag: tag}
	stream, err := s.process.Start(runCtx, req)
	if err != nil {
		run.sent = sent.Load()
		return &CommandResult{}, run.failure(err)
	}
	defer func() { _ = stream.Close() }()

	res := &CommandResult{}
	var stdout, stderr strings.Builder
	finish := func() *CommandResult {
		res.Stdout, res.Stderr = stdout.String(), stderr.String()
		return res
	}
	for stream.Receive() {
		ev := stream.Msg().GetEvent()
		switch {
		case ev.GetStart() != nil:
			run.pid = ev.GetStart().GetPid()
		case ev.GetData() != nil:
			d := ev.GetData()
			if out := d.GetStdout(); len(out) > 0 {
				stdout.Write(out)
				if opts.OnStdout != nil {
					opts.OnStdout(string(out))
				}
			}
			if out := d.GetStderr(); len(out) > 0 {
				stderr.Write(out)
				if opts.OnStderr != nil {
					opts.OnStderr(string(out))
				}
			}
		case ev.GetEnd() != nil:
			end := ev.GetEnd()
			res.ExitCode = int(end.GetExitCode())
			res.Error = end.GetError()
			return finish(), nil
		}
	}
	run.sent = sent.Load()
	err = stream.Err()
	if err == nil {
		err = newInterruptedError(op, "the stream ended before the process exited", nil, s.red)
	}
	return finish(), run.failure(err)
}

// commandRun is what a failed RunCommand knows about its process.
type commandRun struct {
	s      *Sandbox
	op     string
	ctx    context.Context // the caller's
	runCtx context.Context // bounded by the command's timeout
	tag    string
	pid    uint32 // 0 until the start event
	sent   bool   // the request was written, so the process may exist
}

// failure picks a failed command's error and kills its process when it may
// exist: always when ctx or the timeout ended the command, and on a
// best-effort basis when the stream broke or envd reported an error after the
// start. A broken stream is ErrExecutionInterrupted; an error answer from the
// proxy proves nothing started and is returned as it is.
func (r commandRun) failure(err error) error {
	var te *timeoutError
	var ended error // set when the caller's ctx or the timeout ended the command
	switch {
	case r.ctx.Err() != nil:
		ended = contextFailure(r.ctx, r.op)
	case errors.As(context.Cause(r.runCtx), &te):
		ended = te
	default:
		// envd applied ctx's deadline (sent by Connect) a moment before ctx expired here.
		if mapped := r.s.rpcFailure(r.ctx, nil, r.op, err); errors.Is(mapped, context.DeadlineExceeded) {
			ended = mapped
		}
	}
	if ended != nil {
		if !r.sent {
			return ended
		}
		if killErr := r.s.killProcess(r.ctx, r.pid, r.tag); killErr != nil {
			return fmt.Errorf("%w (and killing the process failed: %s)", ended, r.s.red.apply(killErr.Error()))
		}
		return ended
	}
	if errors.Is(err, ErrExecutionInterrupted) {
		_ = r.s.killProcess(r.ctx, r.pid, r.tag)
		return err
	}
	mapped := r.s.rpcFailure(r.ctx, nil, r.op, err)
	var proxyAnswer *APIError
	if errors.As(err, &proxyAnswer) {
		return mapped // the proxy answered instead of envd: nothing started
	}
	var transport *TransportError
	if r.sent && errors.As(mapped, &transport) && !errors.Is(err, syscall.ECONNREFUSED) {
		_ = r.s.killProcess(r.ctx, r.pid, r.tag)
		return newInterruptedError(r.op, "the stream broke before the process exited", mapped, r.s.red)
	}
	if r.pid != 0 {
		_ = r.s.killProcess(r.ctx, r.pid, r.tag)
	}
	return mapped
}

// killProcess sends SIGKILL to the process with pid, or, when the pid is not
// known yet, to the process with tag. It is clean-up: it keeps ctx's values
// but not its cancellation, bounded by the request timeout.
func (s *Sandbox) killProcess(ctx context.Context, pid uint32, tag string) error {
	ctx, cancel := s.c.cleanupContext(ctx)
	defer cancel()
	sel := &process.ProcessSelector{Selector: &process.ProcessSelector_Tag{Tag: tag}}
	if pid != 0 {
		sel = &process.ProcessSelector{Selector: &process.ProcessSelector_Pid{Pid: pid}}
	}
	_, err := s.process.SendSignal(ctx, connect.NewRequest(&process.SendSignalRequest{
		Process: sel,
		Signal:  process.Signal_SIGNAL_SIGKILL,
	}))
	return err
}

// newProcessTag returns a unique tag that names a started process until its
// pid is known.
func newProcessTag() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "tta-e2b-" + hex.EncodeToString(b[:])
}
