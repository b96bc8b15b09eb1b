package tools

import (
	"errors"
	"fmt"
	"time"
)

// Defaults of a Set.
const (
	// DefaultIdleTimeout is how long a session may stay unused before it is
	// closed and its sandbox killed.
	DefaultIdleTimeout = 10 * time.Minute
	// DefaultMaxSessions is how many sessions a Set keeps open at once.
	DefaultMaxSessions = 8
	// DefaultMaxCodeBytes bounds the code, command or file content of one
	// call.
	DefaultMaxCodeBytes = 1 << 20
	// DefaultMaxReadBytes bounds the file files_read returns.
	DefaultMaxReadBytes = 4 << 20
)

// Option configures a Set. Options are applied in order by NewSet, which
// reports a bad value (or a nil Option) as an error.
type Option func(*config) error

type config struct {
	idle         time.Duration
	maxSessions  int
	maxCodeBytes int
	maxReadBytes int
}

func newConfig(opts []Option) (config, error) {
	cfg := config{
		idle:         DefaultIdleTimeout,
		maxSessions:  DefaultMaxSessions,
		maxCodeBytes: DefaultMaxCodeBytes,
		maxReadBytes: DefaultMaxReadBytes,
	}
	for i, opt := range opts {
		if opt == nil {
			return config{}, fmt.Errorf("tools: option %d is nil; pass options made by WithIdleTimeout and the like", i+1)
		}
		if err := opt(&cfg); err != nil {
			return config{}, err
		}
	}
	return cfg, nil
}

// WithIdleTimeout closes a session, killing its sandbox, once it has been
// unused for d (DefaultIdleTimeout when not given). A call in flight keeps
// its session open. d must be > 0.
func WithIdleTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("tools: WithIdleTimeout(%v): the idle timeout must be > 0", d)
		}
		c.idle = d
		return nil
	}
}

// WithMaxSessions bounds how many sessions are open at once
// (DefaultMaxSessions when not given); session_open beyond it fails with a
// tool error asking to close one. n must be > 0.
func WithMaxSessions(n int) Option {
	return func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("tools: WithMaxSessions(%d): the limit must be > 0", n)
		}
		c.maxSessions = n
		return nil
	}
}

// WithMaxCodeBytes bounds the size of the code, command or file content of a
// call (DefaultMaxCodeBytes when not given); a bigger one is a tool error. n
// must be > 0.
func WithMaxCodeBytes(n int) Option {
	return func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("tools: WithMaxCodeBytes(%d): the limit must be > 0", n)
		}
		c.maxCodeBytes = n
		return nil
	}
}

// errNilExec is returned by NewSet without a primitive.
var errNilExec = errors.New("tools: NewSet: the CodeExecutionPrimitive is nil; make one with tta.NewCodeExecution")
