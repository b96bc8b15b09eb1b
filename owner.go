package tta

import (
	"context"
	"time"

	"github.com/tta-dev/tta/e2b"
)

// DefaultOwner is the owner ID sandboxes are labelled with when WithOwner is
// not given.
const DefaultOwner = "tta"

// reapAtStartTimeout bounds the reap WithReapAtStart runs in NewCodeExecution.
const reapAtStartTimeout = 30 * time.Second

// Purposes a sandbox is labelled with (e2b.MetadataPurpose).
const (
	purposeExecute = "execute" // one stateless Execute
	purposeSession = "session" // a Session's sandbox
	purposePool    = "pool"    // prepared ahead of demand by the warm pool
)

// WithOwner sets the owner ID every sandbox of the primitive is labelled with
// (default DefaultOwner), so that the sandboxes of a process that crashed
// between create and kill can be found and killed later: by `tta reap --owner
// id`, by e2b.Client.Reap, or by the next start with WithReapAtStart. Each
// sandbox also carries the creating process (e2b.ProcessLabel: its start time
// and ID) and its purpose ("execute", "session" or "pool") under the keys
// e2b.MetadataOwner, e2b.MetadataProcess and e2b.MetadataPurpose, which win
// over WithMetadata and the Workflow's metadata.
//
// Give each deployment (or each process that runs at the same time as others
// and reaps at start) an ID of its own. WithOwner panics if id is empty.
func WithOwner(id string) Option {
	if id == "" {
		misuse("WithOwner", "owner ID is empty; omit the option for %q", DefaultOwner)
	}
	return func(c *codeConfig) { c.owner = id }
}

// WithReapAtStart makes NewCodeExecution kill, before it returns, the
// sandboxes labelled with the primitive's owner (WithOwner) by any other
// process: those a previous run of the program left when it crashed. It
// lists them with e2b.Client.Reap, sparing this process's own, within 30 s,
// and then calls report, when not nil, with what it found and did (and the
// error, if listing or a kill failed). A failed reap does not fail
// NewCodeExecution: the orphans end at their sandbox timeout anyway.
//
// It needs sandboxes on E2B or an E2B-compatible server (the default
// provider, WithE2BClient or a provider of NewE2BProvider, possibly behind
// LimitCreates): NewCodeExecution panics when the provider is another. Two
// processes that run at the same time with the same owner would kill each
// other's sandboxes: give each its own owner ID.
func WithReapAtStart(report func(*e2b.ReapReport, error)) Option {
	return func(c *codeConfig) {
		c.reapAtStart = true
		c.reapReport = report
	}
}

// orphanReaper is a Provider that can reap the orphans of an owner.
type orphanReaper interface {
	reapOrphans(ctx context.Context, owner string) (*e2b.ReapReport, error)
}

func (p e2bProvider) reapOrphans(ctx context.Context, owner string) (*e2b.ReapReport, error) {
	return p.c.Reap(ctx, e2b.ReapOptions{Owner: owner, SpareProcess: e2b.ProcessLabel()})
}

// reapAtStart runs the reap of WithReapAtStart.
func reapAtStart(cfg *codeConfig) {
	r, ok := cfg.provider.(orphanReaper)
	if lp, limited := cfg.provider.(*limitedProvider); limited {
		ok = lp.canReap()
	}
	if !ok {
		misuse("NewCodeExecution", "WithReapAtStart needs sandboxes on E2B (E2B_API_KEY, WithE2BClient or NewE2BProvider); the provider %T cannot list sandboxes", unlimited(cfg.provider))
	}
	ctx, cancel := context.WithTimeout(context.Background(), reapAtStartTimeout)
	defer cancel()
	report, err := r.reapOrphans(ctx, cfg.owner)
	if cfg.reapReport != nil {
		cfg.reapReport(report, err)
	}
}

// purposeKey carries the purpose of the sandboxes a call creates.
type purposeKey struct{}

// withPurpose labels the sandboxes created under ctx with purpose.
func withPurpose(ctx context.Context, purpose string) context.Context {
	return context.WithValue(ctx, purposeKey{}, purpose)
}

// ownership returns the ownership labels of a sandbox created under ctx.
func (p *CodeExecutionPrimitive) ownership(ctx context.Context) e2b.Ownership {
	purpose, ok := ctx.Value(purposeKey{}).(string)
	if !ok {
		purpose = purposeExecute
	}
	return e2b.Ownership{Owner: p.cfg.owner, Purpose: purpose}
}
