package e2bserver

import (
	"context"
	"io"
	"io/fs"
	"time"

	"github.com/tta-dev/tta/e2b/wire"
)

// Runtime decides how the sandboxes of a Server run code. The Server owns the
// protocol (control plane, proxy, envd and interpreter wire formats, fault
// injection, timeouts); a Runtime only starts Instances and the Instances do the
// work. ScriptedRuntime answers from scripts and an in-memory file system; a
// runtime backed by real processes in a private working directory plugs in the
// same way.
//
// Implementations must be safe for concurrent use.
type Runtime interface {
	// Start brings up the sandbox described by spec and returns it once envd can
	// serve (the interpreter may come up later: see Instance.PortOpen). ctx is the
	// create request's context; an error answers the create call with 500 and
	// its message.
	Start(ctx context.Context, spec SandboxSpec) (Instance, error)
}

// SandboxSpec describes a sandbox being started.
type SandboxSpec struct {
	// SandboxID is the identifier the control plane gave the sandbox.
	SandboxID string
	// Template is the resolved template the sandbox is created from.
	Template Template
	// EnvVars are the create request's envVars: the environment of every
	// execution and process in the sandbox, below per-call variables.
	EnvVars map[string]string
	// Metadata is the create request's metadata.
	Metadata map[string]string
	// AllowInternetAccess is the create request's allow_internet_access (nil:
	// not set, which E2B treats as allowed).
	AllowInternetAccess *bool
	// AllowOut and DenyOut are the create request's egress rules
	// (network.allowOut, network.denyOut), already checked for form:
	// AllowOut holds CIDR blocks, IP addresses and domains and wins over
	// DenyOut, which holds CIDR blocks and IP addresses. A runtime that
	// cannot enforce them must refuse the sandbox rather than give it more
	// network than they allow.
	AllowOut []string
	DenyOut  []string
}

// Instance is one running sandbox. The Server calls its methods concurrently,
// from many requests at once, until Close.
//
// Paths. Every path an Instance receives is absolute and clean, in the
// sandbox's own view ("/home/user/data.csv"): the Server resolves relative paths
// against the user's home (/home/user, or /root for user root) before calling.
// An implementation backed by a real directory maps these paths under its root
// and must not let them escape it.
//
// Errors. Return errors that wrap fs.ErrNotExist (unknown path, context or
// process), fs.ErrExist (already exists), fs.ErrInvalid (invalid argument, such as
// a directory where a file is needed) or fs.ErrPermission; the Server turns them
// into the status codes and Connect codes envd and the interpreter use (404,
// 409/AlreadyExists, 400/InvalidArgument, 403/PermissionDenied). Anything else is
// an internal error (500).
//
// Contexts. Every ctx passed to an Instance is done when the client goes away,
// when the sandbox is killed, expires or is paused, or when the Server closes.
// Long-running methods must return soon after.
type Instance interface {
	Interpreter
	Filesystem
	Processes

	// PortOpen reports whether a service listens on port (EnvdPort or
	// InterpreterPort of package e2b). The Server asks before every request to
	// that port and answers 502 "port is not open" while it is false. A template
	// whose interpreter starts late reports false for e2b.InterpreterPort until
	// it is up.
	PortOpen(port int) bool

	// Close stops the sandbox and releases everything it holds (processes,
	// files, kernels). The Server calls it exactly once, when the sandbox is
	// killed or expires, or when the Server closes; methods still running must
	// return soon after.
	Close() error
}

// Interpreter runs code, as the code interpreter on port 49999 does.
type Interpreter interface {
	// Execute runs req.Code and reports what it produces through emit, in
	// order: first {"type":"number_of_executions"}, then stdout, stderr, result
	// and error events. The Server writes each event as one NDJSON line,
	// adds keepalive lines while Execute runs and the final end_of_execution
	// when it returns nil. Events emitted back to back are sent together, and
	// an event reaches the client as soon as Execute stops emitting (waits,
	// blocks or returns): there is no need to batch or pace them. The user's code raising is an "error" event and a nil
	// return, never a Go error.
	//
	// req.ContextID and req.Language are never both set (the Server answers 400
	// first). An empty ContextID means the default context of req.Language
	// (python when empty); an unknown ContextID is an error wrapping
	// fs.ErrNotExist, which the Server answers with 404 when nothing was
	// streamed yet.
	//
	// emit is safe for concurrent use (lines are written whole, in call
	// order). When emit returns an error the client is gone or the stream was cut:
	// Execute must stop and return that error. A non-nil return after some
	// output ends the stream without end_of_execution (the connection is
	// aborted), as a crashed interpreter would.
	Execute(ctx context.Context, req wire.ExecuteRequest, emit func(wire.ExecutionEvent) error) error

	// CreateContext starts a new execution context (a kernel with its own
	// state). An empty Language means python; an empty Cwd means /home/user.
	CreateContext(ctx context.Context, req wire.CreateContextRequest) (wire.ContextInfo, error)
	// ListContexts lists the live contexts, default ones included.
	ListContexts(ctx context.Context) ([]wire.ContextInfo, error)
	// RemoveContext removes a context (fs.ErrNotExist when unknown).
	RemoveContext(ctx context.Context, id string) error
	// RestartContext clears a context's state and execution count
	// (fs.ErrNotExist when unknown).
	RestartContext(ctx context.Context, id string) error
}

