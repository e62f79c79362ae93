package domain

// The parts of a chat request's messages and tools, with the custom JSON of
// OpenAI's unions (content, tool_choice, stop).

import (
	"bytes"
	"encoding/json"
)

// Message is one chat message.
type Message struct {
	Role             string     `json:"role"`
	Content          Content    `json:"content"`
	Name             string     `json:"name,omitempty"`
	ToolCalls        []ToolCall `json:"tool_calls,omitempty"`
	ToolCallID       string     `json:"tool_call_id,omitempty"`
	Refusal          *string    `json:"refusal,omitempty"`
	ReasoningContent string     `json:"reasoning_content,omitempty"`
}

// Content is a message's content: null, a string or a list of parts.
type Content struct {
	Text  string
	Parts []ContentPart
	// kind: 0 null, 1 text, 2 parts
	kind uint8
}

// TextContent returns string content.
func TextContent(s string) Content { return Content{Text: s, kind: 1} }

// PartsContent returns content made of parts.
func PartsContent(parts []ContentPart) Content { return Content{Parts: parts, kind: 2} }

// IsNull reports whether the content is absent or null.
func (c Content) IsNull() bool { return c.kind == 0 }

// IsParts reports whether the content is a list of parts.
func (c Content) IsParts() bool { return c.kind == 2 }

// IsZero makes omitzero omit null content.
func (c Content) IsZero() bool { return c.kind == 0 }

// String returns the text of the content, joining text parts.
func (c Content) String() string {
	if c.kind != 2 {
		return c.Text
	}
	var b []byte
	for _, p := range c.Parts {
		if p.Type == "text" {
			b = append(b, p.Text...)
		}
	}
	return string(b)
}

func (c Content) MarshalJSON() ([]byte, error) {
	switch c.kind {
	case 1:
		return json.Marshal(c.Text)
	case 2:
		if c.Parts == nil {
			return []byte("[]"), nil
		}
		return json.Marshal(c.Parts)
	default:
		return []byte("null"), nil
	}
}

func (c *Content) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || bytes.Equal(b, []byte("null")):
		*c = Content{}
		return nil
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*c = TextContent(s)
		return nil
	case b[0] == '[':
		var parts []ContentPart
		if err := json.Unmarshal(b, &parts); err != nil {
			return err
		}
		*c = PartsContent(parts)
		return nil
	default:
		return &Error{Code: CodeInvalid, Field: "messages.content", Msg: "must be a string or an array of content parts"}
	}
}

// ContentPart is one part of a message's content.
type ContentPart struct {
	Type       string      `json:"type"` // text, image_url, input_audio, file, refusal
	Text       string      `json:"text,omitempty"`
	ImageURL   *ImageURL   `json:"image_url,omitempty"`
	InputAudio *InputAudio `json:"input_audio,omitempty"`
	File       *FileData   `json:"file,omitempty"`
	Refusal    string      `json:"refusal,omitempty"`
}

// ImageURL is an image reference: an http(s) URL or a data: URL.
type ImageURL struct {
	URL    string `json:"url"`
	Detail string `json:"detail,omitempty"`
}

// InputAudio is base64 audio input.
type InputAudio struct {
	Data   string `json:"data"`
	Format string `json:"format"`
}

// FileData is an attached file.
type FileData struct {
	FileData string `json:"file_data,omitempty"`
	FileID   string `json:"file_id,omitempty"`
	Filename string `json:"filename,omitempty"`
}

// Tool is a tool the model may call.
type Tool struct {
	Type     string      `json:"type"`
	Function FunctionDef `json:"function"`
}

// FunctionDef describes a function tool.
type FunctionDef struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

// ToolCall is a call the assistant made. In stream deltas Index is set and the
// other fields may be partial.
type ToolCall struct {
	Index    *int         `json:"index,omitempty"`
	ID       string       `json:"id,omitempty"`
	Type     string       `json:"type,omitempty"`
	Function FunctionCall `json:"function"`
}

// FunctionCall is the function and arguments of a tool call.
type FunctionCall struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

// ToolChoice is "none", "auto", "required" or a named function.
type ToolChoice struct {
	Mode     string // none, auto, required; empty when Function is set
	Function string // the forced function's name
}

func (t ToolChoice) MarshalJSON() ([]byte, error) {
	if t.Function != "" {
		return json.Marshal(map[string]any{"type": "function", "function": map[string]string{"name": t.Function}})
	}
	return json.Marshal(t.Mode)
}

func (t *ToolChoice) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		switch s {
		case "none", "auto", "required":
		default:
			return &Error{Code: CodeInvalid, Field: "tool_choice", Msg: `must be "none", "auto", "required" or a function`}
		}
		*t = ToolChoice{Mode: s}
		return nil
	}
	var obj struct {
		Type     string `json:"type"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if err := json.Unmarshal(b, &obj); err != nil {
		return &Error{Code: CodeInvalid, Field: "tool_choice", Msg: "must be a string or an object"}
	}
	if obj.Type != "function" || obj.Function.Name == "" {
		return &Error{Code: CodeInvalid, Field: "tool_choice", Msg: `an object must be {"type":"function","function":{"name":...}}`}
	}
	*t = ToolChoice{Function: obj.Function.Name}
	return nil
}

// Stop is the stop parameter: a string or a list of strings.
type Stop []string

func (s Stop) IsZero() bool { return len(s) == 0 }

func (s *Stop) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*s = nil
		return nil
	case len(b) > 0 && b[0] == '"':
		var one string
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*s = Stop{one}
		return nil
	default:
		var many []string
		if err := json.Unmarshal(b, &many); err != nil {
			return &Error{Code: CodeInvalid, Field: "stop", Msg: "must be a string or an array of strings"}
		}
		*s = many
		return nil
	}
}
