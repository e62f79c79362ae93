package openai

import (
	"context"
	"net/http"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/core/jsonx"
	"github.com/airouter/airouter/ports"
)

// Probe makes the cheapest authenticated call:
//
//   - openai: GET {base}/models, which costs no tokens and checks the key.
//   - volcengine: a chat completion of at most one token with t.Model (an
//     endpoint ID or model name). Ark's data-plane API documents no model
//     listing for API keys, and the chat call also checks that the key may
//     use the endpoint. Without t.Model it falls back to GET {base}/models.
//   - openai_compatible: GET {base}/models (vLLM, Ollama, LM Studio and
//     llama.cpp all serve it); if the server has no such route (404, 405)
//     and t.Model is set, a one-token chat completion.
func (c *Client) Probe(ctx context.Context, t ports.Target) error {
	if c.kind == domain.KindVolcengine && t.Model != "" {
		return c.probeChat(ctx, t)
	}
	err := c.probeModels(ctx, t)
	if ue, ok := err.(*domain.UpstreamError); ok && c.kind == domain.KindOpenAICompatible && t.Model != "" &&
		(ue.Status == http.StatusNotFound || ue.Status == http.StatusMethodNotAllowed) {
		return c.probeChat(ctx, t)
	}
	return err
}

func (c *Client) probeModels(ctx context.Context, t ports.Target) error {
	return c.up.Probe(ctx, c.models, t.Key, 8<<20)
}

func (c *Client) probeChat(ctx context.Context, t ports.Target) error {
	body := []byte(`{"model":`)
	body = jsonx.AppendString(body, t.Model)
	body = append(body, `,"messages":[{"role":"user","content":"ping"}],"max_tokens":1,"stream":false}`...)
	_, err := c.Chat(ctx, t, &domain.ChatRequest{Model: t.Model, Raw: body})
	return err
}
