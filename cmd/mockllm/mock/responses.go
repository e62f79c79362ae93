package mock

import (
	"bytes"
	"errors"
	"strconv"

	"github.com/airouter/airouter/core/jsonx"
)

// The OpenAI Responses API (POST /v1/responses): the same plan as a chat
// completion (size, tokens, pacing, max_output_tokens truncation, tool
// calls), rendered as a response object or as its typed event stream.

// openAIResponses renders a plan in the Responses API's format; its errors
// are OpenAI's.
const openAIResponses provider = anthropic + 1

// respEchoes are the request fields a response object repeats, with the
// value it shows when the request leaves them out (or sends null).
var respEchoes = [...]struct{ key, def string }{
	{"instructions", "null"},
	{"max_output_tokens", "null"},
	{"parallel_tool_calls", "true"},
	{"previous_response_id", "null"},
	{"reasoning", `{"effort":null,"summary":null}`},
	{"store", "true"},
	{"temperature", "1.0"},
	{"text", `{"format":{"type":"text"}}`},
	{"tool_choice", `"auto"`},
	{"tools", "[]"},
	{"top_p", "1.0"},
	{"truncation", `"disabled"`},
	{"user", "null"},
	{"metadata", "{}"},
}

func echoIndex(key []byte) int {
	for i := range respEchoes {
		if string(key) == respEchoes[i].key {
			return i
		}
	}
	return -1
}

var (
	errInput       = errors.New("input: expected a string or an array of input items")
	litFuncOutput  = []byte(`"function_call_output"`)
	litFunctionTyp = []byte(`"function"`)
)

// scanResponses reads the fields of a Responses API request the mock acts
// on or echoes (see scanRequest for how strictly).
func scanResponses(b []byte, ri *reqInfo) error {
	return scanBody(b, ri, responsesField)
}

// responsesField reads one top-level member of a Responses API request.
func responsesField(ri *reqInfo, k, v []byte) error {
	done, err := commonField(ri, k, v)
	if !done {
		switch string(k) {
		case "input":
			err = scanInput(v, ri)
		case "tools":
			scanFunctionTools(v, ri)
		case "tool_choice":
			scanToolChoice(v, ri)
		case "max_output_tokens":
			ri.maxTokens, err = integer(v)
		}
	}
	if err != nil {
		return err
	}
	if i := echoIndex(k); i >= 0 && !jsonx.IsNull(v) {
		ri.echo[i] = v
	}
	return nil
}

// scanInput counts the input items and records whether the last one is
// the user's own turn: a string input is one user message; of an item
// array, the last item must have role "user" (a function_call_output has
// none).
func scanInput(v []byte, ri *reqInfo) error {
	switch v[0] {
	case '"':
		ri.messages, ri.lastIsUser = 1, true
		return nil
	case '[':
	default:
		if jsonx.IsNull(v) {
			return nil
		}
		return errInput
	}
	for item := range elements(v) {
		ri.messages++
		ri.lastIsUser, ri.lastToolResult = false, false
		for k, iv := range members(item) {
			switch string(k) {
			case "role":
				ri.lastIsUser = bytes.Equal(iv, litUser)
			case "type":
				ri.lastToolResult = bytes.Equal(iv, litFuncOutput)
			}
		}
	}
	return nil
}

// scanFunctionTools counts the function tools ({"type":"function",
// "name":...}) and records the first one's name; built-in tools such as
// web_search are not the mock's to call.
func scanFunctionTools(v []byte, ri *reqInfo) {
	for tool := range elements(v) {
		var name []byte
		fn := false
		for k, val := range members(tool) {
			switch string(k) {
			case "type":
				fn = bytes.Equal(val, litFunctionTyp)
			case "name":
				if val[0] == '"' {
					name = val
				}
			}
		}
		if fn && name != nil {
			ri.tools++
			if ri.toolName == nil {
				ri.toolName = name
			}
		}
	}
}

func (p *plan) appendRespID(dst []byte) []byte {
	return appendID(append(dst, "resp_mock"...), p.idSalt, p.id)
}

