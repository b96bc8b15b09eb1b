package e2b

import (
	"context"
	"fmt"
	"time"

	"connectrpc.com/connect"

	"github.com/tta-dev/tta/e2b/internal/envd/filesystem/filesystemconnect"
	"github.com/tta-dev/tta/e2b/internal/envd/process/processconnect"
	"github.com/tta-dev/tta/e2b/wire"
)

// Well-known ports inside a sandbox.
const (
	// EnvdPort is the port of envd, the in-sandbox daemon (files, processes).
	EnvdPort = 49983
	// InterpreterPort is the port of the code interpreter (/execute, /contexts).
	InterpreterPort = 49999
)

// Well-known templates.
const (
	// DefaultTemplate is the code-interpreter template used when none is named.
	DefaultTemplate = "code-interpreter-v1"
	// BaseTemplate is E2B's bare template: envd only, no code interpreter.
	BaseTemplate = "base"
)

// Sandbox is a handle to one E2B sandbox, returned by Client.Create and
// Client.Connect. Its methods reach the sandbox's code interpreter (RunCode,
// contexts), envd (files, commands) and the control plane (Kill, SetTimeout,
// Pause) through the Client that made it.
//
// The handle holds the sandbox's access tokens; they never appear in its
// printed forms or in errors. A Sandbox is immutable and safe for concurrent
// use by multiple goroutines; the sandbox itself runs whatever it is sent
// concurrently.
type Sandbox struct {
	c            *Client
	red          redactor
	id           string
	templateID   string
	alias        string
	envdVersion  string
	domain       string // where its ports are reached in the host form
	envdToken    string // X-Access-Token, for secure sandboxes
	trafficToken string // E2B-Traffic-Access-Token, when E2B gave one
	process      processconnect.ProcessClient
	filesystem   filesystemconnect.FilesystemClient
}

func newSandbox(c *Client, created wire.SandboxCreated) *Sandbox {
	s := &Sandbox{
		c:           c,
		id:          created.SandboxID,
		templateID:  created.TemplateID,
		alias:       created.Alias,
		envdVersion: created.EnvdVersion,
		domain:      c.cfg.domain,
		envdToken:   created.EnvdAccessToken,
	}
	if created.Domain != nil && *created.Domain != "" {
		s.domain = *created.Domain
	}
	if created.TrafficAccessToken != nil {
		s.trafficToken = *created.TrafficAccessToken
	}
	s.red = c.red.with(s.envdToken, s.trafficToken)
	rpc := envdDoer{s: s}
	base := s.baseURL(EnvdPort)
	s.process = processconnect.NewProcessClient(rpc, base, connect.WithProtoJSON())
	s.filesystem = filesystemconnect.NewFilesystemClient(rpc, base, connect.WithProtoJSON())
	return s
}

// ID returns the sandbox's ID.
func (s *Sandbox) ID() string { return s.id }

// TemplateID returns the ID of the template the sandbox was created from.
func (s *Sandbox) TemplateID() string { return s.templateID }

// Alias returns the template's name, if the control plane reported one.
func (s *Sandbox) Alias() string { return s.alias }

// EnvdVersion returns the version of envd running in the sandbox.
func (s *Sandbox) EnvdVersion() string { return s.envdVersion }

// Domain returns the domain the sandbox's ports are reached under.
func (s *Sandbox) Domain() string { return s.domain }

// Secure reports whether requests to the sandbox carry an access token.
func (s *Sandbox) Secure() bool { return s.envdToken != "" }

// Kill kills the sandbox; see Client.Kill, including why it runs even when ctx
// is cancelled. killed is false, with a nil error, when it was already gone.
func (s *Sandbox) Kill(ctx context.Context) (killed bool, err error) {
	return s.c.Kill(ctx, s.id)
}

// SetTimeout makes the sandbox live d from now; see Client.SetTimeout.
func (s *Sandbox) SetTimeout(ctx context.Context, d time.Duration) error {
	return s.c.SetTimeout(ctx, s.id, d)
}

// Pause pauses the sandbox; see Client.Pause.
func (s *Sandbox) Pause(ctx context.Context) error {
	return s.c.Pause(ctx, s.id)
}

// Resume resumes the sandbox if it is paused and makes it live at least
// timeout from now (zero means DefaultSandboxTimeout), through Client.Connect;
// a running sandbox is only extended. The handle stays valid: a sandbox keeps
// its ID and access token across a pause.
func (s *Sandbox) Resume(ctx context.Context, timeout time.Duration) error {
	_, err := s.c.Connect(ctx, s.id, timeout)
	return err
}

// Info returns what the control plane knows about the sandbox; see Client.Get.
func (s *Sandbox) Info(ctx context.Context) (*SandboxInfo, error) {
	return s.c.Get(ctx, s.id)
}

// String describes the sandbox with its tokens redacted.
func (s Sandbox) String() string {
	return fmt.Sprintf("e2b.Sandbox{ID: %s, TemplateID: %s, Domain: %s, AccessToken: %s, TrafficAccessToken: %s}",
		s.id, s.templateID, s.domain, presence(s.envdToken), presence(s.trafficToken))
}

// GoString is String: the Go-syntax form would show the tokens.
func (s Sandbox) GoString() string { return s.String() }

// Format prints String for every verb, so no verb or flag reveals a token.
func (s Sandbox) Format(f fmt.State, verb rune) { formatRedacted(f, verb, s.String()) }
