package main

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	"github.com/airouter/airouter/cmd/mockllm/mock"
)

// TestE2EResponsesOpenAIGo drives POST /v1/responses with openai-go through
// an OpenAI-compatible and an Anthropic upstream (both on the translated
// path): create, stream, a three-turn previous_response_id chain, a
// function call answered by function_call_output, GET and DELETE, another
// key's 404, store:false, and the request log with tokens and cost.
func TestE2EResponsesOpenAIGo(t *testing.T) {
	t.Parallel()
	s, oa, an := startTwoKinds(t)
	tok := s.clientKey(t, "sdk")
	other := s.clientKey(t, "other")
	client := openai.NewClient(option.WithAPIKey(tok), option.WithBaseURL(s.URL+"/v1"), option.WithMaxRetries(0))
	otherClient := openai.NewClient(option.WithAPIKey(other), option.WithBaseURL(s.URL+"/v1"), option.WithMaxRetries(0))
	ctx := context.Background()
	tools := []responses.ToolUnionParam{responses.ToolParamOfFunction("get_weather", map[string]any{
		"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}, "required": []string{"city"},
		"additionalProperties": false}, true)}

	for _, tc := range []struct {
		model string
		up    *upstream
	}{{"gpt", oa}, {"claude", an}} {
		t.Run(tc.model, func(t *testing.T) {
			// A three-turn chain, the middle turn streamed.
			first, err := client.Responses.New(ctx, responses.ResponseNewParams{
				Model: tc.model, Instructions: openai.String("Be brief."),
				Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Remember the word PELICAN.")},
			})
			if err != nil {
				t.Fatal(err)
			}
			if first.Status != "completed" || first.OutputText() == "" || first.Usage.TotalTokens == 0 || !strings.HasPrefix(first.ID, "resp_") {
				t.Fatalf("first: %s", first.RawJSON())
			}
			second := collectStream(t, client.Responses.NewStreaming(ctx, responses.ResponseNewParams{
				Model: tc.model, PreviousResponseID: openai.String(first.ID),
				Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("And the word OSPREY.")},
			}))
			if second.Status != "completed" || second.OutputText() == "" || second.PreviousResponseID != first.ID || second.Usage.TotalTokens == 0 {
				t.Fatalf("second: %s", second.RawJSON())
			}
			third, err := client.Responses.New(ctx, responses.ResponseNewParams{
				Model: tc.model, PreviousResponseID: openai.String(second.ID),
				Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Which words?")},
			})
			if err != nil {
				t.Fatal(err)
			}
			if third.OutputText() == "" {
				t.Fatalf("third: %s", third.RawJSON())
			}
			// The upstream saw the whole history in the third call.
			tc.up.mu.Lock()
			last := string(tc.up.bodies[len(tc.up.bodies)-1])
			tc.up.mu.Unlock()
			for _, want := range []string{"PELICAN", "OSPREY", "Which words?", first.OutputText(), second.OutputText()} {
				if !strings.Contains(last, want) {
					t.Errorf("third upstream body lacks %q: %s", want, last)
				}
			}

			// Function calling, answered by a function_call_output turn.
			call, err := client.Responses.New(ctx, responses.ResponseNewParams{
				Model: tc.model, Tools: tools,
				Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Weather in Paris?")},
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(call.Output) != 1 || call.Output[0].Type != "function_call" {
				t.Fatalf("tool turn: %s", call.RawJSON())
			}
			fc := call.Output[0].AsFunctionCall()
			if fc.Name != "get_weather" || fc.CallID == "" {
				t.Fatalf("function call: %+v", fc)
			}
			out := responses.ResponseInputItemParamOfFunctionCallOutput(`{"sky":"clear"}`)
			out.OfFunctionCallOutput.CallID = openai.String(fc.CallID)
			answer := collectStream(t, client.Responses.NewStreaming(ctx, responses.ResponseNewParams{
				Model: tc.model, Tools: tools, PreviousResponseID: openai.String(call.ID),
				Input: responses.ResponseNewParamsInputUnion{OfInputItemList: responses.ResponseInputParam{out}},
			}))
			if answer.OutputText() == "" {
				t.Fatalf("answer: %s", answer.RawJSON())
			}
			tc.up.mu.Lock()
			last = string(tc.up.bodies[len(tc.up.bodies)-1])
			tc.up.mu.Unlock()
			if !strings.Contains(last, fc.CallID) || !strings.Contains(last, `sky`) {
				t.Errorf("tool result not sent upstream: %s", last)
			}

			// GET, another key's 404, DELETE.
			got, err := client.Responses.Get(ctx, second.ID, responses.ResponseGetParams{})
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != second.ID || got.OutputText() != second.OutputText() {
				t.Fatalf("get: %s", got.RawJSON())
			}
			if _, err := otherClient.Responses.Get(ctx, second.ID, responses.ResponseGetParams{}); statusOf(err) != 404 {
				t.Fatalf("other key's get: %v", err)
			}
			if err := otherClient.Responses.Delete(ctx, second.ID); statusOf(err) != 404 {
				t.Fatalf("other key's delete: %v", err)
			}
			if _, err := otherClient.Responses.New(ctx, responses.ResponseNewParams{
				Model: tc.model, PreviousResponseID: openai.String(second.ID),
				Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Hi")},
			}); statusOf(err) != 404 {
				t.Fatalf("other key's previous_response_id: %v", err)
			}
			if err := client.Responses.Delete(ctx, second.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := client.Responses.Get(ctx, second.ID, responses.ResponseGetParams{}); statusOf(err) != 404 {
				t.Fatalf("get after delete: %v", err)
			}

			// store:false is answered but not kept.
			nostore, err := client.Responses.New(ctx, responses.ResponseNewParams{
				Model: tc.model, Store: openai.Bool(false),
				Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Hi")},
			})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := client.Responses.Get(ctx, nostore.ID, responses.ResponseGetParams{}); statusOf(err) != 404 {
				t.Fatalf("store:false retrievable: %v", err)
			}
		})
	}

	// Errors keep OpenAI's envelope: an unknown model and a built-in tool.
	_, err := client.Responses.New(ctx, responses.ResponseNewParams{Model: "nope",
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Hi")}})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || apiErr.Code != "model_not_found" {
		t.Fatalf("unknown model: %v", err)
	}
	_, err = client.Responses.New(ctx, responses.ResponseNewParams{Model: "gpt",
		Tools: []responses.ToolUnionParam{{OfWebSearch: &responses.WebSearchToolParam{Type: responses.WebSearchToolTypeWebSearch}}},
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Hi")}})
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 {
		t.Fatalf("web_search tool: %v", err)
	}

	// Every served request has its request-log row with tokens and cost.
	s.waitRequestLog(t, "/requests?limit=100", func(rows []logRow) bool {
		served := 0
		for _, l := range rows {
			if l.Status == 200 && (l.Model == "gpt" || l.Model == "claude") {
				served++
				if l.PromptTokens == 0 || l.CompletionTokens == 0 || l.Cost <= 0 {
					t.Fatalf("request-log row without usage: %+v", l)
				}
			}
		}
		return served == 12
	})
}

func collectStream(t *testing.T, s interface {
	Next() bool
	Current() responses.ResponseStreamEventUnion
	Err() error
}) *responses.Response {
	t.Helper()
	var final *responses.Response
	var text strings.Builder
	for s.Next() {
		ev := s.Current()
		switch ev.Type {
		case "response.output_text.delta":
			text.WriteString(ev.Delta)
		case "response.completed":
			r := ev.Response
			final = &r
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	if final == nil {
		t.Fatal("no response.completed event")
	}
	if final.OutputText() != text.String() {
		t.Errorf("deltas %q, final text %q", text.String(), final.OutputText())
	}
	return final
}

func statusOf(err error) int {
	var apiErr *openai.Error
	if errors.As(err, &apiErr) {
		return apiErr.StatusCode
	}
	if err == nil {
		return http.StatusOK
	}
	return -1
}

// TestE2EResponsesFailover: a failing first route is left for the next one
// before the first byte, for JSON and streamed responses alike.
func TestE2EResponsesFailover(t *testing.T) {
	t.Parallel()
	bad := newUpstream(t, mock.Config{Tokens: 5})
	bad.failStatus.Store(500)
	good := newUpstream(t, mock.Config{Tokens: 5})
	s := startServer(t, serverOpts{})
	s.setupProvider(t, "bad", "openai_compatible", bad.URL+"/v1", nil)
	s.setupProvider(t, "good", "anthropic", good.URL, nil)
	s.setupModel(t, "fo", "fallback", nil)
	s.addRoute(t, "fo", "bad", "m", map[string]any{"priority": 0})
	s.addRoute(t, "fo", "good", "m", map[string]any{"priority": 1})
	client := openai.NewClient(option.WithAPIKey(s.clientKey(t, "fo")), option.WithBaseURL(s.URL+"/v1"), option.WithMaxRetries(0))
	ctx := context.Background()
	params := responses.ResponseNewParams{Model: "fo", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Hi")}}
	var hdr *http.Response
	r, err := client.Responses.New(ctx, params, option.WithResponseInto(&hdr))
	if err != nil {
		t.Fatal(err)
	}
	if r.OutputText() == "" || hdr.Header.Get("X-Airouter-Provider") != "good" {
		t.Fatalf("served by %q: %s", hdr.Header.Get("X-Airouter-Provider"), r.RawJSON())
	}
	if st := collectStream(t, client.Responses.NewStreaming(ctx, params)); st.OutputText() == "" {
		t.Fatalf("stream: %s", st.RawJSON())
	}
	if bad.requests.Load() < 2 || good.requests.Load() != 2 {
		t.Fatalf("upstream calls: bad %d, good %d", bad.requests.Load(), good.requests.Load())
	}
}
