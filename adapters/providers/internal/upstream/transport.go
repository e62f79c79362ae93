// Package upstream is the HTTP machinery the provider adapters share: one
// transport per provider (h1, an HTTP/1.1 client that works on the caller's
// goroutine, for plain-http upstreams; net/http's Transport, with HTTP/2,
// for HTTPS ones), an attempt that enforces the connect, first-byte, idle
// and total timeouts with one timer, and the mapping of every failure to a
// *domain.UpstreamError.
package upstream

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"

	"github.com/airouter/airouter/core/domain"
)

// Transport sizes. A gateway sends many concurrent requests to few hosts, so
// the per-host idle pool is large; the defaults of net/http (2 idle
// connections per host) would make most requests open a new connection.
const (
	MaxIdleConnsPerHost = 1024
	MaxIdleConns        = 4096
	IdleConnTimeout     = 90 * time.Second
)

// Transport is the transport of one provider client: plain-http upstreams
// go through h1, the HTTPS ones through net/http's Transport.
type Transport struct {
	h1  *h1
	std *http.Transport
}

// NewTransport returns the transport of one provider client.
//
// It never uses a proxy: Proxy is nil, so HTTP_PROXY and HTTPS_PROXY in the
// environment are ignored (adapters do not read the environment); a
// deployment that needs an egress proxy must configure one explicitly.
// HTTP/2 is used when the upstream offers it over TLS (ForceAttemptHTTP2,
// needed because DialContext is customised). Response-header timeouts are
// not set here: the attempt enforces them, with a distinguishable cause.
func NewTransport(connect time.Duration, opts ...TransportOption) *Transport {
	var o transportOptions
	for _, f := range opts {
		f(&o)
	}
	d := &net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}
	if o.denyNonPublic {
		d.Control = denyNonPublic
	}
	return &Transport{h1: newH1(d), std: &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          MaxIdleConns,
		MaxIdleConnsPerHost:   MaxIdleConnsPerHost,
		IdleConnTimeout:       IdleConnTimeout,
		TLSHandshakeTimeout:   connect,
		ExpectContinueTimeout: time.Second,
		// net/http's 4 KiB buffers: every pooled or streaming connection
		// holds them, so larger ones cost memory per open stream; large
		// events are read through the SSE reader's own growing buffer.
		ReadBufferSize:  4 << 10,
		WriteBufferSize: 4 << 10,
	}}
}

// RoundTrip sends one request.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" {
		return t.h1.roundTrip(req)
	}
	return t.std.RoundTrip(req)
}

// CloseIdleConnections closes the idle connections of both transports; the
// h1 client then stops keeping connections (the provider client is being
// dropped: requests still in flight close theirs when they end).
func (t *Transport) CloseIdleConnections() {
	t.h1.closeIdle()
	t.std.CloseIdleConnections()
}

// TransportOption configures NewTransport.
type TransportOption func(*transportOptions)

type transportOptions struct{ denyNonPublic bool }

// DenyNonPublic makes the transport refuse to connect to non-public
// addresses (domain.NonPublicAddr: loopback, private, link-local and cloud
// metadata, CGNAT, unspecified). The check runs on the address being dialed,
// after name resolution, so a host name that resolves (or is rebound) to
// such an address is refused too.
func DenyNonPublic() TransportOption { return func(o *transportOptions) { o.denyNonPublic = true } }

// ErrNonPublic is the cause of a refused dial.
var ErrNonPublic = fmt.Errorf("the upstream address is not public and UPSTREAM_ALLOW_PRIVATE is false")

func denyNonPublic(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("dial %s: %w", address, ErrNonPublic)
	}
	if domain.NonPublicAddr(ap.Addr()) {
		return fmt.Errorf("dial %s: %w", ap.Addr(), ErrNonPublic)
	}
	return nil
}