// Filesystem is the sandbox's file system as envd serves it (GET/POST /files and
// the filesystem.Filesystem Connect service).
type Filesystem interface {
	// ReadFile opens the regular file at path. A directory is fs.ErrInvalid.
	ReadFile(ctx context.Context, path string) (io.ReadCloser, error)
	// WriteFile creates or truncates the file at path with the content of r,
	// creating missing parent directories. A directory at path is fs.ErrInvalid.
	WriteFile(ctx context.Context, path string, r io.Reader) (FileInfo, error)
	// Stat describes the entry at path.
	Stat(ctx context.Context, path string) (FileInfo, error)
	// ListDir lists the entries below the directory at path down to depth
	// levels (depth >= 1; 1 lists the directory's own entries), in any order.
	// A path that is not a directory is fs.ErrInvalid.
	ListDir(ctx context.Context, path string, depth int) ([]FileInfo, error)
	// MakeDir creates the directory at path and its missing parents. An
	// existing directory is fs.ErrExist; an existing file is fs.ErrInvalid.
	MakeDir(ctx context.Context, path string) (FileInfo, error)
	// Remove removes the entry at path, recursively for a directory.
	Remove(ctx context.Context, path string) error
	// Move renames src to dst, creating dst's missing parent directories, and
	// describes the entry at dst.
	Move(ctx context.Context, src, dst string) (FileInfo, error)
}

// FileType is the kind of a file system entry.
type FileType int

// File types.
const (
	// TypeFile is a regular file.
	TypeFile FileType = iota + 1
	// TypeDir is a directory.
	TypeDir
	// TypeSymlink is a symbolic link; FileInfo.SymlinkTarget names its target.
	TypeSymlink
)

// FileInfo describes a file system entry of a sandbox.
type FileInfo struct {
	Name          string      // base name
	Path          string      // absolute path in the sandbox
	Type          FileType    // file, directory or symlink
	Size          int64       // bytes (0 for a directory)
	Mode          fs.FileMode // permission bits and type bits
	Owner, Group  string      // "user" when empty
	ModTime       time.Time   // last modification
	SymlinkTarget string      // for a symlink, where it points
}

// Processes starts and signals processes, as envd's process.Process service does.
type Processes interface {
	// RunProcess starts the process described by spec and blocks until it
	// ends, reporting through hooks: Started once with its pid, before any
	// Output. A process that cannot start is an error (no Started call). A
	// process that ends, by itself or by a signal, is a nil error and its
	// ProcessExit.
	//
	// ctx is done when the sandbox goes away (it is killed, expires or is
	// paused), not when the client that started the process disconnects: as
	// envd does, the Server keeps the process running, and envd's Connect
	// attaches another stream to it by pid or tag. The Server's hooks never
	// return an error.
	RunProcess(ctx context.Context, spec ProcessSpec, hooks ProcessHooks) (ProcessExit, error)
	// ListProcesses lists the running processes.
	ListProcesses(ctx context.Context) ([]ProcessInfo, error)
	// SignalProcess sends sig to the running process pid (fs.ErrNotExist when
	// there is none).
	SignalProcess(ctx context.Context, pid uint32, sig Signal) error
}

// ProcessSpec is the configuration of a process to start.
type ProcessSpec struct {
	Cmd  string            // executable, such as "/bin/bash"
	Args []string          // arguments, such as ["-l", "-c", "ls -la"]
	Envs map[string]string // environment on top of the sandbox's
	Cwd  string            // absolute working directory; "" = the user's home
	Tag  string            // optional caller-chosen name
	User string            // "user" or "root"
	// Stdin keeps the process's standard input open for the client's
	// SendInput (see StdinWriter); false gives it none.
	Stdin bool
}

// ProcessInfo describes a running process.
type ProcessInfo struct {
	// PID is the process's id, as reported to Started.
	PID uint32
	// Spec is the configuration the process was started with.
	Spec ProcessSpec
}

// ProcessHooks receives what a running process produces. The hooks the Server
// passes are safe for concurrent use, but Started must come before any Output.
type ProcessHooks struct {
	// Started reports the pid once the process runs.
	Started func(pid uint32) error
	// Output reports a chunk of the process's stdout or stderr.
	Output func(stream Stream, data []byte) error
}

// Stream names an output stream of a process.
type Stream int

// Output streams.
const (
	// Stdout is the process's standard output.
	Stdout Stream = iota + 1
	// Stderr is the process's standard error.
	Stderr
)

// ProcessExit is how a process ended, as envd reports it.
type ProcessExit struct {
	ExitCode int32  // exit status; -1 when killed by a signal
	Exited   bool   // false when ended by a signal
	Status   string // "exit status 1", "signal: killed", ...
	Error    string // optional description of a failure
}

// Signal is a signal sent to a process.
type Signal int

// Signals envd can send.
const (
	// SIGTERM asks the process to end.
	SIGTERM Signal = 15
	// SIGKILL ends the process at once.
	SIGKILL Signal = 9
)

// Pauser is implemented by Instances that can freeze and thaw themselves. The
// Server calls Pause when the sandbox is paused (by the API or on timeout with
// autoPause) and Resume when it is resumed. Instances that do not implement it
// simply keep their state while paused; either way the Server refuses their
// traffic while paused.
type Pauser interface {
	Pause(ctx context.Context) error
	Resume(ctx context.Context) error
}
