package domain

import (
	"net/netip"
	"testing"
)

func TestNonPublicAddr(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"127.0.0.1", "127.1.2.3", "::1", "10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1",
		"169.254.169.254", "fe80::1", "fc00::1", "fd12::1", "100.64.0.1", "100.127.255.254", "0.0.0.0", "::", "::ffff:127.0.0.1", "::ffff:169.254.169.254", "224.0.0.1",
		"64:ff9b::a00:5", "64:ff9b:1::1", "2002:a00:5::1"} {
		if !NonPublicAddr(netip.MustParseAddr(s)) {
			t.Errorf("%s is public?", s)
		}
	}
	for _, s := range []string{"8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "104.18.0.1"} {
		if NonPublicAddr(netip.MustParseAddr(s)) {
			t.Errorf("%s is not public?", s)
		}
	}
}
