package anthropic

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/core/jsonx"
	"github.com/airouter/airouter/ports"
)

// DefaultMaxTokens is used when neither the request nor the model gives
// max_tokens, which the Messages API requires.
const DefaultMaxTokens = 4096

// Messages API request types.
type (
	request struct {
		Model         string      `json:"model"`
		MaxTokens     int         `json:"max_tokens"`
		System        []block     `json:"system,omitempty"`
		Messages      []message   `json:"messages"`
		StopSequences []string    `json:"stop_sequences,omitempty"`
		Temperature   *float64    `json:"temperature,omitempty"`
		TopP          *float64    `json:"top_p,omitempty"`
		Tools         []tool      `json:"tools,omitempty"`
		ToolChoice    *toolChoice `json:"tool_choice,omitempty"`
		Metadata      *metadata   `json:"metadata,omitempty"`
		Thinking      *thinking   `json:"thinking,omitempty"`
		Stream        bool        `json:"stream,omitempty"`
	}
	message struct {
		Role    string  `json:"role"`
		Content []block `json:"content"`
	}
	block struct {
		Type      string          `json:"type"`
		Text      string          `json:"text,omitempty"`
		Source    *source         `json:"source,omitempty"`
		ID        string          `json:"id,omitempty"`
		Name      string          `json:"name,omitempty"`
		Input     json.RawMessage `json:"input,omitempty"`
		ToolUseID string          `json:"tool_use_id,omitempty"`
		Content   json.RawMessage `json:"content,omitempty"`
	}
	source struct {
		Type      string `json:"type"` // base64, url
		MediaType string `json:"media_type,omitempty"`
		Data      string `json:"data,omitempty"`
		URL       string `json:"url,omitempty"`
	}
	tool struct {
		Name        string          `json:"name"`
		Description string          `json:"description,omitempty"`
		InputSchema json.RawMessage `json:"input_schema"`
	}
	toolChoice struct {
		Type                   string `json:"type"` // auto, any, tool, none
		Name                   string `json:"name,omitempty"`
		DisableParallelToolUse bool   `json:"disable_parallel_tool_use,omitempty"`
	}
	metadata struct {
		UserID string `json:"user_id"`
	}
	thinking struct {
		Type         string `json:"type"`
		BudgetTokens int    `json:"budget_tokens"`
	}
)

// untranslatable lists OpenAI request members with no Messages API
// equivalent; sending them is a client error rather than silently dropped.
var untranslatable = []string{"audio", "modalities", "prediction", "functions", "function_call", "web_search_options"}

// Parameters dropped on purpose, because dropping them does not change what
// the client asked for: seed (best effort in OpenAI too), store and metadata
// (OpenAI's stored completions), service_tier, message names, assistant
// reasoning_content (Anthropic needs signed thinking blocks to take it back),
// tool "strict", image "detail".

var imageMediaTypes = map[string]bool{"image/jpeg": true, "image/png": true, "image/gif": true, "image/webp": true}

// thinkingBudget maps reasoning_effort to an extended-thinking budget.
var thinkingBudget = map[string]int{"minimal": 1024, "low": 2048, "medium": 8192, "high": 16384}

// BuildRequest translates an OpenAI chat completion request into a Messages
// API request body. Untranslatable input is a *domain.Error with
// CodeInvalid naming the field.
func BuildRequest(req *domain.ChatRequest, t ports.Target, stream bool) ([]byte, error) {
	if err := checkUntranslatable(req.Raw); err != nil {
		return nil, err
	}
	p, err := req.Params()
	if err != nil {
		return nil, err
	}
	out := request{Model: t.Model, Stream: stream, Temperature: p.Temperature, TopP: p.TopP}
	if out.Model == "" {
		out.Model = p.Model
	}
	switch {
	case p.MaxCompletionTokens != nil && *p.MaxCompletionTokens > 0:
		out.MaxTokens = *p.MaxCompletionTokens
	case p.MaxTokens != nil && *p.MaxTokens > 0:
		out.MaxTokens = *p.MaxTokens
	case t.DefaultMaxTokens > 0:
		out.MaxTokens = t.DefaultMaxTokens
	default:
		out.MaxTokens = DefaultMaxTokens
	}
	if p.N != nil && *p.N != 1 {
		return nil, domain.FieldError("n", "must be 1: Anthropic models return one choice")
	}
	if p.Logprobs != nil && *p.Logprobs {
		return nil, domain.FieldError("logprobs", "is not supported by Anthropic models")
	}
	if p.TopLogprobs != nil && *p.TopLogprobs > 0 {
		return nil, domain.FieldError("top_logprobs", "is not supported by Anthropic models")
	}
	if p.PresencePenalty != nil && *p.PresencePenalty != 0 {
		return nil, domain.FieldError("presence_penalty", "is not supported by Anthropic models")
	}
	if p.FrequencyPenalty != nil && *p.FrequencyPenalty != 0 {
		return nil, domain.FieldError("frequency_penalty", "is not supported by Anthropic models")
	}
	if lb := bytes.TrimSpace(p.LogitBias); len(lb) > 0 && !bytes.Equal(lb, []byte("null")) && !bytes.Equal(bytes.Join(bytes.Fields(lb), nil), []byte("{}")) {
		return nil, domain.FieldError("logit_bias", "is not supported by Anthropic models")
	}
	if rf := bytes.TrimSpace(p.ResponseFormat); len(rf) > 0 && !bytes.Equal(rf, []byte("null")) {
		var f struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(rf, &f) != nil || f.Type != "text" {
			return nil, domain.FieldError("response_format", "only {\"type\":\"text\"} is supported by Anthropic models")
		}
	}
	for _, s := range p.Stop {
		if s != "" {
			out.StopSequences = append(out.StopSequences, s)
		}
	}
	if p.User != "" {
		out.Metadata = &metadata{UserID: p.User}
	}
	if p.ReasoningEffort != "" && p.ReasoningEffort != "none" {
		budget, ok := thinkingBudget[p.ReasoningEffort]
		if !ok {
			return nil, domain.FieldError("reasoning_effort", "must be none, minimal, low, medium or high")
		}
		if budget >= out.MaxTokens {
			budget = out.MaxTokens - 1
		}
		if budget < 1024 {
			return nil, domain.FieldError("max_tokens", "must be more than 1024 when reasoning_effort is set (Anthropic's minimum thinking budget)")
		}
		out.Thinking = &thinking{Type: "enabled", BudgetTokens: budget}
	}
	if err := translateTools(p, &out); err != nil {
		return nil, err
	}
	if err := translateMessages(p.Messages, &out); err != nil {
		return nil, err
	}
	return json.Marshal(&out)
}

