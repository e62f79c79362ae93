// Package ports declares the small, role-named interfaces between the core and
// the adapters. The core depends only on these; each adapter asserts that it
// implements them with `var _ ports.X = (*Y)(nil)`.
package ports

import (
	"context"
	"time"

	"github.com/airouter/airouter/core/domain"
)

// Target is where one upstream attempt goes: the provider's model and the key
// the core picked for it.
type Target struct {
	Model            string // the upstream model name (or Ark endpoint ID)
	Key              string // the plaintext key; empty for keyless OpenAI-compatible servers
	DefaultMaxTokens int    // the model's default, for upstreams that require max_tokens
	// CapMaxTokens, when > 0, is the completion bound the core reserved for
	// a request that set none (a client key with a token or budget limit):
	// the adapter must send it upstream so the reservation holds.
	CapMaxTokens int
}

// ProviderClient talks to one provider. Implementations own one tuned HTTP
// transport, never retry (the core is the only retry loop), and return
// failures as *domain.UpstreamError. A key never appears in an error.
type ProviderClient interface {
	// Chat makes a non-streaming call.
	Chat(ctx context.Context, t Target, req *domain.ChatRequest) (*domain.ChatResponse, error)
	// ChatStream makes a streaming call. It returns once the upstream accepted
	// the request (status 200); errors before that are returned here. The
	// stream asks the upstream for usage where it can, and yields it as a
	// final chunk with no choices; the caller drops it if its client did not
	// ask for usage.
	ChatStream(ctx context.Context, t Target, req *domain.ChatRequest) (ChatStream, error)
	// Probe makes the cheapest authenticated call the provider offers, to
	// check health and validate a key. t.Model may be empty.
	Probe(ctx context.Context, t Target) error
	// Close releases idle connections.
	Close()
}

// ChatStream is a stream of OpenAI-shaped chunks.
type ChatStream interface {
	// Next returns the next chunk, io.EOF after a clean end, or an error (an
	// *domain.UpstreamError for upstream failures, idle timeouts and streams
	// cut short). A chunk (its Raw included) is valid only until the next
	// call: implementations may reuse it.
	Next() (*domain.ChatChunk, error)
	// Ready reports whether Next will return without waiting for the
	// upstream (a chunk is already buffered); false when it cannot tell. A
	// writer flushes only when it is false, so chunks that arrived together
	// leave together.
	Ready() bool
	// Close ends the stream and releases its connection; safe to call twice.
	Close() error
}

// ProviderFactory builds a client for a provider's configuration.
type ProviderFactory interface {
	NewClient(p domain.Provider) (ProviderClient, error)
}

// ProviderFactoryFunc adapts a function to ProviderFactory.
type ProviderFactoryFunc func(p domain.Provider) (ProviderClient, error)

// NewClient calls f.
func (f ProviderFactoryFunc) NewClient(p domain.Provider) (ProviderClient, error) { return f(p) }

// SecretBox seals and opens provider keys. The associated data binds a sealed
// secret to its row, so a ciphertext copied to another row does not open.
type SecretBox interface {
	Seal(plaintext, associatedData []byte) ([]byte, error)
	Open(ciphertext, associatedData []byte) ([]byte, error)
}

// Clock tells the time.
type Clock interface {
	Now() time.Time
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

var _ Clock = SystemClock{}
