package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"
)

// revproxyFlag, as the first argument, makes the harness serve as the
// reference reverse proxy instead: bench -revproxy-child UPSTREAM_URL. It
// is not in the usage text; the harness re-executes itself with it, so the
// proxy is a process of its own, measured like the router. An optional
// second argument is the listen address (default 127.0.0.1:0).
const revproxyFlag = "-revproxy-child"

// runRevproxy is the smallest reasonable proxy: httputil.ReverseProxy with
// a transport whose idle pool is as deep as the router's (net/http's
// default of 2 idle connections per host would make it open a connection
// for most requests, a handicap no real deployment has). SSE responses are
// flushed per write by ReverseProxy itself.
//
// One line is not stock: full duplex. Without it net/http's HTTP/1 server
// drains and closes the request body when the response headers are
// written, racing the transport's final read of that body (the check that
// it is not longer than its Content-Length); when the close wins, the
// transport tears down the upstream connection and the client's stream is
// cut after its first event (golang/go#40747; about 0.5% of streams here).
// A reference that truncates streams would not be a fair one.
func runRevproxy(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) != 1 && len(args) != 2 {
		return errors.New("usage: bench " + revproxyFlag + " UPSTREAM_URL [LISTEN_ADDR]")
	}
	listen := "127.0.0.1:0"
	if len(args) == 2 {
		listen = args[1]
	}
	up, err := url.Parse(args[0])
	if err != nil || up.Host == "" {
		return fmt.Errorf("upstream %q: want http://host:port", args[0])
	}
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        4096,
		MaxIdleConnsPerHost: 1024,
		IdleConnTimeout:     90 * time.Second,
	}
	rp := &httputil.ReverseProxy{
		Rewrite:   func(r *httputil.ProxyRequest) { r.SetURL(up) },
		Transport: tr,
		ErrorLog:  log.New(stderr, "revproxy: ", 0),
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).EnableFullDuplex()
		rp.ServeHTTP(w, r)
	})
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          log.New(stderr, "revproxy: ", 0),
	}
	fmt.Fprintf(stdout, "revproxy listening on http://%s\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	return nil
}
