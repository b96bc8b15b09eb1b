package main

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// progressInterval is how often a live progress line is redrawn.
const progressInterval = 200 * time.Millisecond

// progress is a live status line on a terminal: redrawn in place every
// progressInterval from what status returns, and erased by Stop. Where the
// output is not a terminal it draws nothing (callers print plain lines
// instead).
//
// Stop must be called exactly once per started progress; it is safe to call
// from any goroutine, and further calls do nothing.
type progress struct {
	w    io.Writer
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// startProgress starts drawing status() on w when tty is true.
func startProgress(w io.Writer, tty bool, status func() string) *progress {
	p := &progress{w: w, stop: make(chan struct{}), done: make(chan struct{})}
	if !tty {
		close(p.done)
		return p
	}
	go func() {
		defer close(p.done)
		t := time.NewTicker(progressInterval)
		defer t.Stop()
		for {
			fmt.Fprintf(w, "\r\x1b[K%s", status())
			select {
			case <-p.stop:
				fmt.Fprint(w, "\r\x1b[K")
				return
			case <-t.C:
			}
		}
	}()
	return p
}

// Stop erases the line and returns once nothing more will be drawn.
func (p *progress) Stop() {
	p.once.Do(func() { close(p.stop) })
	<-p.done
}

// seconds formats d for reports: "0.21s", "12.3s", "2m5s".
func seconds(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < 10*time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return d.Round(time.Second).String()
}
