package local

import (
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestListenAddresses(t *testing.T) {
	tests := []struct {
		addr     string
		dial     string
		loopback bool
	}{
		{"127.0.0.1:80", "127.0.0.1:80", true},
		{"127.0.0.2:80", "127.0.0.2:80", true},
		{"[::1]:80", "[::1]:80", true},
		{"0.0.0.0:80", "127.0.0.1:80", false},
		{"[::]:80", "[::1]:80", false},
		{"192.168.1.5:80", "192.168.1.5:80", false},
	}
	for _, tt := range tests {
		addr, err := net.ResolveTCPAddr("tcp", tt.addr)
		require.NoError(t, err)
		assert.Equal(t, tt.dial, dialAddr(addr), tt.addr)
		assert.Equal(t, tt.loopback, (&Server{addr: addr}).Loopback(), tt.addr)
	}
	assert.False(t, (&Server{addr: &net.UnixAddr{Name: "/tmp/s", Net: "unix"}}).Loopback(), "not TCP")
	assert.Equal(t, "/tmp/s", dialAddr(&net.UnixAddr{Name: "/tmp/s", Net: "unix"}))
}
