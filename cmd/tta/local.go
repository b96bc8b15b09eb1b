package main

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

// localConfig configures the local sandbox server.
type localConfig struct {
	addr      string // host:port to listen on
	apiKey    string // the only key the server accepts
	templates []localrt.TemplateConfig
	root      string // directory of sandbox directories; "" = localrt's default
}

// localServer is an E2B-compatible server (package e2bserver) whose sandboxes
// run as local processes (package localrt), serving HTTP on a socket.
type localServer struct {
	url    string // http://host:port, no trailing slash
	apiKey string
	addr   net.Addr
	rt     *localrt.Runtime
	srv    *e2bserver.Server
	hs     *http.Server
	served chan error // receives Serve's result
}

// shutdownGrace bounds how long Close waits for requests in flight once every
// sandbox has been killed.
const shutdownGrace = 5 * time.Second

// startLocal starts a local server configured by cfg.
func startLocal(cfg localConfig) (*localServer, error) {
	rtOpts := []localrt.Option{localrt.WithTemplates(cfg.templates...)}
	if cfg.root != "" {
		rtOpts = append(rtOpts, localrt.WithRoot(cfg.root))
	}
	rt, err := localrt.New(rtOpts...)
	if err != nil {
		return nil, err
	}
	srvOpts := []e2bserver.Option{e2bserver.WithRuntime(rt), e2bserver.WithAPIKey(cfg.apiKey)}
	for _, t := range cfg.templates {
		srvOpts = append(srvOpts, e2bserver.WithTemplates(t.Template()))
	}
	srv, err := e2bserver.New(srvOpts...)
	if err != nil {
		_ = rt.Close()
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		_ = srv.Close()
		_ = rt.Close()
		return nil, err
	}
	l := &localServer{
		url:    "http://" + dialAddr(ln.Addr()),
		apiKey: cfg.apiKey,
		addr:   ln.Addr(),
		rt:     rt,
		srv:    srv,
		hs: &http.Server{
			Handler:           srv,
			ReadHeaderTimeout: 30 * time.Second,
			IdleTimeout:       2 * time.Minute,
			// Clients that hang up mid-stream are routine (a cancelled
			// execution closes its connection): not worth a log line.
			ErrorLog: log.New(io.Discard, "", 0),
		},
		served: make(chan error, 1),
	}
	go func() { l.served <- l.hs.Serve(ln) }()
	return l, nil
}

// dialAddr returns the host:port a client on this machine dials to reach a
// listener on addr: the address itself, or loopback for an unspecified
// address (0.0.0.0, ::).
func dialAddr(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return addr.String()
	}
	ip := tcp.IP
	if ip == nil || ip.IsUnspecified() {
		if ip != nil && ip.To4() == nil {
			ip = net.IPv6loopback
		} else {
			ip = net.IPv4(127, 0, 0, 1)
		}
	}
	return net.JoinHostPort(ip.String(), fmt.Sprint(tcp.Port))
}

// isLoopback reports whether a listener on addr is reachable only from this
// machine.
func isLoopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP != nil && tcp.IP.IsLoopback()
}

// client returns an e2b client of the server.
func (l *localServer) client() (*e2b.Client, error) {
	return e2b.NewClient(e2b.WithAPIKey(l.apiKey), e2b.WithAPIURL(l.url), e2b.WithSandboxURL(l.url))
}

// isolation describes how the server's sandbox processes are confined.
func (l *localServer) isolation() string {
	ns, reason := l.rt.Isolation()
	if ns {
		return "linux namespaces (user, mount, pid, ipc, network)"
	}
	return "process groups only (" + reason + ")"
}

// Close kills every sandbox, stops serving and waits for requests in flight
// (at most shutdownGrace once the sandboxes are gone), then closes the
// runtime, which kills anything still running. It returns how many sandboxes
// were running.
func (l *localServer) Close() (killed int, err error) {
	killed = len(l.srv.Sandboxes())
	errSrv := l.srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	errHTTP := l.hs.Shutdown(ctx)
	if errHTTP != nil {
		errHTTP = l.hs.Close()
	}
	if err := <-l.served; !errors.Is(err, http.ErrServerClosed) && errHTTP == nil {
		errHTTP = err
	}
	errRT := l.rt.Close()
	return killed, errors.Join(errSrv, errHTTP, errRT)
}

// newAPIKey returns a random key in E2B's format: "e2b_" and 40 hex digits.
func newAPIKey() string { return "e2b_" + randomHex(20) }

// randomHex returns n random bytes as 2n hex digits.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// loadTemplates reads a templates file (see localrt.ParseTemplates); "" means
// none.
func loadTemplates(path string) ([]localrt.TemplateConfig, error) {
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	ts, err := localrt.ParseTemplates(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ts, nil
}

// backend is where run and doctor create sandboxes: E2B (or any server named
// by the E2B_* variables) when E2B_API_KEY is set, otherwise an embedded local
// server on a random loopback port with a generated key that is never shown.
type backend struct {
	client *e2b.Client
	local  *localServer // nil on E2B
}

// openBackend opens the backend for the command name. verb completes the
// note printed on stderr when the embedded server is used ("running",
// "diagnosing"). templatesFile configures the embedded server's templates; it
// is ignored, with a warning, on E2B.
func openBackend(c *cli, name, verb, templatesFile string) (*backend, error) {
	if os.Getenv(e2b.EnvAPIKey) != "" {
		if templatesFile != "" {
			fmt.Fprintf(c.stderr, "%s: --templates applies to the embedded local server only; ignored because %s is set\n", name, e2b.EnvAPIKey)
		}
		client, err := e2b.NewClient()
		if err != nil {
			return nil, err
		}
		return &backend{client: client}, nil
	}
	templates, err := loadTemplates(templatesFile)
	if err != nil {
		return nil, fmt.Errorf("--templates: %w", err)
	}
	fmt.Fprintf(c.stderr, "tta: %s not set; %s on the embedded local sandbox server\n", e2b.EnvAPIKey, verb)
	l, err := startLocal(localConfig{addr: "127.0.0.1:0", apiKey: newAPIKey(), templates: templates})
	if err != nil {
		return nil, fmt.Errorf("starting the embedded local sandbox server: %w", err)
	}
	client, err := l.client()
	if err != nil {
		_, _ = l.Close()
		return nil, err
	}
	return &backend{client: client, local: l}, nil
}

// where names the backend in messages.
func (b *backend) where() string {
	if b.local != nil {
		return "the embedded local sandbox server"
	}
	return b.client.APIURL()
}

// Close releases the client's connections and stops the embedded server,
// killing its sandboxes.
func (b *backend) Close() error {
	b.client.CloseIdleConnections()
	if b.local == nil {
		return nil
	}
	_, err := b.local.Close()
	return err
}
