package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

func TestPortkeyArgs(t *testing.T) {
	t.Parallel()
	got := portkeyArgs("/x/build/start-server.js", 40123)
	want := []string{"/x/build/start-server.js", "--port=40123", "--headless"}
	if !slices.Equal(got, want) {
		t.Fatalf("portkeyArgs = %q, want %q", got, want)
	}
}

// The start script's real output (1.15.2): a spinner redrawn with \r, then
// the URL line in ANSI colours.
func TestPortkeyReadyLine(t *testing.T) {
	t.Parallel()
	out := "\r⠋ Starting AI Gateway...\r⠙ Starting AI Gateway...\r\x1b[1m🚀 Your AI Gateway is running at:\x1b[0m\n" +
		"   \x1b[1;4;32mhttp://localhost:40123\x1b[0m\n\n\x1b[32m✨ Ready for connections!\x1b[0m\n"
	var port string
	for line := range strings.SplitSeq(out, "\n") {
		if m := portkeyReady.FindStringSubmatch(line); m != nil {
			port = m[1]
			break
		}
	}
	if port != "40123" {
		t.Fatalf("ready port = %q, want 40123", port)
	}
	addr, err := portkeyAddr(port, 40123)
	if err != nil || addr != "127.0.0.1:40123" {
		t.Fatalf("portkeyAddr = %q, %v; want 127.0.0.1:40123", addr, err)
	}
	if _, err := portkeyAddr("8787", 40123); err == nil {
		t.Fatal("portkeyAddr accepted a port other than the one asked for")
	}
	if _, err := portkeyAddr("99999", 99999); err == nil {
		t.Fatal("portkeyAddr accepted port 99999")
	}
	if portkeyReady.MatchString("\r⠋ Starting AI Gateway...") {
		t.Fatal("the spinner matched as ready")
	}
}

// The peer sends the bodies and X-Mock-* headers of the other paths plus
// the gateway's routing headers, and names the X-Mock-* headers to forward.
func TestPortkeyTargetHeaders(t *testing.T) {
	t.Parallel()
	scs := scenarios(false)
	pk := newPortkeyTarget("http://127.0.0.1:1", 1, scs, "http://127.0.0.1:2/")
	rp := newTarget(revproxy, "http://127.0.0.1:3", 1, scs, "")
	for _, sc := range scs {
		p := pk.reqs[sc.name]
		if string(p.body) != string(rp.reqs[sc.name].body) {
			t.Errorf("%s: body differs from the reverse proxy's", sc.name)
		}
		h := p.header
		for k, v := range map[string]string{
			"x-portkey-provider":    "openai",
			"x-portkey-custom-host": "http://127.0.0.1:2/v1",
			"Content-Type":          "application/json",
		} {
			if h.Get(k) != v {
				t.Errorf("%s: %s = %q, want %q", sc.name, k, h.Get(k), v)
			}
		}
		if !strings.HasPrefix(h.Get("Authorization"), "Bearer ") {
			t.Errorf("%s: Authorization = %q", sc.name, h.Get("Authorization"))
		}
		var want []string
		for k, v := range sc.headers {
			if h.Get(k) != v {
				t.Errorf("%s: %s = %q, want %q", sc.name, k, h.Get(k), v)
			}
			want = append(want, strings.ToLower(k))
		}
		slices.Sort(want)
		if got := h.Get("x-portkey-forward-headers"); got != strings.Join(want, ",") {
			t.Errorf("%s: x-portkey-forward-headers = %q, want %q", sc.name, got, strings.Join(want, ","))
		}
		if p.url != "http://127.0.0.1:1/v1/chat/completions" {
			t.Errorf("%s: url %q", sc.name, p.url)
		}
	}
	if rp.reqs["0ms"].header.Get("x-portkey-provider") != "" {
		t.Error("the reverse proxy's requests carry Portkey headers")
	}
}

