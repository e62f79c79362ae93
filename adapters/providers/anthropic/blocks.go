package anthropic

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/airouter/airouter/core/domain"
)

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
