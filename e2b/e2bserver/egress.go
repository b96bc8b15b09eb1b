package e2bserver

import (
	"fmt"
	"net/netip"
	"strings"
)

// checkEgressRules checks the form of a create request's egress rules as
// E2B's API documents them, and returns what is wrong, or "": allowOut
// entries are CIDR blocks, IP addresses or domain names (optionally "*."
// wildcards); denyOut entries are CIDR blocks or IP addresses, never domains.
func checkEgressRules(allowOut, denyOut []string) string {
	for _, e := range allowOut {
		if !isAddressRule(e) && !isDomainRule(e) {
			return fmt.Sprintf("invalid network.allowOut entry %q: use a CIDR block (8.8.8.8/32), an IP address or a domain (example.com, *.example.com)", e)
		}
	}
	for _, e := range denyOut {
		if !isAddressRule(e) {
			return fmt.Sprintf("invalid network.denyOut entry %q: use a CIDR block (10.0.0.0/8) or an IP address; domain names are not supported for deny rules", e)
		}
	}
	return ""
}

// isAddressRule reports whether e is a CIDR block or an IP address.
func isAddressRule(e string) bool {
	if _, err := netip.ParsePrefix(e); err == nil {
		return true
	}
	_, err := netip.ParseAddr(e)
	return err == nil
}

// isDomainRule reports whether e is a domain name, optionally "*." first.
func isDomainRule(e string) bool {
	e = strings.TrimPrefix(e, "*.")
	if e == "" || len(e) > 253 || !strings.Contains(e, ".") {
		return false
	}
	for _, label := range strings.Split(e, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// DeniesAll reports whether spec's rules deny every destination and allow
// none: allow_internet_access false, or a denyOut of 0.0.0.0/0 (and ::/0),
// with no allowOut entry.
func (spec SandboxSpec) DeniesAll() bool {
	if len(spec.AllowOut) > 0 {
		return false
	}
	if spec.AllowInternetAccess != nil && !*spec.AllowInternetAccess {
		return true
	}
	for _, e := range spec.DenyOut {
		if p, err := netip.ParsePrefix(e); err == nil && p.Bits() == 0 {
			return true
		}
	}
	return false
}

// SelectiveEgress reports whether spec's rules allow some destinations and
// not others, which a runtime that only turns internet access on or off
// cannot enforce: any allowOut entry, or a denyOut entry that is not
// everything.
func (spec SandboxSpec) SelectiveEgress() bool {
	if len(spec.AllowOut) > 0 {
		return true
	}
	if spec.DeniesAll() {
		return false
	}
	return len(spec.DenyOut) > 0
}
