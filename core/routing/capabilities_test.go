package routing

import (
	"slices"
	"testing"

	"github.com/airouter/airouter/core/domain"
)

// TestListModelsCapabilities: ListModels reports what each model declares
// and one of its usable routes' providers can serve, in declared order, and
// leaves out a model that none of its usable routes can serve.
func TestListModelsCapabilities(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{})
	c := standard(3, domain.StrategyAuto, "")
	c.Providers[1].Kind = domain.KindAnthropic // p2
	c.Providers[2].Kind = domain.KindAnthropic // p3
	c.Models = append(c.Models,
		// Over OpenAI and Anthropic: all it declares.
		domain.Model{ID: 2, Name: "all", Enabled: true, Routes: []domain.Route{rte(21, 1), rte(22, 2)},
			Capabilities: []domain.Capability{domain.CapImages, domain.CapChat, domain.CapEmbeddings}},
		// Anthropic only: chat, not images.
		domain.Model{ID: 3, Name: "half", Enabled: true, Routes: []domain.Route{rte(31, 2)},
			Capabilities: []domain.Capability{domain.CapImages, domain.CapChat}},
		// Embeddings over Anthropic only (its provider's kind changed after
		// the model was configured): nothing it can serve.
		domain.Model{ID: 4, Name: "stranded", Enabled: true, Routes: []domain.Route{rte(41, 3)},
			Capabilities: []domain.Capability{domain.CapEmbeddings}},
		// Embeddings whose OpenAI route is disabled, Anthropic one not.
		domain.Model{ID: 5, Name: "unusable", Enabled: true, Routes: []domain.Route{func() domain.Route {
			r := rte(51, 1)
			r.Enabled = false
			return r
		}(), rte(52, 2)}, Capabilities: []domain.Capability{domain.CapEmbeddings}},
	)
	f.cfg = c
	f.update()
	want := map[string][]domain.Capability{
		"all":  {domain.CapImages, domain.CapChat, domain.CapEmbeddings},
		"half": {domain.CapChat},
		"m":    {domain.CapChat}, // declares none: chat
	}
	got := f.r.ListModels()
	if len(got) != len(want) {
		t.Fatalf("ListModels %+v, want %v", got, want)
	}
	for _, m := range got {
		if !slices.Equal(m.Capabilities, want[m.Name]) {
			t.Errorf("%s: capabilities %v, want %v", m.Name, m.Capabilities, want[m.Name])
		}
	}
	// The routing model carries the declared capabilities for request-time
	// checks.
	if !f.model("stranded").Domain().Serves(domain.CapEmbeddings) || f.model("stranded").Domain().Serves(domain.CapChat) {
		t.Errorf("stranded model's Serves: %v", f.model("stranded").Domain().Capabilities)
	}
}
