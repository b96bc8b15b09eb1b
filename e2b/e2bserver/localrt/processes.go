package localrt

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os/exec"
	"slices"
	"syscall"

	"github.com/tta-dev/tta/e2b/e2bserver"
)

// process is a running envd process of a sandbox.
type process struct {
	spec e2bserver.ProcessSpec
	sent syscall.Signal // last signal sent through SignalProcess
}

// RunProcess implements e2bserver.Processes. The process runs in its own
// process group (and namespaces, when isolated) in spec.Cwd, or the user's
// home; it is killed when ctx is done or a hook fails. Background processes
// it leaves behind end with it.
func (in *instance) RunProcess(ctx context.Context, spec e2bserver.ProcessSpec, hooks e2bserver.ProcessHooks) (e2bserver.ProcessExit, error) {
	if err := in.checkOpen(); err != nil {
		return e2bserver.ProcessExit{}, err
	}
	if spec.Cmd == "" {
		return e2bserver.ProcessExit{}, fmt.Errorf("localrt: empty command: %w", fs.ErrInvalid)
	}
	user := spec.User
	if user == "" {
		user = defaultUser
	}
	cwd := spec.Cwd
	if cwd == "" {
		cwd = homeOf(user)
	}
	if _, err := rel(cwd); err != nil {
		return e2bserver.ProcessExit{}, err
	}
	if err := in.ensureDir(cwd); err != nil {
		return e2bserver.ProcessExit{}, err
	}
	ctx, cancel := in.bound(ctx)
	defer cancel()

	argv := append([]string{spec.Cmd}, spec.Args...)
	ps := in.spec(argv, cwd, user, in.procEnv(user, spec.Envs))
	var pid int
	defer func() {
		if pid != 0 {
			in.mu.Lock()
			delete(in.procs, pid)
			in.mu.Unlock()
		}
	}()
	res, err := runPiped(ctx, ps, pipedHooks{
		started: func(p int) error {
			in.mu.Lock()
			if in.closed {
				in.mu.Unlock()
				return errClosed
			}
			pid = p
			in.procs[p] = &process{spec: spec}
			in.mu.Unlock()
			if ps.started != nil {
				if err := ps.started(p); err != nil {
					return err
				}
			}
			if hooks.Started != nil {
				return hooks.Started(uint32(p))
			}
			return nil
		},
		output: func(stdout bool, data []byte) error {
			if hooks.Output == nil {
				return nil
			}
			stream := e2bserver.Stderr
			if stdout {
				stream = e2bserver.Stdout
			}
			return hooks.Output(stream, data)
		},
	})
	if err != nil {
		return e2bserver.ProcessExit{}, err
	}
	if res.hookErr != nil {
		return e2bserver.ProcessExit{}, res.hookErr
	}
	// ctx ends before Close or a disconnect kills the process, so a process
	// that died while ctx was done was ended by them, not by itself: checking
	// ctx, not only whether runPiped saw it first, keeps that deterministic.
	if res.cancelled || ctx.Err() != nil {
		return e2bserver.ProcessExit{}, ctx.Err()
	}
	if in.ctx.Err() != nil { // closed, before the bound ctx heard of it
		return e2bserver.ProcessExit{}, errClosed
	}
	in.mu.Lock()
	var sent syscall.Signal
	if p := in.procs[pid]; p != nil {
		sent = p.sent
	}
	in.mu.Unlock()
	return processExit(res.waitErr, sent, in.launch != nil), nil
}

// processExit describes how a process ended. Under the namespace launcher a
// command killed by signal n shows as the launcher's exit status 128+n: when
// n is the signal sent to it, it is reported as that signal.
func processExit(waitErr error, sent syscall.Signal, launched bool) e2bserver.ProcessExit {
	if waitErr == nil {
		return e2bserver.ProcessExit{ExitCode: 0, Exited: true, Status: "exit status 0"}
	}
	var exit *exec.ExitError
	if !errors.As(waitErr, &exit) {
		return e2bserver.ProcessExit{ExitCode: -1, Status: waitErr.Error(), Error: waitErr.Error()}
	}
	ws, ok := exit.Sys().(syscall.WaitStatus)
	if ok && ws.Signaled() {
		return e2bserver.ProcessExit{ExitCode: -1, Exited: false, Status: "signal: " + ws.Signal().String()}
	}
	code := exit.ExitCode()
	if launched && sent != 0 && code == 128+int(sent) {
		return e2bserver.ProcessExit{ExitCode: -1, Exited: false, Status: "signal: " + sent.String()}
	}
	return e2bserver.ProcessExit{ExitCode: int32(code), Exited: true, Status: fmt.Sprintf("exit status %d", code)}
}

// ListProcesses implements e2bserver.Processes.
func (in *instance) ListProcesses(context.Context) ([]e2bserver.ProcessInfo, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return nil, errClosed
	}
	out := make([]e2bserver.ProcessInfo, 0, len(in.procs))
	for _, pid := range slices.Sorted(maps.Keys(in.procs)) {
		out = append(out, e2bserver.ProcessInfo{PID: uint32(pid), Spec: in.procs[pid].spec})
	}
	return out, nil
}

// SignalProcess implements e2bserver.Processes: sig goes to the process's
// whole process group.
func (in *instance) SignalProcess(_ context.Context, pid uint32, sig e2bserver.Signal) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return errClosed
	}
	p := in.procs[int(pid)]
	if p == nil {
		return fmt.Errorf("localrt: process %d: %w", pid, fs.ErrNotExist)
	}
	s := syscall.Signal(sig)
	if s != syscall.SIGTERM && s != syscall.SIGKILL {
		return fmt.Errorf("localrt: signal %d: %w", sig, fs.ErrInvalid)
	}
	p.sent = s
	if err := syscall.Kill(-int(pid), s); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("localrt: signalling process %d: %w", pid, err)
	}
	return nil
}
