package providers_test

import (
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
