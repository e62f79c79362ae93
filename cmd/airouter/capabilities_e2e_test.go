package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/airouter/airouter/cmd/mockllm/mock"
)

// capProblem is the part of an admin problem document these checks read.
type capProblem struct {
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Location string `json:"location"`
	} `json:"errors"`
}

// TestE2EModelCapabilities: the admin API stores, shows and validates a
// model's capabilities against its routes' provider kinds, and /v1/models
// lists what each model serves.
func TestE2EModelCapabilities(t *testing.T) {
	t.Parallel()
	up := newUpstream(t, mock.Config{})
	s := startServer(t, serverOpts{})
	s.setupProvider(t, "oai", "openai_compatible", up.URL+"/v1", nil)
	s.setupProvider(t, "claude", "anthropic", up.URL, nil)

	type modelDTO struct {
		Name         string   `json:"name"`
		Capabilities []string `json:"capabilities"`
	}
	// Default: chat.
	var chat modelDTO
	s.mustAdmin(t, 201, "POST", "/models", map[string]any{"name": "chat"}, &chat)
	if !slices.Equal(chat.Capabilities, []string{"chat"}) {
		t.Fatalf("default capabilities %v, want [chat]", chat.Capabilities)
	}
	s.addRoute(t, "chat", "oai", "mock-gpt", nil)
	s.addRoute(t, "chat", "claude", "claude-x", nil)

	var emb modelDTO
	s.mustAdmin(t, 201, "POST", "/models", map[string]any{"name": "emb", "capabilities": []string{"embeddings"}}, &emb)
	if !slices.Equal(emb.Capabilities, []string{"embeddings"}) {
		t.Fatalf("created with %v, want [embeddings]", emb.Capabilities)
	}
	s.addRoute(t, "emb", "oai", "text-embedding-3-small", nil)

	wantRefused := func(what string, status int, p capProblem, location, mention string) {
		t.Helper()
		if status != 422 || !strings.Contains(p.Detail, mention) ||
			!slices.ContainsFunc(p.Errors, func(e struct {
				Location string `json:"location"`
			}) bool {
				return e.Location == location
			}) {
			t.Errorf("%s: %d %+v, want 422 (invalid, as every admin validation error) at %s mentioning %q", what, status, p, location, mention)
		}
	}
	var p capProblem
	st := s.admin(t, "POST", "/models/emb/routes", map[string]any{"provider": "claude", "upstream_model": "c"}, &p)
	wantRefused("anthropic route to an embeddings model", st, p, "body.provider", `provider "claude" (anthropic) cannot serve`)
	p = capProblem{}
	st = s.admin(t, "PATCH", "/models/chat", map[string]any{"capabilities": []string{"chat", "images"}}, &p)
	wantRefused("images on an anthropic-routed model", st, p, "body.capabilities", "images")
	p = capProblem{}
	st = s.admin(t, "PATCH", "/models/emb", map[string]any{"capabilities": []string{"embeddings", "embeddings"}}, &p)
	wantRefused("a repeated capability", st, p, "body.capabilities", "twice")
	if st := s.admin(t, "POST", "/models", map[string]any{"name": "bad", "capabilities": []string{"audio"}}, nil); st/100 != 4 {
		t.Errorf("unknown capability: %d, want a 4xx", st)
	}

	// The embeddings model's provider cannot become an Anthropic one.
	p = capProblem{}
	st = s.admin(t, "PATCH", "/providers/oai", map[string]any{"kind": "anthropic", "keys": []map[string]any{{"secret": "sk-ant-replacement"}}}, &p)
	wantRefused("kind change under an embeddings model", st, p, "body.kind", `model "emb" serves embeddings`)
	var prov struct {
		Kind string `json:"kind"`
	}
	s.mustAdmin(t, 200, "GET", "/providers/oai", nil, &prov)
	if prov.Kind != "openai_compatible" {
		t.Errorf("a refused kind change left kind %q", prov.Kind)
	}

	var got modelDTO
	s.mustAdmin(t, 200, "GET", "/models/chat", nil, &got)
	if !slices.Equal(got.Capabilities, []string{"chat"}) {
		t.Errorf("a refused update changed capabilities to %v", got.Capabilities)
	}
	s.mustAdmin(t, 200, "PATCH", "/models/emb", map[string]any{"capabilities": []string{"embeddings", "chat"}}, &got)
	if !slices.Equal(got.Capabilities, []string{"embeddings", "chat"}) {
		t.Errorf("updated to %v, want [embeddings chat]", got.Capabilities)
	}
	s.mustAdmin(t, 200, "GET", "/models/emb", nil, &got)
	if !slices.Equal(got.Capabilities, []string{"embeddings", "chat"}) {
		t.Errorf("read back %v, want [embeddings chat]", got.Capabilities)
	}

	tok := s.clientKey(t, "app")
	var list struct {
		Data []struct {
			ID           string   `json:"id"`
			Capabilities []string `json:"capabilities"`
		} `json:"data"`
	}
	if st := s.do(t, "GET", "/v1/models", tok, nil, &list); st != 200 || len(list.Data) != 2 {
		t.Fatalf("/v1/models: %d %+v", st, list)
	}
	want := map[string][]string{"chat": {"chat"}, "emb": {"embeddings", "chat"}}
	for _, m := range list.Data {
		if !slices.Equal(m.Capabilities, want[m.ID]) {
			t.Errorf("/v1/models %s: capabilities %v, want %v", m.ID, m.Capabilities, want[m.ID])
		}
	}
	var one struct {
		Capabilities []string `json:"capabilities"`
	}
	if st := s.do(t, "GET", "/v1/models/emb", tok, nil, &one); st != 200 || !slices.Equal(one.Capabilities, want["emb"]) {
		t.Errorf("/v1/models/emb: %d %v", st, one.Capabilities)
	}
}
