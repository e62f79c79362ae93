package responsesapi

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/airouter/airouter/core/domain"
)

// Request is a decoded Responses API create request.
type Request struct {
	Model string
	// Input is the item list: a string input becomes one user message. The
	// caller replaces it with History(prev, Input) for previous_response_id.
	Input              []Item
	Instructions       *string // nil when absent
	Tools              []Tool
	ToolChoice         json.RawMessage // as sent, compacted; nil when absent
	ParallelToolCalls  *bool
	Temperature        *float64
	TopP               *float64
	MaxOutputTokens    *int
	Stream             bool
	Store              *bool  // nil when absent (the API's default is true)
	PreviousResponseID string // "" when absent; see History
	Metadata           map[string]string
	User               string
	Text               json.RawMessage // the text object as sent, compacted; nil when absent
	Reasoning          *Reasoning

	toolChoice     *domain.ToolChoice
	responseFormat json.RawMessage
}

// Tool is a function tool in the Responses form (flat, unlike chat's
// {"type":"function","function":{...}}).
type Tool struct {
	Type        string          `json:"type"` // always "function"
	Name        string          `json:"name"`
	Description *string         `json:"description"`
	Parameters  json.RawMessage `json:"parameters"`
	Strict      *bool           `json:"strict"`
}

// Reasoning is the reasoning configuration.
type Reasoning struct {
	Effort  *string `json:"effort"`
	Summary *string `json:"summary"`
}

// StoreEnabled reports whether the response is to be stored (store is true
// unless the client sent false).
func (r *Request) StoreEnabled() bool { return r.Store == nil || *r.Store }

type requestIn struct {
	Model              *string           `json:"model"`
	Input              json.RawMessage   `json:"input"`
	Instructions       json.RawMessage   `json:"instructions"`
	Tools              []json.RawMessage `json:"tools"`
	ToolChoice         json.RawMessage   `json:"tool_choice"`
	ParallelToolCalls  *bool             `json:"parallel_tool_calls"`
	Temperature        *float64          `json:"temperature"`
	TopP               *float64          `json:"top_p"`
	MaxOutputTokens    *int              `json:"max_output_tokens"`
	Stream             *bool             `json:"stream"`
	Store              *bool             `json:"store"`
	PreviousResponseID *string           `json:"previous_response_id"`
	Metadata           map[string]string `json:"metadata"`
	User               *string           `json:"user"`
	Text               json.RawMessage   `json:"text"`
	Reasoning          *Reasoning        `json:"reasoning"`
	Background         *bool             `json:"background"`
	Conversation       json.RawMessage   `json:"conversation"`
	Prompt             json.RawMessage   `json:"prompt"`
}

// DecodeRequest decodes and validates the body of POST /v1/responses.
// Unknown members are ignored. Errors are *domain.Error with CodeInvalid and
// Field naming the parameter.
func DecodeRequest(body []byte) (*Request, error) {
	var in requestIn
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, jsonError(err, "")
	}
	if in.Model == nil {
		return nil, domain.FieldError("model", "is required")
	}
	if err := domain.ValidateModelName("model", *in.Model); err != nil {
		return nil, err
	}
	r := &Request{Model: *in.Model, ParallelToolCalls: in.ParallelToolCalls, Temperature: in.Temperature,
		TopP: in.TopP, MaxOutputTokens: in.MaxOutputTokens, Store: in.Store, Metadata: in.Metadata, Reasoning: in.Reasoning}
	if in.Background != nil && *in.Background {
		return nil, domain.FieldError("background", "background mode is not supported on this route")
	}
	if !isNull(in.Conversation) {
		return nil, domain.FieldError("conversation", "is not supported on this route: use previous_response_id")
	}
	if !isNull(in.Prompt) {
		return nil, domain.FieldError("prompt", "prompt templates are not supported on this route")
	}
	if in.Stream != nil {
		r.Stream = *in.Stream
	}
	if in.PreviousResponseID != nil {
		r.PreviousResponseID = *in.PreviousResponseID
	}
	if in.User != nil {
		r.User = *in.User
	}
	if r.MaxOutputTokens != nil && *r.MaxOutputTokens < 1 {
		return nil, domain.FieldError("max_output_tokens", "must be at least 1")
	}
	if !isNull(in.Instructions) {
		var s string
		if err := json.Unmarshal(in.Instructions, &s); err != nil {
			return nil, domain.FieldError("instructions", "must be a string")
		}
		r.Instructions = &s
	}
	items, err := decodeInput(in.Input)
	if err != nil {
		return nil, err
	}
	r.Input = items
	for i, raw := range in.Tools {
		t, err := decodeTool(raw, fmt.Sprintf("tools[%d]", i))
		if err != nil {
			return nil, err
		}
		r.Tools = append(r.Tools, t)
	}
	if !isNull(in.ToolChoice) {
		tc, err := decodeToolChoice(in.ToolChoice)
		if err != nil {
			return nil, err
		}
		r.toolChoice = tc
		r.ToolChoice = compact(in.ToolChoice)
	}
	if !isNull(in.Text) {
		rf, err := decodeText(in.Text)
		if err != nil {
			return nil, err
		}
		r.responseFormat = rf
		r.Text = compact(in.Text)
	}
	if r.Reasoning != nil && r.Reasoning.Effort != nil {
		switch *r.Reasoning.Effort {
		case "none", "minimal", "low", "medium", "high", "xhigh":
		default:
			return nil, domain.FieldError("reasoning.effort", "must be none, minimal, low, medium, high or xhigh")
		}
	}
	return r, nil
}

