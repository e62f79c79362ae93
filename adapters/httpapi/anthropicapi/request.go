package anthropicapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/airouter/airouter/core/domain"
)

// Request is a decoded Messages API request: the neutral chat request to route
// and what the response encoders need to know about the client's request.
type Request struct {
	// Chat is the request for the gateway. Chat.Raw is an OpenAI chat
	// completion body; Model, Stream, MaxTokens and IncludeUsage (always
	// true when streaming) are set.
	Chat *domain.ChatRequest
	// Model is the model name the client asked for; responses carry it.
	Model string
	// StopSequences are the client's stop_sequences, used to report
	// stop_reason "stop_sequence" when the upstream says which one matched.
	StopSequences []string
}

// RoutingFields are the fields of a Messages request that routing needs.
type RoutingFields struct {
	Model     string
	Stream    bool
	MaxTokens int // 0 when absent
}

// Wire types of the Messages API request.
type (
	msgRequest struct {
		Model         *string         `json:"model"`
		MaxTokens     *int            `json:"max_tokens"`
		System        json.RawMessage `json:"system"`
		Messages      []msgMessage    `json:"messages"`
		StopSequences []string        `json:"stop_sequences"`
		Temperature   *float64        `json:"temperature"`
		TopP          *float64        `json:"top_p"`
		TopK          *int            `json:"top_k"` // no OpenAI equivalent: dropped
		Tools         []msgTool       `json:"tools"`
		ToolChoice    *msgToolChoice  `json:"tool_choice"`
		Metadata      *struct {
			UserID string `json:"user_id"`
		} `json:"metadata"`
		Stream   *bool        `json:"stream"`
		Thinking *msgThinking `json:"thinking"`
	}
	msgMessage struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	}
	msgBlock struct {
		Type      string          `json:"type"`
		Text      string          `json:"text"`
		Source    *msgSource      `json:"source"`
		ID        string          `json:"id"`
		Name      string          `json:"name"`
		Input     json.RawMessage `json:"input"`
		ToolUseID string          `json:"tool_use_id"`
		Content   json.RawMessage `json:"content"`
		IsError   bool            `json:"is_error"`
		Title     string          `json:"title"`
	}
	msgSource struct {
		Type      string `json:"type"` // base64, url, text (documents), file
		MediaType string `json:"media_type"`
		Data      string `json:"data"`
		URL       string `json:"url"`
	}
	msgTool struct {
		Type        string          `json:"type"`
		Name        string          `json:"name"`
		Description string          `json:"description"`
		InputSchema json.RawMessage `json:"input_schema"`
	}
	msgToolChoice struct {
		Type                   string `json:"type"`
		Name                   string `json:"name"`
		DisableParallelToolUse bool   `json:"disable_parallel_tool_use"`
	}
	msgThinking struct {
		Type         string `json:"type"` // enabled, disabled, adaptive
		BudgetTokens int    `json:"budget_tokens"`
	}
)

// Routing decodes only model, stream and max_tokens, for routing before (or
// instead of) a full decode; Anthropic routes need nothing more. It checks that
// body is a JSON object with a valid model name.
func Routing(body []byte) (RoutingFields, error) {
	var f struct {
		Model     *string `json:"model"`
		Stream    *bool   `json:"stream"`
		MaxTokens *int    `json:"max_tokens"`
	}
	if err := json.Unmarshal(body, &f); err != nil {
		return RoutingFields{}, decodeError(err)
	}
	if f.Model == nil {
		return RoutingFields{}, domain.FieldError("model", "is required")
	}
	if err := domain.ValidateModelName("model", *f.Model); err != nil {
		return RoutingFields{}, err
	}
	rf := RoutingFields{Model: *f.Model}
	if f.Stream != nil {
		rf.Stream = *f.Stream
	}
	if f.MaxTokens != nil {
		rf.MaxTokens = *f.MaxTokens
	}
	return rf, nil
}

