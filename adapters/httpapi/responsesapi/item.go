package responsesapi

import (
	"encoding/json"
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