func checkUntranslatable(raw []byte) error {
	it := jsonx.Object(raw)
	var m jsonx.Member
	for it.Next(&m) {
		for _, k := range untranslatable {
			if m.KeyIs(k) && !jsonx.IsNull(m.Value(raw)) {
				return domain.FieldError(k, "is not supported by Anthropic models")
			}
		}
	}
	return nil
}

var emptySchema = json.RawMessage(`{"type":"object","properties":{}}`)

func translateTools(p *domain.ChatParams, out *request) error {
	for i, t := range p.Tools {
		if t.Type != "function" {
			return domain.FieldError(fmt.Sprintf("tools[%d].type", i), "must be \"function\"")
		}
		if t.Function.Name == "" {
			return domain.FieldError(fmt.Sprintf("tools[%d].function.name", i), "is required")
		}
		schema := bytes.TrimSpace(t.Function.Parameters)
		if len(schema) == 0 || bytes.Equal(schema, []byte("null")) {
			schema = emptySchema
		} else if schema[0] != '{' {
			return domain.FieldError(fmt.Sprintf("tools[%d].function.parameters", i), "must be a JSON schema object")
		}
		out.Tools = append(out.Tools, tool{Name: t.Function.Name, Description: t.Function.Description, InputSchema: schema})
	}
	disable := p.ParallelToolCalls != nil && !*p.ParallelToolCalls
	switch tc := p.ToolChoice; {
	case tc == nil:
		if disable && len(out.Tools) > 0 {
			out.ToolChoice = &toolChoice{Type: "auto", DisableParallelToolUse: true}
		}
	case tc.Function != "":
		out.ToolChoice = &toolChoice{Type: "tool", Name: tc.Function, DisableParallelToolUse: disable}
	case tc.Mode == "required":
		out.ToolChoice = &toolChoice{Type: "any", DisableParallelToolUse: disable}
	case tc.Mode == "auto":
		out.ToolChoice = &toolChoice{Type: "auto", DisableParallelToolUse: disable}
	case tc.Mode == "none":
		if len(out.Tools) > 0 {
			out.ToolChoice = &toolChoice{Type: "none"}
		}
	}
	return nil
}

func translateMessages(msgs []domain.Message, out *request) error {
	for i, m := range msgs {
		field := fmt.Sprintf("messages[%d]", i)
		switch m.Role {
		case "system", "developer":
			blocks, err := textBlocks(m.Content, field+".content")
			if err != nil {
				return err
			}
			out.System = append(out.System, blocks...)
		case "user":
			blocks, err := userBlocks(m.Content, field+".content")
			if err != nil {
				return err
			}
			if len(blocks) == 0 {
				return domain.FieldError(field+".content", "must not be empty")
			}
			appendTurn(out, "user", blocks)
		case "assistant":
			blocks, err := assistantBlocks(m, field)
			if err != nil {
				return err
			}
			if len(blocks) > 0 {
				appendTurn(out, "assistant", blocks)
			}
		case "tool":
			if m.ToolCallID == "" {
				return domain.FieldError(field+".tool_call_id", "is required")
			}
			b := block{Type: "tool_result", ToolUseID: m.ToolCallID}
			content, err := toolResultContent(m.Content, field+".content")
			if err != nil {
				return err
			}
			b.Content = content
			appendTurn(out, "user", []block{b})
		default:
			return domain.FieldError(field+".role", "must be system, developer, user, assistant or tool (not %q)", m.Role)
		}
	}
	if len(out.Messages) == 0 {
		return domain.FieldError("messages", "must contain a user or assistant message")
	}
	return nil
}

// appendTurn adds blocks to the conversation, merging consecutive turns of
// one role (the Messages API requires alternation). In a user turn,
// tool_result blocks come first, as the API requires.
func appendTurn(out *request, role string, blocks []block) {
	if n := len(out.Messages); n > 0 && out.Messages[n-1].Role == role {
		last := &out.Messages[n-1]
		last.Content = append(last.Content, blocks...)
		if role == "user" {
			results := make([]block, 0, len(last.Content))
			var rest []block
			for _, b := range last.Content {
				if b.Type == "tool_result" {
					results = append(results, b)
				} else {
					rest = append(rest, b)
				}
			}
			last.Content = append(results, rest...)
		}
		return
	}
	out.Messages = append(out.Messages, message{Role: role, Content: blocks})
}