// verifyPeer fails on a gateway that answers JSON but breaks streams (as
// Portkey 1.15.2 does with @hono/node-server 1.14+: "Something went
// wrong"), and passes on one that streams.
func TestVerifyPeer(t *testing.T) {
	t.Parallel()
	scs := scenarios(true)
	tokens := 20
	for _, tc := range []struct {
		name    string
		breakSt bool
		wantErr string
	}{{"streams", false, ""}, {"broken streams", true, "streaming request: status 500"}} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("x-portkey-provider") != "openai" {
				http.Error(w, `{"status":"failure"}`, http.StatusBadRequest)
				return
			}
			if r.Header.Get("Accept") != "text/event-stream" {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"choices":[{"message":{"content":"hi"}}]}`))
				return
			}
			if tc.breakSt {
				http.Error(w, `{"status":"failure","message":"Something went wrong"}`, http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", "text/event-stream")
			for range tokens {
				_, _ = w.Write([]byte("data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n"))
			}
			_, _ = w.Write([]byte("data: [DONE]\n\n"))
		}))
		defer srv.Close()
		err := verifyPeer(t.Context(), newPortkeyTarget(srv.URL, 1, scs, "http://127.0.0.1:2"))
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.wantErr)
		}
	}
}

// Without the peer each section has a row saying why it did not run, with
// as many cells as the table has columns; with it, no such row.
func TestPeerRow(t *testing.T) {
	t.Parallel()
	r := &report{Targets: []string{direct, router, revproxy}, PortkeyNote: "not run (node not found)"}
	var b strings.Builder
	w := func(f string, a ...any) {
		b.WriteString(strings.TrimSpace(strings.ReplaceAll(fmt.Sprintf(f, a...), "\n", "")))
	}
	r.peerRow(w, []string{"all", "all"}, 9)
	got := b.String()
	if want := "| all | all | portkey (peer) | not run (node not found) | — | — | — | — | — |"; got != want {
		t.Fatalf("peerRow = %q, want %q", got, want)
	}
	if strings.Count(got, "|") != 10 {
		t.Fatalf("peerRow has %d cells, want 9", strings.Count(got, "|")-1)
	}
	if slices.Contains(r.paths(), portkey) {
		t.Fatal("paths lists the peer that did not run")
	}
	r.Targets = append(r.Targets, portkey)
	b.Reset()
	r.peerRow(w, nil, 6)
	if b.Len() != 0 {
		t.Fatalf("peerRow with the peer run wrote %q", b.String())
	}
	if !slices.Equal(r.paths(), []string{direct, router, revproxy, portkey}) {
		t.Fatalf("paths = %q", r.paths())
	}
}

func TestRotationsCoverEveryPath(t *testing.T) {
	t.Parallel()
	for n, rs := range rotations {
		first := map[int]int{}
		for _, r := range rs {
			s := slices.Clone(r)
			slices.Sort(s)
			for i := range n {
				if s[i] != i {
					t.Fatalf("rotation %v of %d is not a permutation", r, n)
				}
			}
			first[r[0]]++
		}
		for i := range n {
			if first[i] != len(rs)/n {
				t.Errorf("%d paths: path %d comes first %d times of %d", n, i, first[i], len(rs))
			}
		}
	}
}

// A peer's failure drops its own sample only; the core paths' rounds stay.
func TestBothKeepsCoreSamples(t *testing.T) {
	t.Parallel()
	core := []bool{true, false, true, true}
	if got := both(core, nil); !slices.Equal(got, core) {
		t.Fatalf("both(core, nil) = %v", got)
	}
	if got := both(core, []bool{false, true, true, false}); !slices.Equal(got, []bool{false, false, true, false}) {
		t.Fatalf("both = %v", got)
	}
	if got := both(core, []bool{true}); !slices.Equal(got, []bool{true, false, false, false}) {
		t.Fatalf("both with a short peer slice = %v", got)
	}
}
