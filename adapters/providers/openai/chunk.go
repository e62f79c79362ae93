package openai

import (
	"bytes"
	"encoding/json"

	"github.com/airouter/airouter/adapters/providers/internal/upstream"
	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/core/jsonx"
)

// chunkParser reads the fields the router needs from stream chunks. It
// remembers the previous chunk's id, model and fingerprint, which repeat on
// every chunk, so that they are allocated once per stream.
//
// With reuse set (streams), every chunk is parsed into the same object and
// buffer: a chunk is valid only until the next one is parsed, as
// ports.ChatStream promises. That keeps an open stream from producing
// garbage per chunk, which under GOGC would double its heap.
type chunkParser struct {
	id, model, fp string
	reuse         bool
	box           *chunkBox
	raw           []byte
}

// chunkBox holds a chunk and its first choice's strings in one allocation.
type chunkBox struct {
	chunk                               domain.ChatChunk
	choice                              [1]domain.ChunkChoice
	content, reasoning, refusal, finish string
}

// errChunk is a chunk that carries an error instead of choices.
type errChunk struct{ body upstream.ErrorBody }

func (e *errChunk) Error() string { return e.body.Message }

// intern decodes the JSON string v, reusing *cache when equal.
func intern(cache *string, v []byte) string {
	if len(v) >= 2 && v[0] == '"' && bytes.IndexByte(v, '\\') < 0 {
		if s := v[1 : len(v)-1]; string(s) == *cache {
			return *cache
		}
	}
	s, err := jsonx.String(v)
	if err != nil {
		return ""
	}
	*cache = s
	return s
}

func str(v []byte) (string, bool) {
	if jsonx.IsNull(v) {
		return "", false
	}
	s, err := jsonx.String(v)
	return s, err == nil
}

// parse reads one chunk. data is copied into the chunk's Raw.
func (p *chunkParser) parse(data []byte) (*domain.ChatChunk, error) {
	var raw []byte
	var box *chunkBox
	if p.reuse {
		if p.box == nil {
			p.box = &chunkBox{}
		}
		box = p.box
		*box = chunkBox{}
		p.raw = append(p.raw[:0], data...)
		raw = p.raw
	} else {
		raw = bytes.Clone(data)
		box = &chunkBox{}
	}
	c := &box.chunk
	c.Object = "chat.completion.chunk"
	c.Raw = raw
	it := jsonx.Object(raw)
	var m jsonx.Member
	for it.Next(&m) {
		v := m.Value(raw)
		switch string(m.RawKey()) {
		case "id":
			c.ID = intern(&p.id, v)
		case "model":
			c.Model = intern(&p.model, v)
		case "created":
			c.Created, _ = jsonx.Int(v)
		case "system_fingerprint":
			if !jsonx.IsNull(v) {
				c.SystemFingerprint = intern(&p.fp, v)
			}
		case "usage":
			if u, err := parseUsage(v); err != nil {
				return nil, err
			} else if u != nil {
				c.Usage = u
			}
		case "choices":
			if !jsonx.IsNull(v) {
				if err := parseChoices(box, v); err != nil {
					return nil, err
				}
			}
		case "error":
			if !jsonx.IsNull(v) {
				return nil, &errChunk{upstream.ParseErrorBody(raw)}
			}
		case "object":
			if string(v) == `"error"` {
				return nil, &errChunk{upstream.ParseErrorBody(raw)}
			}
		}
	}
	if err := it.Err(); err != nil {
		return nil, err
	}
	if c.Choices == nil {
		c.Choices = []domain.ChunkChoice{}
	}
	return c, nil
}

func parseChoices(box *chunkBox, v []byte) error {
	it := jsonx.Array(v)
	var m jsonx.Member
	n := 0
	for it.Next(&m) {
		var ch *domain.ChunkChoice
		if n == 0 {
			ch = &box.choice[0]
			box.chunk.Choices = box.choice[:1]
		} else {
			box.chunk.Choices = append(box.chunk.Choices, domain.ChunkChoice{})
			ch = &box.chunk.Choices[n]
		}
		if err := parseChoice(box, ch, m.Value(v), n == 0); err != nil {
			return err
		}
		n++
	}
	if n == 0 {
		box.chunk.Choices = []domain.ChunkChoice{}
	}
	return it.Err()
}

// set stores s in the box's field for the first choice, or in a fresh
// string otherwise, and returns a pointer to it.
func set(slot *string, s string, first bool) *string {
	if !first {
		slot = new(string)
	}
	*slot = s
	return slot
}

func parseChoice(box *chunkBox, ch *domain.ChunkChoice, v []byte, first bool) error {
	it := jsonx.Object(v)
	var m jsonx.Member
	for it.Next(&m) {
		val := m.Value(v)
		switch string(m.RawKey()) {
		case "index":
			i, _ := jsonx.Int(val)
			ch.Index = int(i)
		case "finish_reason":
			if s, ok := str(val); ok {
				ch.FinishReason = set(&box.finish, s, first)
			}
		case "logprobs":
			if !jsonx.IsNull(val) {
				ch.Logprobs = val
			}
		case "delta":
			if err := parseDelta(box, &ch.Delta, val, first); err != nil {
				return err
			}
		}
	}
	return it.Err()
}

