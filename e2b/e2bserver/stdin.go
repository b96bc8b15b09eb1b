package e2bserver

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"sync"
)

// StdinWriter is implemented by Instances whose processes can read their
// standard input from the client (envd's SendInput and CloseStdin). A
// process reads it only when started with ProcessSpec.Stdin. The Server
// answers SendInput and CloseStdin with Unimplemented for Instances without
// it.
type StdinWriter interface {
	// WriteStdin appends data to the standard input of process pid; it does
	// not wait for the process to read it. An unknown pid is fs.ErrNotExist;
	// a process started without stdin, or whose stdin was closed, is
	// fs.ErrClosed.
	WriteStdin(ctx context.Context, pid uint32, data []byte) error
	// CloseStdin closes the standard input of process pid: it reads EOF once
	// it has read what was written. Errors as for WriteStdin.
	CloseStdin(ctx context.Context, pid uint32) error
}

// stdinBuffer is a process's standard input: writes append without
// waiting, reads wait for data or the close. The zero value is empty and
// open.
type stdinBuffer struct {
	mu     sync.Mutex
	data   []byte
	closed bool
	notify chan struct{} // closed and replaced when data or closed changes
}

// changed returns the channel closed at the next change. The caller holds mu.
func (b *stdinBuffer) changedLocked() chan struct{} {
	if b.notify == nil {
		b.notify = make(chan struct{})
	}
	return b.notify
}

// wakeLocked wakes the readers. The caller holds mu.
func (b *stdinBuffer) wakeLocked() {
	if b.notify != nil {
		close(b.notify)
		b.notify = nil
	}
}

func (b *stdinBuffer) write(data []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return fmt.Errorf("stdin is closed: %w", fs.ErrClosed)
	}
	b.data = append(b.data, data...)
	b.wakeLocked()
	return nil
}

func (b *stdinBuffer) close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return fmt.Errorf("stdin is closed: %w", fs.ErrClosed)
	}
	b.closed = true
	b.wakeLocked()
	return nil
}

// read reads what was written, waiting until there is something, the close
// (io.EOF once drained), or ctx's end (its error).
func (b *stdinBuffer) read(ctx context.Context, p []byte) (int, error) {
	for {
		b.mu.Lock()
		if len(b.data) > 0 {
			n := copy(p, b.data)
			b.data = b.data[n:]
			b.mu.Unlock()
			return n, nil
		}
		if b.closed {
			b.mu.Unlock()
			return 0, io.EOF
		}
		changed := b.changedLocked()
		b.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// stdinReader reads a stdinBuffer until ctx ends.
type stdinReader struct {
	ctx context.Context
	b   *stdinBuffer
}

func (r stdinReader) Read(p []byte) (int, error) { return r.b.read(r.ctx, p) }
