package upstream

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestRegressionDialDeniesNonPublic: nothing stopped a provider's base URL
// from reaching loopback or cloud metadata addresses. With DenyNonPublic the
// dialer refuses them after name resolution, so a host name resolving to
// loopback (the DNS-rebinding case) is refused like the literal address;
// by default both are allowed.
func TestRegressionDialDeniesNonPublic(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) }))
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	for _, host := range []string{"127.0.0.1", "localhost"} {
		url := "http://" + host + ":" + port + "/"
		deny := NewTransport(time.Second, DenyNonPublic())
		req, _ := http.NewRequest("GET", url, nil)
		resp, err := deny.RoundTrip(req)
		if err == nil {
			resp.Body.Close()
			t.Errorf("%s: denied transport connected (%d)", host, resp.StatusCode)
		} else if !errors.Is(err, ErrNonPublic) {
			t.Errorf("%s: error %v does not say why", host, err)
		}
		deny.CloseIdleConnections()

		allow := NewTransport(time.Second)
		req, _ = http.NewRequest("GET", url, nil)
		resp, err = allow.RoundTrip(req)
		if err != nil {
			t.Errorf("%s: default transport: %v", host, err)
		} else {
			resp.Body.Close()
			if resp.StatusCode != 204 {
				t.Errorf("%s: %d", host, resp.StatusCode)
			}
		}
		allow.CloseIdleConnections()
	}
}
