package httpapi

// What the front doors (OpenAI chat, Anthropic Messages, the Responses API)
// share: reading the client's token and body, the router's response
// headers, and writing JSON answers and event streams.

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/core/gateway"
)

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	// Anthropic-style clients and some tools send the key in api-key headers.
	if k := r.Header.Get("Api-Key"); k != "" {
		return k
	}
	return ""
}

// readBody reads at most limit bytes of the body into one buffer that the
// request keeps. The buffer grows from the bytes actually read.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, errBodyTooLarge
	}
	size := int64(512)
	if r.ContentLength > 0 {
		size = min(r.ContentLength+1, initialBodyBuffer) // +1: EOF is seen without growing
	}
	buf := bytes.NewBuffer(make([]byte, 0, size))
	n, err := buf.ReadFrom(io.LimitReader(r.Body, limit+1))
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, errBodyTimeout
		}
		return nil, &domain.Error{Code: domain.CodeInvalid, Msg: "could not read the request body"}
	}
	if n > limit {
		return nil, errBodyTooLarge
	}
	return buf.Bytes(), nil
}

func setResult(w http.ResponseWriter, res *gateway.Result) {
	if res == nil {
		return
	}
	hd := w.Header()
	if res.Provider != "" {
		hd.Set(headerProvider, res.Provider)
	}
	if res.Attempts > 0 {
		hd.Set(headerAttempts, strconv.Itoa(res.Attempts))
	}
	setRateLimitHeaders(hd, &res.Limits)
}

// writeBody answers 200 with a JSON body and hands the bytes to the kernel
// at once, so that the client does not wait for the statistics and logging
// that follow.
func writeBody(w http.ResponseWriter, out []byte) {
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}

// startEventStream sends the status line and headers of a server-sent event
// stream (every front door's: OpenAI's, Anthropic's, the Responses API's).
func startEventStream(w http.ResponseWriter) {
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream; charset=utf-8")
	hd.Set("Cache-Control", "no-cache")
	hd.Set("Connection", "keep-alive")
	hd.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
