package e2bserver

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"connectrpc.com/connect"

	"github.com/tta-dev/tta/e2b/internal/envd/process"
)

// processTable holds a sandbox's processes started through envd's Start, as
// envd does: a process outlives the stream that started it, and Connect
// attaches another stream to it by pid or tag. The zero value is empty and
// ready to use.
type processTable struct {
	mu    sync.Mutex // protects procs
	procs map[uint32]*runningProcess
}

// runningProcess is one process of a processTable, and the streams watching
// it. Its events are sent to every watcher; one that attaches later sees the
// events from then on, as envd's Connect does.
type runningProcess struct {
	pid uint32
	tag string

	mu       sync.Mutex // protects watchers, started and the outcome below
	watchers map[*processWatcher]struct{}
	started  bool
	end      *process.ProcessEvent // the end event, once the process ended
	err      error                 // why RunProcess failed, if it did
	done     chan struct{}         // closed when the process is over
}

// processWatcher is one stream's view of a runningProcess: events arrive on
// events, unbuffered, until gone is closed.
type processWatcher struct {
	events chan *process.ProcessEvent
	gone   chan struct{} // closed when the stream stops watching
}

// start runs spec in inst in the background, bound by sctx (the sandbox's
// traffic context: the process ends when the sandbox does, not when a stream
// does), and returns the process with w watching it from its first event.
func (pt *processTable) start(sctx context.Context, inst Instance, spec ProcessSpec, w *processWatcher) *runningProcess {
	rp := &runningProcess{tag: spec.Tag, watchers: map[*processWatcher]struct{}{w: {}}, done: make(chan struct{})}
	go func() {
		exit, err := inst.RunProcess(sctx, spec, ProcessHooks{
			Started: func(pid uint32) error {
				rp.mu.Lock()
				rp.pid, rp.started = pid, true
				rp.mu.Unlock()
				pt.mu.Lock()
				if pt.procs == nil {
					pt.procs = make(map[uint32]*runningProcess)
				}
				pt.procs[pid] = rp
				pt.mu.Unlock()
				rp.broadcast(&process.ProcessEvent{Event: &process.ProcessEvent_Start{Start: &process.ProcessEvent_StartEvent{Pid: pid}}})
				return nil
			},
			Output: func(s Stream, data []byte) error {
				ev := &process.ProcessEvent_DataEvent{}
				if s == Stderr {
					ev.Output = &process.ProcessEvent_DataEvent_Stderr{Stderr: data}
				} else {
					ev.Output = &process.ProcessEvent_DataEvent_Stdout{Stdout: data}
				}
				rp.broadcast(&process.ProcessEvent{Event: &process.ProcessEvent_Data{Data: ev}})
				return nil
			},
		})
		rp.mu.Lock()
		pid := rp.pid
		rp.mu.Unlock()
		pt.mu.Lock()
		delete(pt.procs, pid)
		pt.mu.Unlock()
		if err == nil {
			end := &process.ProcessEvent_EndEvent{ExitCode: exit.ExitCode, Exited: exit.Exited, Status: exit.Status}
			if exit.Error != "" {
				msg := exit.Error
				end.Error = &msg
			}
			ev := &process.ProcessEvent{Event: &process.ProcessEvent_End{End: end}}
			rp.broadcast(ev)
			rp.mu.Lock()
			rp.end = ev
			rp.mu.Unlock()
		} else {
			rp.mu.Lock()
			rp.err = err
			rp.mu.Unlock()
		}
		close(rp.done)
	}()
	return rp
}

// find returns the running process sel names, by pid or by tag.
func (pt *processTable) find(sel *process.ProcessSelector) (*runningProcess, bool) {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	if tag := sel.GetTag(); tag != "" {
		for _, rp := range pt.procs {
			if rp.tag == tag {
				return rp, true
			}
		}
		return nil, false
	}
	rp, ok := pt.procs[sel.GetPid()]
	return rp, ok
}

