package tta

import (
	"time"
)

// Languages the code interpreter of E2B's default template runs. Custom
// templates may have fewer or more; CodeInput.Language is passed to the
// sandbox as given.
const (
	LanguagePython     = "python"
	LanguageJavaScript = "javascript"
	LanguageTypeScript = "typescript"
	LanguageBash       = "bash"
	LanguageR          = "r"
	LanguageJava       = "java"
)

// CodeInput is the code to run and how. It is a plain value; the primitive
// does not modify it or keep it after Execute returns.
type CodeInput struct {
	// Code is the source to run.
	Code string
	// Language is the interpreter's language; "" means LanguagePython. It is
	// passed to the sandbox as given, never ignored: a template without that
	// language fails the call.
	Language string
	// Timeout bounds the run of the code (not the sandbox's start). 0 means no
	// bound other than ctx's. When it passes, Execute fails with an error
	// matching ErrCodeTimeout.
	Timeout time.Duration
	// Env holds environment variables for this run. It may be nil.
	Env map[string]string
	// Files are written into the sandbox, in order, before the code runs.
	Files []File
	// Packages are installed with pip before the code runs, in addition to
	// those of WithPackages; a Session installs each package once.
	Packages []string
	// OnStdout and OnStderr, when not nil, receive the code's output as it
	// arrives, possibly from another goroutine but never concurrently. If
	// either panics, the run is cancelled, the sandbox killed, and Execute
	// re-panics in its own goroutine with a *PanicError that carries the
	// value and the callback's stack. A callback must not call Close on the
	// primitive running it: Close waits for the call, which waits for the
	// callback. They are left out of JSON encodings of a CodeInput (a
	// function cannot travel), so a CodeInput can be an activity's input
	// in engines such as Temporal.
	OnStdout func(text string) `json:"-"`
	OnStderr func(text string) `json:"-"`
}

// File is a file to write into the sandbox before the code runs. It is a plain
// value.
type File struct {
	// Path is where to write, absolute or relative to the user's home.
	Path string
	// Data is the file's content.
	Data []byte
}

// ExecutionPath says how a CodeOutput's sandbox got what the code needed.
type ExecutionPath string

// Execution paths.
const (
	// PathTemplate: the template provided everything; nothing was installed.
	PathTemplate ExecutionPath = "template"
	// PathRuntimeInstall: packages were installed with pip at run time
	// (WithPackages, CodeInput.Packages).
	PathRuntimeInstall ExecutionPath = "runtime-install"
)

// CodeOutput is the result of running code. When the code raised, Error is set
// and Success is false; Execute still returns a nil error unless
// WithCodeErrorsAsErrors was given. It is a plain value.
type CodeOutput struct {
	// Stdout and Stderr are everything the code printed.
	Stdout string
	Stderr string
	// Results are the values the code displayed (rich MIME data included).
	Results []Result
	// Error is the error the code raised, or nil.
	Error *ExecutionError
	// Success reports whether the code ran to the end without raising.
	Success bool
	// ExecutionCount is the interpreter's execution counter after the run: 1
	// for a fresh sandbox, growing across the calls of a Session.
	ExecutionCount int
	// Duration is how long the code ran.
	Duration time.Duration
	// Startup is how long the call took before the code started: getting a
	// ready sandbox (create, readiness and the installs of WithPackages; near
	// zero from the warm pool), then installing CodeInput.Packages and
	// writing CodeInput.Files.
	Startup time.Duration
	// SandboxID is the sandbox the code ran in.
	SandboxID string
	// Template names the sandbox's template as Template.String does.
	Template string
	// Path says whether packages were installed at run time.
	Path ExecutionPath
	// Installed lists the packages installed with pip on this call's path:
	// those of WithPackages when the call prepared its own sandbox (not when
	// it came from the warm pool or belongs to a Session), and those of
	// CodeInput.Packages that the sandbox did not have yet.
	Installed []string
	// StateReset reports that this call of a Session ran without the state of
	// the earlier ones (variables, imports; after a start-over files and
	// packages too): the session started over in a new sandbox, its previous
	// one being gone (WithRecreateSessions), or the interpreter context of
	// the call's language did not survive a pause (Session.Resume). It is set
	// on every call from then up to and including the first whose code ran.
	// Always false for CodeExecutionPrimitive.Execute.
	StateReset bool
}

// language returns in.Language, or LanguagePython when it is empty.
func (in CodeInput) language() string {
	if in.Language == "" {
		return LanguagePython
	}
	return in.Language
}
