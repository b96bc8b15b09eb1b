package e2bserver

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCheckEgressRules(t *testing.T) {
	for _, ok := range [][2][]string{
		{{"8.8.8.8/32", "1.1.1.1", "example.com", "*.example.com", "2001:db8::/32"}, {"0.0.0.0/0", "10.0.0.0/8", "::1"}},
		{nil, nil},
	} {
		assert.Empty(t, checkEgressRules(ok[0], ok[1]), "%q", ok)
	}
	for _, tc := range []struct {
		allow, deny []string
		want        string
	}{
		{[]string{"not a domain"}, nil, `invalid network.allowOut entry "not a domain"`},
		{[]string{"localhost"}, nil, `invalid network.allowOut entry "localhost"`},
		{[]string{"-x.example.com"}, nil, `invalid network.allowOut entry`},
		{nil, []string{"example.com"}, "domain names are not supported for deny rules"},
		{nil, []string{"10.0.0.0/33"}, `invalid network.denyOut entry "10.0.0.0/33"`},
	} {
		assert.Contains(t, checkEgressRules(tc.allow, tc.deny), tc.want)
	}
}

func TestSandboxSpecEgress(t *testing.T) {
	no, yes := false, true
	for _, tc := range []struct {
		name               string
		spec               SandboxSpec
		deniesAll, select_ bool
	}{
		{"default", SandboxSpec{}, false, false},
		{"internet allowed", SandboxSpec{AllowInternetAccess: &yes}, false, false},
		{"no internet", SandboxSpec{AllowInternetAccess: &no}, true, false},
		{"deny everything", SandboxSpec{DenyOut: []string{"0.0.0.0/0"}}, true, false},
		{"deny some", SandboxSpec{DenyOut: []string{"10.0.0.0/8"}}, false, true},
		{"no internet but some", SandboxSpec{AllowInternetAccess: &no, AllowOut: []string{"pypi.org"}}, false, true},
		{"allow some", SandboxSpec{AllowOut: []string{"pypi.org"}}, false, true},
		{"deny everything and some", SandboxSpec{DenyOut: []string{"0.0.0.0/0", "10.0.0.0/8"}}, true, false},
	} {
		assert.Equal(t, tc.deniesAll, tc.spec.DeniesAll(), tc.name)
		assert.Equal(t, tc.select_, tc.spec.SelectiveEgress(), tc.name)
	}
}
