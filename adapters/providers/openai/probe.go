package openai

import (
	"context"
	"io"
	"net/http"
	"time"

	"github.com/airouter/airouter/adapters/providers/internal/jsonx"
	"github.com/airouter/airouter/adapters/providers/internal/upstream"
	"github.com/airouter/airouter/core/domain"
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
	a := upstream.Begin(ctx, c.t, t.Key)
	defer a.End()
	resp, err := a.Do(c.rt, c.models.Request(a.Context(), http.MethodGet, c.headers(t.Key, hdrJSON), nil))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return a.ReadError(resp, time.Now(), c.classify)
	}
	a.Receiving()
	_, err = io.Copy(io.Discard, io.LimitReader(a.Body(resp.Body), 8<<20))
	resp.Body.Close()
	if err != nil {
		return a.Fail(err)
	}
	return nil
}

func (c *Client) probeChat(ctx context.Context, t ports.Target) error {
	body := []byte(`{"model":`)
	body = jsonx.AppendString(body, t.Model)
	body = append(body, `,"messages":[{"role":"user","content":"ping"}],"max_tokens":1,"stream":false}`...)
	_, err := c.Chat(ctx, t, &domain.ChatRequest{Model: t.Model, Raw: body})
	return err
}
