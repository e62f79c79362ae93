// Package providers builds provider clients: NewFactory switches on the
// provider's kind to the adapter that speaks its protocol.
//
// Every client implements ports.ProviderClient and answers in OpenAI's Chat
// Completions shape:
//
//   - Chat returns a *domain.ChatResponse whose Raw is the body to send to
//     the client as is: the upstream's own bytes for OpenAI-compatible
//     upstreams (its "model" is the upstream's model name), the translation
//     for Anthropic. The typed fields carry ID, Model, Created and Usage;
//     Choices are filled only for Anthropic (read Raw otherwise).
//   - ChatStream returns a stream whose chunks each carry Raw, the JSON to
//     write after "data: ". The adapters always ask the upstream for usage,
//     so the last chunk before io.EOF is a usage chunk with no choices when
//     the upstream reports usage (OpenAI, Ark, Anthropic, most compatible
//     servers); the gateway drops it unless the client asked for usage.
//     io.EOF stands for the upstream's end marker (data: [DONE], or
//     message_stop); the gateway writes its own [DONE].
//   - Failures are *domain.UpstreamError (class, status, provider message
//     with keys scrubbed, Retry-After capped at a minute, Timeout), and
//     requests that cannot be expressed for the upstream are *domain.Error
//     with CodeInvalid naming the field.
//
// See the openai and anthropic packages for each protocol's details, and
// providertest for the fakes and the contract suite all adapters pass.
package providers

import (
	"github.com/airouter/airouter/adapters/providers/anthropic"
	"github.com/airouter/airouter/adapters/providers/internal/upstream"
	"github.com/airouter/airouter/adapters/providers/openai"
	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/ports"
)

// NewFactory returns the factory of provider clients: kinds openai,
// volcengine and openai_compatible use the openai adapter, anthropic the
// anthropic adapter.
func NewFactory() ports.ProviderFactory {
	return ports.ProviderFactoryFunc(NewClient)
}

// Options configure the clients of NewFactoryWith.
type Options struct {
	// DenyNonPublic refuses connections to loopback, private, link-local
	// (cloud metadata), CGNAT and unspecified addresses, checked at every
	// dial after name resolution (UPSTREAM_ALLOW_PRIVATE=false).
	DenyNonPublic bool
}

// NewFactoryWith is NewFactory with options.
func NewFactoryWith(o Options) ports.ProviderFactory {
	return ports.ProviderFactoryFunc(func(p domain.Provider) (ports.ProviderClient, error) { return newClient(p, o) })
}

// NewClient builds the client of one provider.
func NewClient(p domain.Provider) (ports.ProviderClient, error) { return newClient(p, Options{}) }

func newClient(p domain.Provider, o Options) (ports.ProviderClient, error) {
	switch p.Kind {
	case domain.KindOpenAI, domain.KindVolcengine, domain.KindOpenAICompatible:
		c, err := openai.New(p, upstream.WithDenyNonPublic(o.DenyNonPublic))
		if err != nil {
			return nil, err
		}
		return c, nil
	case domain.KindAnthropic:
		c, err := anthropic.New(p, upstream.WithDenyNonPublic(o.DenyNonPublic))
		if err != nil {
			return nil, err
		}
		return c, nil
	}
	return nil, &domain.Error{Code: domain.CodeInvalid, Field: "kind", Msg: "unknown provider kind " + string(p.Kind)}
}
