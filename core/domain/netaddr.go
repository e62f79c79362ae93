package domain

import "net/netip"

// privatePrefixes are the ranges UPSTREAM_ALLOW_PRIVATE=false refuses besides
// what netip classifies itself (loopback, link-local, private, unspecified):
// carrier-grade NAT (RFC 6598), and the IPv4-mapped forms are unmapped first.
var privatePrefixes = []netip.Prefix{
	netip.MustParsePrefix("100.64.0.0/10"), // CGNAT
	netip.MustParsePrefix("0.0.0.0/8"),     // "this network", reaches the host on Linux
	netip.MustParsePrefix("fc00::/7"),      // unique local (IsPrivate covers it too)
	// IPv6 forms that carry an IPv4 address a gateway translates to
	// (NAT64, 6to4): refused whole, since they can reach any private IPv4.
	netip.MustParsePrefix("64:ff9b::/96"),   // NAT64 well-known prefix
	netip.MustParsePrefix("64:ff9b:1::/48"), // NAT64 local use
	netip.MustParsePrefix("2002::/16"),      // 6to4
}

// NonPublicAddr reports whether an address is one a provider's base URL must
// not reach when private upstreams are refused: loopback (127/8, ::1),
// link-local (169.254/16 with the cloud metadata address, fe80::/10),
// private (10/8, 172.16/12, 192.168/16, fc00::/7), CGNAT (100.64/10),
// unspecified and multicast addresses, and NAT64/6to4 addresses (which embed
// an IPv4 address a gateway reaches).
func NonPublicAddr(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsUnspecified() || a.IsLinkLocalUnicast() ||
		a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() || a.IsMulticast() {
		return true
	}
	for _, p := range privatePrefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
