package localrt

import (
	"context"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"
)

// pipedHooks configures runPiped.
type pipedHooks struct {
	// started runs once the process runs, with its pid (also its process
	// group). An error kills the process and is returned.
	started func(pid int) error
	// output receives chunks of stdout (stdout true) or stderr, on runPiped's
	// goroutine. text makes chunks end on UTF-8 boundaries. An error kills
	// the process and is returned.
	output func(stdout bool, data []byte) error
	text   bool
	// interrupt is sent to the process group when ctx is done; SIGKILL
	// follows grace later. SIGKILL right away when zero.
	interrupt syscall.Signal
	grace     time.Duration
}

// pipedResult is how a piped process ended.
type pipedResult struct {
	waitErr   error // the process's exit (nil: status 0)
	hookErr   error // started's or output's error
	cancelled bool  // ctx was done before the process ended
}

// runPiped runs the process of spec, streaming its output through hooks,
// until it exits and its pipes are drained. When it exits, its process group
// is killed: background processes end with it. Output still held by a
// process that escaped the group is dropped syncTimeout after the exit.
func runPiped(ctx context.Context, spec procSpec, hooks pipedHooks) (pipedResult, error) {
	r, w, err := openPipes(2)
	if err != nil {
		return pipedResult{}, err
	}
	outR, outW, errR, errW := r[0], w[0], r[1], w[1]
	cmd, err := spec.start(outW, errW)
	closeFiles(outW, errW)
	if err != nil {
		closeFiles(outR, errR)
		return pipedResult{}, fmt.Errorf("localrt: starting %s: %w", spec.argv[0], err)
	}
	pgid := cmd.Process.Pid
	waitC := make(chan error, 1)
	go func() { waitC <- cmd.Wait() }()

	type chunk struct {
		stdout bool
		data   []byte
	}
	ch := make(chan chunk)
	stop := make(chan struct{})
	var readers sync.WaitGroup
	readers.Add(2)
	for _, r := range []struct {
		f      *os.File
		stdout bool
	}{{outR, true}, {errR, false}} {
		go func() {
			defer readers.Done()
			var s rawScanner
			deliver := func(b []byte) {
				select {
				case ch <- chunk{r.stdout, append([]byte(nil), b...)}:
				case <-stop:
				}
			}
			buf := make([]byte, 32<<10)
			for {
				n, err := r.f.Read(buf)
				if n > 0 {
					if hooks.text {
						s.feed(buf[:n], deliver, nil)
					} else {
						deliver(buf[:n])
					}
				}
				if err != nil {
					if rest := s.flush(); len(rest) > 0 {
						deliver(rest)
					}
					return
				}
			}
		}()
	}
	readersDone := make(chan struct{})
	go func() {
		readers.Wait()
		close(readersDone)
	}()

	var (
		res      pipedResult
		exited   bool
		eof      bool
		ctxDone  = ctx.Done()
		graceC   <-chan time.Time
		drainC   <-chan time.Time
		readersC = (<-chan struct{})(readersDone)
	)
	kill := func() { _ = syscall.Kill(-pgid, syscall.SIGKILL) }
	defer func() {
		close(stop)
		closeFiles(outR, errR)
		<-readersDone
	}()
	fail := func(err error) {
		if res.hookErr == nil {
			res.hookErr = err
			kill()
		}
	}
	if hooks.started != nil {
		if err := hooks.started(pgid); err != nil {
			fail(err)
		}
	}
	for !exited || !eof {
		select {
		case c := <-ch:
			if res.hookErr == nil && hooks.output != nil {
				if err := hooks.output(c.stdout, c.data); err != nil {
					fail(err)
				}
			}
		case res.waitErr = <-waitC:
			exited = true
			graceC = nil
			kill() // background processes
			drainC = time.After(syncTimeout)
		case <-readersC:
			readersC = nil
			eof = true
		case <-drainC:
			drainC = nil
			closeFiles(outR, errR)
		case <-ctxDone:
			ctxDone = nil
			res.cancelled = true
			if hooks.interrupt == 0 {
				kill()
			} else {
				_ = syscall.Kill(-pgid, hooks.interrupt)
				graceC = time.After(hooks.grace)
			}
		case <-graceC:
			graceC = nil
			kill()
		}
	}
	return res, nil
}
