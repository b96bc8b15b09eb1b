package tta

import (
	"context"
	"errors"
)

// FileSystem is implemented by a Sandbox that can read files and list
// directories, beside writing them (Sandbox.WriteFile). Session.ReadFile and
// Session.ListFiles need it; the sandboxes of the E2B provider
// (NewE2BProvider, WithE2BClient) implement it. Its methods follow the error
// contract described on Provider, and a missing path is an error matching
// ErrFileNotFound.
type FileSystem interface {
	// ReadFile returns the content of the file at path, relative to the
	// user's home when not absolute.
	ReadFile(ctx context.Context, path string) ([]byte, error)
	// ListDir lists the entries of the directory at path, without descending
	// into subdirectories.
	ListDir(ctx context.Context, path string) ([]FileInfo, error)
}

// FileInfo describes one entry of a sandbox's directory. It is a plain value.
type FileInfo struct {
	// Name is the entry's base name.
	Name string
	// Path is the entry's absolute path inside the sandbox.
	Path string
	// Dir reports whether the entry is a directory.
	Dir bool
	// Size is the size in bytes.
	Size int64
}

// errNoFileSystem is returned when the session's sandbox cannot read files.
var errNoFileSystem = errors.New("tta: this provider's sandboxes cannot read files or list directories (their Sandbox does not implement tta.FileSystem)")

// RunCommand runs cmd with a shell in the session's sandbox (bash -l -c cmd)
// and waits for it, for as long as ctx allows. A non-zero exit status is a
// result, not an error. It waits its turn behind the session's other calls
// and fails as Execute does when the session is closed or its sandbox gone.
func (s *Session) RunCommand(ctx context.Context, cmd string) (CommandResult, error) {
	var res CommandResult
	err := s.use(ctx, "command", true, func(ctx context.Context) (err error) {
		res, err = s.l.sb.RunCommand(ctx, cmd)
		return err
	})
	return res, err
}

// WriteFile writes data to path in the session's sandbox (relative to the
// user's home unless absolute), creating parent directories. It waits its
// turn as RunCommand does.
func (s *Session) WriteFile(ctx context.Context, path string, data []byte) error {
	if path == "" {
		return Permanent(errors.New("tta: WriteFile: the path is empty; give a file path, absolute or relative to the user's home"))
	}
	return s.use(ctx, "upload", false, func(ctx context.Context) error {
		return s.l.sb.WriteFile(ctx, path, data)
	})
}

// ReadFile returns the content of the file at path in the session's sandbox
// (relative to the user's home unless absolute). A missing file is an error
// matching ErrFileNotFound. It needs a Sandbox that implements FileSystem and
// waits its turn as RunCommand does.
func (s *Session) ReadFile(ctx context.Context, path string) ([]byte, error) {
	fs, ok := s.l.sb.(FileSystem)
	if !ok {
		return nil, Permanent(errNoFileSystem)
	}
	var data []byte
	err := s.use(ctx, "read", false, func(ctx context.Context) error {
		var err error
		data, err = fs.ReadFile(ctx, path)
		return err
	})
	return data, err
}

// ListFiles lists the directory at dir in the session's sandbox ("" is the
// user's home), without descending into subdirectories. A missing directory
// is an error matching ErrFileNotFound. It needs a Sandbox that implements
// FileSystem and waits its turn as RunCommand does.
func (s *Session) ListFiles(ctx context.Context, dir string) ([]FileInfo, error) {
	fs, ok := s.l.sb.(FileSystem)
	if !ok {
		return nil, Permanent(errNoFileSystem)
	}
	var entries []FileInfo
	err := s.use(ctx, "list", false, func(ctx context.Context) error {
		var err error
		entries, err = fs.ListDir(ctx, dir)
		return err
	})
	return entries, err
}

// use runs f on the session's sandbox as Execute runs code: in its turn,
// after checking that the session is usable and extending the sandbox's
// timeout, interrupted by Close. An error of f becomes a *SandboxError for
// op; started says whether f may have had effects by the time it failed
// (a command that ran), which makes the error permanent.
func (s *Session) use(ctx context.Context, op string, started bool, f func(ctx context.Context) error) error {
	release, err := s.takeTurn(ctx)
	if err != nil {
		return err
	}
	defer release()
	ctx, done, err := s.p.begin(ctx, s.closing)
	if err != nil {
		return err
	}
	defer done()
	if err := s.extend(ctx); err != nil {
		return s.explain(ctx, err)
	}
	defer s.p.keepAlive(ctx, s.l)()
	if err := f(ctx); err != nil {
		started := started && mayHaveStarted(err)
		err = &SandboxError{Op: op, SandboxID: s.l.sb.ID(), Template: s.l.template, Started: started, Err: err}
		return s.explain(ctx, failed(ctx, started, err))
	}
	return nil
}