// DecodeRequest translates a Messages API request body into a chat completion
// request. Invalid or untranslatable input is a *domain.Error with
// CodeInvalid naming the field (e.g. "messages[2].content[0].type").
//
// Mapping: system → a leading system message; text, image (base64 and url
// sources), PDF document and tool_use/tool_result blocks → the corresponding
// OpenAI parts, tool_calls and tool messages; thinking and redacted_thinking
// blocks of earlier turns are dropped (OpenAI-style upstreams cannot take
// signed thinking back); tool_result is_error prefixes the result with
// "Error: "; images inside a tool_result follow in a user message;
// top_k and cache_control are dropped; metadata.user_id → user;
// thinking {type: enabled} → reasoning_effort (budget < 4096 low, < 16384
// medium, else high) with max_completion_tokens instead of max_tokens;
// stop_sequences → stop; tool_choice auto/any/tool/none → auto/required/
// function/none, disable_parallel_tool_use → parallel_tool_calls false.
// Unknown top-level fields are ignored.
func DecodeRequest(body []byte) (*Request, error) {
	var in msgRequest
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, decodeError(err)
	}
	if in.Model == nil {
		return nil, domain.FieldError("model", "is required")
	}
	if err := domain.ValidateModelName("model", *in.Model); err != nil {
		return nil, err
	}
	if in.MaxTokens == nil {
		return nil, domain.FieldError("max_tokens", "is required")
	}
	if *in.MaxTokens < 1 {
		return nil, domain.FieldError("max_tokens", "must be at least 1")
	}
	if len(in.Messages) == 0 {
		return nil, domain.FieldError("messages", "must contain at least one message")
	}
	p, err := translate(&in)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	chat := &domain.ChatRequest{Model: *in.Model, Stream: p.Stream, IncludeUsage: p.Stream, MaxTokens: *in.MaxTokens, Raw: raw}
	return &Request{Chat: chat, Model: *in.Model, StopSequences: p.Stop}, nil
}

// translate builds the OpenAI parameters; in has passed the required checks.
func translate(in *msgRequest) (*domain.ChatParams, error) {
	p := &domain.ChatParams{Model: *in.Model, Temperature: in.Temperature, TopP: in.TopP}
	if in.Stream != nil && *in.Stream {
		p.Stream = true
		p.StreamOptions = &domain.StreamOptions{IncludeUsage: true}
	}
	if in.Metadata != nil {
		p.User = in.Metadata.UserID
	}
	for i, s := range in.StopSequences {
		if s == "" {
			return nil, domain.FieldError(fmt.Sprintf("stop_sequences[%d]", i), "must not be empty")
		}
		p.Stop = append(p.Stop, s)
	}
	maxTokens := *in.MaxTokens
	p.MaxTokens = &maxTokens
	if t := in.Thinking; t != nil {
		switch t.Type {
		case "enabled":
			if t.BudgetTokens < 1024 {
				return nil, domain.FieldError("thinking.budget_tokens", "must be at least 1024")
			}
			p.ReasoningEffort = effort(t.BudgetTokens)
			// Reasoning models take max_completion_tokens only.
			p.MaxTokens, p.MaxCompletionTokens = nil, &maxTokens
		case "disabled", "adaptive":
			// adaptive: the upstream's default effort.
		default:
			return nil, domain.FieldError("thinking.type", `must be "enabled", "disabled" or "adaptive"`)
		}
	}
	if err := translateTools(in, p); err != nil {
		return nil, err
	}
	if err := translateSystem(in.System, p); err != nil {
		return nil, err
	}
	for i := range in.Messages {
		if err := translateMessage(&in.Messages[i], fmt.Sprintf("messages[%d]", i), p); err != nil {
			return nil, err
		}
	}
	if len(p.Messages) == 0 {
		return nil, domain.FieldError("messages", "must contain at least one message with content")
	}
	return p, nil
}

// effort maps an extended-thinking budget to a reasoning effort.
func effort(budget int) string {
	switch {
	case budget < 4096:
		return "low"
	case budget < 16384:
		return "medium"
	default:
		return "high"
	}
}

