package providertest

import (
	"fmt"
	"strings"
)

// Fixed identifiers, shaped like the real ones.
const (
	openaiID       = "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG"
	openaiFP       = "fp_06737a9306"
	arkID          = "0217426318107460cfa43dc3f3683b1de1c09624ff49085a456ac"
	anthropicID    = "msg_01XFDUDYJgAACzvnptvVoYEL"
	fakeCreated    = 1741570283
	anthropicModel = "claude-sonnet-4-5-20250929"
)

func (u *Upstream) render(r Reply, model string) []byte {
	switch u.Wire {
	case WireAnthropic:
		return []byte(renderAnthropic(r))
	case WireArk:
		return []byte(renderArk(r, model))
	default:
		return []byte(renderOpenAI(r, model))
	}
}

func (u *Upstream) events(r Reply, model string, includeUsage bool) []string {
	switch u.Wire {
	case WireAnthropic:
		return anthropicEvents(r)
	case WireArk:
		return arkEvents(r, model, includeUsage)
	default:
		return openaiEvents(r, model, includeUsage)
	}
}

func contentOrNull(s string) string {
	if s == "" {
		return "null"
	}
	return jsonString(s)
}

// --- OpenAI ---------------------------------------------------------------

func openaiUsage(r Reply) string {
	return fmt.Sprintf(`{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d,"prompt_tokens_details":{"cached_tokens":%d,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}`,
		r.PromptTokens, r.CompletionTokens, r.PromptTokens+r.CompletionTokens, r.CachedTokens)
}

func openaiToolCalls(r Reply) string {
	var b strings.Builder
	for i, tc := range r.ToolCalls {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":%s,"type":"function","function":{"name":%s,"arguments":%s}}`, jsonString(tc.ID), jsonString(tc.Name), jsonString(tc.Arguments))
	}
	return b.String()
}

func renderOpenAI(r Reply, model string) string {
	msg := `{"role":"assistant","content":` + contentOrNull(r.Text)
	if len(r.ToolCalls) > 0 {
		msg += `,"tool_calls":[` + openaiToolCalls(r) + `]`
	}
	msg += `,"refusal":null,"annotations":[]}`
	return fmt.Sprintf(`{"id":%q,"object":"chat.completion","created":%d,"model":%s,"choices":[{"index":0,"message":%s,"logprobs":null,"finish_reason":%q}],"usage":%s,"service_tier":"default","system_fingerprint":%q}`,
		openaiID, fakeCreated, jsonString(model), msg, finishOrDefault(r), openaiUsage(r), openaiFP)
}

func openaiEvents(r Reply, model string, includeUsage bool) []string {
	usageNull := ""
	if includeUsage {
		usageNull = `,"usage":null`
	}
	chunk := func(delta, finish string) string {
		return sseData(fmt.Sprintf(`{"id":%q,"object":"chat.completion.chunk","created":%d,"model":%s,"service_tier":"default","system_fingerprint":%q,"choices":[{"index":0,"delta":%s,"logprobs":null,"finish_reason":%s}]%s}`,
			openaiID, fakeCreated, jsonString(model), openaiFP, delta, finish, usageNull))
	}
	out := []string{chunk(`{"role":"assistant","content":"","refusal":null}`, "null")}
	for _, p := range pieces(r.Text, 3) {
		out = append(out, chunk(`{"content":`+jsonString(p)+`}`, "null"))
	}
	for i, tc := range r.ToolCalls {
		out = append(out, chunk(fmt.Sprintf(`{"tool_calls":[{"index":%d,"id":%s,"type":"function","function":{"name":%s,"arguments":""}}]}`, i, jsonString(tc.ID), jsonString(tc.Name)), "null"))
		for _, p := range pieces(tc.Arguments, 5) {
			out = append(out, chunk(fmt.Sprintf(`{"tool_calls":[{"index":%d,"function":{"arguments":%s}}]}`, i, jsonString(p)), "null"))
		}
	}
	out = append(out, chunk(`{}`, jsonString(finishOrDefault(r))))
	if includeUsage {
		out = append(out, sseData(fmt.Sprintf(`{"id":%q,"object":"chat.completion.chunk","created":%d,"model":%s,"service_tier":"default","system_fingerprint":%q,"choices":[],"usage":%s}`,
			openaiID, fakeCreated, jsonString(model), openaiFP, openaiUsage(r))))
	}
	return append(out, sseData("[DONE]"))
}

