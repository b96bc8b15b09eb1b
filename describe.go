package tta

import "time"

// RetrySettings are the settings of a primitive made by Retry, as
// RetrySettingsOf reports them, for engines that run the attempts themselves
// instead of calling Retry's Execute (module github.com/tta-dev/tta/temporal
// turns them into a Temporal retry policy). It is a plain value.
type RetrySettings struct {
	// MaxAttempts is the attempt limit, the first attempt included; 0 means
	// no limit (RetryForever).
	MaxAttempts int
	// InitialInterval, MaxInterval and Multiplier shape the backoff between
	// attempts, before jitter.
	InitialInterval time.Duration
	MaxInterval     time.Duration
	Multiplier      float64
	// Jitter is the randomisation factor of each delay.
	Jitter float64
	// MaxElapsedTime bounds the time of all attempts together; 0 means no
	// bound.
	MaxElapsedTime time.Duration

	cfg *retryConfig
}

// Retryable reports whether the Retry these settings describe would try again
// after err, as its documentation says: never for an error marked Permanent,
// then as RetryIf decides when it was given, then as the outermost
// TransientError in err's chain says, and otherwise yes. For the zero
// RetrySettings it applies the same rules without RetryIf. A nil err is not
// retryable.
func (s RetrySettings) Retryable(err error) bool {
	if err == nil {
		return false
	}
	if s.cfg == nil {
		return (&retryConfig{}).retryable(err)
	}
	return s.cfg.retryable(err)
}

// RetrySettingsOf reports whether p was made by Retry and, if so, its settings
// and the primitive it wraps. For any other primitive (one that wraps a Retry
// included) it returns false and the zero values.
func RetrySettingsOf[In, Out any](p Primitive[In, Out]) (RetrySettings, Primitive[In, Out], bool) {
	r, ok := p.(*retry[In, Out])
	if !ok {
		return RetrySettings{}, nil, false
	}
	c := r.cfg
	return RetrySettings{
		MaxAttempts:     c.maxAttempts,
		InitialInterval: c.initial,
		MaxInterval:     c.maxInterval,
		Multiplier:      c.multiplier,
		Jitter:          c.jitter,
		MaxElapsedTime:  c.maxElapsed,
		cfg:             &c,
	}, r.p, true
}

// TimeoutOf reports whether p was made by Timeout and, if so, its duration
// and the primitive it wraps. For any other primitive it returns false and
// the zero values.
func TimeoutOf[In, Out any](p Primitive[In, Out]) (time.Duration, Primitive[In, Out], bool) {
	t, ok := p.(*timeout[In, Out])
	if !ok {
		return 0, nil, false
	}
	return t.d, t.p, true
}
