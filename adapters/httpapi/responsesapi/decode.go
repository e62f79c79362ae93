package responsesapi

// Decoding input items and content parts, with errors that name the field.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/airouter/airouter/core/domain"
)

// itemIn is the permissive decoding form of an item.
type itemIn struct {
	Type      *string         `json:"type"`
	ID        string          `json:"id"`
	Status    string          `json:"status"`
	Role      string          `json:"role"`
	Content   json.RawMessage `json:"content"`
	CallID    string          `json:"call_id"`
	Name      string          `json:"name"`
	Arguments string          `json:"arguments"`
	Output    json.RawMessage `json:"output"`
	Summary   json.RawMessage `json:"summary"`
}

func isNull(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) == 0 || bytes.Equal(b, []byte("null"))
}

// decodeItem decodes one input item; path is its parameter name
// ("input[3]") for errors.
func decodeItem(b []byte, path string) (Item, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return Item{}, domain.FieldError(path, "must be an object")
	}
	var in itemIn
	if err := json.Unmarshal(b, &in); err != nil {
		return Item{}, jsonError(err, path)
	}
	typ := TypeMessage // EasyInputMessage has no type
	if in.Type != nil {
		typ = *in.Type
	}
	it := Item{Type: typ, ID: in.ID, Status: in.Status}
	switch typ {
	case TypeMessage:
		switch in.Role {
		case "user", "assistant", "system", "developer":
		case "":
			return Item{}, domain.FieldError(path+".role", "is required")
		default:
			return Item{}, domain.FieldError(path+".role", "must be user, assistant, system or developer (not %q)", in.Role)
		}
		it.Role = in.Role
		textType := "input_text"
		if in.Role == "assistant" {
			textType = "output_text"
		}
		parts, err := decodeContent(in.Content, path+".content", textType)
		if err != nil {
			return Item{}, err
		}
		it.Content = parts
	case TypeFunctionCall:
		if in.CallID == "" {
			return Item{}, domain.FieldError(path+".call_id", "is required")
		}
		if in.Name == "" {
			return Item{}, domain.FieldError(path+".name", "is required")
		}
		it.CallID, it.Name, it.Arguments = in.CallID, in.Name, in.Arguments
	case TypeFunctionCallOutput:
		if in.CallID == "" {
			return Item{}, domain.FieldError(path+".call_id", "is required")
		}
		out, err := decodeOutput(in.Output, path+".output")
		if err != nil {
			return Item{}, err
		}
		it.CallID, it.Output = in.CallID, out
	case TypeReasoning:
		if !isNull(in.Summary) {
			parts, err := decodePartList(in.Summary, path+".summary")
			if err != nil {
				return Item{}, err
			}
			it.Summary = parts
		}
		if !isNull(in.Content) {
			parts, err := decodePartList(in.Content, path+".content")
			if err != nil {
				return Item{}, err
			}
			it.Content = parts
		}
	case "item_reference":
		return Item{}, domain.FieldError(path+".type", "item_reference is not supported on this route: send the item itself, or use previous_response_id")
	case "":
		return Item{}, domain.FieldError(path+".type", "must not be empty")
	default:
		return Item{}, domain.FieldError(path+".type", "%q items are not supported on this route (only message, function_call, function_call_output and reasoning)", typ)
	}
	return it, nil
}

// decodeContent reads message content: a string (one part of textType) or
// a list of parts.
func decodeContent(b []byte, path, textType string) ([]Part, error) {
	b = bytes.TrimSpace(b)
	switch {
	case isNull(b):
		return nil, domain.FieldError(path, "is required")
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return nil, jsonError(err, path)
		}
		return []Part{{Type: textType, Text: s}}, nil
	case b[0] == '[':
		return decodePartList(b, path)
	default:
		return nil, domain.FieldError(path, "must be a string or an array of content parts")
	}
}

func decodePartList(b []byte, path string) ([]Part, error) {
	var raws []json.RawMessage
	if err := json.Unmarshal(b, &raws); err != nil {
		return nil, domain.FieldError(path, "must be an array of content parts")
	}
	parts := make([]Part, 0, len(raws))
	for i, r := range raws {
		p, err := decodePart(r, fmt.Sprintf("%s[%d]", path, i))
		if err != nil {
			return nil, err
		}
		parts = append(parts, p)
	}
	return parts, nil
}

