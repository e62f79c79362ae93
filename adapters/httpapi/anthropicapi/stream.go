package anthropicapi

import (
	"strconv"

	"github.com/airouter/airouter/core/domain"
)

// Kinds of content block.
const (
	blockNone = iota
	blockText
	blockThinking
	blockTool
)

// StreamEncoder turns a stream of chat completion chunks into the Messages
// API's server-sent events: message_start, then per content block
// content_block_start, content_block_delta… and content_block_stop (text,
// thinking and every tool call are separate blocks with increasing index),
// then message_delta (stop_reason and usage) and message_stop. Methods return
// complete events, valid until the next call; it is not safe for concurrent
// use. Create it with NewStreamEncoder.
type StreamEncoder struct {
	model   string
	stops   []string
	out     []byte
	started bool
	done    bool // message_stop or error written

	block int             // kind of the open block, blockNone when none is open
	index int             // index of the open block
	next  int             // index of the next block
	tools map[int]toolRef // chunk tool call index → its latest block

	finished bool // a finish_reason arrived
	stop     string
	stopSeq  string
	matched  bool
	usage    domain.Usage
	hasUsage bool
}

// toolRef is the block of a tool call and the call's upstream id.
type toolRef struct {
	block int
	id    string
}

// NewStreamEncoder returns an encoder for the response to req.
func NewStreamEncoder(req *Request) *StreamEncoder {
	return &StreamEncoder{model: req.Model, stops: req.StopSequences, out: make([]byte, 0, 512)}
}

var pingEvent = []byte("event: ping\ndata: {\"type\":\"ping\"}\n\n")

// Ping returns a ping event, a keep-alive that clients ignore.
func (e *StreamEncoder) Ping() []byte { return pingEvent }

// Chunk returns the events for one chunk, possibly none (an empty slice). The
// first call also writes message_start. Only choice 0 is used. A chunk with
// usage after the finish reason (OpenAI sends it last) ends the message.
func (e *StreamEncoder) Chunk(c *domain.ChatChunk) []byte {
	e.out = e.out[:0]
	if e.done {
		return e.out
	}
	if c.Usage != nil {
		e.usage, e.hasUsage = *c.Usage, true
		e.usage.PromptTokensDetails, e.usage.CompletionTokensDetails = nil, nil
		e.usage.CachedTokens = cachedTokens(c.Usage)
	}
	if !e.started {
		e.messageStart(c.ID)
	}
	for i := range c.Choices {
		ch := &c.Choices[i]
		if ch.Index != 0 {
			continue
		}
		d := &ch.Delta
		if d.ReasoningContent != nil && *d.ReasoningContent != "" {
			e.open(blockThinking)
			e.delta(`{"type":"thinking_delta","thinking":`, *d.ReasoningContent, e.index)
		}
		if d.Content != nil && *d.Content != "" {
			e.open(blockText)
			e.delta(`{"type":"text_delta","text":`, *d.Content, e.index)
		}
		if d.Refusal != nil && *d.Refusal != "" {
			e.open(blockText)
			e.delta(`{"type":"text_delta","text":`, *d.Refusal, e.index)
			if e.stop == "" {
				e.stop = "refusal"
			}
		}
		for k := range d.ToolCalls {
			e.toolCall(&d.ToolCalls[k], k)
		}
		if ch.FinishReason != nil && !e.finished {
			e.closeBlock()
			e.finished = true
			if fr := *ch.FinishReason; fr != "stop" || e.stop == "" {
				e.stop = stopReason(fr)
			}
			if *ch.FinishReason == "stop" {
				if s, ok := matchedStop(c.Raw, e.stops); ok {
					e.stop, e.stopSeq, e.matched = "stop_sequence", s, true
				}
			}
		}
		break
	}
	if e.finished && c.Usage != nil {
		e.end()
	}
	return e.out
}

// Finish returns the last events of a stream that ended normally:
// message_delta and message_stop when a finish reason arrived, otherwise
// (the upstream ended early) an error event.
func (e *StreamEncoder) Finish() []byte {
	e.out = e.out[:0]
	if e.done {
		return e.out
	}
	if !e.finished {
		b := e.Fail(502, "the upstream stream ended before the message was complete")
		return b
	}
	if !e.started {
		e.messageStart("")
	}
	e.end()
	return e.out
}

// Fail returns Anthropic's mid-stream error event for a failure after the
// first byte, {"type":"error","error":{"type":ErrorType(status),"message":…}};
// nothing may follow it.
func (e *StreamEncoder) Fail(status int, message string) []byte {
	e.out = e.out[:0]
	if e.done {
		return e.out
	}
	e.done = true
	e.out = append(e.out, "event: error\ndata: "...)
	e.out = appendErrorBody(e.out, status, message)
	e.out = append(e.out, "\n\n"...)
	return e.out
}

