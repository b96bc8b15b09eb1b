package e2bserver

import (
	"errors"
	"fmt"
)

// An Option configures a Server at construction (New). Options are applied in
// order; WithAPIKey, WithTemplates and WithFaults accumulate, the others
// replace what an earlier one set. An option that is given a bad value, and a
// nil Option, make New fail with an error saying which.
type Option func(*config) error

type config struct {
	apiKeys     []string
	templates   []Template
	runtime     Runtime
	faults      []Fault
	envdVersion string
	maxUpload   int64
}

// WithAPIKey sets the API keys the control plane accepts in X-API-Key. It may be
// given several times; keys accumulate. Without it any non-empty key is
// accepted (a missing key is still 401). Keys are never logged.
func WithAPIKey(keys ...string) Option {
	return func(c *config) error {
		for _, k := range keys {
			if k == "" {
				return errors.New("e2bserver: WithAPIKey: empty key")
			}
		}
		c.apiKeys = append(c.apiKeys, keys...)
		return nil
	}
}

// WithTemplates adds templates to the defaults (DefaultTemplates). A template
// whose ID or alias equals a known one's replaces it, so passing a Template
// with Alias "code-interpreter-v1" reconfigures the default template. Every
// template needs an ID.
func WithTemplates(ts ...Template) Option {
	return func(c *config) error {
		for _, t := range ts {
			if t.ID == "" {
				return fmt.Errorf("e2bserver: WithTemplates: template %q has no ID", t.Alias)
			}
		}
		c.templates = append(c.templates, ts...)
		return nil
	}
}

// WithRuntime sets how sandboxes run code. The default is a zero
// ScriptedRuntime: executions succeed with no output, commands exit 0 with no
// output, files live in memory.
func WithRuntime(rt Runtime) Option {
	return func(c *config) error {
		if rt == nil {
			return errors.New("e2bserver: WithRuntime: nil Runtime")
		}
		c.runtime = rt
		return nil
	}
}

// WithFaults injects faults from the start, as Server.Inject does. A fault
// with a negative Nth or Times is an error.
func WithFaults(fs ...Fault) Option {
	return func(c *config) error {
		for i, f := range fs {
			if f.Nth < 0 || f.Times < 0 {
				return fmt.Errorf("e2bserver: WithFaults: fault %d has Nth %d and Times %d; both must be >= 0 (0 means from the first call, and every call)", i+1, f.Nth, f.Times)
			}
		}
		c.faults = append(c.faults, fs...)
		return nil
	}
}

// withEnvdVersion sets the envdVersion sandboxes report (default
// DefaultEnvdVersion). E2B's SDKs refuse versions below 0.1.0 and use
// HTTP Basic auth towards envd below 0.4.0.
func withEnvdVersion(v string) Option {
	return func(c *config) error {
		if v == "" {
			return errors.New("e2bserver: withEnvdVersion: empty version")
		}
		c.envdVersion = v
		return nil
	}
}

// defaultMaxUploadSize is the default bound on the body of one upload to envd's
// POST /files. It bounds the memory a ScriptedRuntime's files take and the disk
// one request can fill.
const defaultMaxUploadSize = 1 << 30

// withMaxUploadSize bounds the body of one upload to envd's POST /files, all
// its files together (default defaultMaxUploadSize). A longer upload is
// answered 413 and writes no file: those it had written are removed. n must be > 0.
func withMaxUploadSize(n int64) Option {
	return func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("e2bserver: withMaxUploadSize: the size must be > 0 bytes, got %d", n)
		}
		c.maxUpload = n
		return nil
	}
}
