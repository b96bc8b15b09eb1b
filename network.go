package tta

import (
	"slices"
	"strings"
)

// Network is a sandbox's outbound network access, set at its create
// (WithNetwork) and passed to the provider in CreateRequest.Network. The
// zero value asks for nothing: the provider's default (on E2B, internet
// access). It is a plain value.
//
// On E2B: NoInternet is allow_internet_access false; AllowOut and DenyOut
// are network.allowOut and network.denyOut, as E2B's API takes them, where an
// allowed destination wins over a denied one. The local sandbox server gives
// a sandbox internet access or none, and refuses to create one whose rules
// allow some destinations and not others rather than give it more network
// than they allow.
type Network struct {
	// NoInternet denies all outbound internet access but what AllowOut
	// allows.
	NoInternet bool
	// AllowOut lists the destinations the sandbox may reach: CIDR blocks
	// ("8.8.8.8/32"), IP addresses or domains ("example.com",
	// "*.example.com").
	AllowOut []string
	// DenyOut lists the CIDR blocks or IP addresses the sandbox may not
	// reach ("0.0.0.0/0": everything AllowOut does not allow).
	DenyOut []string
}

// WithNetwork sets the outbound network access of every sandbox of the
// primitive (see Network). The default is the zero Network, the provider's
// default. WithNetwork panics if an entry of AllowOut or DenyOut is empty or
// contains whitespace.
func WithNetwork(n Network) Option {
	for _, list := range [][]string{n.AllowOut, n.DenyOut} {
		for _, e := range list {
			if e == "" || strings.ContainsFunc(e, func(r rune) bool { return r <= ' ' }) {
				misuse("WithNetwork", "egress rule %q is empty or contains whitespace; use a CIDR block, an IP address or (for AllowOut) a domain", e)
			}
		}
	}
	n.AllowOut, n.DenyOut = slices.Clone(n.AllowOut), slices.Clone(n.DenyOut)
	return func(c *codeConfig) { c.network = n }
}
