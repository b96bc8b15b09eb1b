package localrt

import (
	"bufio"
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tta-dev/tta/e2b/wire"
)

// The kernel drivers. Each runs as one long-lived process per context and
// speaks the same protocol: requests on fd 3, events on fd 4 (see driver.py).
var (
	//go:embed driver.py
	pythonDriver string
	//go:embed driver.js
	nodeDriver string
)

// Timing of a driver process.
const (
	// startTimeout bounds how long a driver may take to report ready.
	startTimeout = 30 * time.Second
	// syncTimeout bounds the wait for sync markers after an execution ends.
	syncTimeout = 2 * time.Second
	// deadDrain is how long events still in flight are read after the driver
	// died.
	deadDrain = 500 * time.Millisecond
	// interruptRepeat is how often SIGINT is repeated for a JavaScript driver
	// until it reports. Rarely: node can die of a SIGINT that lands just as
	// a script ends, so it is not repeated eagerly.
	interruptRepeat = 500 * time.Millisecond
	// stderrTailSize is how much of the driver's raw stderr is kept for
	// diagnosing a driver that fails or dies.
	stderrTailSize = 4 << 10
)

// driverRequest is one line on the driver's fd 3.
type driverRequest struct {
	ID    uint64            `json:"id"`
	Count int               `json:"count"`
	Code  string            `json:"code"`
	Env   map[string]string `json:"env,omitempty"`
}

// driverEvent is one line on the driver's fd 4: an execution event plus the
// request id, or the driver's own "ready" and "done".
type driverEvent struct {
	ID uint64 `json:"id"`
	wire.ExecutionEvent
}

// Driver-only event types.
const (
	eventReady = "ready"
	eventDone  = "done"
)

// msgKind classifies what readers deliver to a running execution.
type msgKind int

const (
	msgEvent  msgKind = iota // an event to emit
	msgDone                  // the driver finished the request
	msgSynced                // a sync marker arrived on fd 1 or fd 2
)

type kernelMsg struct {
	kind msgKind
	ev   wire.ExecutionEvent
}

// execution is the request a driver is running; readers deliver to it.
type execution struct {
	id   uint64
	ch   chan kernelMsg
	stop chan struct{} // closed when the execution stops reading ch
}

// procSpec says how to launch a process of a sandbox.
type procSpec struct {
	argv []string
	dir  string // working directory on the host (unconfined processes)
	env  []string
	// confine, when set, runs the process confined in its sandbox.
	confine *launchSpec
	// started, when set, runs right after the process started (resource
	// limits of unconfined processes). An error kills the process.
	started func(pid int) error
	// fork, when set, starts a Python driver from the fork server instead,
	// with stdout, stderr, fd 3 and fd 4: it returns the driver's pid (also
	// its process group) and a function waiting for its end.
	fork func(stdout, stderr, fd3, fd4 *os.File) (pid int, wait func() error, err error)
}

// start starts the process of s in its own process group with stdout,
// stderr and extra as its descriptors 1, 2 and 3 on. A confined process
// has started once it runs in its sandbox.
func (s procSpec) start(stdout, stderr *os.File, extra ...*os.File) (*exec.Cmd, error) {
	if s.confine != nil {
		return s.startConfined(stdout, stderr, extra)
	}
	cmd := exec.Command(s.argv[0], s.argv[1:]...)
	cmd.Dir = s.dir
	cmd.Env = s.env
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.ExtraFiles = extra
	// Pdeathsig: should the server die without closing its sandboxes, their
	// top processes die too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return cmd, nil
}

