package responsesapi

import (
	"encoding/json"
	"sort"
	"strings"

	"github.com/airouter/airouter/core/domain"
)

// StreamEncoder turns a stream of chat chunks into Responses API server-sent
// events. It is not safe for concurrent use. Each method returns the SSE
// frames to write ("event: <type>\ndata: <json>\n\n" each; nil when there is
// nothing to write). The first call also emits response.created and
// response.in_progress.
type StreamEncoder struct {
	resp    *Response
	opts    Options
	seq     int
	started bool
	done    bool
	items   []*streamItem       // by output index
	text    *streamItem         // the open message or reasoning item, if any
	calls   map[int]*streamItem // open function calls by chat tool call index
	finish  string
	usage   *domain.Usage
	out     []byte
}

type streamItem struct {
	item   Item
	index  int
	open   bool
	part   string // message or reasoning: the open part's type, "" when none
	buf    strings.Builder
	parts  []Part // closed parts
	argBuf strings.Builder
}

// NewStreamEncoder returns an encoder for the answer to req.
func NewStreamEncoder(req *Request, o Options) *StreamEncoder {
	return &StreamEncoder{resp: base(req, o), opts: o, calls: map[int]*streamItem{}}
}

type event struct {
	Type           string             `json:"type"`
	SequenceNumber int                `json:"sequence_number"`
	Response       *Response          `json:"response,omitempty"`
	OutputIndex    *int               `json:"output_index,omitempty"`
	ItemID         string             `json:"item_id,omitempty"`
	ContentIndex   *int               `json:"content_index,omitempty"`
	Item           *Item              `json:"item,omitempty"`
	Part           *Part              `json:"part,omitempty"`
	Delta          *string            `json:"delta,omitempty"`
	Text           *string            `json:"text,omitempty"`
	Refusal        *string            `json:"refusal,omitempty"`
	Arguments      *string            `json:"arguments,omitempty"`
	Logprobs       *[]json.RawMessage `json:"logprobs,omitempty"`
	Code           string             `json:"code,omitempty"`
	Message        *string            `json:"message,omitempty"`
	Param          json.RawMessage    `json:"param,omitempty"`
}

var noLogprobs = []json.RawMessage{}

func (e *StreamEncoder) emit(ev event) {
	ev.SequenceNumber = e.seq
	e.seq++
	data, err := json.Marshal(&ev)
	if err != nil { // cannot happen: every member marshals
		return
	}
	e.out = append(e.out, "event: "...)
	e.out = append(e.out, ev.Type...)
	e.out = append(e.out, "\ndata: "...)
	e.out = append(e.out, data...)
	e.out = append(e.out, "\n\n"...)
}

func (e *StreamEncoder) flush() []byte {
	b := e.out
	e.out = nil
	return b
}

func (e *StreamEncoder) start() {
	if e.started {
		return
	}
	e.started = true
	snap := *e.resp
	e.emit(event{Type: "response.created", Response: &snap})
	e.emit(event{Type: "response.in_progress", Response: &snap})
}

// Chunk translates one chat chunk. Only the first choice is used; usage
// and the finish reason are kept for the end.
func (e *StreamEncoder) Chunk(c *domain.ChatChunk) []byte {
	if e.done || c == nil {
		return nil
	}
	if len(c.Choices) == 0 && c.Usage == nil && len(c.Raw) > 0 {
		var full domain.ChatChunk
		if json.Unmarshal(c.Raw, &full) == nil {
			c = &full
		}
	}
	e.start()
	if c.Usage != nil {
		u := *c.Usage
		e.usage = &u
	}
	for i := range c.Choices {
		ch := &c.Choices[i]
		if ch.Index != 0 {
			continue
		}
		d := &ch.Delta
		if d.ReasoningContent != nil && *d.ReasoningContent != "" {
			e.textDelta(TypeReasoning, "reasoning_text", *d.ReasoningContent)
		}
		if d.Content != nil && *d.Content != "" {
			e.textDelta(TypeMessage, "output_text", *d.Content)
		}
		if d.Refusal != nil && *d.Refusal != "" {
			e.textDelta(TypeMessage, "refusal", *d.Refusal)
		}
		for _, tc := range d.ToolCalls {
			e.toolDelta(tc)
		}
		if ch.FinishReason != nil && *ch.FinishReason != "" {
			e.finish = *ch.FinishReason
		}
	}
	return e.flush()
}

