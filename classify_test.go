package tta

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestIsTransient(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"no Transient method", errBoom, false},
		{"Transient true", transientErr{transient: true}, true},
		{"Transient false", transientErr{transient: false}, false},
		{"wrapped", fmt.Errorf("op: %w", transientErr{transient: true}), true},
		{"outermost decides", transientErr{transient: false, err: transientErr{transient: true}}, false},
		{"Permanent", Permanent(transientErr{transient: true}), false},
		{"sandbox error with a transient cause", &SandboxError{Op: "create", Err: transientErr{transient: true}}, true},
		{"sandbox error after the code started", &SandboxError{Op: "run", Started: true, Err: transientErr{transient: true}}, false},
		{"sandbox gone in a stateless call", retryInFreshSandbox(&SandboxError{Op: "wait", Err: ErrSandboxGone}), true},
		{"pip failed", &InstallError{ExitCode: 1}, false},
		{"install command refused", &InstallError{Err: transientErr{transient: true}}, true},
		{"install in a gone sandbox, stateless", retryInFreshSandbox(Permanent(&InstallError{Err: ErrSandboxGone})), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, IsTransient(tc.err))
		})
	}
}

func TestRetryAfterOfError(t *testing.T) {
	assert.Zero(t, RetryAfter(nil))
	assert.Zero(t, RetryAfter(errBoom))
	assert.Equal(t, 2*time.Second, RetryAfter(fmt.Errorf("call: %w", retryAfterErr{2 * time.Second})))
	var ra RetryAfterError
	assert.True(t, errors.As(&breakerOpenError{halfOpenIn: time.Minute}, &ra), "the breaker's rejection says when to try again")
}