func compact(b []byte) json.RawMessage {
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return json.RawMessage(bytes.Clone(b))
	}
	return buf.Bytes()
}

func decodeInput(b []byte) ([]Item, error) {
	b = bytes.TrimSpace(b)
	switch {
	case isNull(b):
		return nil, domain.FieldError("input", "is required")
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return nil, jsonError(err, "input")
		}
		return []Item{{Type: TypeMessage, Role: "user", Content: []Part{{Type: "input_text", Text: s}}}}, nil
	case b[0] == '[':
		var raws []json.RawMessage
		if err := json.Unmarshal(b, &raws); err != nil {
			return nil, domain.FieldError("input", "must be a string or an array of items")
		}
		if len(raws) == 0 {
			return nil, domain.FieldError("input", "must contain at least one item")
		}
		items := make([]Item, 0, len(raws))
		for i, raw := range raws {
			it, err := decodeItem(raw, fmt.Sprintf("input[%d]", i))
			if err != nil {
				return nil, err
			}
			items = append(items, it)
		}
		return items, nil
	default:
		return nil, domain.FieldError("input", "must be a string or an array of items")
	}
}

func decodeTool(b []byte, path string) (Tool, error) {
	var in struct {
		Type        string          `json:"type"`
		Name        string          `json:"name"`
		Description *string         `json:"description"`
		Parameters  json.RawMessage `json:"parameters"`
		Strict      *bool           `json:"strict"`
	}
	if err := json.Unmarshal(b, &in); err != nil {
		return Tool{}, jsonError(err, path)
	}
	if in.Type != "function" {
		if in.Type == "" {
			return Tool{}, domain.FieldError(path+".type", "is required")
		}
		return Tool{}, domain.FieldError(path+".type", "%q tools are not supported on this route: only function tools are", in.Type)
	}
	if in.Name == "" {
		return Tool{}, domain.FieldError(path+".name", "is required")
	}
	t := Tool{Type: "function", Name: in.Name, Description: in.Description, Strict: in.Strict}
	if !isNull(in.Parameters) {
		p := bytes.TrimSpace(in.Parameters)
		if p[0] != '{' {
			return Tool{}, domain.FieldError(path+".parameters", "must be a JSON schema object")
		}
		t.Parameters = compact(p)
	}
	return t, nil
}

func decodeToolChoice(b []byte) (*domain.ToolChoice, error) {
	b = bytes.TrimSpace(b)
	if b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return nil, domain.FieldError("tool_choice", "must be a string or an object")
		}
		switch s {
		case "none", "auto", "required":
			return &domain.ToolChoice{Mode: s}, nil
		}
		return nil, domain.FieldError("tool_choice", `must be "none", "auto", "required" or {"type":"function","name":...}`)
	}
	var obj struct {
		Type string `json:"type"`
		Name string `json:"name"`
	}
	if err := json.Unmarshal(b, &obj); err != nil {
		return nil, domain.FieldError("tool_choice", "must be a string or an object")
	}
	if obj.Type != "function" {
		return nil, domain.FieldError("tool_choice.type", "only function tool choices are supported on this route (not %q)", obj.Type)
	}
	if obj.Name == "" {
		return nil, domain.FieldError("tool_choice.name", "is required")
	}
	return &domain.ToolChoice{Function: obj.Name}, nil
}

// decodeText maps text.format to a chat response_format (nil for text).
func decodeText(b []byte) (json.RawMessage, error) {
	var in struct {
		Format *struct {
			Type        string          `json:"type"`
			Name        string          `json:"name"`
			Description *string         `json:"description"`
			Schema      json.RawMessage `json:"schema"`
			Strict      *bool           `json:"strict"`
		} `json:"format"`
	}
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, jsonError(err, "text")
	}
	if in.Format == nil {
		return nil, nil
	}
	switch f := in.Format; f.Type {
	case "text", "":
		return nil, nil
	case "json_object":
		return json.RawMessage(`{"type":"json_object"}`), nil
	case "json_schema":
		if f.Name == "" {
			return nil, domain.FieldError("text.format.name", "is required")
		}
		if s := bytes.TrimSpace(f.Schema); len(s) == 0 || s[0] != '{' {
			return nil, domain.FieldError("text.format.schema", "must be a JSON schema object")
		}
		type schema struct {
			Name        string          `json:"name"`
			Description *string         `json:"description,omitempty"`
			Schema      json.RawMessage `json:"schema"`
			Strict      *bool           `json:"strict,omitempty"`
		}
		return json.Marshal(struct {
			Type       string `json:"type"`
			JSONSchema schema `json:"json_schema"`
		}{"json_schema", schema{f.Name, f.Description, compact(f.Schema), f.Strict}})
	default:
		return nil, domain.FieldError("text.format.type", "must be text, json_object or json_schema")
	}
}
