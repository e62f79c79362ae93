package mock

import (
	"strconv"
)

// The assistant text is this pattern repeated. It is plain ASCII without
// quotes or backslashes, so any slice of it is valid inside a JSON string.
const textPattern = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor " +
	"incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud " +
	"exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat. "

// appendText appends bytes [from, to) of the endless repetition of textPattern.
func appendText(dst []byte, from, to int) []byte {
	for from < to {
		off := from % len(textPattern)
		n := min(len(textPattern)-off, to-from)
		dst = append(dst, textPattern[off:off+n]...)
		from += n
	}
	return dst
}

type provider uint8

const (
	openAI provider = iota
	anthropic
)

// plan is one response, fully decided before the first byte.
type plan struct {
	prov         provider
	stream       bool
	includeUsage bool
	tool         bool   // answer with a tool call
	toolName     []byte // raw JSON string literal
	truncated    bool   // stopped by max_tokens
	model        []byte // raw JSON string literal
	id           uint64
	created      int64
	tokens       int // content chunks (text) or argument fragments (tool)
	size         int // bytes of text
	promptTokens int
	idSalt       uint32
	chunkPrefix  []byte                   // the rendered start of every OpenAI chunk, once cached
	echo         *[len(respEchoes)][]byte // Responses API: the echoed request fields
}

// Tool calls carry empty arguments, streamed as two fragments: the mock
// cannot know the tool's schema, and {} is the one value any object schema
// without required fields accepts.
var toolArgs = [...]string{"{", "}"}

func (p *plan) completionTokens() int {
	if p.tool {
		return len(toolArgs)
	}
	return p.tokens
}

// chunk returns the text bounds of content chunk i of p.tokens.
func (p *plan) chunk(i int) (from, to int) {
	return i * p.size / p.tokens, (i + 1) * p.size / p.tokens
}

// bodyEvents is the number of paced stream events.
func (p *plan) bodyEvents() int {
	if p.tool {
		return len(toolArgs)
	}
	return p.tokens
}

func appendID(dst []byte, salt uint32, id uint64) []byte {
	const hex = "0123456789abcdef"
	var b [24]byte
	for i := 7; i >= 0; i-- {
		b[i] = hex[salt&0xf]
		salt >>= 4
	}
	for i := 23; i >= 8; i-- {
		b[i] = hex[id&0xf]
		id >>= 4
	}
	return append(dst, b[:]...)
}

func (p *plan) appendMsgID(dst []byte) []byte {
	if p.prov == openAI {
		dst = append(dst, "chatcmpl-mock"...)
	} else {
		dst = append(dst, "msg_mock"...)
	}
	return appendID(dst, p.idSalt, p.id)
}

func (p *plan) appendToolID(dst []byte) []byte {
	if p.prov != anthropic {
		dst = append(dst, "call_mock"...)
	} else {
		dst = append(dst, "toolu_mock"...)
	}
	return appendID(dst, p.idSalt, p.id)
}

func (p *plan) finishReason() string {
	switch {
	case p.prov == openAI && p.tool:
		return "tool_calls"
	case p.prov == openAI && p.truncated:
		return "length"
	case p.prov == openAI:
		return "stop"
	case p.tool:
		return "tool_use"
	case p.truncated:
		return "max_tokens"
	default:
		return "end_turn"
	}
}

// appendJSON appends the whole non-streaming response body.
func (p *plan) appendJSON(dst []byte) []byte {
	switch p.prov {
	case openAIResponses:
		return p.appendResponse(dst, true)
	case anthropic:
		return p.appendAnthropicJSON(dst)
	}
	return p.appendOpenAIJSON(dst)
}

func (p *plan) appendOpenAIUsage(dst []byte) []byte {
	c := p.completionTokens()
	dst = append(dst, `{"prompt_tokens":`...)
	dst = strconv.AppendInt(dst, int64(p.promptTokens), 10)
	dst = append(dst, `,"completion_tokens":`...)
	dst = strconv.AppendInt(dst, int64(c), 10)
	dst = append(dst, `,"total_tokens":`...)
	dst = strconv.AppendInt(dst, int64(p.promptTokens+c), 10)
	return append(dst, '}')
}

