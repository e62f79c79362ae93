package anthropic

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/airouter/airouter/adapters/providers/jsonx"
	"github.com/airouter/airouter/core/domain"
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

func textBlocks(c domain.Content, field string) ([]block, error) {
	if !c.IsParts() {
		if c.Text == "" {
			return nil, nil
		}
		return []block{{Type: "text", Text: c.Text}}, nil
	}
	var out []block
	for j, part := range c.Parts {
		if part.Type != "text" {
			return nil, domain.FieldError(fmt.Sprintf("%s[%d].type", field, j), "must be \"text\" in this message")
		}
		if part.Text != "" {
			out = append(out, block{Type: "text", Text: part.Text})
		}
	}
	return out, nil
}

func userBlocks(c domain.Content, field string) ([]block, error) {
	if !c.IsParts() {
		return textBlocks(c, field)
	}
	var out []block
	for j, part := range c.Parts {
		pf := fmt.Sprintf("%s[%d]", field, j)
		switch part.Type {
		case "text":
			if part.Text != "" {
				out = append(out, block{Type: "text", Text: part.Text})
			}
		case "image_url":
			if part.ImageURL == nil || part.ImageURL.URL == "" {
				return nil, domain.FieldError(pf+".image_url.url", "is required")
			}
			src, err := imageSource(part.ImageURL.URL, pf+".image_url.url")
			if err != nil {
				return nil, err
			}
			out = append(out, block{Type: "image", Source: src})
		case "file":
			if part.File == nil || !strings.HasPrefix(part.File.FileData, "data:application/pdf;base64,") {
				return nil, domain.FieldError(pf+".file", "only PDF files given as base64 data URLs in file_data are supported by Anthropic models")
			}
			out = append(out, block{Type: "document", Source: &source{Type: "base64", MediaType: "application/pdf", Data: strings.TrimPrefix(part.File.FileData, "data:application/pdf;base64,")}})
		case "input_audio":
			return nil, domain.FieldError(pf+".input_audio", "audio input is not supported by Anthropic models")
		default:
			return nil, domain.FieldError(pf+".type", "content part type %q is not supported by Anthropic models", part.Type)
		}
	}
	return out, nil
}

// imageSource maps an image URL: data: URLs become base64 sources, http(s)
// URLs url sources.
func imageSource(u, field string) (*source, error) {
	switch {
	case strings.HasPrefix(u, "data:"):
		meta, data, ok := strings.Cut(u[len("data:"):], ",")
		mediaType, isBase64 := strings.CutSuffix(meta, ";base64")
		if !ok || !isBase64 {
			return nil, domain.FieldError(field, "a data URL must be base64-encoded (data:image/png;base64,...)")
		}
		mediaType = strings.ToLower(mediaType)
		if !imageMediaTypes[mediaType] {
			return nil, domain.FieldError(field, "image type %q is not supported by Anthropic models (jpeg, png, gif, webp)", mediaType)
		}
		return &source{Type: "base64", MediaType: mediaType, Data: data}, nil
	case strings.HasPrefix(u, "https://"), strings.HasPrefix(u, "http://"):
		return &source{Type: "url", URL: u}, nil
	}
	return nil, domain.FieldError(field, "must be an http(s) URL or a base64 data URL")
}

func assistantBlocks(m domain.Message, field string) ([]block, error) {
	var out []block
	if m.Content.IsParts() {
		for j, part := range m.Content.Parts {
			switch part.Type {
			case "text":
				if part.Text != "" {
					out = append(out, block{Type: "text", Text: part.Text})
				}
			case "refusal":
				if part.Refusal != "" {
					out = append(out, block{Type: "text", Text: part.Refusal})
				}
			default:
				return nil, domain.FieldError(fmt.Sprintf("%s.content[%d].type", field, j), "must be \"text\" or \"refusal\" in an assistant message")
			}
		}
	} else if m.Content.Text != "" {
		out = append(out, block{Type: "text", Text: m.Content.Text})
	}
	if len(out) == 0 && m.Refusal != nil && *m.Refusal != "" {
		out = append(out, block{Type: "text", Text: *m.Refusal})
	}
	for j, tc := range m.ToolCalls {
		tf := fmt.Sprintf("%s.tool_calls[%d]", field, j)
		if tc.Type != "" && tc.Type != "function" {
			return nil, domain.FieldError(tf+".type", "must be \"function\"")
		}
		if tc.ID == "" || tc.Function.Name == "" {
			return nil, domain.FieldError(tf, "needs an id and a function name")
		}
		input := json.RawMessage(bytes.TrimSpace([]byte(tc.Function.Arguments)))
		if len(input) == 0 {
			input = json.RawMessage("{}")
		}
		if input[0] != '{' || !json.Valid(input) {
			return nil, domain.FieldError(tf+".function.arguments", "must be a JSON object")
		}
		out = append(out, block{Type: "tool_use", ID: tc.ID, Name: tc.Function.Name, Input: input})
	}
	return out, nil
}

func toolResultContent(c domain.Content, field string) (json.RawMessage, error) {
	if !c.IsParts() {
		if c.Text == "" {
			return nil, nil
		}
		return json.Marshal(c.Text)
	}
	blocks, err := textBlocks(c, field)
	if err != nil || len(blocks) == 0 {
		return nil, err
	}
	return json.Marshal(blocks)
}
