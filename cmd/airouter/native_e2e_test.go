package main

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	"github.com/airouter/airouter/cmd/mockllm/mock"
)

// TestE2EEmbeddingsOpenAIGo drives POST /v1/embeddings with openai-go: a
// model that declares embeddings over two OpenAI-compatible upstreams fails
// over from the broken first to the second, the body reaches the upstream
// with only its model changed, and usage reaches the request log; a chat
// model is refused with a 400 naming model, and an Anthropic route cannot
// join an embeddings model.
func TestE2EEmbeddingsOpenAIGo(t *testing.T) {
	t.Parallel()
	bad := newUpstream(t, mock.Config{})
	good := newUpstream(t, mock.Config{})
	an := newUpstream(t, mock.Config{})
	s := startServer(t, serverOpts{})
	s.setupProvider(t, "bad", "openai_compatible", bad.URL+"/v1", nil)
	s.setupProvider(t, "good", "openai_compatible", good.URL+"/v1", nil)
	s.setupProvider(t, "an", "anthropic", an.URL, nil)
	s.mustAdmin(t, 201, "POST", "/models", map[string]any{"name": "embed", "strategy": "fallback", "capabilities": []string{"embeddings"}}, nil)
	s.addRoute(t, "embed", "bad", "text-embedding-3-small", map[string]any{"priority": 0, "input_price": 0.02})
	s.addRoute(t, "embed", "good", "text-embedding-3-small", map[string]any{"priority": 1, "input_price": 0.02})
	s.mustAdmin(t, 422, "POST", "/models/embed/routes", map[string]any{"provider": "an", "upstream_model": "claude"}, nil)
	s.setupModel(t, "chat", "", nil)
	s.addRoute(t, "chat", "good", "mock-gpt", nil)
	bad.failStatus.Store(503)

	tok := s.clientKey(t, "embedder")
	client := openai.NewClient(option.WithAPIKey(tok), option.WithBaseURL(s.URL+"/v1"), option.WithMaxRetries(0))
	ctx := context.Background()
	res, err := client.Embeddings.New(ctx, openai.EmbeddingNewParams{
		Model:      "embed",
		Input:      openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"first text", "second text"}},
		Dimensions: openai.Int(8),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Data) != 2 || len(res.Data[0].Embedding) != 8 || res.Data[1].Index != 1 || res.Usage.PromptTokens == 0 {
		t.Fatalf("embeddings: %s", res.RawJSON())
	}
	var sent map[string]any
	if err := json.Unmarshal([]byte(string(good.lastBody())), &sent); err != nil {
		t.Fatal(err)
	}
	if sent["model"] != "text-embedding-3-small" || sent["dimensions"] != float64(8) || len(sent["input"].([]any)) != 2 {
		t.Fatalf("upstream body %s", string(good.lastBody()))
	}
	// Base64 answers pass through as the upstream sent them.
	raw, err := client.Embeddings.New(ctx, openai.EmbeddingNewParams{Model: "embed",
		Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("x")}, EncodingFormat: openai.EmbeddingNewParamsEncodingFormatBase64})
	if err != nil || len(raw.Data) != 1 {
		t.Fatalf("base64: %v", err)
	}

	_, err = client.Embeddings.New(ctx, openai.EmbeddingNewParams{Model: "chat", Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("x")}})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Param != "model" || !strings.Contains(apiErr.Message, "does not serve embeddings") {
		t.Fatalf("chat model: %v", err)
	}
	_, err = client.Embeddings.New(ctx, openai.EmbeddingNewParams{Model: "embed", Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{}}})
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Param != "input" {
		t.Fatalf("empty input: %v", err)
	}

	// /v1/models tells what each model serves.
	page, err := client.Models.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	caps := map[string]string{}
	for _, m := range page.Data {
		caps[m.ID] = m.JSON.ExtraFields["capabilities"].Raw()
	}
	if caps["embed"] != `["embeddings"]` || caps["chat"] != `["chat"]` {
		t.Fatalf("capabilities %v", caps)
	}

	// The request log has the served requests with their usage and cost.
	s.waitRequestLog(t, "/requests?limit=100", func(rows []logRow) bool {
		served := 0
		for _, l := range rows {
			if l.Model == "embed" && l.Status == 200 {
				served++
				if l.PromptTokens == 0 || l.Cost <= 0 || l.Attempts < 1 {
					t.Fatalf("row %+v", l)
				}
			}
		}
		return served == 2
	})
}

// TestE2EResponsesNativeOnOpenAI drives /v1/responses with openai-go over a
// provider of kind openai: the request reaches the upstream's /responses
// in its own format (not as a chat completion), a chain continues from the
// router's store with the history as input, and streams pass the upstream's
// events through.
func TestE2EResponsesNativeOnOpenAI(t *testing.T) {
	t.Parallel()
	up := newUpstream(t, mock.Config{Tokens: 8})
	s := startServer(t, serverOpts{})
	s.setupProvider(t, "openai", "openai", up.URL+"/v1", nil)
	s.setupModel(t, "gpt", "", nil)
	s.addRoute(t, "gpt", "openai", "gpt-5-mini", map[string]any{"input_price": 1, "output_price": 2})
	tok := s.clientKey(t, "codex")
	client := openai.NewClient(option.WithAPIKey(tok), option.WithBaseURL(s.URL+"/v1"), option.WithMaxRetries(0))
	ctx := context.Background()

	first, err := client.Responses.New(ctx, responses.ResponseNewParams{Model: "gpt",
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Remember PELICAN.")}})
	if err != nil {
		t.Fatal(err)
	}
	body := string(up.lastBody())
	if first.OutputText() == "" || first.Usage.TotalTokens == 0 || !strings.Contains(body, `"input":"Remember PELICAN."`) ||
		!strings.Contains(body, `"model":"gpt-5-mini"`) || strings.Contains(body, `"messages"`) {
		t.Fatalf("first: %s; upstream got %s", first.RawJSON(), body)
	}
	second := collectStream(t, client.Responses.NewStreaming(ctx, responses.ResponseNewParams{Model: "gpt",
		PreviousResponseID: openai.String(first.ID),
		Input:              responses.ResponseNewParamsInputUnion{OfString: openai.String("And OSPREY.")}}))
	body = string(up.lastBody())
	if second.OutputText() == "" || second.PreviousResponseID != first.ID || strings.Contains(body, "previous_response_id") || !strings.Contains(body, "PELICAN") ||
		!strings.Contains(body, "OSPREY") || !strings.Contains(body, `"stream":true`) {
		t.Fatalf("second: %s; upstream got %s", second.RawJSON(), body)
	}
	// Both are in the router's store, for this key.
	for _, id := range []string{first.ID, second.ID} {
		if got, err := client.Responses.Get(ctx, id, responses.ResponseGetParams{}); err != nil || got.OutputText() == "" {
			t.Fatalf("get %s: %v", id, err)
		}
	}
}