func (p *plan) appendOpenAIJSON(dst []byte) []byte {
	dst = append(dst, `{"id":"`...)
	dst = p.appendMsgID(dst)
	dst = append(dst, `","object":"chat.completion","created":`...)
	dst = strconv.AppendInt(dst, p.created, 10)
	dst = append(dst, `,"model":`...)
	dst = append(dst, p.model...)
	dst = append(dst, `,"choices":[{"index":0,"message":{"role":"assistant","content":`...)
	if p.tool {
		dst = append(dst, `null,"tool_calls":[{"id":"`...)
		dst = p.appendToolID(dst)
		dst = append(dst, `","type":"function","function":{"name":`...)
		dst = append(dst, p.toolName...)
		dst = append(dst, `,"arguments":"`...)
		for _, a := range toolArgs {
			dst = append(dst, a...)
		}
		dst = append(dst, `"}}]`...)
	} else {
		dst = append(dst, '"')
		dst = appendText(dst, 0, p.size)
		dst = append(dst, '"')
	}
	dst = append(dst, `,"refusal":null},"logprobs":null,"finish_reason":"`...)
	dst = append(dst, p.finishReason()...)
	dst = append(dst, `"}],"usage":`...)
	dst = p.appendOpenAIUsage(dst)
	return append(dst, '}')
}

func (p *plan) appendAnthropicJSON(dst []byte) []byte {
	dst = append(dst, `{"id":"`...)
	dst = p.appendMsgID(dst)
	dst = append(dst, `","type":"message","role":"assistant","model":`...)
	dst = append(dst, p.model...)
	if p.tool {
		dst = append(dst, `,"content":[{"type":"tool_use","id":"`...)
		dst = p.appendToolID(dst)
		dst = append(dst, `","name":`...)
		dst = append(dst, p.toolName...)
		dst = append(dst, `,"input":`...)
		for _, a := range toolArgs {
			dst = append(dst, a...)
		}
		dst = append(dst, `}]`...)
	} else {
		dst = append(dst, `,"content":[{"type":"text","text":"`...)
		dst = appendText(dst, 0, p.size)
		dst = append(dst, `"}]`...)
	}
	dst = append(dst, `,"stop_reason":"`...)
	dst = append(dst, p.finishReason()...)
	dst = append(dst, `","stop_sequence":null,"usage":{"input_tokens":`...)
	dst = strconv.AppendInt(dst, int64(p.promptTokens), 10)
	dst = append(dst, `,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":`...)
	dst = strconv.AppendInt(dst, int64(p.completionTokens()), 10)
	return append(dst, `}}`...)
}

// Streams: head events go out when the response starts, body event i at
// start + TTFT + i/TPS, tail events right after the last body event.

