package mock_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/airouter/airouter/cmd/mockllm/mock"
	"github.com/airouter/airouter/core/testkit"
)

// OpenAI Chat Completions wire types, after the API reference; fields the
// mock never sends are still declared so strict decoding accepts them.
type oaUsage struct {
	PromptTokens            int             `json:"prompt_tokens"`
	CompletionTokens        int             `json:"completion_tokens"`
	TotalTokens             int             `json:"total_tokens"`
	PromptTokensDetails     json.RawMessage `json:"prompt_tokens_details"`
	CompletionTokensDetails json.RawMessage `json:"completion_tokens_details"`
}

type oaToolCall struct {
	Index    *int   `json:"index"`
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

type oaMessage struct {
	Role        string          `json:"role"`
	Content     *string         `json:"content"`
	Refusal     *string         `json:"refusal"`
	ToolCalls   []oaToolCall    `json:"tool_calls"`
	Annotations json.RawMessage `json:"annotations"`
}

type oaCompletion struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	Model   string `json:"model"`
	Choices []struct {
		Index        int             `json:"index"`
		Message      oaMessage       `json:"message"`
		Logprobs     json.RawMessage `json:"logprobs"`
		FinishReason string          `json:"finish_reason"`
	} `json:"choices"`
	Usage             *oaUsage `json:"usage"`
	ServiceTier       string   `json:"service_tier"`
	SystemFingerprint string   `json:"system_fingerprint"`
}

type oaChunk struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	Model   string `json:"model"`
	Choices []struct {
		Index        int             `json:"index"`
		Delta        oaMessage       `json:"delta"`
		Logprobs     json.RawMessage `json:"logprobs"`
		FinishReason *string         `json:"finish_reason"`
	} `json:"choices"`
	Usage             *oaUsage `json:"usage"`
	ServiceTier       string   `json:"service_tier"`
	SystemFingerprint string   `json:"system_fingerprint"`
}

type oaError = testkit.OpenAIError

func decodeCompletion(t *testing.T, body []byte) oaCompletion {
	t.Helper()
	var c oaCompletion
	strictDecode(t, string(body), &c)
	requireKeys(t, string(body), "id", "object", "created", "model", "choices", "usage")
	if c.Object != "chat.completion" || !strings.HasPrefix(c.ID, "chatcmpl-") || c.Created == 0 {
		t.Errorf("envelope: object %q id %q created %d", c.Object, c.ID, c.Created)
	}
	if len(c.Choices) != 1 || c.Choices[0].Index != 0 || c.Choices[0].Message.Role != "assistant" {
		t.Fatalf("choices: %+v", c.Choices)
	}
	var raw struct {
		Choices []struct {
			Message map[string]json.RawMessage `json:"message"`
		} `json:"choices"`
	}
	_ = json.Unmarshal(body, &raw)
	for _, k := range []string{"role", "content", "refusal"} {
		if _, ok := raw.Choices[0].Message[k]; !ok {
			t.Errorf("message lacks %q", k)
		}
	}
	if u := c.Usage; u == nil || u.TotalTokens != u.PromptTokens+u.CompletionTokens || u.PromptTokens <= 0 {
		t.Errorf("usage: %+v", c.Usage)
	}
	return c
}

// openAIStream reads a whole stream, checks every chunk against the chunk
// schema and the framing (data: lines only, [DONE] last), and returns the
// chunks.
func openAIStream(t *testing.T, resp *http.Response, includeUsage bool) []oaChunk {
	t.Helper()
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	evs, rest, err := readSSE(resp.Body, time.Now())
	if err != nil || rest != "" {
		t.Fatalf("stream: %v, leftover %q", err, rest)
	}
	if len(evs) < 3 || evs[len(evs)-1].data != "[DONE]" {
		t.Fatalf("stream must end with data: [DONE]: %+v", evs)
	}
	var chunks []oaChunk
	for i, ev := range evs[:len(evs)-1] {
		if ev.event != "" {
			t.Errorf("OpenAI events carry no event: line, got %q", ev.event)
		}
		var c oaChunk
		strictDecode(t, ev.data, &c)
		requireKeys(t, ev.data, "id", "object", "created", "model", "choices")
		if c.Object != "chat.completion.chunk" {
			t.Errorf("chunk %d object %q", i, c.Object)
		}
		if i > 0 && (c.ID != chunks[0].ID || c.Created != chunks[0].Created || c.Model != chunks[0].Model) {
			t.Errorf("chunk %d id/created/model differ from the first", i)
		}
		usageKey := strings.Contains(ev.data, `"usage":`)
		if includeUsage != usageKey {
			t.Errorf("chunk %d: usage key present %v, include_usage %v", i, usageKey, includeUsage)
		}
		chunks = append(chunks, c)
	}
	if d := chunks[0].Choices[0].Delta; d.Role != "assistant" {
		t.Errorf("first delta role %q", d.Role)
	}
	if includeUsage {
		last := chunks[len(chunks)-1]
		if last.Choices == nil || len(last.Choices) != 0 || last.Usage == nil {
			t.Errorf("usage chunk must have empty choices and usage: %+v", last)
		}
		for _, c := range chunks[:len(chunks)-1] {
			if c.Usage != nil {
				t.Errorf("only the last chunk carries usage")
			}
		}
		chunks = chunks[:len(chunks)-1]
	}
	for i, c := range chunks {
		if len(c.Choices) != 1 {
			t.Fatalf("chunk %d has %d choices", i, len(c.Choices))
		}
		fr := c.Choices[0].FinishReason
		if (fr != nil) != (i == len(chunks)-1) {
			t.Errorf("chunk %d finish_reason %v: only the last one has one", i, fr)
		}
	}
	return chunks
}

