package domain

// Capability is a kind of work a model serves: what its front doors may
// send to it. A model declares its capabilities; /v1/models and routing
// offer it only where it works.
type Capability string

// The capabilities.
const (
	CapChat       Capability = "chat"       // chat completions, Messages, Responses
	CapEmbeddings Capability = "embeddings" // POST /v1/embeddings
	CapImages     Capability = "images"     // POST /v1/images/generations
)

// Capabilities lists every capability.
var Capabilities = []Capability{CapChat, CapEmbeddings, CapImages}

// Valid reports whether c is a known capability.
func (c Capability) Valid() bool {
	for _, v := range Capabilities {
		if c == v {
			return true
		}
	}
	return false
}

// KindServes reports whether a provider of kind k can serve capability c at
// all: Anthropic has no embeddings or image generation API.
func KindServes(k ProviderKind, c Capability) bool {
	if k == KindAnthropic {
		return c == CapChat
	}
	return c.Valid()
}

// Serves reports whether the model declares capability c. A model that
// declares none serves chat only (models made before capabilities existed).
func (m *Model) Serves(c Capability) bool {
	if len(m.Capabilities) == 0 {
		return c == CapChat
	}
	for _, v := range m.Capabilities {
		if v == c {
			return true
		}
	}
	return false
}
