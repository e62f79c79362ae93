package anthropic

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/airouter/airouter/adapters/providers/internal/upstream"
	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/core/jsonx"
)

// Messages API response types.
type (
	response struct {
		ID         string          `json:"id"`
		Type       string          `json:"type"`
		Role       string          `json:"role"`
		Model      string          `json:"model"`
		Content    []responseBlock `json:"content"`
		StopReason string          `json:"stop_reason"`
		Usage      usage           `json:"usage"`
	}
	responseBlock struct {
		Type        string          `json:"type"`
		Text        string          `json:"text"`
		Thinking    string          `json:"thinking"`
		ID          string          `json:"id"`
		Name        string          `json:"name"`
		Input       json.RawMessage `json:"input"`
		PartialJSON string          `json:"partial_json"`
		Signature   string          `json:"signature"`
	}
	usage struct {
		InputTokens              int `json:"input_tokens"`
		OutputTokens             int `json:"output_tokens"`
		CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
		CacheReadInputTokens     int `json:"cache_read_input_tokens"`
	}
	apiError struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	}
)

// finishReason maps a stop_reason to an OpenAI finish_reason.
func finishReason(stop string) string {
	switch stop {
	case "max_tokens", "model_context_window_exceeded":
		return "length"
	case "tool_use":
		return "tool_calls"
	case "refusal":
		return "content_filter"
	default: // end_turn, stop_sequence, pause_turn
		return "stop"
	}
}

// openaiUsage maps usage: cache writes and reads are part of the prompt.
func (u usage) openai() *domain.Usage {
	prompt := u.InputTokens + u.CacheCreationInputTokens + u.CacheReadInputTokens
	out := &domain.Usage{PromptTokens: prompt, CompletionTokens: u.OutputTokens, TotalTokens: prompt + u.OutputTokens,
		CachedTokens: u.CacheReadInputTokens}
	if u.CacheReadInputTokens > 0 {
		out.PromptTokensDetails = json.RawMessage(`{"cached_tokens":` + strconv.Itoa(u.CacheReadInputTokens) + `}`)
	}
	return out
}

// convertResponse turns a Messages API response into a chat completion.
func convertResponse(r *response, created int64) (*domain.ChatResponse, error) {
	var text, reasoning strings.Builder
	var calls []domain.ToolCall
	for _, b := range r.Content {
		switch b.Type {
		case "text":
			text.WriteString(b.Text)
		case "thinking":
			reasoning.WriteString(b.Thinking)
		case "tool_use":
			args := "{}"
			if len(b.Input) > 0 {
				args = string(b.Input)
			}
			calls = append(calls, domain.ToolCall{ID: b.ID, Type: "function", Function: domain.FunctionCall{Name: b.Name, Arguments: args}})
		}
	}
	msg := domain.Message{Role: "assistant", ToolCalls: calls, ReasoningContent: reasoning.String()}
	if text.Len() > 0 || len(calls) == 0 {
		msg.Content = domain.TextContent(text.String())
	}
	out := &domain.ChatResponse{
		ID:      r.ID,
		Object:  "chat.completion",
		Created: created,
		Model:   r.Model,
		Choices: []domain.Choice{{Index: 0, Message: msg, FinishReason: finishReason(r.StopReason)}},
		Usage:   r.Usage.openai(),
	}
	raw, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	out.Raw = raw
	return out, nil
}

// errorStatus is the HTTP status an Anthropic error type has outside a
// stream, used for errors sent as stream events.
func errorStatus(typ string) int {
	switch typ {
	case "invalid_request_error":
		return 400
	case "authentication_error":
		return 401
	case "billing_error":
		return 402
	case "permission_error":
		return 403
	case "not_found_error":
		return 404
	case "request_too_large":
		return 413
	case "rate_limit_error":
		return 429
	case "timeout_error":
		return 504
	case "overloaded_error":
		return 529
	default: // api_error and unknown types
		return 500
	}
}

// merge folds a message_delta's usage into the usage so far (message_start's,
// then earlier deltas'). Its counts are cumulative: output_tokens replaces
// the count so far; input and cache counts replace it only when reported
// (> 0), as message_delta may leave them out or send them updated.
func (u *usage) merge(d *usage) {
	u.OutputTokens = d.OutputTokens
	if d.InputTokens > 0 {
		u.InputTokens = d.InputTokens
	}
	if d.CacheCreationInputTokens > 0 {
		u.CacheCreationInputTokens = d.CacheCreationInputTokens
	}
	if d.CacheReadInputTokens > 0 {
		u.CacheReadInputTokens = d.CacheReadInputTokens
	}
}

