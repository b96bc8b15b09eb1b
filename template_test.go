package tta_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/tta-dev/tta"
)

func TestTemplate(t *testing.T) {
	for _, tc := range []struct {
		name      string
		tpl       tta.Template
		ref       string
		isDefault bool
		window    time.Duration
		str       string
	}{
		{"zero", tta.Template{}, "code-interpreter-v1", true, 60 * time.Second, "code-interpreter-v1"},
		{"default by name", tta.Template{Name: "code-interpreter-v1"}, "code-interpreter-v1", true, 60 * time.Second, "code-interpreter-v1"},
		{"custom by name", tta.Template{Name: "tta-ml-minimal"}, "tta-ml-minimal", false, 120 * time.Second, "tta-ml-minimal"},
		{"custom by ID", tta.Template{ID: "3xmp0rmfztawhlpysu4v"}, "3xmp0rmfztawhlpysu4v", false, 120 * time.Second, "3xmp0rmfztawhlpysu4v"},
		{"ID preferred over name", tta.Template{ID: "3xmp0rmfztawhlpysu4v", Name: "tta-ml-minimal"}, "3xmp0rmfztawhlpysu4v", false, 120 * time.Second, "tta-ml-minimal (3xmp0rmfztawhlpysu4v)"},
		{"window overridden", tta.Template{Name: "tta-ml-minimal", Window: 5 * time.Minute}, "tta-ml-minimal", false, 5 * time.Minute, "tta-ml-minimal"},
		{"default window overridden", tta.Template{Window: 10 * time.Second}, "code-interpreter-v1", true, 10 * time.Second, "code-interpreter-v1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.ref, tc.tpl.Ref())
			assert.Equal(t, tc.isDefault, tc.tpl.IsDefault())
			assert.Equal(t, tc.window, tc.tpl.InitWindow())
			assert.Equal(t, tc.str, tc.tpl.String())
		})
	}
}

func TestTemplate_WithInitWindowOverridesTemplate(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []tta.Option
		want time.Duration
	}{
		{"default", nil, tta.DefaultInitWindow},
		{"custom", []tta.Option{tta.WithTemplate(tta.Template{Name: "x"})}, tta.CustomInitWindow},
		{"template window", []tta.Option{tta.WithTemplate(tta.Template{Name: "x", Window: time.Minute})}, time.Minute},
		{"option after template", []tta.Option{tta.WithTemplate(tta.Template{Name: "x", Window: time.Minute}), tta.WithInitWindow(3 * time.Minute)}, 3 * time.Minute},
		{"option before template", []tta.Option{tta.WithInitWindow(3 * time.Minute), tta.WithTemplate(tta.Template{Name: "x"})}, 3 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exec := newFakeOnly(t, tc.opts...)
			assert.Equal(t, tc.want, exec.Template().Window)
		})
	}
}
