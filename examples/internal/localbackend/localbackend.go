// Package localbackend connects the examples to a sandbox backend: E2B when
// E2B_API_KEY is set (configured from the environment as E2B's SDKs are), and
// otherwise an E2B-compatible server (package e2bserver) embedded in the
// program, listening on a random port of 127.0.0.1 with a generated API key,
// whose sandboxes are processes of this machine (package localrt). The
// examples then run offline, through the same e2b client and the same HTTP
// protocol as on E2B.
package localbackend

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/tta-dev/tta/e2b"
	"github.com/tta-dev/tta/e2b/e2bserver"
	"github.com/tta-dev/tta/e2b/e2bserver/localrt"
)

// Backend is where an example's sandboxes run. Its exported fields are set
// by Open and must not be changed; Client and Server are safe for concurrent
// use.
type Backend struct {
	// Client reaches the backend.
	Client *e2b.Client
	// Server is the embedded server, for fault injection; nil on E2B.
	Server *e2bserver.Server

	rt     *localrt.Runtime
	hs     *http.Server
	served chan error // receives Serve's result
}

// Open returns E2B when E2B_API_KEY is set, ignoring templates (they must
// exist in your E2B account), and otherwise starts the embedded local server
// with the default template and templates. Close the Backend when done.
func Open(templates ...localrt.TemplateConfig) (*Backend, error) {
	if os.Getenv(e2b.EnvAPIKey) != "" {
		c, err := e2b.NewClient()
		if err != nil {
			return nil, err
		}
		return &Backend{Client: c}, nil
	}
	rt, err := localrt.New(localrt.WithTemplates(templates...))
	if err != nil {
		return nil, err
	}
	key := newAPIKey()
	opts := []e2bserver.Option{e2bserver.WithRuntime(rt), e2bserver.WithAPIKey(key)}
	for _, t := range templates {
		opts = append(opts, e2bserver.WithTemplates(t.Template()))
	}
	srv, err := e2bserver.New(opts...)
	if err != nil {
		_ = rt.Close()
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = srv.Close()
		_ = rt.Close()
		return nil, err
	}
	url := "http://" + ln.Addr().String()
	c, err := e2b.NewClient(e2b.WithAPIKey(key), e2b.WithAPIURL(url), e2b.WithSandboxURL(url))
	if err != nil {
		_ = ln.Close()
		_ = srv.Close()
		_ = rt.Close()
		return nil, err
	}
	b := &Backend{
		Client: c,
		Server: srv,
		rt:     rt,
		hs: &http.Server{
			Handler:           srv,
			ReadHeaderTimeout: 30 * time.Second,
			ErrorLog:          log.New(io.Discard, "", 0), // hang-ups of cancelled executions
		},
		served: make(chan error, 1),
	}
	go func() { b.served <- b.hs.Serve(ln) }()
	return b, nil
}

// Local reports whether the sandboxes run on the embedded local server.
func (b *Backend) Local() bool { return b.Server != nil }

// String names the backend: "E2B" or "local sandbox server".
func (b *Backend) String() string {
	if b.Local() {
		return "local sandbox server"
	}
	return "E2B"
}

// Close releases the client's connections and, for the embedded server, kills
// its sandboxes and stops it.
func (b *Backend) Close() error {
	b.Client.CloseIdleConnections()
	if !b.Local() {
		return nil
	}
	errSrv := b.Server.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	errHTTP := b.hs.Shutdown(ctx)
	if errHTTP != nil {
		errHTTP = b.hs.Close()
	}
	if err := <-b.served; !errors.Is(err, http.ErrServerClosed) && errHTTP == nil {
		errHTTP = err
	}
	if err := errors.Join(errSrv, errHTTP, b.rt.Close()); err != nil {
		return fmt.Errorf("local sandbox server: %w", err)
	}
	return nil
}

// newAPIKey returns a random key in E2B's format: "e2b_" and 40 hex digits.
func newAPIKey() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	return "e2b_" + hex.EncodeToString(b)
}