// driverProc is a running driver process and the goroutines reading it.
type driverProc struct {
	language string
	waitFn   func() error // waits for the process to end
	pid      int          // also the process group id
	prefix   []byte

	reqW       *os.File // fd 3 of the driver
	evR        *os.File // fd 4 of the driver
	outR, errR *os.File // fd 1 and fd 2 of the driver
	outW, errW *os.File // write ends of fd 1 and fd 2, for sync markers

	ready     chan struct{} // closed when the driver reported ready
	readyOnce sync.Once
	exited    chan struct{} // closed when the process has been waited for
	waitErr   error         // how it ended; set before exited closes
	eventsEOF chan struct{} // closed when fd 4 reached its end
	readers   sync.WaitGroup
	closeOnce sync.Once

	mu         sync.Mutex // protects the fields below
	active     *execution
	nextID     uint64
	stderrTail []byte
}

// startDriver launches the driver of language and waits until it reports
// ready. ctx bounds the start only.
func startDriver(ctx context.Context, language string, spec procSpec) (*driverProc, error) {
	token := make([]byte, 12)
	if _, err := rand.Read(token); err != nil {
		return nil, err
	}
	p := &driverProc{
		language:  language,
		prefix:    []byte("\x00tta-sync-" + hex.EncodeToString(token) + "-"),
		ready:     make(chan struct{}),
		exited:    make(chan struct{}),
		eventsEOF: make(chan struct{}),
	}
	r, w, err := openPipes(4)
	if err != nil {
		return nil, err
	}
	reqR, evW := r[0], w[1] // the driver's ends of fd 3 and fd 4
	p.reqW, p.evR, p.outR, p.outW, p.errR, p.errW = w[0], r[1], r[2], w[2], r[3], w[3]

	if spec.fork != nil {
		p.pid, p.waitFn, err = spec.fork(p.outW, p.errW, reqR, evW)
	} else {
		var cmd *exec.Cmd
		if cmd, err = spec.start(p.outW, p.errW, reqR, evW); err == nil {
			p.pid, p.waitFn = cmd.Process.Pid, cmd.Wait
		}
	}
	closeFiles(reqR, evW) // the driver has them now
	if err != nil {
		closeFiles(p.reqW, p.evR, p.outR, p.outW, p.errR, p.errW)
		return nil, fmt.Errorf("localrt: starting the %s kernel: %w", language, err)
	}

	p.readers.Add(4)
	go p.wait()
	go p.readEvents()
	go p.readRaw(p.outR, wire.EventStdout)
	go p.readRaw(p.errR, wire.EventStderr)

	if spec.started != nil {
		if err := spec.started(p.pid); err != nil {
			p.close()
			return nil, fmt.Errorf("localrt: starting the %s kernel: %w", language, err)
		}
	}

	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case <-p.ready:
		return p, nil
	case <-p.exited:
		p.close()
		return nil, fmt.Errorf("localrt: the %s kernel exited before it was ready (%v)%s", language, p.waitErr, p.stderrNote())
	case <-ctx.Done():
		p.close()
		return nil, ctx.Err()
	case <-timer.C:
		p.close()
		return nil, fmt.Errorf("localrt: the %s kernel was not ready within %v%s", language, startTimeout, p.stderrNote())
	}
}

// openPipes opens n pipes and returns their read and write ends; on failure
// it closes what it opened.
func openPipes(n int) (r, w []*os.File, err error) {
	for range n {
		pr, pw, err := os.Pipe()
		if err != nil {
			closeFiles(r...)
			closeFiles(w...)
			return nil, nil, err
		}
		r, w = append(r, pr), append(w, pw)
	}
	return r, w, nil
}

// wait reaps the process.
func (p *driverProc) wait() {
	defer p.readers.Done()
	p.waitErr = p.waitFn()
	close(p.exited)
}

// alive reports whether the process still runs.
func (p *driverProc) alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// readEvents reads fd 4 line by line. Lines may be megabytes long (images).
func (p *driverProc) readEvents() {
	defer p.readers.Done()
	defer close(p.eventsEOF)
	r := bufio.NewReaderSize(p.evR, 64<<10)
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 1 {
			var ev driverEvent
			if json.Unmarshal(line, &ev) == nil {
				switch ev.Type {
				case eventReady:
					p.readyOnce.Do(func() { close(p.ready) })
				case eventDone:
					p.deliver(ev.ID, kernelMsg{kind: msgDone})
				default:
					p.deliver(ev.ID, kernelMsg{kind: msgEvent, ev: ev.ExecutionEvent})
				}
			}
		}
		if err != nil {
			return
		}
	}
}

