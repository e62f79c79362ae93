package providers_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/airouter/airouter/adapters/providers"
	"github.com/airouter/airouter/adapters/providers/providertest"
	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/ports"
)

// TestContract runs the shared contract suite against every adapter, built
// through the factory, each against a fake upstream speaking its protocol.
func TestContract(t *testing.T) {
	f := providers.NewFactory()
	newClient := func(p domain.Provider) (ports.ProviderClient, error) { return f.NewClient(p) }
	for _, s := range []providertest.Subject{
		{Kind: domain.KindOpenAI, Wire: providertest.WireOpenAI, New: newClient},
		{Kind: domain.KindVolcengine, Wire: providertest.WireArk, New: newClient},
		{Kind: domain.KindOpenAICompatible, Wire: providertest.WireOpenAI, Keyless: true, New: newClient},
		{Kind: domain.KindAnthropic, Wire: providertest.WireAnthropic, New: newClient},
	} {
		t.Run(string(s.Kind), func(t *testing.T) {
			t.Parallel()
			providertest.Run(t, s)
		})
	}
}

func TestFactoryRejects(t *testing.T) {
	f := providers.NewFactory()
	for _, p := range []domain.Provider{
		{Kind: "gemini"},
		{Kind: domain.KindOpenAICompatible}, // no base URL
		{Kind: domain.KindOpenAI, BaseURL: "ftp://x"},
		{Kind: domain.KindOpenAI, Headers: map[string]string{"Content-Length": "1"}},
		{Kind: domain.KindAnthropic, Headers: map[string]string{"Bad Header": "1"}},
	} {
		c, err := f.NewClient(p)
		if err == nil || c != nil {
			t.Errorf("%+v: accepted", p)
		}
		if domain.ErrorCode(err) != domain.CodeInvalid {
			t.Errorf("%+v: %v", p, err)
		}
	}
}

// TestFactoryDenyNonPublic: Options.DenyNonPublic reaches every adapter: a
// probe of a loopback upstream fails before any request is sent, and
// succeeds without the option.
func TestFactoryDenyNonPublic(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte(`{"object":"list","data":[]}`))
	}))
	defer srv.Close()
	for _, kind := range []domain.ProviderKind{domain.KindOpenAICompatible, domain.KindAnthropic} {
		for _, deny := range []bool{true, false} {
			c, err := providers.NewFactoryWith(providers.Options{DenyNonPublic: deny}).NewClient(domain.Provider{Kind: kind, BaseURL: srv.URL})
			if err != nil {
				t.Fatalf("%s: %v", kind, err)
			}
			before := hits.Load()
			err = c.Probe(context.Background(), ports.Target{Key: "k"})
			switch {
			case deny && (err == nil || hits.Load() != before):
				t.Errorf("%s, deny: probe %v, %d requests reached the upstream", kind, err, hits.Load()-before)
			case !deny && err != nil:
				t.Errorf("%s, allow: %v", kind, err)
			}
			c.Close()
		}
	}
}
