package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"

	"github.com/tta-dev/tta/e2b"
	"github.com/tta-dev/tta/local"
)

// loadTemplates reads a templates file (see local.ParseTemplates); "" means
// none.
func loadTemplates(path string) ([]local.Template, error) {
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	ts, err := local.ParseTemplates(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ts, nil
}

// openBackend opens where run and doctor create sandboxes (local.Open): E2B
// (or any server named by the E2B_* variables) when E2B_API_KEY is set,
// otherwise an embedded local server on a random loopback port with a
// generated key that is never shown. verb completes the note printed on
// stderr when the embedded server is used ("running", "diagnosing").
// templatesFile configures the embedded server's templates; it is ignored,
// with a warning, on E2B.
func openBackend(c *cli, name, verb, templatesFile string) (*local.Backend, error) {
	var opts []local.Option
	onE2B := local.E2BConfigured()
	if onE2B {
		if templatesFile != "" {
			fmt.Fprintf(c.stderr, "%s: --templates applies to the embedded local server only; ignored because %s is set\n", name, e2b.EnvAPIKey)
		}
	} else {
		templates, err := loadTemplates(templatesFile)
		if err != nil {
			return nil, fmt.Errorf("--templates: %w", err)
		}
		opts = append(opts, local.WithTemplates(templates...), local.WithLogger(slog.New(slog.NewTextHandler(c.stderr, nil))))
		fmt.Fprintf(c.stderr, "tta: %s not set; %s on the embedded local sandbox server\n", e2b.EnvAPIKey, verb)
	}
	b, err := local.Open(opts...)
	if err != nil && !onE2B {
		return nil, fmt.Errorf("starting the embedded local sandbox server: %w", err)
	}
	if err == nil && b.Local() != nil {
		fmt.Fprintf(c.stderr, "tta: sandboxes are %s\n", b.Local().Isolation())
	}
	return b, err
}

// where names the backend b in messages.
func where(b *local.Backend) string {
	if b.Local() != nil {
		return "the embedded local sandbox server"
	}
	return b.Client().APIURL()
}

// randomHex returns n random bytes as 2n hex digits.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