func (e *StreamEncoder) messageStart(id string) {
	e.started = true
	e.out = append(e.out, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":"...)
	e.out = appendString(e.out, messageID(id))
	e.out = append(e.out, `,"type":"message","role":"assistant","model":`...)
	e.out = appendString(e.out, e.model)
	e.out = append(e.out, `,"content":[],"stop_reason":null,"stop_sequence":null,"usage":`...)
	var u *domain.Usage
	if e.hasUsage {
		u = &e.usage
	}
	e.out = appendUsage(e.out, u, true)
	e.out = append(e.out, "}}\n\n"...)
}

// open makes sure a block of the kind is open, closing another one.
func (e *StreamEncoder) open(kind int) {
	if e.block == kind && kind != blockTool {
		return
	}
	e.closeBlock()
	e.block, e.index = kind, e.next
	e.next++
	e.out = append(e.out, "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":"...)
	e.out = appendInt(e.out, e.index)
	switch kind {
	case blockText:
		e.out = append(e.out, `,"content_block":{"type":"text","text":""}}`+"\n\n"...)
	case blockThinking:
		e.out = append(e.out, `,"content_block":{"type":"thinking","thinking":"","signature":""}}`+"\n\n"...)
	}
}

func (e *StreamEncoder) closeBlock() {
	if e.block == blockNone {
		return
	}
	e.out = append(e.out, "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":"...)
	e.out = appendInt(e.out, e.index)
	e.out = append(e.out, "}\n\n"...)
	e.block = blockNone
}

// delta appends a content_block_delta whose delta is head + JSON string s.
func (e *StreamEncoder) delta(head, s string, index int) {
	e.out = append(e.out, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":"...)
	e.out = appendInt(e.out, index)
	e.out = append(e.out, `,"delta":`...)
	e.out = append(e.out, head...)
	e.out = appendString(e.out, s)
	e.out = append(e.out, "}}\n\n"...)
}

// toolCall handles one tool call delta; pos is its position in the chunk,
// used as its index when the upstream gives none. A new index, or a new id
// at a known index (upstreams that send every call at index 0), starts a new
// tool_use block. Arguments go to the latest block of their index, even when
// it is closed already (upstreams that interleave parallel calls): correct
// by the protocol and for SDKs that apply deltas by index (TypeScript, Python),
// but anthropic-sdk-go's Message.Accumulate applies every delta to the last
// block. OpenAI and the common compatible servers send calls one after another.
func (e *StreamEncoder) toolCall(tc *domain.ToolCall, pos int) {
	idx := pos
	if tc.Index != nil {
		idx = *tc.Index
	}
	args := tc.Function.Arguments
	if ref, ok := e.tools[idx]; ok && (tc.ID == "" || ref.id == "" || tc.ID == ref.id) {
		if args != "" {
			e.delta(`{"type":"input_json_delta","partial_json":`, args, ref.block)
		}
		return
	}
	e.open(blockTool)
	if e.tools == nil {
		e.tools = make(map[int]toolRef, 4)
	}
	e.tools[idx] = toolRef{block: e.index, id: tc.ID}
	e.out = append(e.out, `,"content_block":{"type":"tool_use","id":`...)
	e.out = appendString(e.out, toolUseID(tc.ID))
	e.out = append(e.out, `,"name":`...)
	e.out = appendString(e.out, tc.Function.Name)
	e.out = append(e.out, `,"input":{}}}`+"\n\n"...)
	if args != "" {
		e.delta(`{"type":"input_json_delta","partial_json":`, args, e.index)
	}
}

// end appends message_delta and message_stop.
func (e *StreamEncoder) end() {
	e.closeBlock()
	e.done = true
	stop := e.stop
	if stop == "" {
		stop = "end_turn"
	}
	e.out = append(e.out, "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"...)
	e.out = appendString(e.out, stop)
	e.out = append(e.out, `,"stop_sequence":`...)
	if e.matched {
		e.out = appendString(e.out, e.stopSeq)
	} else {
		e.out = append(e.out, "null"...)
	}
	e.out = append(e.out, `},"usage":`...)
	if e.hasUsage {
		e.out = appendUsage(e.out, &e.usage, true)
	} else {
		e.out = appendUsage(e.out, nil, false)
	}
	e.out = append(e.out, "}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"...)
}

func appendInt(b []byte, n int) []byte { return strconv.AppendInt(b, int64(n), 10) }
