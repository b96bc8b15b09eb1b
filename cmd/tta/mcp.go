package main

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/tta-dev/tta"
	"github.com/tta-dev/tta/tools"
)

// envMCPToken names the variable tta mcp --http reads its bearer token from;
// without it a token is generated and printed.
const envMCPToken = "TTA_MCP_TOKEN"

// mcpPath is the path of the streamable HTTP endpoint.
const mcpPath = "/mcp"

func mcpUsage(w io.Writer) {
	fmt.Fprintf(w, `Usage: tta mcp [--http ADDR] [--template T] [--templates FILE] [--idle-timeout D] [--max-sessions N]

Serves tta's code execution to AI agents as a Model Context Protocol server:
over standard input and output (the default, for clients that start the
server), or over streamable HTTP with --http.

Tools: run_code (a fresh sandbox per call, killed afterwards), session_open,
session_run and session_close (one sandbox and interpreter per session ID),
files_write, files_read and files_list (in a session's sandbox) and
run_command. The code's errors are tool results with isError set.

Sandboxes run on E2B when E2B_API_KEY is set, otherwise on an embedded local
sandbox server, as for tta run. Every sandbox the server made is killed when
its call ends or is cancelled, when its session is closed, idles out or its
client disconnects, and when the server stops (SIGINT, SIGTERM, end of input).

Over HTTP the server listens on loopback unless ADDR names another host, and
every request needs "Authorization: Bearer TOKEN": the token is $%s, or one
generated and printed on standard output with the endpoint's URL.

A stdio client's configuration (Claude Desktop, Cursor and the like):

	{"mcpServers": {"tta": {"command": "tta", "args": ["mcp"]}}}

Flags:
	--http ADDR          serve streamable HTTP on ADDR (HOST:PORT; ":PORT" means
	                     127.0.0.1:PORT; port 0 picks a free port) at %s
	--template T         template of the sandboxes (default code-interpreter-v1)
	--templates FILE     custom templates of the embedded local server (see tta serve --help)
	--idle-timeout D     close a session unused for D (default %v)
	--max-sessions N     open sessions per client at most (default %d)
`, envMCPToken, mcpPath, tools.DefaultIdleTimeout, tools.DefaultMaxSessions)
}

func mcpCommand(ctx context.Context, c *cli, args []string) int {
	const name = "tta mcp"
	fs := newFlagSet("mcp")
	httpAddr := fs.String("http", "", "")
	template := fs.String("template", tta.DefaultTemplateName, "")
	templatesFile := fs.String("templates", "", "")
	idle := fs.Duration("idle-timeout", tools.DefaultIdleTimeout, "")
	maxSessions := fs.Int("max-sessions", tools.DefaultMaxSessions, "")
	pos, err := parse(c, fs, mcpUsage, args)
	if err != nil {
		return exitCodeOf(err)
	}
	switch {
	case len(pos) > 0:
		usageError(c, name, "unexpected argument %q", pos[0])
		return exitUsage
	case *template == "":
		usageError(c, name, "--template must not be empty")
		return exitUsage
	case *idle <= 0:
		usageError(c, name, "--idle-timeout must be > 0, got %v", *idle)
		return exitUsage
	case *maxSessions <= 0:
		usageError(c, name, "--max-sessions must be > 0, got %d", *maxSessions)
		return exitUsage
	}
	addr := ""
	if *httpAddr != "" {
		if addr, err = listenAddr(*httpAddr); err != nil {
			usageError(c, name, "--http: %v", err)
			return exitUsage
		}
	}

	b, err := openBackend(c, name, "running code", *templatesFile)
	if err != nil {
		fmt.Fprintf(c.stderr, "%s: %v\n", name, err)
		return exitUsage
	}
	defer b.Close()
	exec, err := tta.NewCodeExecution(tta.WithE2BClient(b.Client()), tta.WithTemplate(tta.Template{Name: *template}))
	if err != nil {
		fmt.Fprintf(c.stderr, "%s: %v\n", name, err)
		return exitUsage
	}
	defer exec.Close()
	srv := newMCPServer(exec, tools.WithIdleTimeout(*idle), tools.WithMaxSessions(*maxSessions))

	if addr == "" {
		fmt.Fprintf(c.stderr, "%s: serving MCP on standard input and output\n", name)
		err = srv.serveStdio(ctx, c.stdin, c.stdout)
	} else {
		err = srv.serveHTTP(ctx, c, addr, *idle)
	}
	// Stop: interrupt the calls in flight and kill every sandbox before the
	// deferred closes run.
	srv.close()
	if cerr := exec.Close(); cerr != nil {
		fmt.Fprintf(c.stderr, "%s: killing sandboxes: %v\n", name, cerr)
	}
	switch {
	case ctx.Err() != nil:
		fmt.Fprintf(c.stderr, "%s: interrupted; every sandbox was killed\n", name)
		return exitInterrupted
	case err != nil:
		fmt.Fprintf(c.stderr, "%s: %v\n", name, err)
		return exitUsage
	}
	return exitOK
}

