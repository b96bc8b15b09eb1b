package ttatemporal

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
)

// temporalCLIVersion is the Temporal CLI the end-to-end tests run as their
// dev server; newer versions do not build from the Go module proxy.
const temporalCLIVersion = "v1.5.1"

// temporalCLI returns the path of the Temporal CLI: $TTA_TEMPORAL_CLI, the
// one scripts/test.sh builds into ~/.cache/tta, or temporal on PATH.
func temporalCLI() (string, bool) {
	if p := os.Getenv("TTA_TEMPORAL_CLI"); p != "" {
		return p, true
	}
	if home, err := os.UserHomeDir(); err == nil {
		p := filepath.Join(home, ".cache", "tta", "temporal-cli-"+temporalCLIVersion, "temporal")
		if _, err := os.Stat(p); err == nil {
			return p, true
		}
	}
	if p, err := exec.LookPath("temporal"); err == nil {
		return p, true
	}
	return "", false
}

// quietLogger drops the SDK's logs: the activities of these tests fail on
// purpose, and the SDK logs every failure; the tests' assertions say what
// went wrong.
func quietLogger() log.Logger {
	return log.NewStructuredLogger(slog.New(slog.DiscardHandler))
}

// dev is the dev server the end-to-end tests share, started by the first
// of them and stopped by TestMain.
var dev struct {
	once   sync.Once
	server *testsuite.DevServer
	output syncWriter // the server's output, reported when it fails to start
	err    error
}

// devServer returns the host:port of a Temporal dev server on loopback,
// starting it on first use; it skips t when the Temporal CLI is missing.
func devServer(t *testing.T) string {
	t.Helper()
	cli, ok := temporalCLI()
	if !ok {
		t.Skipf("the Temporal CLI is not installed, so the tests against a Temporal dev server do not run; scripts/test.sh builds it, or: GOBIN=$HOME/.cache/tta/temporal-cli-%s go install github.com/temporalio/cli/cmd/temporal@%s", temporalCLIVersion, temporalCLIVersion)
	}
	dev.once.Do(func() {
		port, err := freePort()
		if err != nil {
			dev.err = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		dev.server, dev.err = testsuite.StartDevServer(ctx, testsuite.DevServerOptions{
			ExistingPath: cli,
			ClientOptions: &client.Options{
				HostPort: "127.0.0.1:" + port,
				Logger:   quietLogger(),
			},
			LogLevel: "error",
			Stdout:   &dev.output,
			Stderr:   &dev.output,
		})
	})
	if dev.err != nil {
		t.Fatalf("starting the Temporal dev server (%s): %v\n%s", cli, dev.err, dev.output.String())
	}
	return dev.server.FrontendHostPort()
}

// stopDevServer stops the shared dev server, if one was started.
func stopDevServer() {
	if dev.server != nil {
		dev.server.Client().Close()
		if err := dev.server.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping the Temporal dev server:", err)
		}
	}
}

// freePort returns a port free on 127.0.0.1.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	_, port, err := net.SplitHostPort(l.Addr().String())
	return port, err
}

// syncWriter is a buffer safe for concurrent use.
type syncWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// dial returns a client of the dev server at hostPort, closed when t ends.
func dial(t *testing.T, hostPort string) client.Client {
	t.Helper()
	c, err := client.Dial(client.Options{HostPort: hostPort, Logger: quietLogger()})
	if err != nil {
		t.Fatalf("dialling the Temporal dev server: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}
