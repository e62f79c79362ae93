package main

import (
	"context"
	"errors"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"

	"github.com/airouter/airouter/cmd/mockllm/mock"
)

// TestE2EOpenAIGoSDK drives the router with the official OpenAI Go SDK,
// unchanged: plain, streaming, a tool loop (streamed and not), through both an
// OpenAI-compatible and an Anthropic upstream, and the SDK's error type.
func TestE2EOpenAIGoSDK(t *testing.T) {
	t.Parallel()
	oa := newUpstream(t, mock.Config{Tokens: 12, ToolCall: mock.ToolCallAuto})
	an := newUpstream(t, mock.Config{Tokens: 12, ToolCall: mock.ToolCallAuto})
	s := startServer(t, serverOpts{})
	s.setupProvider(t, "oa", "openai_compatible", oa.URL+"/v1", nil)
	s.setupProvider(t, "an", "anthropic", an.URL, nil)
	s.setupModel(t, "gpt", "", nil)
	s.addRoute(t, "gpt", "oa", "mock-gpt", nil)
	s.setupModel(t, "claude", "", nil)
	s.addRoute(t, "claude", "an", "mock-claude", nil)
	tok := s.clientKey(t, "sdk")
	client := openai.NewClient(option.WithAPIKey(tok), option.WithBaseURL(s.URL+"/v1"), option.WithMaxRetries(0))
	ctx := context.Background()

	models, err := client.Models.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(models.Data) != 2 {
		t.Fatalf("models: %+v", models.Data)
	}

	weather := openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
		Name:        "get_weather",
		Description: openai.String("Current weather of a city"),
		Parameters: shared.FunctionParameters{
			"type":       "object",
			"properties": map[string]any{"city": map[string]any{"type": "string"}},
			"required":   []string{"city"},
		},
	})

	for _, model := range []string{"gpt", "claude"} {
		t.Run(model, func(t *testing.T) {
			// Plain completion.
			c, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
				Model:    model,
				Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("Be brief."), openai.UserMessage("Say hello")},
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Choices) != 1 || c.Choices[0].Message.Content == "" || c.Usage.TotalTokens == 0 {
				t.Fatalf("completion: %+v", c)
			}

			// Streaming with usage.
			stream := client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
				Model:         model,
				Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Stream a story")},
				StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
			})
			acc := openai.ChatCompletionAccumulator{}
			for stream.Next() {
				acc.AddChunk(stream.Current())
			}
			if err := stream.Err(); err != nil {
				t.Fatal(err)
			}
			if acc.Choices[0].Message.Content == "" || acc.Usage.CompletionTokens == 0 {
				t.Fatalf("streamed: %+v", acc.ChatCompletion)
			}

			// A tool loop: the model calls the tool, we answer, it concludes.
			params := openai.ChatCompletionNewParams{
				Model:    model,
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Weather in Paris?")},
				Tools:    []openai.ChatCompletionToolUnionParam{weather},
			}
			c, err = client.Chat.Completions.New(ctx, params)
			if err != nil {
				t.Fatal(err)
			}
			calls := c.Choices[0].Message.ToolCalls
			if len(calls) == 0 || c.Choices[0].FinishReason != "tool_calls" || calls[0].Function.Name == "" {
				t.Fatalf("no tool call: %+v", c.Choices[0])
			}
			params.Messages = append(params.Messages, c.Choices[0].Message.ToParam(), openai.ToolMessage(`{"temp_c":21}`, calls[0].ID))
			c, err = client.Chat.Completions.New(ctx, params)
			if err != nil {
				t.Fatal(err)
			}
			if c.Choices[0].Message.Content == "" || c.Choices[0].FinishReason != "stop" {
				t.Fatalf("after the tool result: %+v", c.Choices[0])
			}

			// The same first turn, streamed: tool-call deltas accumulate.
			stream = client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
				Model:    model,
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Weather in Paris?")},
				Tools:    []openai.ChatCompletionToolUnionParam{weather},
			})
			acc = openai.ChatCompletionAccumulator{}
			var finished bool
			for stream.Next() {
				acc.AddChunk(stream.Current())
				if tc, ok := acc.JustFinishedToolCall(); ok && tc.Name != "" {
					finished = true
				}
			}
			if err := stream.Err(); err != nil {
				t.Fatal(err)
			}
			if !finished || len(acc.Choices[0].Message.ToolCalls) == 0 || acc.Choices[0].Message.ToolCalls[0].Function.Arguments == "" {
				t.Fatalf("streamed tool call: %+v", acc.Choices[0].Message)
			}
		})
	}

	// Errors come back as the SDK's own error type.
	_, err = client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "missing", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("x")}})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || apiErr.Code != "model_not_found" {
		t.Fatalf("error: %v", err)
	}
}
