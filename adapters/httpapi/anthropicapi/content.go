package anthropicapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/airouter/airouter/core/domain"
)

// The translation of the content of messages: text, image, document,
// tool_use and tool_result blocks into OpenAI parts, tool calls and tool
// messages.

// blocks decodes a message's content: a string becomes one text block.
func blocks(raw json.RawMessage, field string) ([]msgBlock, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, domain.FieldError(field, "is required")
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, domain.FieldError(field, "must be a string or an array of content blocks")
		}
		return []msgBlock{{Type: "text", Text: s}}, nil
	case '[':
		var bs []msgBlock
		if err := json.Unmarshal(raw, &bs); err != nil {
			return nil, decodeErrorAt(err, field)
		}
		return bs, nil
	}
	return nil, domain.FieldError(field, "must be a string or an array of content blocks")
}

func translateMessage(m *msgMessage, field string, p *domain.ChatParams) error {
	bs, err := blocks(m.Content, field+".content")
	if err != nil {
		return err
	}
	switch m.Role {
	case "user":
		return userMessage(bs, field+".content", p)
	case "assistant":
		return assistantMessage(bs, field+".content", p)
	}
	return domain.FieldError(field+".role", `must be "user" or "assistant"`)
}

// userMessage emits the turn's tool results as tool messages first (they
// answer the previous assistant turn's tool calls), then the rest of the
// content as one user message.
func userMessage(bs []msgBlock, field string, p *domain.ChatParams) error {
	var parts []domain.ContentPart
	for j, b := range bs {
		bf := fmt.Sprintf("%s[%d]", field, j)
		switch b.Type {
		case "text":
			if b.Text != "" {
				parts = append(parts, domain.ContentPart{Type: "text", Text: b.Text})
			}
		case "image":
			part, err := imagePart(b.Source, bf+".source")
			if err != nil {
				return err
			}
			parts = append(parts, part)
		case "document":
			part, err := documentPart(&b, bf)
			if err != nil {
				return err
			}
			parts = append(parts, part)
		case "tool_result":
			images, err := toolResult(&b, bf, p)
			if err != nil {
				return err
			}
			parts = append(parts, images...)
		case "thinking", "redacted_thinking":
			// Only assistant turns carry these; nothing to send.
		default:
			return domain.FieldError(bf+".type", "content block type %q is not supported in a user message by this model's provider", b.Type)
		}
	}
	switch {
	case len(parts) == 0:
		return nil
	case len(parts) == 1 && parts[0].Type == "text":
		p.Messages = append(p.Messages, domain.Message{Role: "user", Content: domain.TextContent(parts[0].Text)})
	default:
		p.Messages = append(p.Messages, domain.Message{Role: "user", Content: domain.PartsContent(parts)})
	}
	return nil
}

// toolResult appends a tool message and returns the result's images, which
// OpenAI tool messages cannot carry, for the user message that follows.
func toolResult(b *msgBlock, field string, p *domain.ChatParams) ([]domain.ContentPart, error) {
	if b.ToolUseID == "" {
		return nil, domain.FieldError(field+".tool_use_id", "is required")
	}
	var texts []string
	var images []domain.ContentPart
	raw := bytes.TrimSpace(b.Content)
	switch {
	case len(raw) == 0 || bytes.Equal(raw, []byte("null")):
	case raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, domain.FieldError(field+".content", "must be a string or an array of content blocks")
		}
		texts = append(texts, s)
	case raw[0] == '[':
		var inner []msgBlock
		if err := json.Unmarshal(raw, &inner); err != nil {
			return nil, decodeErrorAt(err, field+".content")
		}
		for k, ib := range inner {
			f := fmt.Sprintf("%s.content[%d]", field, k)
			switch ib.Type {
			case "text":
				texts = append(texts, ib.Text)
			case "image":
				part, err := imagePart(ib.Source, f+".source")
				if err != nil {
					return nil, err
				}
				images = append(images, part)
			case "document":
				part, err := documentPart(&ib, f)
				if err != nil {
					return nil, err
				}
				if part.Type == "text" {
					texts = append(texts, part.Text)
				} else {
					images = append(images, part)
				}
			default:
				return nil, domain.FieldError(f+".type", "content block type %q is not supported in a tool result by this model's provider", ib.Type)
			}
		}
	default:
		return nil, domain.FieldError(field+".content", "must be a string or an array of content blocks")
	}
	text := strings.Join(texts, "\n\n")
	if b.IsError {
		text = "Error: " + text
	}
	p.Messages = append(p.Messages, domain.Message{Role: "tool", ToolCallID: b.ToolUseID, Content: domain.TextContent(text)})
	return images, nil
}