// readRaw reads the driver's fd 1 or fd 2: output that bypassed the driver
// (child processes, C code) becomes events of the running execution.
func (p *driverProc) readRaw(f *os.File, stream string) {
	defer p.readers.Done()
	s := rawScanner{prefix: p.prefix}
	buf := make([]byte, 32<<10)
	text := func(b []byte) {
		if stream == wire.EventStderr {
			p.keepStderr(b)
		}
		p.deliver(0, kernelMsg{kind: msgEvent, ev: wire.ExecutionEvent{
			Type: stream, Text: string(b), Timestamp: wire.EventTime{Time: time.Now()},
		}})
	}
	marker := func(id uint64) { p.deliver(id, kernelMsg{kind: msgSynced}) }
	for {
		n, err := f.Read(buf)
		if n > 0 {
			s.feed(buf[:n], text, marker)
		}
		if err != nil {
			return
		}
	}
}

// keepStderr remembers the end of the driver's raw stderr.
func (p *driverProc) keepStderr(b []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stderrTail = append(p.stderrTail, b...)
	if over := len(p.stderrTail) - stderrTailSize; over > 0 {
		p.stderrTail = append([]byte(nil), p.stderrTail[over:]...)
	}
}

// stderrNote formats the stderr tail for an error message.
func (p *driverProc) stderrNote() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := strings.TrimSpace(string(p.stderrTail))
	if s == "" {
		return ""
	}
	return ": " + s
}

// deliver hands m to the running execution when it is request id (0: any).
func (p *driverProc) deliver(id uint64, m kernelMsg) {
	p.mu.Lock()
	ex := p.active
	p.mu.Unlock()
	if ex == nil || (id != 0 && id != ex.id) {
		return
	}
	select {
	case ex.ch <- m:
	case <-ex.stop:
	}
}

// signal sends sig to the driver's process group.
func (p *driverProc) signal(sig syscall.Signal) {
	if p.alive() {
		_ = syscall.Kill(-p.pid, sig)
	}
}

// close kills the process group, releases the pipes and waits for the
// goroutines. It is idempotent.
func (p *driverProc) close() {
	p.closeOnce.Do(func() {
		_ = syscall.Kill(-p.pid, syscall.SIGKILL)
		<-p.exited
		// Read ends first: a marker write blocked on a full pipe then fails.
		p.evR.Close()
		p.outR.Close()
		p.errR.Close()
		p.readers.Wait()
		p.reqW.Close()
		p.outW.Close()
		p.errW.Close()
	})
}

// sendMarkers writes the sync marker of execution id into fd 1 and fd 2.
// The writes run in goroutines: a full pipe must not block the execution,
// which is what drains it.
func (p *driverProc) sendMarkers(id uint64) {
	marker := fmt.Appendf(append([]byte(nil), p.prefix...), "%0*x", markerDigits, id)
	for _, w := range []*os.File{p.outW, p.errW} {
		p.readers.Add(1)
		go func() {
			defer p.readers.Done()
			_, _ = w.Write(marker)
		}()
	}
}

// execOutcome is how a driver execution ended.
type execOutcome struct {
	err  error // nil, ctx's error or emit's error
	dead bool  // the driver died: its state is lost
}

