package e2b

import (
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/tta-dev/tta/internal/apikey"
)

// This file keeps secrets (API keys, access tokens, envd and traffic tokens)
// out of everything the package prints: errors, String and the fmt verbs of
// Client, Sandbox and the configuration.

// redactedText replaces a secret wherever one would be printed.
const redactedText = "[redacted]"

// redactor lists secret values to hide from text.
type redactor []string

// apply returns s with every listed secret and every API-key-shaped word
// replaced by redactedText.
func (r redactor) apply(s string) string {
	for _, secret := range r {
		if len(secret) >= 4 {
			s = strings.ReplaceAll(s, secret, redactedText)
		}
	}
	// Anything key-shaped too: a key echoed back by a server is hidden even
	// when it is not this client's own.
	return apikey.Hide(s, redactedText)
}

// with returns a redactor that also hides the given secrets.
func (r redactor) with(secrets ...string) redactor {
	out := make(redactor, 0, len(r)+len(secrets))
	out = append(out, r...)
	return append(out, secrets...)
}

// presence says whether a secret is set without showing it.
func presence(secret string) string {
	if secret == "" {
		return "(unset)"
	}
	return redactedText
}

// redactURL hides the password of a URL's user information.
func redactURL(raw string) string {
	if raw == "" {
		return "(unset)"
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// formatRedacted writes s, a value's secret-free description, for any fmt verb
// and flags: %s, %v, %+v and %#v all print s, %q prints it quoted, and other
// verbs print s too rather than reveal fields through reflection.
func formatRedacted(f fmt.State, verb rune, s string) {
	if verb == 'q' {
		s = fmt.Sprintf("%q", s)
	}
	_, _ = io.WriteString(f, s)
}