// streamError is the error of an in-band "error" event (nil ae when the event
// carried none), classed like the same error outside a stream: the status
// its type has there, then classify.
func streamError(ae *apiError, key string) *domain.UpstreamError {
	e := apiError{Type: "api_error", Message: "the upstream reported an error in the stream"}
	if ae != nil {
		e = *ae
	}
	status := errorStatus(e.Type)
	eb := upstream.ErrorBody{Type: e.Type, Message: e.Message}
	return &domain.UpstreamError{Class: classify(status, eb, upstream.ClassifyBody(status, eb)), Status: status, Type: upstream.Scrub(e.Type, key), Message: upstream.Scrub(e.Message, key)}
}

// streamEvent is any Messages API stream event.
type streamEvent struct {
	Type         string         `json:"type"`
	Message      *response      `json:"message"`
	Index        int            `json:"index"`
	ContentBlock *responseBlock `json:"content_block"`
	Delta        *struct {
		responseBlock
		StopReason string `json:"stop_reason"`
	} `json:"delta"`
	Usage *usage    `json:"usage"`
	Error *apiError `json:"error"`
}

// translator turns Messages API stream events into OpenAI chunks. It holds
// no I/O, so that it can be tested and fuzzed alone.
type translator struct {
	id, model string
	created   int64
	usage     usage
	tools     map[int]int // content block index → tool call index
	nextTool  int
	started   bool
	stopped   bool
	key       string
}

// event translates one event's data. It returns the chunk to send (nil for
// events that produce none) and whether the message ended.
func (tr *translator) event(data []byte) (*domain.ChatChunk, error) {
	var e streamEvent
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, &domain.UpstreamError{Class: domain.ClassAmbiguous, Status: 200, Message: "the upstream sent an invalid stream event", Err: err}
	}
	switch e.Type {
	case "message_start":
		if e.Message != nil {
			tr.id, tr.model = e.Message.ID, e.Message.Model
			tr.usage = e.Message.Usage
		}
		tr.started = true
		role := domain.Delta{Role: "assistant", Content: new("")}
		return tr.chunk(role, nil), nil
	case "content_block_start":
		cb := e.ContentBlock
		if cb == nil {
			return nil, nil
		}
		switch cb.Type {
		case "tool_use":
			k := tr.nextTool
			tr.nextTool++
			if tr.tools == nil {
				tr.tools = make(map[int]int, 2)
			}
			tr.tools[e.Index] = k
			call := domain.ToolCall{Index: new(k), ID: cb.ID, Type: "function", Function: domain.FunctionCall{Name: cb.Name}}
			return tr.chunk(domain.Delta{ToolCalls: []domain.ToolCall{call}}, nil), nil
		case "text":
			if cb.Text != "" {
				return tr.chunk(domain.Delta{Content: new(cb.Text)}, nil), nil
			}
		case "thinking":
			if cb.Thinking != "" {
				return tr.chunk(domain.Delta{ReasoningContent: new(cb.Thinking)}, nil), nil
			}
		}
		return nil, nil
	case "content_block_delta":
		d := e.Delta
		if d == nil {
			return nil, nil
		}
		switch d.Type {
		case "text_delta":
			if d.Text != "" {
				return tr.chunk(domain.Delta{Content: new(d.Text)}, nil), nil
			}
		case "thinking_delta":
			if d.Thinking != "" {
				return tr.chunk(domain.Delta{ReasoningContent: new(d.Thinking)}, nil), nil
			}
		case "input_json_delta":
			k, ok := tr.tools[e.Index]
			if ok && d.PartialJSON != "" {
				call := domain.ToolCall{Index: new(k), Function: domain.FunctionCall{Arguments: d.PartialJSON}}
				return tr.chunk(domain.Delta{ToolCalls: []domain.ToolCall{call}}, nil), nil
			}
		}
		// signature_delta, citations_delta: nothing to send.
		return nil, nil
	case "message_delta":
		if e.Usage != nil {
			tr.usage.merge(e.Usage)
		}
		if e.Delta != nil && e.Delta.StopReason != "" {
			fr := finishReason(e.Delta.StopReason)
			return tr.chunk(domain.Delta{}, &fr), nil
		}
		return nil, nil
	case "message_stop":
		tr.stopped = true
		return tr.usageChunk(), nil
	case "error":
		return nil, streamError(e.Error, tr.key)
	}
	// ping and event types added later: nothing to send.
	return nil, nil
}