func streamText(chunks []oaChunk) string {
	var sb strings.Builder
	for _, c := range chunks {
		if len(c.Choices) > 0 && c.Choices[0].Delta.Content != nil {
			sb.WriteString(*c.Choices[0].Delta.Content)
		}
	}
	return sb.String()
}

func TestOpenAIJSON(t *testing.T) {
	t.Parallel()
	srv := start(t, mock.Config{})
	for _, path := range []string{"/v1/chat/completions", "/chat/completions"} {
		resp, body := post(t, srv, path, `{"model":"gpt-\"q\"\u00e9","messages":[{"role":"user","content":"Hello"}]}`)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("%s: status %d %q: %s", path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		c := decodeCompletion(t, body)
		if c.Model != `gpt-"q"é` {
			t.Errorf("model not echoed: %q", c.Model)
		}
		ch := c.Choices[0]
		if ch.FinishReason != "stop" || ch.Message.Content == nil || len(*ch.Message.Content) != mock.SizeSmall {
			t.Errorf("choice: %+v", ch)
		}
		if c.Usage.CompletionTokens != mock.SizeSmall/mock.BytesPerToken {
			t.Errorf("completion tokens %d", c.Usage.CompletionTokens)
		}
		if n := len(body); n < 250 || n > 400 {
			t.Errorf("small response is %d bytes, want ~300", n)
		}
	}
	_, body := post(t, srv, pathOpenAI, userMsg(""), "X-Mock-Size: large")
	decodeCompletion(t, body)
	if n := len(body); n < 9500 || n > 10500 {
		t.Errorf("large response is %d bytes, want ~10 KB", n)
	}
	_, body = post(t, srv, pathOpenAI, userMsg(""), "X-Mock-Size: 1000", "X-Mock-Tokens: 10")
	c := decodeCompletion(t, body)
	if len(*c.Choices[0].Message.Content) != 1000 || c.Usage.CompletionTokens != 10 {
		t.Errorf("size 1000 tokens 10: %d bytes, %d tokens", len(*c.Choices[0].Message.Content), c.Usage.CompletionTokens)
	}
}

func TestOpenAIStream(t *testing.T) {
	t.Parallel()
	srv := start(t, mock.Config{})
	_, body := post(t, srv, pathOpenAI, userMsg(""), "X-Mock-Tokens: 7")
	want := *decodeCompletion(t, body).Choices[0].Message.Content
	for _, usage := range []bool{false, true} {
		extra := `,"stream":true`
		if usage {
			extra += `,"stream_options":{"include_usage":true}`
		}
		resp, err := do(t, srv, pathOpenAI, userMsg(extra), "X-Mock-Tokens: 7")
		if err != nil {
			t.Fatal(err)
		}
		chunks := openAIStream(t, resp, usage)
		if len(chunks) != 1+7+1 {
			t.Errorf("include_usage %v: %d chunks, want role + 7 + finish", usage, len(chunks))
		}
		if got := streamText(chunks); got != want {
			t.Errorf("streamed text %q, JSON text %q", got, want)
		}
		if fr := *chunks[len(chunks)-1].Choices[0].FinishReason; fr != "stop" {
			t.Errorf("finish_reason %q", fr)
		}
	}
}

func TestOpenAIMaxTokens(t *testing.T) {
	t.Parallel()
	srv := start(t, mock.Config{Tokens: 20})
	_, body := post(t, srv, pathOpenAI, userMsg(`,"max_completion_tokens":5`))
	c := decodeCompletion(t, body)
	if c.Choices[0].FinishReason != "length" || c.Usage.CompletionTokens != 5 {
		t.Errorf("finish %q tokens %d", c.Choices[0].FinishReason, c.Usage.CompletionTokens)
	}
	resp, err := do(t, srv, pathOpenAI, userMsg(`,"max_tokens":3,"stream":true`))
	if err != nil {
		t.Fatal(err)
	}
	chunks := openAIStream(t, resp, false)
	if len(chunks) != 1+3+1 || *chunks[len(chunks)-1].Choices[0].FinishReason != "length" {
		t.Errorf("%d chunks", len(chunks))
	}
}

const oaTools = `,"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{}}}},{"type":"function","function":{"name":"other"}}]`

func TestOpenAIToolCall(t *testing.T) {
	t.Parallel()
	srv := start(t, mock.Config{ToolCall: mock.ToolCallAuto})

	_, body := post(t, srv, pathOpenAI, userMsg(oaTools))
	c := decodeCompletion(t, body)
	ch := c.Choices[0]
	if ch.FinishReason != "tool_calls" || ch.Message.Content != nil || len(ch.Message.ToolCalls) != 1 {
		t.Fatalf("want one tool call: %s", body)
	}
	tc := ch.Message.ToolCalls[0]
	if tc.Type != "function" || tc.Function.Name != "get_weather" || !strings.HasPrefix(tc.ID, "call_") || !json.Valid([]byte(tc.Function.Arguments)) {
		t.Errorf("tool call: %+v", tc)
	}

	resp, err := do(t, srv, pathOpenAI, userMsg(oaTools+`,"stream":true`), "X-Mock-Tool-Call: other")
	if err != nil {
		t.Fatal(err)
	}
	chunks := openAIStream(t, resp, false)
	first := chunks[0].Choices[0].Delta.ToolCalls
	if len(first) != 1 || first[0].ID == "" || first[0].Function.Name != "other" || first[0].Index == nil {
		t.Fatalf("first chunk must open the tool call: %+v", chunks[0])
	}
	var args strings.Builder
	for _, c := range chunks {
		for _, tc := range c.Choices[0].Delta.ToolCalls {
			args.WriteString(tc.Function.Arguments)
		}
	}
	if !json.Valid([]byte(args.String())) || *chunks[len(chunks)-1].Choices[0].FinishReason != "tool_calls" {
		t.Errorf("arguments %q, finish %v", args.String(), chunks[len(chunks)-1].Choices[0].FinishReason)
	}

	// After the tool result, or when told not to, the answer is text.
	for name, req := range map[string]string{
		"tool result": `{"model":"m","messages":[{"role":"user","content":"x"},{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"get_weather","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c","content":"sunny"}]` + oaTools + `}`,
		"choice none": userMsg(oaTools + `,"tool_choice":"none"`),
		"no tools":    userMsg(""),
	} {
		_, body := post(t, srv, pathOpenAI, req)
		if c := decodeCompletion(t, body); c.Choices[0].FinishReason != "stop" {
			t.Errorf("%s: finish %q", name, c.Choices[0].FinishReason)
		}
	}
	_, body = post(t, srv, pathOpenAI, userMsg(oaTools), "X-Mock-Tool-Call: off")
	if c := decodeCompletion(t, body); c.Choices[0].FinishReason != "stop" {
		t.Errorf("header off: finish %q", c.Choices[0].FinishReason)
	}
}

func TestModels(t *testing.T) {
	t.Parallel()
	srv := start(t, mock.Config{Models: []string{"a", "b"}})
	resp, err := client(t).Get(srv.URL + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	var oa struct {
		Object string `json:"object"`
		Data   []struct {
			ID      string `json:"id"`
			Object  string `json:"object"`
			Created int64  `json:"created"`
			OwnedBy string `json:"owned_by"`
		} `json:"data"`
	}
	err = json.NewDecoder(resp.Body).Decode(&oa)
	resp.Body.Close()
	if err != nil || oa.Object != "list" || len(oa.Data) != 2 || oa.Data[1].ID != "b" || oa.Data[0].Object != "model" {
		t.Errorf("OpenAI models: %v %+v", err, oa)
	}

	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/models", nil)
	req.Header.Set("x-api-key", "k")
	req.Header.Set("anthropic-version", "2023-06-01")
	resp, err = client(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var an struct {
		Data []struct {
			Type        string `json:"type"`
			ID          string `json:"id"`
			DisplayName string `json:"display_name"`
			CreatedAt   string `json:"created_at"`
		} `json:"data"`
		HasMore bool    `json:"has_more"`
		FirstID *string `json:"first_id"`
		LastID  *string `json:"last_id"`
	}
	err = json.NewDecoder(resp.Body).Decode(&an)
	resp.Body.Close()
	if err != nil || len(an.Data) != 2 || an.Data[0].Type != "model" || an.FirstID == nil || *an.LastID != "b" {
		t.Errorf("Anthropic models: %v %+v", err, an)
	}
	if _, err := time.Parse(time.RFC3339, an.Data[0].CreatedAt); err != nil {
		t.Errorf("created_at: %v", err)
	}
}