// newWatcher returns a watcher attached to nothing yet.
func newWatcher() *processWatcher {
	return &processWatcher{events: make(chan *process.ProcessEvent), gone: make(chan struct{})}
}

// attach adds w to rp's watchers, unless rp is over; it reports whether it
// did.
func (rp *runningProcess) attach(w *processWatcher) bool {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	select {
	case <-rp.done:
		return false
	default:
	}
	rp.watchers[w] = struct{}{}
	return true
}

// detach removes w from rp's watchers and tells broadcasts it is gone.
func (rp *runningProcess) detach(w *processWatcher) {
	rp.mu.Lock()
	delete(rp.watchers, w)
	rp.mu.Unlock()
	close(w.gone)
}

// broadcast hands ev to every watcher, waiting for each until it takes the
// event or stops watching.
func (rp *runningProcess) broadcast(ev *process.ProcessEvent) {
	rp.mu.Lock()
	ws := make([]*processWatcher, 0, len(rp.watchers))
	for w := range rp.watchers {
		ws = append(ws, w)
	}
	rp.mu.Unlock()
	for _, w := range ws {
		select {
		case w.events <- ev:
		case <-w.gone:
		}
	}
}

// watch sends rp's events to a stream through send, with a keepalive every
// keepalive when > 0, until the process's end event has been sent (nil), the
// stream fails or ctx ends (the process goes on either way). A process that
// failed to run is a Connect error. w must already watch rp; watch detaches
// it.
func (t *target) watch(ctx context.Context, rp *runningProcess, w *processWatcher, keepalive time.Duration, send func(*process.ProcessEvent) error) error {
	defer rp.detach(w)
	var tick <-chan time.Time
	if keepalive > 0 {
		ticker := time.NewTicker(keepalive)
		defer ticker.Stop()
		tick = ticker.C
	}
	for {
		select {
		case ev := <-w.events:
			if err := send(ev); err != nil {
				return err
			}
			if ev.GetEnd() != nil {
				return nil
			}
		case <-rp.done:
			t.abortIfGone()
			rp.mu.Lock()
			started, end, err := rp.started, rp.end, rp.err
			rp.mu.Unlock()
			if end != nil { // it ended as w attached: the broadcast missed w
				return send(end)
			}
			if err == nil {
				err = errors.New("the process ended without an exit status")
			}
			if !started {
				return connectError(err, "error starting process")
			}
			return connectError(err, "error running process")
		case <-tick:
			ka := &process.ProcessEvent{Event: &process.ProcessEvent_Keepalive{Keepalive: &process.ProcessEvent_KeepAlive{}}}
			if err := send(ka); err != nil {
				return err
			}
		case <-ctx.Done():
			t.abortIfGone()
			return connectError(ctx.Err(), "stream ended")
		}
	}
}

// connectTo answers envd's Connect: it attaches to the running process the
// request names and streams its events from now on, starting with a start
// event carrying its pid. An unknown or finished process is NotFound.
func (t *target) connectTo(ctx context.Context, sel *process.ProcessSelector, keepalive time.Duration, send func(*process.ProcessEvent) error) error {
	rp, ok := t.sb.procs.find(sel)
	w := newWatcher()
	if !ok || !rp.attach(w) {
		if sel.GetTag() != "" {
			return connect.NewError(connect.CodeNotFound, fmt.Errorf("process with tag %s not found", sel.GetTag()))
		}
		return connect.NewError(connect.CodeNotFound, fmt.Errorf("process with pid %d not found", sel.GetPid()))
	}
	rp.mu.Lock()
	pid := rp.pid
	rp.mu.Unlock()
	if err := send(&process.ProcessEvent{Event: &process.ProcessEvent_Start{Start: &process.ProcessEvent_StartEvent{Pid: pid}}}); err != nil {
		rp.detach(w)
		return err
	}
	return t.watch(ctx, rp, w, keepalive, send)
}
