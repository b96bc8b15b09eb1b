package localrt

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io/fs"
	"slices"
	"sync"

	"github.com/tta-dev/tta/e2b/wire"
)

// kernelContext is an execution context of a sandbox: its kernel starts on
// first use.
type kernelContext struct {
	info wire.ContextInfo
	in   *instance

	mu      sync.Mutex // protects the fields below; held while the kernel starts
	k       *kernel
	removed bool
}

// newContextLocked registers a context of language working in cwd. The
// caller holds in.mu (or owns in).
func (in *instance) newContextLocked(language, cwd string) *kernelContext {
	c := &kernelContext{info: wire.ContextInfo{ID: newContextID(), Language: language, Cwd: cwd}, in: in}
	in.contexts[c.info.ID] = c
	in.order = append(in.order, c.info.ID)
	return c
}

// newContextID returns a random UUID-shaped identifier.
func newContextID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// kernel returns c's kernel, starting it on first use.
func (in *instance) kernel(ctx context.Context, c *kernelContext) (*kernel, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.removed {
		return nil, fmt.Errorf("localrt: context %s: %w", c.info.ID, fs.ErrNotExist)
	}
	if c.k != nil {
		return c.k, nil
	}
	if err := in.ensureDir(c.info.Cwd); err != nil {
		return nil, err
	}
	env := in.procEnv(defaultUser, nil)
	spec := in.spec(nil, c.info.Cwd, defaultUser, env)
	cfg := kernelConfig{
		language: c.info.Language,
		dir:      spec.dir,
		env:      env,
		grace:    in.rt.grace,
		confine:  spec.confine,
		started:  spec.started,
	}
	if c.info.Language == langPython {
		cfg.fork = in.forker(c.info.Cwd)
	}
	k, err := startKernel(ctx, cfg)
	if err != nil && cfg.fork != nil && ctx.Err() == nil {
		// Confining a forked kernel failed: start kernels as processes of
		// their own from now on, as without a fork server.
		in.rt.forkFailed(err)
		cfg.fork = nil
		k, err = startKernel(ctx, cfg)
	}
	if err != nil {
		return nil, err
	}
	c.k = k
	return k, nil
}

// close kills c's kernel for good.
func (c *kernelContext) close() {
	c.mu.Lock()
	c.removed = true
	k := c.k
	c.mu.Unlock()
	if k != nil {
		k.Close()
	}
}

// pgids lists the process groups of c's kernel.
func (c *kernelContext) pgids() []int {
	if !c.mu.TryLock() {
		return nil // starting: nothing to signal yet
	}
	k := c.k
	c.mu.Unlock()
	if k == nil {
		return nil
	}
	return k.pgids()
}

// bound returns a context done when ctx is done or the sandbox closes.
func (in *instance) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(in.ctx, cancel)
	return ctx, func() { stop(); cancel() }
}

// Execute implements e2bserver.Interpreter.
func (in *instance) Execute(ctx context.Context, req wire.ExecuteRequest, emit func(wire.ExecutionEvent) error) error {
	ctx, cancel := in.bound(ctx)
	defer cancel()
	in.mu.Lock()
	if in.closed {
		in.mu.Unlock()
		return errClosed
	}
	var c *kernelContext
	if req.ContextID != "" {
		c = in.contexts[req.ContextID]
		if c == nil {
			in.mu.Unlock()
			return fmt.Errorf("localrt: context %s: %w", req.ContextID, fs.ErrNotExist)
		}
	} else {
		lang, err := normalizeLanguage(req.Language)
		if err != nil {
			in.mu.Unlock()
			return err
		}
		c = in.contexts[in.defaults[lang]]
		if c == nil {
			c = in.newContextLocked(lang, homeDir)
			in.defaults[lang] = c.info.ID
		}
	}
	in.mu.Unlock()

	k, err := in.kernel(ctx, c)
	if err != nil {
		return err
	}
	return k.Execute(ctx, req.Code, req.EnvVars, emit)
}

// CreateContext implements e2bserver.Interpreter: the kernel starts at once,
// so a language that cannot run fails here.
func (in *instance) CreateContext(ctx context.Context, req wire.CreateContextRequest) (wire.ContextInfo, error) {
	lang, err := normalizeLanguage(req.Language)
	if err != nil {
		return wire.ContextInfo{}, err
	}
	cwd := req.Cwd
	if cwd == "" {
		cwd = homeDir
	}
	if _, err := rel(cwd); err != nil {
		return wire.ContextInfo{}, err
	}
	in.mu.Lock()
	if in.closed {
		in.mu.Unlock()
		return wire.ContextInfo{}, errClosed
	}
	c := in.newContextLocked(lang, cwd)
	in.mu.Unlock()
	ctx, cancel := in.bound(ctx)
	defer cancel()
	if _, err := in.kernel(ctx, c); err != nil {
		in.dropContext(c.info.ID)
		return wire.ContextInfo{}, err
	}
	return c.info, nil
}

// dropContext unregisters a context and returns it (nil when unknown).
func (in *instance) dropContext(id string) *kernelContext {
	in.mu.Lock()
	defer in.mu.Unlock()
	c := in.contexts[id]
	if c == nil {
		return nil
	}
	delete(in.contexts, id)
	in.order = slices.DeleteFunc(in.order, func(s string) bool { return s == id })
	if in.defaults[c.info.Language] == id {
		delete(in.defaults, c.info.Language)
	}
	return c
}

// ListContexts implements e2bserver.Interpreter.
func (in *instance) ListContexts(context.Context) ([]wire.ContextInfo, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return nil, errClosed
	}
	out := make([]wire.ContextInfo, 0, len(in.order))
	for _, id := range in.order {
		out = append(out, in.contexts[id].info)
	}
	return out, nil
}

// RemoveContext implements e2bserver.Interpreter: the context's kernel is
// killed.
func (in *instance) RemoveContext(_ context.Context, id string) error {
	if err := in.checkOpen(); err != nil {
		return err
	}
	c := in.dropContext(id)
	if c == nil {
		return fmt.Errorf("localrt: context %s: %w", id, fs.ErrNotExist)
	}
	c.close()
	return nil
}

// RestartContext implements e2bserver.Interpreter: the context's kernel is
// replaced by a fresh one.
func (in *instance) RestartContext(ctx context.Context, id string) error {
	in.mu.Lock()
	if in.closed {
		in.mu.Unlock()
		return errClosed
	}
	c := in.contexts[id]
	in.mu.Unlock()
	if c == nil {
		return fmt.Errorf("localrt: context %s: %w", id, fs.ErrNotExist)
	}
	c.mu.Lock()
	k := c.k
	c.mu.Unlock()
	if k == nil {
		return nil // never started: already fresh
	}
	ctx, cancel := in.bound(ctx)
	defer cancel()
	return k.Restart(ctx)
}