func parseDelta(box *chunkBox, d *domain.Delta, v []byte, first bool) error {
	if jsonx.IsNull(v) {
		return nil
	}
	it := jsonx.Object(v)
	var m jsonx.Member
	for it.Next(&m) {
		val := m.Value(v)
		switch string(m.RawKey()) {
		case "role":
			if string(val) == `"assistant"` {
				d.Role = "assistant"
			} else if s, ok := str(val); ok {
				d.Role = s
			}
		case "content":
			if s, ok := str(val); ok {
				d.Content = set(&box.content, s, first)
			}
		case "reasoning_content", "reasoning":
			// Volcengine Ark, DeepSeek and vLLM stream reasoning in
			// reasoning_content (some servers in "reasoning").
			if s, ok := str(val); ok && (d.ReasoningContent == nil || *d.ReasoningContent == "") {
				d.ReasoningContent = set(&box.reasoning, s, first)
			}
		case "refusal":
			if s, ok := str(val); ok {
				d.Refusal = set(&box.refusal, s, first)
			}
		case "tool_calls":
			if !jsonx.IsNull(val) {
				if err := json.Unmarshal(val, &d.ToolCalls); err != nil {
					return jsonx.ErrSyntax
				}
			}
		}
	}
	return it.Err()
}

// parseResponse reads a non-streaming completion's id, model, created and
// usage; the body itself is forwarded as Raw.
func parseResponse(raw []byte) (*domain.ChatResponse, error) {
	r := &domain.ChatResponse{Object: "chat.completion", Raw: raw}
	it := jsonx.Object(raw)
	var m jsonx.Member
	hasChoices := false
	for it.Next(&m) {
		v := m.Value(raw)
		switch string(m.RawKey()) {
		case "id":
			r.ID, _ = str(v)
		case "model":
			r.Model, _ = str(v)
		case "created":
			r.Created, _ = jsonx.Int(v)
		case "system_fingerprint":
			r.SystemFingerprint, _ = str(v)
		case "service_tier":
			r.ServiceTier, _ = str(v)
		case "choices":
			hasChoices = !jsonx.IsNull(v)
		case "usage":
			if u, err := parseUsage(v); err != nil {
				return nil, err
			} else if u != nil {
				r.Usage = u
			}
		case "error":
			if !jsonx.IsNull(v) {
				return nil, &errChunk{upstream.ParseErrorBody(raw)}
			}
		}
	}
	if err := it.Err(); err != nil {
		return nil, err
	}
	if !hasChoices {
		return nil, jsonx.ErrSyntax
	}
	return r, nil
}

// parseUsage decodes a usage object (nil for null): the counts, the details
// objects as they are (copied: v may be a reused buffer), and the cached
// prompt tokens from prompt_tokens_details. Keys match case-insensitively
// and the last of a repeated key wins, as with encoding/json.
func parseUsage(v []byte) (*domain.Usage, error) {
	if jsonx.IsNull(v) {
		return nil, nil
	}
	u := new(domain.Usage)
	it := jsonx.CheckedObject(v)
	var m jsonx.Member
	for it.Next(&m) {
		val := m.Value(v)
		var n *int
		switch {
		case m.KeyFold("prompt_tokens"):
			n = &u.PromptTokens
		case m.KeyFold("completion_tokens"):
			n = &u.CompletionTokens
		case m.KeyFold("total_tokens"):
			n = &u.TotalTokens
		case m.KeyFold("prompt_tokens_details"):
			u.PromptTokensDetails = bytes.Clone(val)
			continue
		case m.KeyFold("completion_tokens_details"):
			u.CompletionTokensDetails = bytes.Clone(val)
			continue
		default:
			continue
		}
		if jsonx.IsNull(val) {
			continue
		}
		x, err := jsonx.Int(val)
		if err != nil {
			return nil, jsonx.ErrSyntax
		}
		*n = int(x)
	}
	if it.Err() != nil {
		return nil, jsonx.ErrSyntax
	}
	u.CachedTokens = cachedTokens(u.PromptTokensDetails)
	return u, nil
}

// cachedTokens is prompt_tokens_details.cached_tokens, or 0.
func cachedTokens(details []byte) int {
	if len(details) == 0 || details[0] != '{' {
		return 0
	}
	it := jsonx.Object(details)
	var m jsonx.Member
	n := 0
	for it.Next(&m) {
		if m.KeyFold("cached_tokens") {
			if x, err := jsonx.Int(m.Value(details)); err == nil && x > 0 {
				n = int(x)
			}
		}
	}
	return n
}