func (p *plan) appendHead(dst []byte) []byte {
	if p.prov == openAIResponses {
		return p.appendRespHead(dst)
	}
	if p.prov == anthropic {
		dst = append(dst, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\""...)
		dst = p.appendMsgID(dst)
		dst = append(dst, `","type":"message","role":"assistant","model":`...)
		dst = append(dst, p.model...)
		dst = append(dst, `,"content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":`...)
		dst = strconv.AppendInt(dst, int64(p.promptTokens), 10)
		dst = append(dst, `,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":1}}}`+"\n\n"...)
		dst = append(dst, "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":"...)
		if p.tool {
			dst = append(dst, `{"type":"tool_use","id":"`...)
			dst = p.appendToolID(dst)
			dst = append(dst, `","name":`...)
			dst = append(dst, p.toolName...)
			dst = append(dst, `,"input":{}}}`+"\n\n"...)
		} else {
			dst = append(dst, `{"type":"text","text":""}}`+"\n\n"...)
		}
		return append(dst, "event: ping\ndata: {\"type\":\"ping\"}\n\n"...)
	}
	dst = p.appendChunkPrefix(dst)
	if p.tool {
		dst = append(dst, `{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"`...)
		dst = p.appendToolID(dst)
		dst = append(dst, `","type":"function","function":{"name":`...)
		dst = append(dst, p.toolName...)
		dst = append(dst, `,"arguments":""}}],"refusal":null},"logprobs":null,"finish_reason":null}]`...)
	} else {
		dst = append(dst, `{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}]`...)
	}
	return p.appendChunkSuffix(dst)
}

func (p *plan) appendBody(dst []byte, i int) []byte {
	if p.prov == openAIResponses {
		return p.appendRespBody(dst, i)
	}
	if p.prov == anthropic {
		dst = append(dst, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":"...)
		if p.tool {
			dst = append(dst, `{"type":"input_json_delta","partial_json":"`...)
			dst = append(dst, toolArgs[i]...)
		} else {
			dst = append(dst, `{"type":"text_delta","text":"`...)
			from, to := p.chunk(i)
			dst = appendText(dst, from, to)
		}
		return append(dst, `"}}`+"\n\n"...)
	}
	dst = p.appendChunkPrefix(dst)
	if p.tool {
		dst = append(dst, `{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"`...)
		dst = append(dst, toolArgs[i]...)
		dst = append(dst, `"}}]},"logprobs":null,"finish_reason":null}]`...)
	} else {
		dst = append(dst, `{"index":0,"delta":{"content":"`...)
		from, to := p.chunk(i)
		dst = appendText(dst, from, to)
		dst = append(dst, `"},"logprobs":null,"finish_reason":null}]`...)
	}
	return p.appendChunkSuffix(dst)
}

func (p *plan) appendTail(dst []byte) []byte {
	if p.prov == openAIResponses {
		return p.appendRespTail(dst)
	}
	if p.prov == anthropic {
		dst = append(dst, "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"...)
		dst = append(dst, "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\""...)
		dst = append(dst, p.finishReason()...)
		dst = append(dst, `","stop_sequence":null},"usage":{"output_tokens":`...)
		dst = strconv.AppendInt(dst, int64(p.completionTokens()), 10)
		dst = append(dst, "}}\n\n"...)
		return append(dst, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"...)
	}
	dst = p.appendChunkPrefix(dst)
	dst = append(dst, `{"index":0,"delta":{},"logprobs":null,"finish_reason":"`...)
	dst = append(dst, p.finishReason()...)
	dst = append(dst, `"}]`...)
	dst = p.appendChunkSuffix(dst)
	if p.includeUsage {
		dst = p.appendChunkPrefix(dst)
		dst = append(dst, `],"usage":`...)
		dst = p.appendOpenAIUsage(dst)
		dst = append(dst, "}\n\n"...)
	}
	return append(dst, "data: [DONE]\n\n"...)
}

// appendChunkPrefix opens an OpenAI chunk up to the choices array.
func (p *plan) appendChunkPrefix(dst []byte) []byte {
	if p.chunkPrefix != nil {
		return append(dst, p.chunkPrefix...)
	}
	return p.renderChunkPrefix(dst)
}

// renderChunkPrefix renders what appendChunkPrefix copies once a stream
// has cached it in chunkPrefix.
func (p *plan) renderChunkPrefix(dst []byte) []byte {
	dst = append(dst, `data: {"id":"`...)
	dst = p.appendMsgID(dst)
	dst = append(dst, `","object":"chat.completion.chunk","created":`...)
	dst = strconv.AppendInt(dst, p.created, 10)
	dst = append(dst, `,"model":`...)
	dst = append(dst, p.model...)
	return append(dst, `,"choices":[`...)
}

func (p *plan) appendChunkSuffix(dst []byte) []byte {
	if p.includeUsage {
		return append(dst, ",\"usage\":null}\n\n"...)
	}
	return append(dst, "}\n\n"...)
}

// Errors in each provider's envelope.