// appendItemID appends the id of the response's one output item.
func (p *plan) appendItemID(dst []byte) []byte {
	if p.tool {
		dst = append(dst, "fc_mock"...)
	} else {
		dst = append(dst, "msg_mock"...)
	}
	return appendID(dst, p.idSalt, p.id)
}

// incomplete reports a text answer cut by max_output_tokens.
func (p *plan) incomplete() bool { return p.truncated && !p.tool }

// appendResponse appends the response object: in progress (no output, no
// usage) or final.
func (p *plan) appendResponse(dst []byte, final bool) []byte {
	dst = append(dst, `{"id":"`...)
	dst = p.appendRespID(dst)
	dst = append(dst, `","object":"response","created_at":`...)
	dst = strconv.AppendInt(dst, p.created, 10)
	switch {
	case !final:
		dst = append(dst, `,"status":"in_progress","background":false,"error":null,"incomplete_details":null`...)
	case p.incomplete():
		dst = append(dst, `,"status":"incomplete","background":false,"error":null,"incomplete_details":{"reason":"max_output_tokens"}`...)
	default:
		dst = append(dst, `,"status":"completed","background":false,"error":null,"incomplete_details":null`...)
	}
	dst = append(dst, `,"model":`...)
	dst = append(dst, p.model...)
	dst = append(dst, `,"output":[`...)
	if final {
		dst = p.appendRespItem(dst, true)
	}
	dst = append(dst, `],"service_tier":"default"`...)
	for i := range respEchoes {
		dst = append(dst, ',', '"')
		dst = append(dst, respEchoes[i].key...)
		dst = append(dst, '"', ':')
		if v := p.echo[i]; v != nil {
			dst = append(dst, v...)
		} else {
			dst = append(dst, respEchoes[i].def...)
		}
	}
	dst = append(dst, `,"usage":`...)
	if !final {
		return append(dst, "null}"...)
	}
	c := p.completionTokens()
	dst = append(dst, `{"input_tokens":`...)
	dst = strconv.AppendInt(dst, int64(p.promptTokens), 10)
	dst = append(dst, `,"input_tokens_details":{"cache_write_tokens":0,"cached_tokens":0},"output_tokens":`...)
	dst = strconv.AppendInt(dst, int64(c), 10)
	dst = append(dst, `,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":`...)
	dst = strconv.AppendInt(dst, int64(p.promptTokens+c), 10)
	return append(dst, "}}"...)
}

// appendRespItem appends the output item: a message with one output_text
// part, or a function call; just opened (empty) or final.
func (p *plan) appendRespItem(dst []byte, final bool) []byte {
	dst = append(dst, `{"id":"`...)
	dst = p.appendItemID(dst)
	status := "in_progress"
	switch {
	case !final:
	case p.incomplete():
		status = "incomplete"
	default:
		status = "completed"
	}
	if p.tool {
		dst = append(dst, `","type":"function_call","status":"`...)
		dst = append(dst, status...)
		dst = append(dst, `","arguments":"`...)
		if final {
			for _, a := range toolArgs {
				dst = append(dst, a...)
			}
		}
		dst = append(dst, `","call_id":"`...)
		dst = p.appendToolID(dst)
		dst = append(dst, `","name":`...)
		dst = append(dst, p.toolName...)
		return append(dst, '}')
	}
	dst = append(dst, `","type":"message","status":"`...)
	dst = append(dst, status...)
	dst = append(dst, `","content":[`...)
	if final {
		dst = p.appendRespPart(dst, true)
	}
	return append(dst, `],"role":"assistant"}`...)
}

// appendRespPart appends the output_text part, empty or with all the text.
func (p *plan) appendRespPart(dst []byte, full bool) []byte {
	dst = append(dst, `{"type":"output_text","annotations":[],"logprobs":[],"text":"`...)
	if full {
		dst = appendText(dst, 0, p.size)
	}
	return append(dst, `"}`...)
}

