package anthropicapi

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/airouter/airouter/core/domain"
)

// EncodeResponse converts a chat completion into a Messages API response body
// (type "message"). Choice 0 is used; its reasoning_content becomes a
// thinking block, its text (or refusal) a text block and each tool call a
// tool_use block whose input is the parsed arguments (an empty object when
// they are not a JSON object, e.g. cut off by max_tokens). When resp has no
// typed choices its Raw body is decoded instead.
func EncodeResponse(req *Request, resp *domain.ChatResponse) ([]byte, error) {
	if len(resp.Choices) == 0 && len(resp.Raw) > 0 {
		var full domain.ChatResponse
		if err := json.Unmarshal(resp.Raw, &full); err != nil {
			return nil, err
		}
		if full.Usage == nil {
			full.Usage = resp.Usage
		} else if resp.Usage != nil && full.Usage.CachedTokens == 0 {
			full.Usage.CachedTokens = resp.Usage.CachedTokens
		}
		if full.ID == "" {
			full.ID = resp.ID
		}
		full.Raw = resp.Raw
		resp = &full
	}
	b := make([]byte, 0, 256)
	b = append(b, `{"id":`...)
	b = appendString(b, messageID(resp.ID))
	b = append(b, `,"type":"message","role":"assistant","model":`...)
	b = appendString(b, req.Model)
	b = append(b, `,"content":[`...)
	var finish string
	n := 0
	sep := func() {
		if n > 0 {
			b = append(b, ',')
		}
		n++
	}
	refusal := false
	if len(resp.Choices) > 0 {
		c := &resp.Choices[0]
		for i := range resp.Choices {
			if resp.Choices[i].Index == 0 {
				c = &resp.Choices[i]
				break
			}
		}
		finish = c.FinishReason
		m := &c.Message
		if m.ReasoningContent != "" {
			sep()
			b = append(b, `{"type":"thinking","thinking":`...)
			b = appendString(b, m.ReasoningContent)
			b = append(b, `,"signature":""}`...)
		}
		text := m.Content.String()
		if text == "" && m.Refusal != nil && *m.Refusal != "" {
			text, refusal = *m.Refusal, true
		}
		if text != "" {
			sep()
			b = append(b, `{"type":"text","text":`...)
			b = appendString(b, text)
			b = append(b, '}')
		}
		for _, tc := range m.ToolCalls {
			sep()
			b = append(b, `{"type":"tool_use","id":`...)
			b = appendString(b, toolUseID(tc.ID))
			b = append(b, `,"name":`...)
			b = appendString(b, tc.Function.Name)
			b = append(b, `,"input":`...)
			b = appendInput(b, tc.Function.Arguments)
			b = append(b, '}')
		}
	}
	stop := stopReason(finish)
	if refusal && (finish == "" || finish == "stop") {
		stop = "refusal"
	}
	seq, matched := "", false
	if finish == "stop" {
		seq, matched = matchedStop(resp.Raw, req.StopSequences)
	}
	if matched {
		stop = "stop_sequence"
	}
	b = append(b, `],"stop_reason":`...)
	b = appendString(b, stop)
	b = append(b, `,"stop_sequence":`...)
	if matched {
		b = appendString(b, seq)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"usage":`...)
	b = appendUsage(b, resp.Usage, true)
	return append(b, '}'), nil
}

// stopReason maps an OpenAI finish_reason to a stop_reason.
func stopReason(finish string) string {
	switch finish {
	case "length":
		return "max_tokens"
	case "tool_calls", "function_call":
		return "tool_use"
	case "content_filter":
		return "refusal"
	default: // stop, and upstreams that give none
		return "end_turn"
	}
}

// matchedStop reports the stop sequence an upstream says it stopped at:
// vLLM and compatible servers put it in choices[0].stop_reason. raw is a
// response or chunk body; anything unexpected means "not knowable".
func matchedStop(raw []byte, seqs []string) (string, bool) {
	if len(seqs) == 0 || len(raw) == 0 || !bytes.Contains(raw, []byte(`"stop_reason"`)) {
		return "", false
	}
	var v struct {
		Choices []struct {
			StopReason json.RawMessage `json:"stop_reason"`
		} `json:"choices"`
	}
	if json.Unmarshal(raw, &v) != nil || len(v.Choices) == 0 {
		return "", false
	}
	var s string
	if json.Unmarshal(v.Choices[0].StopReason, &s) != nil {
		return "", false
	}
	for _, q := range seqs {
		if q == s {
			return s, true
		}
	}
	return "", false
}

// messageID makes a "msg_" id from the upstream's completion id, or a random
// one when there is none.
func messageID(id string) string {
	id = strings.TrimPrefix(id, "chatcmpl-")
	if id == "" {
		return "msg_" + randomID()
	}
	if strings.HasPrefix(id, "msg_") {
		return id
	}
	return "msg_" + id
}

// toolUseID keeps the upstream's call id (clients send it back as
// tool_use_id, which becomes tool_call_id again) or makes one up.
func toolUseID(id string) string {
	if id == "" {
		return "toolu_" + randomID()
	}
	return id
}

func randomID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// appendInput appends tool arguments as a JSON object.
func appendInput(b []byte, args string) []byte {
	a := bytes.TrimSpace([]byte(args))
	if len(a) == 0 || a[0] != '{' || !json.Valid(a) {
		return append(b, "{}"...)
	}
	n := len(b)
	buf := bytes.NewBuffer(b)
	if err := json.Compact(buf, a); err != nil {
		return append(b[:n], "{}"...)
	}
	return buf.Bytes()
}

// appendUsage appends Anthropic usage. OpenAI's prompt_tokens include cache
// hits; Anthropic's input_tokens do not.
func appendUsage(b []byte, u *domain.Usage, withInput bool) []byte {
	var in, cached, out int
	if u != nil {
		cached = cachedTokens(u)
		in, out = max(u.PromptTokens-cached, 0), max(u.CompletionTokens, 0)
	}
	b = append(b, '{')
	if withInput {
		b = append(b, `"input_tokens":`...)
		b = strconv.AppendInt(b, int64(in), 10)
		b = append(b, `,"cache_creation_input_tokens":0,"cache_read_input_tokens":`...)
		b = strconv.AppendInt(b, int64(cached), 10)
		b = append(b, ',')
	}
	b = append(b, `"output_tokens":`...)
	b = strconv.AppendInt(b, int64(out), 10)
	return append(b, '}')
}

func cachedTokens(u *domain.Usage) int {
	if u.CachedTokens > 0 || len(u.PromptTokensDetails) == 0 {
		return min(u.CachedTokens, max(u.PromptTokens, 0))
	}
	var d struct {
		CachedTokens int `json:"cached_tokens"`
	}
	if json.Unmarshal(u.PromptTokensDetails, &d) != nil || d.CachedTokens < 0 {
		return 0
	}
	return min(d.CachedTokens, max(u.PromptTokens, 0))
}