type partIn struct {
	Type     string  `json:"type"`
	Text     string  `json:"text"`
	ImageURL *string `json:"image_url"`
	FileID   *string `json:"file_id"`
	FileURL  *string `json:"file_url"`
	Detail   string  `json:"detail"`
	FileData string  `json:"file_data"`
	Filename string  `json:"filename"`
	Refusal  string  `json:"refusal"`
}

func decodePart(b []byte, path string) (Part, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return Part{}, domain.FieldError(path, "must be an object")
	}
	var in partIn
	if err := json.Unmarshal(b, &in); err != nil {
		return Part{}, jsonError(err, path)
	}
	p := Part{Type: in.Type}
	switch in.Type {
	case "input_text", "output_text", "reasoning_text", "summary_text", "text":
		if in.Type == "text" { // what some clients send for assistant text
			p.Type = "output_text"
		}
		p.Text = in.Text
	case "refusal":
		p.Refusal = in.Refusal
	case "input_image":
		if in.FileID != nil && *in.FileID != "" {
			return Part{}, domain.FieldError(path+".file_id", "file references are not supported on this route: send the image as image_url (an https or data: URL)")
		}
		if in.ImageURL == nil || *in.ImageURL == "" {
			return Part{}, domain.FieldError(path+".image_url", "is required")
		}
		switch in.Detail {
		case "", "auto", "low", "high":
		default:
			return Part{}, domain.FieldError(path+".detail", "must be low, high or auto")
		}
		p.ImageURL, p.Detail = *in.ImageURL, in.Detail
	case "input_file":
		if in.FileID != nil && *in.FileID != "" {
			return Part{}, domain.FieldError(path+".file_id", "file references are not supported on this route: send the file as file_data")
		}
		if in.FileURL != nil && *in.FileURL != "" {
			return Part{}, domain.FieldError(path+".file_url", "file URLs are not supported on this route: send the file as file_data")
		}
		if in.FileData == "" {
			return Part{}, domain.FieldError(path+".file_data", "is required")
		}
		p.FileData, p.Filename = in.FileData, in.Filename
	case "":
		return Part{}, domain.FieldError(path+".type", "is required")
	default:
		return Part{}, domain.FieldError(path+".type", "%q content parts are not supported on this route", in.Type)
	}
	return p, nil
}

// decodeOutput reads a function_call_output's output: a string or a list of
// text parts, joined.
func decodeOutput(b []byte, path string) (string, error) {
	b = bytes.TrimSpace(b)
	switch {
	case isNull(b):
		return "", domain.FieldError(path, "is required")
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return "", jsonError(err, path)
		}
		return s, nil
	case b[0] == '[':
		parts, err := decodePartList(b, path)
		if err != nil {
			return "", err
		}
		var sb strings.Builder
		for i, p := range parts {
			switch p.Type {
			case "input_text", "output_text":
				sb.WriteString(p.Text)
			default:
				return "", domain.FieldError(fmt.Sprintf("%s[%d].type", path, i), "only text can be a function output on this route (not %s)", p.Type)
			}
		}
		return sb.String(), nil
	default:
		return "", domain.FieldError(path, "must be a string or an array of content parts")
	}
}

// jsonError turns a decoding error into an invalid-input error naming the
// parameter.
func jsonError(err error, path string) error {
	var de *domain.Error
	if errors.As(err, &de) {
		return de
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := path
		if te.Field != "" {
			if field != "" {
				field += "."
			}
			field += te.Field
		}
		if field == "" {
			field = "body"
		}
		return domain.FieldError(field, "must be of type %s", domain.JSONTypeName(te.Type.Kind().String()))
	}
	if path == "" {
		return &domain.Error{Code: domain.CodeInvalid, Msg: "request body is not a valid JSON object: " + err.Error()}
	}
	return domain.FieldError(path, "is not valid JSON: %s", err.Error())
}