// chunk builds a chunk with one choice, and its Raw JSON.
func (tr *translator) chunk(d domain.Delta, finish *string) *domain.ChatChunk {
	c := &domain.ChatChunk{
		ID: tr.id, Object: "chat.completion.chunk", Created: tr.created, Model: tr.model,
		Choices: []domain.ChunkChoice{{Index: 0, Delta: d, FinishReason: finish}},
	}
	b := make([]byte, 0, 160+len(tr.id)+len(tr.model))
	b = tr.appendHead(b)
	b = append(b, `"choices":[{"index":0,"delta":`...)
	b = appendDelta(b, &d)
	b = append(b, `,"logprobs":null,"finish_reason":`...)
	if finish != nil {
		b = jsonx.AppendString(b, *finish)
	} else {
		b = append(b, "null"...)
	}
	c.Raw = append(b, "}]}"...)
	return c
}

// usageChunk is the final chunk: no choices, the whole stream's usage.
func (tr *translator) usageChunk() *domain.ChatChunk {
	u := tr.usage.openai()
	c := &domain.ChatChunk{ID: tr.id, Object: "chat.completion.chunk", Created: tr.created, Model: tr.model, Choices: []domain.ChunkChoice{}, Usage: u}
	b := make([]byte, 0, 200+len(tr.id)+len(tr.model))
	b = tr.appendHead(b)
	b = append(b, `"choices":[],"usage":{"prompt_tokens":`...)
	b = strconv.AppendInt(b, int64(u.PromptTokens), 10)
	b = append(b, `,"completion_tokens":`...)
	b = strconv.AppendInt(b, int64(u.CompletionTokens), 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, int64(u.TotalTokens), 10)
	if u.PromptTokensDetails != nil {
		b = append(b, `,"prompt_tokens_details":`...)
		b = append(b, u.PromptTokensDetails...)
	}
	c.Raw = append(b, "}}"...)
	return c
}

func (tr *translator) appendHead(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = jsonx.AppendString(b, tr.id)
	b = append(b, `,"object":"chat.completion.chunk","created":`...)
	b = strconv.AppendInt(b, tr.created, 10)
	b = append(b, `,"model":`...)
	b = jsonx.AppendString(b, tr.model)
	return append(b, ',')
}

func appendDelta(b []byte, d *domain.Delta) []byte {
	b = append(b, '{')
	n := len(b)
	sep := func() {
		if len(b) > n {
			b = append(b, ',')
		}
	}
	if d.Role != "" {
		b = append(b, `"role":`...)
		b = jsonx.AppendString(b, d.Role)
	}
	if d.Content != nil {
		sep()
		b = append(b, `"content":`...)
		b = jsonx.AppendString(b, *d.Content)
	}
	if d.ReasoningContent != nil {
		sep()
		b = append(b, `"reasoning_content":`...)
		b = jsonx.AppendString(b, *d.ReasoningContent)
	}
	if len(d.ToolCalls) > 0 {
		sep()
		b = append(b, `"tool_calls":[`...)
		for i, tc := range d.ToolCalls {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"index":`...)
			idx := 0
			if tc.Index != nil {
				idx = *tc.Index
			}
			b = strconv.AppendInt(b, int64(idx), 10)
			if tc.ID != "" {
				b = append(b, `,"id":`...)
				b = jsonx.AppendString(b, tc.ID)
			}
			if tc.Type != "" {
				b = append(b, `,"type":`...)
				b = jsonx.AppendString(b, tc.Type)
			}
			b = append(b, `,"function":{`...)
			if tc.Function.Name != "" {
				b = append(b, `"name":`...)
				b = jsonx.AppendString(b, tc.Function.Name)
				b = append(b, ',')
			}
			b = append(b, `"arguments":`...)
			b = jsonx.AppendString(b, tc.Function.Arguments)
			b = append(b, "}}"...)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}