// --- Volcengine Ark -------------------------------------------------------

func arkUsage(r Reply) string {
	return fmt.Sprintf(`{"completion_tokens":%d,"prompt_tokens":%d,"total_tokens":%d,"prompt_tokens_details":{"cached_tokens":%d},"completion_tokens_details":{"reasoning_tokens":%d}}`,
		r.CompletionTokens, r.PromptTokens, r.PromptTokens+r.CompletionTokens, r.CachedTokens, len(pieces(r.Reasoning, 3)))
}

func arkToolCalls(r Reply) string {
	var b strings.Builder
	for i, tc := range r.ToolCalls {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"function":{"arguments":%s,"name":%s},"id":%s,"type":"function"}`, jsonString(tc.Arguments), jsonString(tc.Name), jsonString(tc.ID))
	}
	return b.String()
}

func renderArk(r Reply, model string) string {
	msg := `{"content":` + jsonString(r.Text)
	if r.Reasoning != "" {
		msg += `,"reasoning_content":` + jsonString(r.Reasoning)
	}
	msg += `,"role":"assistant"`
	if len(r.ToolCalls) > 0 {
		msg += `,"tool_calls":[` + arkToolCalls(r) + `]`
	}
	msg += `}`
	return fmt.Sprintf(`{"choices":[{"finish_reason":%q,"index":0,"logprobs":null,"message":%s}],"created":%d,"id":%q,"model":%s,"service_tier":"default","object":"chat.completion","usage":%s}`,
		finishOrDefault(r), msg, fakeCreated, arkID, jsonString(model), arkUsage(r))
}

func arkEvents(r Reply, model string, includeUsage bool) []string {
	chunk := func(choice string) string {
		return sseData(fmt.Sprintf(`{"choices":[%s],"created":%d,"id":%q,"model":%s,"service_tier":"default","object":"chat.completion.chunk","usage":null}`,
			choice, fakeCreated, arkID, jsonString(model)))
	}
	var out []string
	for _, p := range pieces(r.Reasoning, 3) {
		out = append(out, chunk(`{"delta":{"content":"","reasoning_content":`+jsonString(p)+`,"role":"assistant"},"index":0}`))
	}
	for _, p := range pieces(r.Text, 3) {
		out = append(out, chunk(`{"delta":{"content":`+jsonString(p)+`,"role":"assistant"},"index":0}`))
	}
	if len(out) == 0 {
		out = append(out, chunk(`{"delta":{"content":"","role":"assistant"},"index":0}`))
	}
	for i, tc := range r.ToolCalls {
		out = append(out, chunk(fmt.Sprintf(`{"delta":{"content":"","role":"assistant","tool_calls":[{"function":{"arguments":"","name":%s},"id":%s,"index":%d,"type":"function"}]},"index":0}`, jsonString(tc.Name), jsonString(tc.ID), i)))
		for _, p := range pieces(tc.Arguments, 5) {
			out = append(out, chunk(fmt.Sprintf(`{"delta":{"content":"","role":"assistant","tool_calls":[{"function":{"arguments":%s},"index":%d,"type":"function"}]},"index":0}`, jsonString(p), i)))
		}
	}
	out = append(out, chunk(fmt.Sprintf(`{"delta":{"content":"","role":"assistant"},"finish_reason":%q,"index":0}`, finishOrDefault(r))))
	if includeUsage {
		out = append(out, sseData(fmt.Sprintf(`{"choices":[],"created":%d,"id":%q,"model":%s,"service_tier":"default","object":"chat.completion.chunk","usage":%s}`,
			fakeCreated, arkID, jsonString(model), arkUsage(r))))
	}
	return append(out, sseData("[DONE]"))
}

// --- Anthropic ------------------------------------------------------------

func anthropicStop(r Reply) string {
	switch finishOrDefault(r) {
	case "length":
		return "max_tokens"
	case "tool_calls":
		return "tool_use"
	default:
		return "end_turn"
	}
}

func anthropicUsage(r Reply, output int) string {
	return fmt.Sprintf(`{"input_tokens":%d,"cache_creation_input_tokens":0,"cache_read_input_tokens":%d,"output_tokens":%d,"service_tier":"standard"}`,
		r.PromptTokens-r.CachedTokens, r.CachedTokens, output)
}

func renderAnthropic(r Reply) string {
	var blocks []string
	if r.Reasoning != "" {
		blocks = append(blocks, `{"type":"thinking","thinking":`+jsonString(r.Reasoning)+`,"signature":"EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"}`)
	}
	if r.Text != "" {
		blocks = append(blocks, `{"type":"text","text":`+jsonString(r.Text)+`}`)
	}
	for _, tc := range r.ToolCalls {
		args := tc.Arguments
		if args == "" {
			args = "{}"
		}
		blocks = append(blocks, fmt.Sprintf(`{"type":"tool_use","id":%s,"name":%s,"input":%s}`, jsonString(tc.ID), jsonString(tc.Name), compact(args)))
	}
	return fmt.Sprintf(`{"id":%q,"type":"message","role":"assistant","model":%q,"content":[%s],"stop_reason":%q,"stop_sequence":null,"usage":%s}`,
		anthropicID, anthropicModel, strings.Join(blocks, ","), anthropicStop(r), anthropicUsage(r, r.CompletionTokens))
}

func anthropicEvents(r Reply) []string {
	ev := func(name, data string) string { return "event: " + name + "\ndata: " + data + "\n\n" }
	out := []string{
		ev("message_start", fmt.Sprintf(`{"type":"message_start","message":{"id":%q,"type":"message","role":"assistant","model":%q,"content":[],"stop_reason":null,"stop_sequence":null,"usage":%s}}`,
			anthropicID, anthropicModel, anthropicUsage(r, 1))),
	}
	idx := 0
	if r.Reasoning != "" {
		out = append(out, ev("content_block_start", fmt.Sprintf(`{"type":"content_block_start","index":%d,"content_block":{"type":"thinking","thinking":"","signature":""}}`, idx)))
		for _, p := range pieces(r.Reasoning, 3) {
			out = append(out, ev("content_block_delta", fmt.Sprintf(`{"type":"content_block_delta","index":%d,"delta":{"type":"thinking_delta","thinking":%s}}`, idx, jsonString(p))))
		}
		out = append(out, ev("content_block_delta", fmt.Sprintf(`{"type":"content_block_delta","index":%d,"delta":{"type":"signature_delta","signature":"EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"}}`, idx)))
		out = append(out, ev("content_block_stop", fmt.Sprintf(`{"type":"content_block_stop","index":%d}`, idx)))
		idx++
	}
	if r.Text != "" {
		out = append(out, ev("content_block_start", fmt.Sprintf(`{"type":"content_block_start","index":%d,"content_block":{"type":"text","text":""}}`, idx)))
		out = append(out, ev("ping", `{"type": "ping"}`))
		for _, p := range pieces(r.Text, 3) {
			out = append(out, ev("content_block_delta", fmt.Sprintf(`{"type":"content_block_delta","index":%d,"delta":{"type":"text_delta","text":%s}}`, idx, jsonString(p))))
		}
		out = append(out, ev("content_block_stop", fmt.Sprintf(`{"type":"content_block_stop","index":%d}`, idx)))
		idx++
	}
	for _, tc := range r.ToolCalls {
		out = append(out, ev("content_block_start", fmt.Sprintf(`{"type":"content_block_start","index":%d,"content_block":{"type":"tool_use","id":%s,"name":%s,"input":{}}}`, idx, jsonString(tc.ID), jsonString(tc.Name))))
		out = append(out, ev("content_block_delta", fmt.Sprintf(`{"type":"content_block_delta","index":%d,"delta":{"type":"input_json_delta","partial_json":""}}`, idx)))
		for _, p := range pieces(tc.Arguments, 5) {
			out = append(out, ev("content_block_delta", fmt.Sprintf(`{"type":"content_block_delta","index":%d,"delta":{"type":"input_json_delta","partial_json":%s}}`, idx, jsonString(p))))
		}
		out = append(out, ev("content_block_stop", fmt.Sprintf(`{"type":"content_block_stop","index":%d}`, idx)))
		idx++
	}
	out = append(out,
		ev("message_delta", fmt.Sprintf(`{"type":"message_delta","delta":{"stop_reason":%q,"stop_sequence":null},"usage":{"output_tokens":%d}}`, anthropicStop(r), r.CompletionTokens)),
		ev("message_stop", `{"type":"message_stop"}`),
	)
	return out
}