func (e *StreamEncoder) addItem(it Item) *streamItem {
	si := &streamItem{item: it, index: len(e.items), open: true}
	e.items = append(e.items, si)
	added := it
	e.emit(event{Type: "response.output_item.added", OutputIndex: new(si.index), Item: &added})
	return si
}

// textDelta appends text to a part of the open message or reasoning item,
// opening the item and the part as needed.
func (e *StreamEncoder) textDelta(itemType, partType, s string) {
	si := e.text
	if si != nil && si.item.Type != itemType {
		e.closeItem(si)
		si = nil
	}
	if si == nil {
		it := Item{Type: itemType, Status: "in_progress"}
		switch itemType {
		case TypeMessage:
			it.ID, it.Role, it.Content = e.opts.newID("msg"), "assistant", []Part{}
		default:
			it.ID, it.Summary, it.Content = e.opts.newID("rs"), []Part{}, []Part{}
		}
		si = e.addItem(it)
		e.text = si
	}
	if si.part != partType {
		e.closePart(si)
		si.part = partType
		p := Part{Type: partType}
		e.emit(event{Type: "response.content_part.added", ItemID: si.item.ID, OutputIndex: new(si.index),
			ContentIndex: new(len(si.parts)), Part: &p})
	}
	si.buf.WriteString(s)
	ev := event{Type: deltaType(partType), ItemID: si.item.ID, OutputIndex: new(si.index), ContentIndex: new(len(si.parts)), Delta: new(s)}
	if partType == "output_text" {
		ev.Logprobs = &noLogprobs
	}
	e.emit(ev)
}

func deltaType(partType string) string {
	switch partType {
	case "refusal":
		return "response.refusal.delta"
	case "reasoning_text":
		return "response.reasoning_text.delta"
	default:
		return "response.output_text.delta"
	}
}

func (e *StreamEncoder) closePart(si *streamItem) {
	if si.part == "" {
		return
	}
	s := si.buf.String()
	si.buf.Reset()
	p := Part{Type: si.part}
	ev := event{ItemID: si.item.ID, OutputIndex: new(si.index), ContentIndex: new(len(si.parts))}
	switch si.part {
	case "refusal":
		p.Refusal = s
		ev.Type, ev.Refusal = "response.refusal.done", new(s)
	case "reasoning_text":
		p.Text = s
		ev.Type, ev.Text = "response.reasoning_text.done", new(s)
	default:
		p.Text = s
		ev.Type, ev.Text, ev.Logprobs = "response.output_text.done", new(s), &noLogprobs
	}
	e.emit(ev)
	e.emit(event{Type: "response.content_part.done", ItemID: si.item.ID, OutputIndex: new(si.index), ContentIndex: new(len(si.parts)), Part: &p})
	si.parts = append(si.parts, p)
	si.part = ""
}

func (e *StreamEncoder) toolDelta(tc domain.ToolCall) {
	k := 0
	if tc.Index != nil {
		k = *tc.Index
	}
	si := e.calls[k]
	if si == nil {
		if e.text != nil {
			e.closeItem(e.text)
		}
		id := tc.ID
		if id == "" {
			id = e.opts.newID("call")
		}
		si = e.addItem(Item{Type: TypeFunctionCall, ID: e.opts.newID("fc"), Status: "in_progress", CallID: id, Name: tc.Function.Name})
		e.calls[k] = si
	} else if si.item.Name == "" && tc.Function.Name != "" {
		si.item.Name = tc.Function.Name
	}
	if a := tc.Function.Arguments; a != "" {
		si.argBuf.WriteString(a)
		e.emit(event{Type: "response.function_call_arguments.delta", ItemID: si.item.ID, OutputIndex: new(si.index), Delta: new(a)})
	}
}

