// Package providers builds provider clients: NewFactory switches on the
// provider's kind to the adapter that speaks its protocol.
package providers

import (
	"github.com/airouter/airouter/adapters/providers/anthropic"
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

// NewClient builds the client of one provider.
func NewClient(p domain.Provider) (ports.ProviderClient, error) {
	switch p.Kind {
	case domain.KindOpenAI, domain.KindVolcengine, domain.KindOpenAICompatible:
		c, err := openai.New(p)
		if err != nil {
			return nil, err
		}
		return c, nil
	case domain.KindAnthropic:
		c, err := anthropic.New(p)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
	return nil, &domain.Error{Code: domain.CodeInvalid, Field: "kind", Msg: "unknown provider kind " + string(p.Kind)}
}
