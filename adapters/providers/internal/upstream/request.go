package upstream

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/airouter/airouter/core/domain"
)

// Endpoint is a parsed upstream URL, parsed once per client.
type Endpoint struct {
	u *url.URL
}

// ParseEndpoint parses an absolute http(s) URL.
func ParseEndpoint(raw string) (Endpoint, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Endpoint{}, errBadURL(raw)
	}
	if u.User != nil {
		return Endpoint{}, errBadURL("a URL with credentials")
	}
	return Endpoint{u: u}, nil
}

type errBadURL string

func (e errBadURL) Error() string { return "not an absolute http(s) URL: " + string(e) }

// String returns the URL.
func (e Endpoint) String() string { return e.u.String() }

// Request builds a request without re-parsing the URL. The body is
// replayable, so the transport may resend it on a fresh connection when a
// pooled one turns out dead before anything was written (net/http does this
// only when nothing reached the upstream).
func (e Endpoint) Request(ctx context.Context, method string, header http.Header, body []byte) *http.Request {
	req := &http.Request{
		Method:     method,
		URL:        e.u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     header,
		Host:       e.u.Host,
	}
	if body != nil {
		req.ContentLength = int64(len(body))
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	return req.WithContext(ctx)
}

// ExtraHeaders validates and canonicalises a provider's extra headers.
func ExtraHeaders(h map[string]string) (http.Header, error) {
	out := make(http.Header, len(h))
	for k, v := range h {
		ck := http.CanonicalHeaderKey(strings.TrimSpace(k))
		if ck == "" || strings.ContainsAny(ck, " \t\r\n:") || strings.ContainsAny(v, "\r\n") {
			return nil, &domain.Error{Code: domain.CodeInvalid, Field: "headers", Msg: "invalid header " + strconv.Quote(k)}
		}
		if domain.ForbiddenHeader(ck) {
			return nil, &domain.Error{Code: domain.CodeInvalid, Field: "headers", Msg: ck + " cannot be set"}
		}
		out[ck] = []string{v}
	}
	return out, nil
}

// MaxBody bounds a non-streaming response body.
const MaxBody = 256 << 20

// ErrBodyTooLarge reports a response body over MaxBody.
var ErrBodyTooLarge = errors.New("the upstream response is larger than 256 MiB")

// ReadAll reads a response body, presized from its Content-Length n (-1
// when unknown) and bounded by MaxBody.
func ReadAll(r io.Reader, n int64) ([]byte, error) {
	if n < 0 || n > MaxBody {
		n = 0
	}
	buf := bytes.NewBuffer(make([]byte, 0, n+1))
	m, err := buf.ReadFrom(io.LimitReader(r, MaxBody+1))
	if err == nil && m > MaxBody {
		err = ErrBodyTooLarge
	}
	return buf.Bytes(), err
}
