package localrt

import (
	"context"
	"errors"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/tta-dev/tta/e2b/wire"
)

// runBash runs code in a fresh bash -c in the kernel's directory, streaming
// its output. The shell's process group is killed when it exits: background
// jobs end with the execution. A non-zero exit is an "ExitError" event.
func (k *kernel) runBash(ctx context.Context, code string, env map[string]string, emit func(wire.ExecutionEvent) error) error {
	spec := k.spec
	spec.argv = []string{k.spec.argv[0], "-c", code}
	spec.env = mergeEnv(k.spec.env, env)

	var pgid int
	defer func() {
		k.mu.Lock()
		delete(k.shells, pgid)
		k.mu.Unlock()
	}()
	var emitErr error
	res, err := runPiped(ctx, spec, pipedHooks{
		started: func(pid int) error {
			k.mu.Lock()
			defer k.mu.Unlock()
			if k.closed {
				return errKernelClosed
			}
			pgid = pid
			k.shells[pid] = struct{}{}
			if spec.started != nil {
				return spec.started(pid)
			}
			return nil
		},
		output: func(stdout bool, data []byte) error {
			typ := wire.EventStderr
			if stdout {
				typ = wire.EventStdout
			}
			err := emit(wire.ExecutionEvent{Type: typ, Text: string(data), Timestamp: wire.EventTime{Time: time.Now()}})
			if err != nil && ctx.Err() == nil {
				emitErr = err
				return err
			}
			return nil
		},
		text:      true,
		interrupt: syscall.SIGINT,
		grace:     k.grace,
	})
	if err != nil {
		return err
	}
	if res.hookErr != nil && emitErr == nil {
		return res.hookErr // closed, or limits could not be applied
	}
	if emitErr == nil {
		if ev, ok := exitEvent(res.waitErr); ok {
			_ = emit(ev) // after a cancel the client may be gone
		}
	}
	switch {
	case emitErr != nil:
		return emitErr
	case res.cancelled:
		return ctx.Err()
	}
	return nil
}

// exitEvent describes a shell that did not exit 0 as an "ExitError" event.
func exitEvent(err error) (wire.ExecutionEvent, bool) {
	if err == nil {
		return wire.ExecutionEvent{}, false
	}
	var value string
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		value = exit.String() // "exit status 3", "signal: interrupt"
	} else {
		value = err.Error()
	}
	return wire.ExecutionEvent{
		Type:      wire.EventError,
		Name:      "ExitError",
		Value:     value,
		Traceback: "bash: " + value,
	}, true
}

// mergeEnv returns base ("K=V" entries) with over applied on top.
func mergeEnv(base []string, over map[string]string) []string {
	if len(over) == 0 {
		return base
	}
	out := make([]string, 0, len(base)+len(over))
	for _, kv := range base {
		name, _, _ := strings.Cut(kv, "=")
		if _, ok := over[name]; !ok {
			out = append(out, kv)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(over)) {
		out = append(out, name+"="+over[name])
	}
	return out
}

// closeFiles closes every file, ignoring errors.
func closeFiles(fs ...*os.File) {
	for _, f := range fs {
		_ = f.Close()
	}
}
