package responsesapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/airouter/airouter/core/domain"
)

// Item types.
const (
	TypeMessage            = "message"
	TypeFunctionCall       = "function_call"
	TypeFunctionCallOutput = "function_call_output"
	TypeReasoning          = "reasoning"
)

// Item is one input or output item of the Responses API: a message, a
// function call, a function call's output or a reasoning item. Its JSON form
// is the Responses wire form; string message content is normalised to one
// text part, so an Item always carries parts.
type Item struct {
	Type   string // TypeMessage, TypeFunctionCall, TypeFunctionCallOutput or TypeReasoning
	ID     string // item id (msg_…, fc_…, rs_…); optional on input
	Status string // in_progress, completed or incomplete; optional on input

	Role    string // message: user, assistant, system or developer
	Content []Part // message content; reasoning: reasoning_text parts

	CallID    string // function_call and function_call_output
	Name      string // function_call
	Arguments string // function_call: JSON arguments as text
	Output    string // function_call_output: the output text

	Summary []Part // reasoning: summary_text parts
}

// Part is one content part: input_text, output_text, input_image,
// input_file, refusal, reasoning_text or summary_text.
type Part struct {
	Type     string
	Text     string // input_text, output_text, reasoning_text, summary_text
	ImageURL string // input_image: an http(s) or data: URL
	Detail   string // input_image: low, high or auto
	FileData string // input_file: base64 data (a data: URL or bare base64)
	Filename string // input_file
	Refusal  string // refusal
}

var noParts = []Part{}

type itemWire struct {
	Type      string  `json:"type"`
	ID        string  `json:"id,omitempty"`
	Status    string  `json:"status,omitempty"`
	Role      string  `json:"role,omitempty"`
	Content   *[]Part `json:"content,omitempty"`
	CallID    string  `json:"call_id,omitempty"`
	Name      string  `json:"name,omitempty"`
	Arguments *string `json:"arguments,omitempty"`
	Output    *string `json:"output,omitempty"`
	Summary   *[]Part `json:"summary,omitempty"`
}

// MarshalJSON writes the item in the Responses wire form.
func (it Item) MarshalJSON() ([]byte, error) {
	w := itemWire{Type: it.Type, ID: it.ID, Status: it.Status}
	orEmpty := func(p []Part) *[]Part {
		if p == nil {
			p = noParts
		}
		return &p
	}
	switch it.Type {
	case TypeMessage:
		w.Role, w.Content = it.Role, orEmpty(it.Content)
	case TypeFunctionCall:
		w.CallID, w.Name, w.Arguments = it.CallID, it.Name, &it.Arguments
	case TypeFunctionCallOutput:
		w.CallID, w.Output = it.CallID, &it.Output
	case TypeReasoning:
		w.Summary = orEmpty(it.Summary)
		if len(it.Content) > 0 {
			w.Content = &it.Content
		}
	}
	return json.Marshal(&w)
}

// UnmarshalJSON reads an item in the wire form, as DecodeRequest does for
// input items (so it also accepts string content and string or part-list
// function outputs).
func (it *Item) UnmarshalJSON(b []byte) error {
	v, err := decodeItem(b, "item")
	if err != nil {
		return err
	}
	*it = v
	return nil
}

type partWire struct {
	Type        string             `json:"type"`
	Text        *string            `json:"text,omitempty"`
	Annotations *[]json.RawMessage `json:"annotations,omitempty"`
	ImageURL    string             `json:"image_url,omitempty"`
	Detail      string             `json:"detail,omitempty"`
	FileData    string             `json:"file_data,omitempty"`
	Filename    string             `json:"filename,omitempty"`
	Refusal     *string            `json:"refusal,omitempty"`
}

var noAnnotations = []json.RawMessage{}

// MarshalJSON writes the part in the Responses wire form; output_text
// always carries "annotations": [].
func (p Part) MarshalJSON() ([]byte, error) {
	w := partWire{Type: p.Type}
	switch p.Type {
	case "output_text":
		w.Text, w.Annotations = &p.Text, &noAnnotations
	case "input_image":
		w.ImageURL, w.Detail = p.ImageURL, p.Detail
		if w.Detail == "" {
			w.Detail = "auto"
		}
	case "input_file":
		w.FileData, w.Filename = p.FileData, p.Filename
	case "refusal":
		w.Refusal = &p.Refusal
	default: // input_text, reasoning_text, summary_text
		w.Text = &p.Text
	}
	return json.Marshal(&w)
}

// UnmarshalJSON reads a part in the wire form.
func (p *Part) UnmarshalJSON(b []byte) error {
	v, err := decodePart(b, "part")
	if err != nil {
		return err
	}
	*p = v
	return nil
}

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
		return domain.FieldError(field, "must be of type %s", jsonTypeName(te.Type.Kind().String()))
	}
	if path == "" {
		return &domain.Error{Code: domain.CodeInvalid, Msg: "request body is not a valid JSON object: " + err.Error()}
	}
	return domain.FieldError(path, "is not valid JSON: %s", err.Error())
}

func jsonTypeName(kind string) string {
	switch kind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "slice", "array":
		return "array"
	case "map", "struct", "ptr", "interface":
		return "object"
	default:
		return "number"
	}
}