// closeItem ends an open item with the status the response will have.
func (e *StreamEncoder) closeItem(si *streamItem) {
	if !si.open {
		return
	}
	si.open = false
	if e.text == si {
		e.text = nil
	}
	switch si.item.Type {
	case TypeFunctionCall:
		si.item.Arguments = si.argBuf.String()
		e.emit(event{Type: "response.function_call_arguments.done", ItemID: si.item.ID, OutputIndex: new(si.index), Arguments: new(si.item.Arguments)})
	default:
		e.closePart(si)
		si.item.Content = si.parts
	}
	si.item.Status = e.itemStatus()
	done := si.item
	e.emit(event{Type: "response.output_item.done", OutputIndex: new(si.index), Item: &done})
}

func (e *StreamEncoder) itemStatus() string {
	switch e.finish {
	case "length", "content_filter":
		return "incomplete"
	}
	return "completed"
}

// Finish ends the stream after the upstream's last chunk: it closes the
// open items and emits response.completed (response.incomplete when the
// output was cut by max_output_tokens or a content filter) with the full
// response and usage.
func (e *StreamEncoder) Finish() []byte {
	if e.done {
		return nil
	}
	e.start()
	open := make([]*streamItem, 0, len(e.items))
	for _, si := range e.items {
		if si.open {
			open = append(open, si)
		}
	}
	sort.Slice(open, func(i, j int) bool { return open[i].index < open[j].index })
	for _, si := range open {
		e.closeItem(si)
	}
	e.done = true
	e.resp.end(e.finish)
	e.resp.Output = e.output()
	e.resp.Usage = usageFrom(e.usage)
	typ := "response.completed"
	if e.resp.Status == "incomplete" {
		typ = "response.incomplete"
	}
	e.emit(event{Type: typ, Response: e.resp})
	return e.flush()
}

// Fail ends the stream after an upstream failure: an error event, then
// response.failed with the output so far (unfinished items marked
// incomplete) and the error. Its message is domain.ErrorMessage(err).
func (e *StreamEncoder) Fail(err error) []byte {
	if e.done {
		return nil
	}
	e.start()
	e.done = true
	code, msg := errorCode(err), domain.ErrorMessage(err)
	e.resp.Status = "failed"
	e.resp.Error = &ResponseError{Code: code, Message: msg}
	for _, si := range e.items {
		if si.open {
			si.open = false
			if si.item.Type == TypeFunctionCall {
				si.item.Arguments = si.argBuf.String()
			} else {
				if si.part != "" {
					p := Part{Type: si.part}
					if si.part == "refusal" {
						p.Refusal = si.buf.String()
					} else {
						p.Text = si.buf.String()
					}
					si.parts = append(si.parts, p)
					si.part = ""
				}
				si.item.Content = si.parts
			}
			si.item.Status = "incomplete"
		}
	}
	e.resp.Output = e.output()
	e.resp.Usage = usageFrom(e.usage)
	e.emit(event{Type: "error", Code: code, Message: new(msg), Param: json.RawMessage("null")})
	e.emit(event{Type: "response.failed", Response: e.resp})
	return e.flush()
}

func (e *StreamEncoder) output() []Item {
	out := make([]Item, 0, len(e.items))
	for _, si := range e.items {
		it := si.item
		if it.Type == TypeMessage && it.Content == nil {
			it.Content = []Part{}
		}
		out = append(out, it)
	}
	return out
}

// Response returns the response object: final after Finish or Fail (what
// the caller stores), otherwise its state so far without the open items.
func (e *StreamEncoder) Response() *Response {
	return e.resp
}
