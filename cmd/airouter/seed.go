package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/core/gateway"
	"github.com/airouter/airouter/core/routing"
)

// runSeedDemo creates, idempotently, what a new user needs to try the router
// without any API key: providers pointing at the bundled mock upstream (one
// speaking OpenAI's format, one Anthropic's), a model routed to both, and a
// client key whose token is kept in a local file and printed; and an
// embeddings model, demo-embed, routed to the OpenAI-format provider.
func runSeedDemo(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("seed-demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	mockURL := fs.String("mock-url", "http://127.0.0.1:9099", "base URL of the mock upstream (cmd/mockllm)")
	tokenFile := fs.String("token-file", ".dev/demo.token", "file that keeps the demo client token")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	d, err := openCommandDeps(ctx, getenv, stderr)
	if err != nil {
		return err
	}
	defer d.pool.Close()
	s := d.store
	base := strings.TrimRight(*mockURL, "/")

	ensureProvider := func(p domain.Provider, secret string) (domain.Provider, error) {
		if err := p.Validate(); err != nil {
			return p, err
		}
		got, err := s.GetProviderByName(ctx, p.Name)
		if err == nil {
			if got.BaseURL != p.BaseURL {
				return s.UpdateProvider(ctx, got.ID, func(x *domain.Provider) error { x.BaseURL = p.BaseURL; return nil })
			}
			return got, nil
		}
		if domain.ErrorCode(err) != domain.CodeNotFound {
			return p, err
		}
		if got, err = s.CreateProvider(ctx, p); err != nil {
			return got, err
		}
		if _, err := s.AddKey(ctx, domain.ProviderKey{ProviderID: got.ID, Name: "demo", Secret: secret, Weight: 1, Status: domain.KeyActive}); err != nil {
			return got, err
		}
		fmt.Fprintf(stdout, "created provider %s (%s) at %s\n", got.Name, got.Kind, got.BaseURL)
		return got, nil
	}
	oa, err := ensureProvider(domain.Provider{Name: "demo-openai", Kind: domain.KindOpenAICompatible, BaseURL: base + "/v1", Enabled: true}, "sk-demo-openai-0000")
	if err != nil {
		return fmt.Errorf("seed provider demo-openai: %w", err)
	}
	an, err := ensureProvider(domain.Provider{Name: "demo-anthropic", Kind: domain.KindAnthropic, BaseURL: base, Enabled: true}, "sk-ant-demo-0000")
	if err != nil {
		return fmt.Errorf("seed provider demo-anthropic: %w", err)
	}
	// ensureModel creates m with routes unless a model of its name exists;
	// it checks m and that each route's provider serves what m declares,
	// as the admin API does.
	ensureModel := func(m domain.Model, routes []domain.Route, providers ...domain.Provider) error {
		if err := m.Validate(routing.ValidateStrategyConfig); err != nil {
			return err
		}
		for _, p := range providers {
			if err := m.ValidateProvider("capabilities", p); err != nil {
				return err
			}
		}
		_, err := s.GetModelByName(ctx, m.Name)
		if err == nil || domain.ErrorCode(err) != domain.CodeNotFound {
			return err
		}
		if m, err = s.CreateModel(ctx, m); err != nil {
			return err
		}
		names := make([]string, len(providers))
		for i, r := range routes {
			r.ModelID = m.ID
			if _, err := s.CreateRoute(ctx, r); err != nil {
				return err
			}
			names[i] = providers[i].Name
		}
		fmt.Fprintf(stdout, "created model %s (serves %v) with routes to %s\n", m.Name, m.Capabilities, strings.Join(names, " and "))
		return nil
	}
	err = ensureModel(domain.Model{Name: "demo", Strategy: domain.StrategyAuto, StrategyConfig: json.RawMessage("{}"), Enabled: true,
		ContextWindow: 128000, DefaultMaxTokens: 1024, Capabilities: []domain.Capability{domain.CapChat}},
		[]domain.Route{
			{ProviderID: oa.ID, UpstreamModel: "mock-gpt", Weight: 1, InputPrice: 0.15, OutputPrice: 0.6, Enabled: true},
			{ProviderID: an.ID, UpstreamModel: "mock-claude", Weight: 1, Priority: 1, InputPrice: 0.8, OutputPrice: 4, Enabled: true},
		}, oa, an)
	if err != nil {
		return fmt.Errorf("seed model demo: %w", err)
	}
	// Embeddings go to the OpenAI-compatible provider only: Anthropic has
	// no embeddings API.
	err = ensureModel(domain.Model{Name: "demo-embed", Enabled: true, Capabilities: []domain.Capability{domain.CapEmbeddings}},
		[]domain.Route{{ProviderID: oa.ID, UpstreamModel: "text-embedding-3-small", Weight: 1, InputPrice: 0.02, Enabled: true}}, oa)
	if err != nil {
		return fmt.Errorf("seed model demo-embed: %w", err)
	}

	token := ""
	if b, err := os.ReadFile(*tokenFile); err == nil {
		token = strings.TrimSpace(string(b))
	}
	if token != "" {
		h := sha256.Sum256([]byte(token))
		keys, err := s.ListClientKeys(ctx)
		if err != nil {
			return err
		}
		found := false
		for _, k := range keys {
			if string(k.Hash) == string(h[:]) && k.Enabled {
				found = true
			}
		}
		if !found {
			token = ""
		}
	}
	if token == "" {
		if token, err = gateway.NewClientToken(); err != nil {
			return err
		}
		name := "demo"
		for i := 2; ; i++ {
			_, err = s.CreateClientKey(ctx, gateway.ClientKeyFor(name, token))
			if err == nil || domain.ErrorCode(err) != domain.CodeConflict {
				break
			}
			name = fmt.Sprintf("demo-%d", i)
		}
		if err != nil {
			return fmt.Errorf("seed client key: %w", err)
		}
		if err := os.WriteFile(*tokenFile, []byte(token+"\n"), 0o600); err != nil {
			return fmt.Errorf("keep the demo token: %w", err)
		}
	}
	fmt.Fprintf(stdout, "demo client key: %s\n", token)
	return nil
}