// run sends one request to the driver and emits its events until the driver
// reports done and both raw streams are synced. Cancelling ctx or a failing
// emit interrupts the code with SIGINT; code still running grace later is
// killed with its driver.
func (p *driverProc) run(ctx context.Context, req driverRequest, grace time.Duration, emit func(wire.ExecutionEvent) error) execOutcome {
	ex := &execution{id: req.ID, ch: make(chan kernelMsg), stop: make(chan struct{})}
	p.mu.Lock()
	p.active = ex
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		if p.active == ex {
			p.active = nil
		}
		p.mu.Unlock()
		close(ex.stop)
	}()

	line, err := json.Marshal(req)
	if err != nil {
		return execOutcome{err: err}
	}
	writeErr := func() error {
		_, err := p.reqW.Write(append(line, '\n'))
		return err
	}()

	var (
		ctxDone     = ctx.Done()
		cancelled   bool
		interrupted bool
		killed      bool
		emitErr     error
		graceC      <-chan time.Time
		syncC       <-chan time.Time
		exitedC     = p.exited
		deadC       <-chan time.Time
		eventsEOF   <-chan struct{}
		synced      int
	)
	if writeErr != nil {
		// The driver is gone: fall through to the dead-driver path.
		p.signal(syscall.SIGKILL)
	}
	var repeat *time.Ticker
	repeatC := (<-chan time.Time)(nil)
	defer func() {
		if repeat != nil {
			repeat.Stop()
		}
	}()
	interrupt := func() {
		if !interrupted {
			interrupted = true
			p.signal(syscall.SIGINT)
			graceC = time.After(grace)
			if p.language == langJavaScript {
				// node can swallow a SIGINT that lands as a script ends and a
				// promise begins: repeat it now and then until the driver
				// reports.
				repeat = time.NewTicker(interruptRepeat)
				repeatC = repeat.C
			}
		}
	}
	outcome := func(dead bool) execOutcome {
		switch {
		case emitErr != nil:
			return execOutcome{err: emitErr, dead: dead}
		case cancelled:
			return execOutcome{err: ctx.Err(), dead: dead}
		}
		return execOutcome{dead: dead}
	}
	send := func(ev wire.ExecutionEvent) {
		if emitErr != nil {
			return
		}
		if err := emit(ev); err != nil && !cancelled {
			emitErr = err
			interrupt()
		}
	}
	for {
		select {
		case m := <-ex.ch:
			switch m.kind {
			case msgEvent:
				send(m.ev)
			case msgDone:
				graceC = nil
				repeatC = nil
				p.sendMarkers(ex.id)
				syncC = time.After(syncTimeout)
			case msgSynced:
				if synced++; synced == 2 {
					return outcome(false)
				}
			}
		case <-syncC:
			return outcome(false)
		case <-ctxDone:
			ctxDone = nil
			cancelled = true
			interrupt()
		case <-repeatC:
			p.signal(syscall.SIGINT)
		case <-graceC:
			graceC = nil
			repeatC = nil
			killed = true
			p.signal(syscall.SIGKILL)
		case <-exitedC:
			exitedC = nil
			eventsEOF = p.eventsEOF
			deadC = time.After(deadDrain)
		case <-eventsEOF:
			eventsEOF = nil
			deadC = time.After(0)
		case <-deadC:
			send(p.deadEvent(killed, grace))
			return outcome(true)
		}
	}
}

// deadEvent is the error event reported when the driver died during an
// execution.
func (p *driverProc) deadEvent(killed bool, grace time.Duration) wire.ExecutionEvent {
	var value string
	if killed {
		value = fmt.Sprintf("the %s kernel did not stop within %v of the interrupt and was killed; its state is lost and the next execution starts a fresh kernel", p.language, grace)
	} else {
		value = fmt.Sprintf("the %s kernel died (%v); its state is lost and the next execution starts a fresh kernel", p.language, p.waitErr)
	}
	tb := value
	if note := p.stderrNote(); note != "" {
		tb += "\n\nkernel stderr" + note
	}
	return wire.ExecutionEvent{Type: wire.EventError, Name: "DeadKernelError", Value: value, Traceback: tb}
}

// newID returns the id of the next request.
func (p *driverProc) newID() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.nextID++
	return p.nextID
}
