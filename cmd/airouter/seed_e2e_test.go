package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/airouter/airouter/core/testkit"
)

// TestE2ESeedDemo runs seed-demo twice against a serving router's database:
// it creates the demo models, the chat one and the embeddings one (routed to
// the OpenAI-format provider only), once; the router picks them up and lists
// what each serves.
func TestE2ESeedDemo(t *testing.T) {
	t.Parallel()
	db := freshDatabase(t)
	mk := newMasterKey()
	s := startServer(t, serverOpts{dbURL: db, env: map[string]string{"AIROUTER_MASTER_KEY": mk}})
	env := map[string]string{"DATABASE_URL": db, "AIROUTER_MASTER_KEY": mk}
	tokenFile := filepath.Join(t.TempDir(), "demo.token")
	seed := func() string {
		t.Helper()
		var out, errOut testkit.Buffer
		if err := run(context.Background(), []string{"seed-demo", "--mock-url", "http://127.0.0.1:1", "--token-file", tokenFile},
			func(k string) string { return env[k] }, &out, &errOut); err != nil {
			t.Fatalf("seed-demo: %v\n%s", err, errOut.String())
		}
		return out.String()
	}
	first := seed()
	if !strings.Contains(first, "created model demo-embed (serves [embeddings]) with routes to demo-openai") {
		t.Fatalf("first seed said:\n%s", first)
	}
	if again := seed(); strings.Contains(again, "created") {
		t.Fatalf("a second seed created again:\n%s", again)
	}

	var m struct {
		Capabilities []string `json:"capabilities"`
		Routes       []struct {
			Provider      string `json:"provider"`
			UpstreamModel string `json:"upstream_model"`
		} `json:"routes"`
	}
	s.mustAdmin(t, 200, "GET", "/models/demo-embed", nil, &m)
	if !slices.Equal(m.Capabilities, []string{"embeddings"}) || len(m.Routes) != 1 ||
		m.Routes[0].Provider != "demo-openai" || m.Routes[0].UpstreamModel != "text-embedding-3-small" {
		t.Fatalf("demo-embed: %+v", m)
	}
	b, err := os.ReadFile(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimSpace(string(b))
	want := map[string][]string{"demo": {"chat"}, "demo-embed": {"embeddings"}}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var list struct {
			Data []struct {
				ID           string   `json:"id"`
				Capabilities []string `json:"capabilities"`
			} `json:"data"`
		}
		st := s.do(t, "GET", "/v1/models", tok, nil, &list)
		got := map[string][]string{}
		for _, d := range list.Data {
			got[d.ID] = d.Capabilities
		}
		if st == 200 && len(got) == 2 && slices.Equal(got["demo"], want["demo"]) && slices.Equal(got["demo-embed"], want["demo-embed"]) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/v1/models: %d %v, want %v", st, got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
