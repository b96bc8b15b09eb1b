package main

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/tta-dev/tta/internal/testenv"
)

func TestProgressRedrawsOnATerminalAndErasesOnStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out testenv.Buffer
		n := 0
		p := startProgress(&out, true, func() string {
			n++
			return "step " + strings.Repeat("x", n)
		})
		time.Sleep(2*progressInterval + progressInterval/2)
		p.Stop()
		p.Stop() // idempotent
		assert.Equal(t, "\r\x1b[Kstep x\r\x1b[Kstep xx\r\x1b[Kstep xxx\r\x1b[K", out.String())
	})
}

func TestProgressDrawsNothingElsewhere(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out testenv.Buffer
		p := startProgress(&out, false, func() string { return "never" })
		time.Sleep(time.Second)
		p.Stop()
		assert.Empty(t, out.String())
	})
}

func TestSeconds(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0ms"},
		{212 * time.Millisecond, "212ms"},
		{1500 * time.Millisecond, "1.50s"},
		{12340 * time.Millisecond, "12.3s"},
		{125 * time.Second, "2m5s"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, seconds(tt.d), tt.d)
	}
}
