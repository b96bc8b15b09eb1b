package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/tta-dev/tta/e2b"
	"github.com/tta-dev/tta/local"
)

// defaultServeAddr is where tta serve listens unless --addr says otherwise:
// loopback only, next to the sandbox ports E2B uses (49983, 49999).
const defaultServeAddr = "127.0.0.1:49982"

// envServeAPIKey names the variable tta serve reads its API key from when
// --api-key is not given. E2B_API_KEY is deliberately not read: it usually
// holds a real E2B key, which a local server has no business accepting.
const envServeAPIKey = "TTA_SERVE_API_KEY"

func serveUsage(w io.Writer) {
	fmt.Fprintf(w, `Usage: tta serve [--addr HOST:PORT] [--api-key KEY] [--templates FILE] [--root DIR] [limits]

Serves E2B's API (control plane, envd and code interpreter) with sandboxes
that run as local processes, for programs using E2B's official SDKs or package
e2b. It prints, on standard output, the variables those programs need:

	export E2B_API_URL=http://127.0.0.1:49982
	export E2B_SANDBOX_URL=http://127.0.0.1:49982
	export E2B_API_KEY=e2b_...

Requests need the API key: --api-key, else $%s, else a generated one
(printed above; it is the only place it is shown). E2B_API_KEY is not read.
The server listens on loopback unless --addr names another address, and warns
when it does: whoever reaches it with the key runs code as this user.

SIGINT or SIGTERM (Ctrl-C) kills every sandbox, then tta serve exits with
status 0. Sandboxes are processes on this machine, confined where the kernel
allows (a root file system, user and network of their own, resource limits):
the first line tta serve prints says what is in force. They are not virtual
machines.

Flags:
	--addr HOST:PORT   address to listen on; port 0 picks a free port (default %s)
	--api-key KEY      API key to accept, "e2b_" followed by hex digits
	--templates FILE   JSON file of custom templates:
	                   {"templates": [{"name": "tta-ml-minimal",
	                                   "setup": ["pip install torch"], "env": {"K": "V"}}]}
	                   setup commands run before the code interpreter opens its port
	--root DIR         directory for the sandboxes' directories (default $TMPDIR/tta-sandboxes)
%s`, envServeAPIKey, defaultServeAddr, limitsHelp())
}

func serveCommand(ctx context.Context, c *cli, args []string) int {
	const name = "tta serve"
	fs := newFlagSet("serve")
	addr := fs.String("addr", defaultServeAddr, "")
	apiKey := fs.String("api-key", "", "")
	templatesFile := fs.String("templates", "", "")
	root := fs.String("root", "", "")
	lf := addLimitFlags(fs)
	pos, err := parse(c, fs, serveUsage, args)
	if err != nil {
		return exitCodeOf(err)
	}
	if len(pos) > 0 {
		usageError(c, name, "unexpected argument %q", pos[0])
		return exitUsage
	}

	key := *apiKey
	if key == "" {
		key = os.Getenv(envServeAPIKey)
	}
	templates, err := loadTemplates(*templatesFile)
	if err != nil {
		usageError(c, name, "--templates: %v", err)
		return exitUsage
	}
	limits, err := lf.limits()
	if err != nil {
		usageError(c, name, "%v", err)
		return exitUsage
	}

	l, err := local.Start(local.WithAddr(*addr), local.WithAPIKey(key), local.WithTemplates(templates...), local.WithRoot(*root), local.WithLimits(limits),
		local.WithLogger(slog.New(slog.NewTextHandler(c.stderr, nil))))
	if errors.Is(err, e2b.ErrInvalidAPIKey) {
		usageError(c, name, `the API key must be "e2b_" followed by hexadecimal digits, as E2B's clients require (such as e2b_0123456789abcdef)`)
		return exitUsage
	}
	if err != nil {
		fmt.Fprintf(c.stderr, "%s: %v\n", name, err)
		return exitUsage
	}
	fmt.Fprintf(c.stderr, "%s: E2B-compatible API on %s (sandboxes are local processes; isolation: %s)\n", name, l.URL(), l.Isolation())
	if !l.Loopback() {
		fmt.Fprintf(c.stderr, "%s: warning: listening on %s, which is not a loopback address: anyone who reaches it with the API key runs code on this machine as this user\n", name, l.Addr())
	}
	for _, t := range templates {
		fmt.Fprintf(c.stderr, "%s: template %s (id %s, %d setup commands)\n", name, t.Name, t.Template().ID, len(t.Setup))
	}
	if key == "" {
		fmt.Fprintf(c.stderr, "%s: generated an API key (choose one with --api-key or $%s)\n", name, envServeAPIKey)
	}
	fmt.Fprintf(c.stderr, "%s: export these variables where E2B's SDKs run:\n", name)
	fmt.Fprintf(c.stdout, "export %s=%s\nexport %s=%s\nexport %s=%s\n",
		e2b.EnvAPIURL, l.URL(), e2b.EnvSandboxURL, l.URL(), e2b.EnvAPIKey, l.APIKey())
	fmt.Fprintf(c.stderr, "%s: serving; press Ctrl-C to stop\n", name)

	status := exitOK
	select {
	case <-ctx.Done():
	case <-l.Done():
		// Serving ended on its own: the listener failed. Close says why.
		status = exitUsage
	}
	killed, err := l.Close()
	if err != nil {
		fmt.Fprintf(c.stderr, "%s: stopping: %v\n", name, err)
		status = exitUsage
	}
	fmt.Fprintf(c.stderr, "%s: stopped; killed %d %s\n", name, killed, plural(killed, "sandbox", "sandboxes"))
	return status
}

// plural returns one when n is 1 and many otherwise.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// exitCodeOf maps a parse error to an exit status: 0 after help, 2 otherwise.
func exitCodeOf(err error) int {
	if err == errHelp {
		return exitOK
	}
	return exitUsage
}
