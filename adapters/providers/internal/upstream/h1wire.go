package upstream

// The HTTP/1.1 wire rules of h1: the status line, the body's framing, and
// what a request's header may hold.

import (
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// parseStatus parses "HTTP/1.x NNN reason\r\n".
func parseStatus(line []byte) (*http.Response, error) {
	n := len(line)
	for n > 0 && (line[n-1] == '\n' || line[n-1] == '\r') {
		n--
	}
	line = line[:n]
	if len(line) < 12 || string(line[:7]) != "HTTP/1." || (line[7] != '0' && line[7] != '1') || line[8] != ' ' || (len(line) > 12 && line[12] != ' ') {
		return nil, fmt.Errorf("malformed HTTP status line %q", line[:min(len(line), 64)])
	}
	code := 0
	for _, d := range line[9:12] {
		if d < '0' || d > '9' {
			return nil, fmt.Errorf("malformed HTTP status code %q", line[9:12])
		}
		code = code*10 + int(d-'0')
	}
	resp := &http.Response{Status: string(line[9:]), StatusCode: code, Proto: string(line[:8]), ProtoMajor: 1, ProtoMinor: int(line[7] - '0')}
	if resp.ProtoMinor == 1 {
		resp.Proto = "HTTP/1.1"
	}
	return resp, nil
}

// framing sets the body's length, transfer encoding and whether the
// connection closes after it, from the headers.
func framing(resp *http.Response) error {
	h := resp.Header
	resp.Close = resp.ProtoMinor == 0 && !httpguts.HeaderValuesContainsToken(h["Connection"], "keep-alive") || httpguts.HeaderValuesContainsToken(h["Connection"], "close")
	resp.ContentLength = -1
	if te := h["Transfer-Encoding"]; len(te) > 0 {
		if len(te) != 1 || !strings.EqualFold(te[0], "chunked") {
			return fmt.Errorf("unsupported transfer encoding %q", te)
		}
		resp.TransferEncoding = []string{"chunked"}
		delete(h, "Content-Length")
		delete(h, "Transfer-Encoding")
		return nil
	}
	if cl := h["Content-Length"]; len(cl) > 0 {
		for _, v := range cl[1:] {
			if v != cl[0] {
				return errors.New("malformed HTTP response: conflicting Content-Length")
			}
		}
		n, err := strconv.ParseInt(textproto.TrimString(cl[0]), 10, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("malformed HTTP response: bad Content-Length %q", cl[0])
		}
		resp.ContentLength = n
	}
	return nil
}

// validHeader refuses header names and values that would change the
// request's framing, by net/http's own rules (httpguts): a name that is not
// an HTTP token, a value with a control character other than tab.
func validHeader(h http.Header) error {
	for k, vs := range h {
		if !httpguts.ValidHeaderFieldName(k) {
			return fmt.Errorf("invalid header name %q", k)
		}
		for _, v := range vs {
			if !httpguts.ValidHeaderFieldValue(v) {
				return fmt.Errorf("invalid value for header %q", k)
			}
		}
	}
	return nil
}
