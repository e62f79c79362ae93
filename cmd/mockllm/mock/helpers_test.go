package mock_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/airouter/airouter/cmd/mockllm/mock"
)

const (
	pathOpenAI    = "/v1/chat/completions"
	pathAnthropic = "/v1/messages"
)

func start(t *testing.T, cfg mock.Config) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(mock.NewHandler(cfg))
	t.Cleanup(srv.Close)
	return srv
}

// client returns an HTTP client with its own connections, so injected
// resets and cuts do not touch other tests.
func client(t *testing.T) *http.Client {
	t.Helper()
	tr := &http.Transport{DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}
}

// do sends body to path; Anthropic paths get the headers the real API
// requires. hdr is "Key: value" pairs.
func do(t *testing.T, srv *httptest.Server, path, body string, hdr ...string) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if path == pathAnthropic {
		req.Header.Set("anthropic-version", "2023-06-01")
	}
	for _, h := range hdr {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(k, strings.TrimSpace(v))
	}
	return client(t).Do(req)
}

// post is do that fails the test on a transport error and returns the
// whole body.
func post(t *testing.T, srv *httptest.Server, path, body string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	resp, err := do(t, srv, path, body, hdr...)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("POST %s: reading body: %v", path, err)
	}
	return resp, b
}

// sseEvent is one server-sent event with its arrival time.
type sseEvent struct {
	event string // "" when the event has no event: line
	data  string
	at    time.Duration
}

// readSSE parses an event stream per the SSE spec (fields "event" and
// "data", events ended by a blank line), timing each event from t0. It
// returns the events read so far, the bytes after the last complete event,
// and the read error (nil at a clean EOF).
func readSSE(r io.Reader, t0 time.Time) ([]sseEvent, string, error) {
	br := bufio.NewReader(r)
	var (
		evs     []sseEvent
		cur     sseEvent
		pending bytes.Buffer
		data    []string
	)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			pending.WriteString(line)
			if err == io.EOF && pending.Len() == 0 {
				err = nil
			}
			return evs, pending.String(), err
		}
		pending.WriteString(line)
		line = strings.TrimRight(line, "\r\n")
		switch {
		case line == "":
			if len(data) > 0 || cur.event != "" {
				cur.data = strings.Join(data, "\n")
				cur.at = time.Since(t0)
				evs = append(evs, cur)
			}
			cur, data = sseEvent{}, nil
			pending.Reset()
		case strings.HasPrefix(line, ":"):
		default:
			k, v, _ := strings.Cut(line, ":")
			v = strings.TrimPrefix(v, " ")
			switch k {
			case "event":
				cur.event = v
			case "data":
				data = append(data, v)
			}
		}
	}
}

// strictDecode decodes JSON into v, rejecting fields v does not declare:
// the mock must not invent fields the provider's schema lacks.
func strictDecode(t *testing.T, data string, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode %T: %v\n%s", v, err, data)
	}
	if dec.More() {
		t.Fatalf("trailing data after %T:\n%s", v, data)
	}
}

// requireKeys checks that the JSON object at data has every key, null or
// not (the providers' schemas mark nullable fields as required).
func requireKeys(t *testing.T, data string, keys ...string) {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(data), &m); err != nil {
		t.Fatalf("not a JSON object: %v\n%s", err, data)
	}
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Errorf("key %q missing in %s", k, data)
		}
	}
}

func userMsg(extra string) string {
	return `{"model":"mock-gpt","messages":[{"role":"user","content":"Hello"}]` + extra + `}`
}

func anthMsg(extra string) string {
	return `{"model":"mock-claude","max_tokens":1024,"messages":[{"role":"user","content":"Hello"}]` + extra + `}`
}

func readAll(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	return b
}