var imageTypes = map[string]bool{"image/jpeg": true, "image/png": true, "image/gif": true, "image/webp": true}

func imagePart(s *msgSource, field string) (domain.ContentPart, error) {
	if s == nil {
		return domain.ContentPart{}, domain.FieldError(field, "is required")
	}
	switch s.Type {
	case "base64":
		if !imageTypes[s.MediaType] {
			return domain.ContentPart{}, domain.FieldError(field+".media_type", "must be image/jpeg, image/png, image/gif or image/webp")
		}
		if s.Data == "" {
			return domain.ContentPart{}, domain.FieldError(field+".data", "is required")
		}
		return domain.ContentPart{Type: "image_url", ImageURL: &domain.ImageURL{URL: "data:" + s.MediaType + ";base64," + s.Data}}, nil
	case "url":
		if !strings.HasPrefix(s.URL, "https://") && !strings.HasPrefix(s.URL, "http://") {
			return domain.ContentPart{}, domain.FieldError(field+".url", "must be an http(s) URL")
		}
		return domain.ContentPart{Type: "image_url", ImageURL: &domain.ImageURL{URL: s.URL}}, nil
	}
	return domain.ContentPart{}, domain.FieldError(field+".type", `must be "base64" or "url" for this model's provider`)
}

// documentPart maps a base64 PDF to a file part and a plain-text document to
// a text part.
func documentPart(b *msgBlock, field string) (domain.ContentPart, error) {
	s := b.Source
	switch {
	case s == nil:
		return domain.ContentPart{}, domain.FieldError(field+".source", "is required")
	case s.Type == "base64" && s.MediaType == "application/pdf":
		name := b.Title
		if name == "" {
			name = "document.pdf"
		}
		return domain.ContentPart{Type: "file", File: &domain.FileData{FileData: "data:application/pdf;base64," + s.Data, Filename: name}}, nil
	case s.Type == "text":
		return domain.ContentPart{Type: "text", Text: s.Data}, nil
	}
	return domain.ContentPart{}, domain.FieldError(field+".source", "only base64 PDF and text documents are supported by this model's provider")
}

// assistantMessage joins the turn's text blocks and turns tool_use blocks
// into tool calls; thinking blocks are dropped.
func assistantMessage(bs []msgBlock, field string, p *domain.ChatParams) error {
	var texts []string
	var calls []domain.ToolCall
	for j, b := range bs {
		bf := fmt.Sprintf("%s[%d]", field, j)
		switch b.Type {
		case "text":
			if b.Text != "" {
				texts = append(texts, b.Text)
			}
		case "tool_use":
			if b.ID == "" {
				return domain.FieldError(bf+".id", "is required")
			}
			if b.Name == "" {
				return domain.FieldError(bf+".name", "is required")
			}
			args, err := compactObject(b.Input)
			if err != nil {
				return domain.FieldError(bf+".input", "must be a JSON object")
			}
			calls = append(calls, domain.ToolCall{ID: b.ID, Type: "function", Function: domain.FunctionCall{Name: b.Name, Arguments: args}})
		case "thinking", "redacted_thinking":
		default:
			return domain.FieldError(bf+".type", "content block type %q is not supported in an assistant message by this model's provider", b.Type)
		}
	}
	if len(texts) == 0 && len(calls) == 0 {
		return nil
	}
	m := domain.Message{Role: "assistant", ToolCalls: calls}
	if len(texts) > 0 {
		m.Content = domain.TextContent(strings.Join(texts, "\n\n"))
	}
	p.Messages = append(p.Messages, m)
	return nil
}

// compactObject returns a JSON object as compact text; absent input is "{}".
func compactObject(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return "{}", nil
	}
	if raw[0] != '{' {
		return "", errors.New("not an object")
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return "", err
	}
	return b.String(), nil
}