// listenAddr checks a --http address and gives ":PORT" the loopback host.
func listenAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("want HOST:PORT or :PORT, got %q", addr)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}

// serveStdio serves one client on r and w until it disconnects (end of
// input) or ctx ends.
func (s *mcpServer) serveStdio(ctx context.Context, r io.Reader, w io.Writer) error {
	t := &mcp.IOTransport{Reader: io.NopCloser(r), Writer: nopWriteCloser{w}}
	err := s.server.Run(ctx, t)
	if err == nil || errors.Is(err, io.EOF) || ctx.Err() != nil || errors.Is(err, mcp.ErrConnectionClosed) {
		return nil
	}
	return err
}

// nopWriteCloser is a Writer whose Close does nothing: standard output stays
// open for the messages that follow.
type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// serveHTTP serves streamable HTTP on addr, behind a bearer token, until ctx
// ends or the listener fails.
func (s *mcpServer) serveHTTP(ctx context.Context, c *cli, addr string, idle time.Duration) error {
	const name = "tta mcp"
	token := os.Getenv(envMCPToken)
	generated := token == ""
	if generated {
		token = "tta_" + randomHex(24)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	url := "http://" + l.Addr().String() + mcpPath
	if ip := l.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() {
		fmt.Fprintf(c.stderr, "%s: warning: listening on %s, which is not a loopback address: anyone who reaches it with the token runs code on this machine\n", name, l.Addr())
	}
	fmt.Fprintf(c.stderr, "%s: serving MCP over streamable HTTP at %s\n", name, url)
	if generated {
		fmt.Fprintf(c.stderr, "%s: generated a bearer token (choose one with $%s)\n", name, envMCPToken)
	}
	fmt.Fprintf(c.stdout, "TTA_MCP_URL=%s\n", url)
	if generated {
		fmt.Fprintf(c.stdout, "%s=%s\n", envMCPToken, token)
	}

	mux := http.NewServeMux()
	mux.Handle(mcpPath, requireBearer(token, s.httpHandler(idle)))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(l) }()
	select {
	case <-ctx.Done():
	case err = <-served:
		return err
	}
	// Interrupt the calls in flight first, so that their streams end and
	// Shutdown does not wait for them.
	s.close()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		_ = hs.Close()
	}
	<-served
	return nil
}

// requireBearer serves next only to requests carrying "Authorization: Bearer
// token"; others get 401 with a WWW-Authenticate challenge, and nothing of
// the token.
func requireBearer(token string, next http.Handler) http.Handler {
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(strings.TrimSpace(r.Header.Get("Authorization")))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="tta mcp"`)
			http.Error(w, "tta mcp: missing or wrong bearer token: send Authorization: Bearer <the token tta mcp printed or $"+envMCPToken+">", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}
