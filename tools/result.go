package tools

import (
	"fmt"
	"strings"
)

// Result is what a tool call returns to the model. It is a plain value.
type Result struct {
	// Content is what the model reads, in order.
	Content []Content
	// IsError reports that the call failed: the code raised, a command
	// exited with a non-zero status, the arguments were wrong, or the
	// sandbox could not run the call. The content says what happened.
	IsError bool
}

// Content is one part of a Result: text, or an image. It is a plain value.
type Content struct {
	// Text is the text of a text part; empty for an image.
	Text string
	// MIMEType is the type of an image part, such as "image/png"; empty for
	// a text part.
	MIMEType string
	// Data is the image's bytes (not base64-encoded); nil for a text part.
	Data []byte
}

// IsImage reports whether c is an image part.
func (c Content) IsImage() bool { return c.MIMEType != "" }

// Text returns the text parts of r joined by blank lines, and a line
// "[image/png, N bytes]" for each image: what an agent framework whose tools
// return strings hands the model.
func (r Result) Text() string {
	parts := make([]string, 0, len(r.Content))
	for _, c := range r.Content {
		if c.IsImage() {
			parts = append(parts, fmt.Sprintf("[%s, %d bytes]", c.MIMEType, len(c.Data)))
			continue
		}
		parts = append(parts, c.Text)
	}
	return strings.Join(parts, "\n\n")
}

// textResult returns a successful Result of one text part.
func textResult(text string) Result {
	return Result{Content: []Content{{Text: text}}}
}

// errorResult returns a failed Result of one text part.
func errorResult(text string) Result {
	return Result{Content: []Content{{Text: text}}, IsError: true}
}