// respHeadEvents is the number of events before the first delta.
func (p *plan) respHeadEvents() int {
	if p.tool {
		return 3 // created, in_progress, output_item.added
	}
	return 4 // and content_part.added
}

// appendRespEvent opens the event typ with sequence number seq; the caller
// appends its other members and closes it with endEvent.
func appendRespEvent(dst []byte, typ string, seq int) []byte {
	dst = append(dst, "event: "...)
	dst = append(dst, typ...)
	dst = append(dst, "\ndata: {\"type\":\""...)
	dst = append(dst, typ...)
	dst = append(dst, `","sequence_number":`...)
	return strconv.AppendInt(dst, int64(seq), 10)
}

func endEvent(dst []byte) []byte { return append(dst, "}\n\n"...) }

// appendItemRef appends the members naming the output item.
func (p *plan) appendItemRef(dst []byte) []byte {
	dst = append(dst, `,"item_id":"`...)
	dst = p.appendItemID(dst)
	return append(dst, `","output_index":0`...)
}

func (p *plan) appendRespHead(dst []byte) []byte {
	dst = appendRespEvent(dst, "response.created", 0)
	dst = append(dst, `,"response":`...)
	dst = endEvent(p.appendResponse(dst, false))
	dst = appendRespEvent(dst, "response.in_progress", 1)
	dst = append(dst, `,"response":`...)
	dst = endEvent(p.appendResponse(dst, false))
	dst = appendRespEvent(dst, "response.output_item.added", 2)
	dst = append(dst, `,"output_index":0,"item":`...)
	dst = endEvent(p.appendRespItem(dst, false))
	if p.tool {
		return dst
	}
	dst = appendRespEvent(dst, "response.content_part.added", 3)
	dst = append(p.appendItemRef(dst), `,"content_index":0,"part":`...)
	return endEvent(p.appendRespPart(dst, false))
}

func (p *plan) appendRespBody(dst []byte, i int) []byte {
	seq := p.respHeadEvents() + i
	if p.tool {
		dst = appendRespEvent(dst, "response.function_call_arguments.delta", seq)
		dst = append(p.appendItemRef(dst), `,"delta":"`...)
		dst = append(dst, toolArgs[i]...)
		return append(dst, "\"}\n\n"...)
	}
	dst = appendRespEvent(dst, "response.output_text.delta", seq)
	dst = append(p.appendItemRef(dst), `,"content_index":0,"delta":"`...)
	from, to := p.chunk(i)
	dst = appendText(dst, from, to)
	return append(dst, `","logprobs":[]}`+"\n\n"...)
}

func (p *plan) appendRespTail(dst []byte) []byte {
	seq := p.respHeadEvents() + p.bodyEvents()
	if p.tool {
		dst = appendRespEvent(dst, "response.function_call_arguments.done", seq)
		dst = append(p.appendItemRef(dst), `,"arguments":"`...)
		for _, a := range toolArgs {
			dst = append(dst, a...)
		}
		dst = append(dst, "\"}\n\n"...)
		seq++
	} else {
		dst = appendRespEvent(dst, "response.output_text.done", seq)
		dst = append(p.appendItemRef(dst), `,"content_index":0,"text":"`...)
		dst = appendText(dst, 0, p.size)
		dst = append(dst, `","logprobs":[]}`+"\n\n"...)
		dst = appendRespEvent(dst, "response.content_part.done", seq+1)
		dst = append(p.appendItemRef(dst), `,"content_index":0,"part":`...)
		dst = endEvent(p.appendRespPart(dst, true))
		seq += 2
	}
	dst = appendRespEvent(dst, "response.output_item.done", seq)
	dst = append(dst, `,"output_index":0,"item":`...)
	dst = endEvent(p.appendRespItem(dst, true))
	end := "response.completed"
	if p.incomplete() {
		end = "response.incomplete"
	}
	dst = appendRespEvent(dst, end, seq+1)
	dst = append(dst, `,"response":`...)
	return endEvent(p.appendResponse(dst, true))
}
