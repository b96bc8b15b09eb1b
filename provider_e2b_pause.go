package tta

import (
	"context"
	"time"
)

// The E2B provider's sandboxes can be paused: E2B keeps their memory and
// files, and connecting resumes them.
var _ PausableSandbox = e2bSandbox{}

func (s e2bSandbox) Pause(ctx context.Context) error {
	return e2bError(s.sb.Pause(ctx))
}

func (s e2bSandbox) Resume(ctx context.Context, d time.Duration) error {
	return e2bError(s.sb.Resume(ctx, d))
}

func (s e2bSandbox) ContextExists(ctx context.Context, id string) (bool, error) {
	contexts, err := s.sb.ListContexts(ctx)
	if err != nil {
		return false, e2bError(err)
	}
	for _, c := range contexts {
		if c.ID == id {
			return true, nil
		}
	}
	return false, nil
}