func translateTools(in *msgRequest, p *domain.ChatParams) error {
	for i, t := range in.Tools {
		f := fmt.Sprintf("tools[%d]", i)
		if t.Type != "" && t.Type != "custom" {
			return domain.FieldError(f+".type", "server tool %q is not supported by this model's provider (only custom tools)", t.Type)
		}
		if t.Name == "" {
			return domain.FieldError(f+".name", "is required")
		}
		schema := bytes.TrimSpace(t.InputSchema)
		if len(schema) == 0 || bytes.Equal(schema, []byte("null")) {
			return domain.FieldError(f+".input_schema", "is required")
		}
		if schema[0] != '{' {
			return domain.FieldError(f+".input_schema", "must be a JSON schema object")
		}
		p.Tools = append(p.Tools, domain.Tool{Type: "function", Function: domain.FunctionDef{Name: t.Name, Description: t.Description, Parameters: schema}})
	}
	tc := in.ToolChoice
	if tc == nil {
		return nil
	}
	switch tc.Type {
	case "auto":
		if len(p.Tools) > 0 {
			p.ToolChoice = &domain.ToolChoice{Mode: "auto"}
		}
	case "any":
		p.ToolChoice = &domain.ToolChoice{Mode: "required"}
	case "tool":
		if tc.Name == "" {
			return domain.FieldError("tool_choice.name", "is required when type is \"tool\"")
		}
		p.ToolChoice = &domain.ToolChoice{Function: tc.Name}
	case "none":
		if len(p.Tools) > 0 {
			p.ToolChoice = &domain.ToolChoice{Mode: "none"}
		}
	default:
		return domain.FieldError("tool_choice.type", `must be "auto", "any", "tool" or "none"`)
	}
	if (tc.Type == "any" || tc.Type == "tool") && len(p.Tools) == 0 {
		return domain.FieldError("tool_choice", "requires tools")
	}
	if tc.DisableParallelToolUse && len(p.Tools) > 0 && tc.Type != "none" {
		p.ParallelToolCalls = new(false)
	}
	return nil
}

// translateSystem turns system (a string or text blocks) into one system
// message; blocks are joined with a blank line.
func translateSystem(raw json.RawMessage, p *domain.ChatParams) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil
	}
	var text string
	switch raw[0] {
	case '"':
		if err := json.Unmarshal(raw, &text); err != nil {
			return domain.FieldError("system", "must be a string or an array of text blocks")
		}
	case '[':
		var blocks []msgBlock
		if err := json.Unmarshal(raw, &blocks); err != nil {
			return domain.FieldError("system", "must be a string or an array of text blocks")
		}
		var texts []string
		for j, b := range blocks {
			if b.Type != "text" {
				return domain.FieldError(fmt.Sprintf("system[%d].type", j), `must be "text"`)
			}
			if b.Text != "" {
				texts = append(texts, b.Text)
			}
		}
		text = strings.Join(texts, "\n\n")
	default:
		return domain.FieldError("system", "must be a string or an array of text blocks")
	}
	if text != "" {
		p.Messages = append(p.Messages, domain.Message{Role: "system", Content: domain.TextContent(text)})
	}
	return nil
}

// decodeError turns a JSON decoding error into an invalid-input error naming
// the field when it can.
func decodeError(err error) error {
	return decodeErrorAt(err, "")
}

func decodeErrorAt(err error, prefix string) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		f := te.Field
		if prefix != "" {
			f = prefix + "." + f
		}
		return domain.FieldError(f, "must be of type %s", domain.JSONTypeName(te.Type.Kind().String()))
	}
	var de *domain.Error
	if errors.As(err, &de) {
		return de
	}
	if prefix != "" {
		return domain.FieldError(prefix, "is invalid: %v", err)
	}
	return &domain.Error{Code: domain.CodeInvalid, Msg: "request body is not a valid JSON object: " + err.Error()}
}
