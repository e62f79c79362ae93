package responsesapi

// Turning a decoded request into a chat request.

import (
	"encoding/json"
	"fmt"

	"github.com/airouter/airouter/core/domain"
)

// ChatRequest translates the request (with Input as it is now, so after
// History when continuing a response) into a chat completion request whose
// Raw is OpenAI chat-completions JSON. Streaming requests always ask for
// usage. store, metadata and previous_response_id are the router's business
// and are not sent upstream.
func (r *Request) ChatRequest() (*domain.ChatRequest, error) {
	msgs, err := toMessages(r.Instructions, r.Input)
	if err != nil {
		return nil, err
	}
	p := domain.ChatParams{
		Model: r.Model, Messages: msgs, ToolChoice: r.toolChoice, ParallelToolCalls: r.ParallelToolCalls,
		ResponseFormat: r.responseFormat, Temperature: r.Temperature, TopP: r.TopP, MaxTokens: r.MaxOutputTokens,
		User: r.User, Stream: r.Stream,
	}
	if r.Reasoning != nil && r.Reasoning.Effort != nil {
		p.ReasoningEffort = *r.Reasoning.Effort
	}
	if r.Stream {
		p.StreamOptions = &domain.StreamOptions{IncludeUsage: true}
	}
	for _, t := range r.Tools {
		fd := domain.FunctionDef{Name: t.Name, Parameters: t.Parameters, Strict: t.Strict}
		if t.Description != nil {
			fd.Description = *t.Description
		}
		p.Tools = append(p.Tools, domain.Tool{Type: "function", Function: fd})
	}
	raw, err := json.Marshal(&p)
	if err != nil {
		return nil, err
	}
	out := &domain.ChatRequest{Model: r.Model, Stream: r.Stream, IncludeUsage: r.Stream, Raw: raw}
	if r.MaxOutputTokens != nil {
		out.MaxTokens = *r.MaxOutputTokens
	}
	return out, nil
}

// toMessages turns instructions and items into chat messages: function_call
// items join the assistant message before them (or start one), outputs
// become tool messages, reasoning items are dropped and developer becomes
// system (which every chat upstream accepts).
func toMessages(instructions *string, items []Item) ([]domain.Message, error) {
	var msgs []domain.Message
	if instructions != nil && *instructions != "" {
		msgs = append(msgs, domain.Message{Role: "system", Content: domain.TextContent(*instructions)})
	}
	calls := map[string]bool{}
	// open is the index in msgs of an assistant message that function
	// calls may still join, or -1.
	open := -1
	for i, it := range items {
		path := fmt.Sprintf("input[%d]", i)
		switch it.Type {
		case TypeMessage:
			m, err := chatMessage(it, path)
			if err != nil {
				return nil, err
			}
			msgs = append(msgs, m)
			open = -1
			if m.Role == "assistant" {
				open = len(msgs) - 1
			}
		case TypeFunctionCall:
			args := it.Arguments
			if args == "" {
				args = "{}"
			}
			tc := domain.ToolCall{ID: it.CallID, Type: "function", Function: domain.FunctionCall{Name: it.Name, Arguments: args}}
			if open < 0 {
				msgs = append(msgs, domain.Message{Role: "assistant"})
				open = len(msgs) - 1
			}
			msgs[open].ToolCalls = append(msgs[open].ToolCalls, tc)
			calls[it.CallID] = true
		case TypeFunctionCallOutput:
			if !calls[it.CallID] {
				return nil, domain.FieldError(path+".call_id", "no function_call with call_id %q comes before this output: send the function_call item too, or previous_response_id", it.CallID)
			}
			msgs = append(msgs, domain.Message{Role: "tool", ToolCallID: it.CallID, Content: domain.TextContent(it.Output)})
			open = -1
		case TypeReasoning:
			// Dropped: other providers cannot take reasoning back.
		default:
			return nil, domain.FieldError(path+".type", "%q items are not supported on this route", it.Type)
		}
	}
	if len(msgs) == 0 {
		return nil, domain.FieldError("input", "must contain at least one message")
	}
	return msgs, nil
}

func chatMessage(it Item, path string) (domain.Message, error) {
	role := it.Role
	if role == "developer" {
		role = "system"
	}
	m := domain.Message{Role: role}
	if role != "user" {
		// system and assistant content is text in every chat upstream.
		var text, refusal []byte
		for j, p := range it.Content {
			switch p.Type {
			case "input_text", "output_text":
				text = append(text, p.Text...)
			case "refusal":
				refusal = append(refusal, p.Refusal...)
			default:
				return m, domain.FieldError(fmt.Sprintf("%s.content[%d].type", path, j), "%s messages take only text on this route (not %s)", it.Role, p.Type)
			}
		}
		if len(text) == 0 && len(refusal) > 0 {
			text = refusal
		}
		m.Content = domain.TextContent(string(text))
		return m, nil
	}
	if len(it.Content) == 1 && it.Content[0].Type == "input_text" {
		m.Content = domain.TextContent(it.Content[0].Text)
		return m, nil
	}
	parts := make([]domain.ContentPart, 0, len(it.Content))
	for j, p := range it.Content {
		switch p.Type {
		case "input_text", "output_text":
			parts = append(parts, domain.ContentPart{Type: "text", Text: p.Text})
		case "input_image":
			parts = append(parts, domain.ContentPart{Type: "image_url", ImageURL: &domain.ImageURL{URL: p.ImageURL, Detail: p.Detail}})
		case "input_file":
			parts = append(parts, domain.ContentPart{Type: "file", File: &domain.FileData{FileData: p.FileData, Filename: p.Filename}})
		default:
			return m, domain.FieldError(fmt.Sprintf("%s.content[%d].type", path, j), "user messages cannot contain %s", p.Type)
		}
	}
	m.Content = domain.PartsContent(parts)
	return m, nil
}
