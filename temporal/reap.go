package ttatemporal

import (
	"context"
	"errors"
	"fmt"

	"github.com/tta-dev/tta/e2b"
)

// E2BKiller returns a kill function for WithSandboxKiller that kills
// sandboxes through c, an E2B client (E2B's own, or tta's local server
// through package local). A sandbox already gone is not an error. It panics
// if c is nil: a mistake in the program.
func E2BKiller(c *e2b.Client) func(ctx context.Context, sandboxID string) error {
	if c == nil {
		panic("ttatemporal: E2BKiller: the client is nil")
	}
	return func(ctx context.Context, id string) error {
		_, err := c.Kill(ctx, id)
		return err
	}
}

// ReapE2B kills, through c, every sandbox whose labels include all of
// match, and returns the IDs of those it killed. The labels are tta's
// (tta.workflow, tta.run) and SandboxMetadata's: with the ID of a workflow
// that has closed, it finds every sandbox a lost worker left for it;
// with its activity's ID as well, those of one activity. match must not be
// empty: that would kill every sandbox of the account. The kills that
// failed are returned joined, after the others were tried.
func ReapE2B(ctx context.Context, c *e2b.Client, match map[string]string) ([]string, error) {
	if c == nil {
		return nil, errors.New("ttatemporal: ReapE2B: the client is nil")
	}
	if len(match) == 0 {
		return nil, errors.New("ttatemporal: ReapE2B: no labels to match; give at least the workflow's ID (tta.workflow), or it would kill every sandbox of the account")
	}
	var killed []string
	var errs []error
	opts := e2b.ListOptions{Metadata: match}
	for {
		page, err := c.List(ctx, opts)
		if err != nil {
			return killed, errors.Join(append(errs, fmt.Errorf("ttatemporal: ReapE2B: listing sandboxes: %w", err))...)
		}
		for _, sb := range page.Sandboxes {
			if _, err := c.Kill(ctx, sb.ID); err != nil {
				errs = append(errs, fmt.Errorf("ttatemporal: ReapE2B: killing sandbox %s: %w", sb.ID, err))
				continue
			}
			killed = append(killed, sb.ID)
		}
		if page.NextToken == "" {
			return killed, errors.Join(errs...)
		}
		opts.NextToken = page.NextToken
	}
}
