package tta

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"
)

// path tells whether a call with in installs packages at run time.
func (p *CodeExecutionPrimitive) path(in CodeInput) ExecutionPath {
	if len(p.cfg.packages) > 0 || len(in.Packages) > 0 {
		return PathRuntimeInstall
	}
	return PathTemplate
}

// run installs in.Packages, writes in.Files and runs in.Code in l's sandbox,
// in the interpreter context contextID ("" for the default one). start is
// when the call began, for CodeOutput.Startup.
func (p *CodeExecutionPrimitive) run(ctx context.Context, l *lease, in CodeInput, contextID string, start time.Time) (CodeOutput, error) {
	out := CodeOutput{SandboxID: l.sb.ID(), Template: l.template, Path: p.path(in)}
	fail := func(op string, started bool, err error) (CodeOutput, error) {
		return out, failed(ctx, started, &SandboxError{Op: op, SandboxID: l.sb.ID(), Template: l.template, Started: started, Err: err})
	}
	defer p.keepAlive(ctx, l)()

	installed, err := p.install(ctx, l, in.Packages)
	out.Installed = installed
	if err != nil {
		return out, err
	}
	for _, f := range in.Files {
		if err := l.sb.WriteFile(ctx, f.Path, f.Data); err != nil {
			return fail("upload", false, fmt.Errorf("write %s: %w", f.Path, err))
		}
	}
	out.Startup = time.Since(start)

	runCtx, cancelRun := ctx, context.CancelCauseFunc(nil)
	if in.OnStdout != nil || in.OnStderr != nil { // a panicking callback cancels the run
		runCtx, cancelRun = context.WithCancelCause(ctx)
		defer cancelRun(nil)
	}
	if in.Timeout > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeoutCause(runCtx, in.Timeout, errCodeTimedOut)
		defer cancel()
	}
	var guard callbackGuard
	req := RunRequest{
		Code:      in.Code,
		Language:  in.language(),
		ContextID: contextID,
		EnvVars:   maps.Clone(in.Env),
		Timeout:   in.Timeout,
		OnStdout:  guard.wrap(in.OnStdout, cancelRun),
		OnStderr:  guard.wrap(in.OnStderr, cancelRun),
	}
	ranAt := time.Now()
	runCtx, ro := startStep(runCtx, spanRun)
	if ro.recording() {
		ro.set(attrLanguage.String(req.Language), attrSandboxID.String(l.sb.ID()))
	}
	exec, err := l.sb.RunCode(runCtx, req)
	out.Duration = time.Since(ranAt)
	ro.ran(exec.Error, err)
	if pe := guard.panicked(); pe != nil {
		panic(pe) // the caller's deferred kill runs first
	}
	out.Stdout, out.Stderr = exec.Stdout, exec.Stderr
	out.Results = exec.Results
	out.Error = exec.Error
	out.ExecutionCount = exec.ExecutionCount
	if err != nil {
		if ctx.Err() == nil && in.Timeout > 0 && (context.Cause(runCtx) == errCodeTimedOut ||
			out.Duration >= in.Timeout && errors.Is(err, context.DeadlineExceeded)) {
			err = &codeTimeoutError{d: in.Timeout, err: err}
		}
		started := mayHaveStarted(err)
		if started {
			err = p.streamBroke(ctx, l, contextID, err)
		}
		return fail("run", started, err)
	}
	if exec.Error != nil {
		if p.cfg.codeErrorsAsErrors {
			return out, Permanent(exec.Error) // not even RetryIf runs failing code again
		}
		return out, nil
	}
	out.Success = true
	return out, nil
}

// errCodeTimedOut is the cause of a run's context when CodeInput.Timeout
// passed.
var errCodeTimedOut = errors.New("tta: code timeout")

// callbackGuard runs output callbacks, turning the first panic into a
// *PanicError kept for the caller's goroutine and cancelling the run.
type callbackGuard struct {
	mu     sync.Mutex // protects pe
	pe     *PanicError
	callMu sync.Mutex // serialises the callbacks
}

// wrap returns f guarded, or nil when f is nil; cancel cancels the run
// when f panics.
func (g *callbackGuard) wrap(f func(string), cancel context.CancelCauseFunc) func(string) {
	if f == nil {
		return nil
	}
	return func(text string) {
		g.callMu.Lock()
		defer g.callMu.Unlock()
		if g.panicked() != nil {
			return
		}
		defer func() {
			if v := recover(); v != nil {
				pe := newPanicError(v)
				g.mu.Lock()
				g.pe = pe
				g.mu.Unlock()
				cancel(pe)
			}
		}()
		f(text)
	}
}

// panicked returns the first callback's panic, or nil.
func (g *callbackGuard) panicked() *PanicError {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.pe
}
