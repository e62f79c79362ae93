package domain

import (
	"bytes"
	"encoding/json"
	"errors"

	"github.com/airouter/airouter/core/jsonx"
)

// ChatRequest is a client's chat completion request. The router reads only the
// fields routing needs and keeps the body as sent, so that OpenAI-compatible
// upstreams receive every field, known or not, unchanged. Translating adapters
// decode the whole body with Params.
type ChatRequest struct {
	Model        string
	Stream       bool
	IncludeUsage bool   // stream_options.include_usage
	Provider     string // router extension: the provider to use (specified_provider)
	MaxTokens    int    // max_completion_tokens, else max_tokens; 0 when absent
	// Raw is the request body: a JSON object.
	Raw []byte
	// Layout is where Raw's top-level members are, recorded by
	// ParseChatRequest's one pass so that adapters patch the body
	// (jsonx.PatchLaid) without scanning it again; zero for requests built
	// otherwise (translations), which are then scanned.
	Layout jsonx.Layout
}

// ParseChatRequest validates the body of a chat completion request and reads
// its routing fields, in one pass over the body that also records its
// Layout. The body is retained (not copied). Keys match as encoding/json
// matches them (case-insensitively; the last of duplicates wins), and the
// body must be JSON that encoding/json accepts.
func ParseChatRequest(body []byte) (*ChatRequest, error) {
	r := &ChatRequest{Raw: body}
	var msgs, maxTokens, maxCompletion []byte
	err := parseRouting(r, &r.Layout, func(m jsonx.Member, v []byte) error {
		var err error
		switch {
		case m.KeyFold("messages"):
			msgs = v
		case m.KeyFold("stream"):
			r.Stream, err = boolField("stream", v)
		case m.KeyFold("stream_options"):
			r.IncludeUsage, err = includeUsage(v)
		case m.KeyFold("max_tokens"):
			maxTokens = v
		case m.KeyFold("max_completion_tokens"):
			maxCompletion = v
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if msgs == nil || jsonx.IsNull(msgs) {
		return nil, FieldError("messages", "is required")
	}
	if msgs[0] != '[' {
		return nil, FieldError("messages", "must be an array")
	}
	if inner := bytes.TrimSpace(msgs[1:]); len(inner) > 0 && inner[0] == ']' {
		return nil, FieldError("messages", "must contain at least one message")
	}
	switch {
	case maxCompletion != nil && !jsonx.IsNull(maxCompletion):
		r.MaxTokens, err = intField("max_completion_tokens", maxCompletion)
	case maxTokens != nil && !jsonx.IsNull(maxTokens):
		r.MaxTokens, err = intField("max_tokens", maxTokens)
	}
	if err != nil {
		return nil, err
	}
	if r.MaxTokens < 0 {
		return nil, FieldError("max_tokens", "must not be negative")
	}
	return r, nil
}

func syntaxError(err error) error {
	if errors.Is(err, jsonx.ErrTooDeep) {
		return &Error{Code: CodeInvalid, Msg: "request body nests too deeply"}
	}
	return &Error{Code: CodeInvalid, Msg: "request body is not a valid JSON object"}
}

// The field readers take a value the checked iterator accepted; null reads
// as the zero value, as encoding/json reads it into a pointer.

func boolField(name string, v []byte) (bool, error) {
	switch string(v) {
	case "true":
		return true, nil
	case "false", "null":
		return false, nil
	}
	return false, FieldError(name, "must be of type boolean")
}

func stringField(name string, v []byte) (string, error) {
	if jsonx.IsNull(v) {
		return "", nil
	}
	if v[0] != '"' {
		return "", FieldError(name, "must be of type string")
	}
	s, err := jsonx.String(v)
	if err != nil {
		return "", FieldError(name, "must be of type string")
	}
	return s, nil
}

func intField(name string, v []byte) (int, error) {
	n, err := jsonx.Int(v)
	if err != nil || v[0] == '"' || n != int64(int(n)) {
		return 0, FieldError(name, "must be an integer")
	}
	return int(n), nil
}

// includeUsage reads stream_options.include_usage.
func includeUsage(v []byte) (bool, error) {
	if jsonx.IsNull(v) {
		return false, nil
	}
	if v[0] != '{' {
		return false, FieldError("stream_options", "must be of type object")
	}
	it := jsonx.Object(v)
	var m jsonx.Member
	var on bool
	for it.Next(&m) {
		if m.KeyFold("include_usage") {
			var err error
			if on, err = boolField("stream_options.include_usage", m.Value(v)); err != nil {
				return false, err
			}
		}
	}
	return on, nil
}

// EstimatedPromptTokens is a cheap estimate of the prompt's size (about four
// bytes of JSON per token), used for cost-based routing before the upstream
// reports real usage.
func (r *ChatRequest) EstimatedPromptTokens() int {
	return len(r.Raw)/4 + 1
}

// Params decodes the whole request into typed parameters.
func (r *ChatRequest) Params() (*ChatParams, error) {
	var p ChatParams
	if err := json.Unmarshal(r.Raw, &p); err != nil {
		return nil, decodeError(err, "invalid request body: ")
	}
	return &p, nil
}

// decodeError turns a JSON decoding error into an invalid-input error that
// names the field when it can.
func decodeError(err error, prefix string) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return FieldError(te.Field, "must be of type %s", JSONTypeName(te.Type.Kind().String()))
	}
	var de *Error
	if errors.As(err, &de) {
		return de
	}
	return &Error{Code: CodeInvalid, Msg: prefix + err.Error()}
}

// JSONTypeName is the JSON type a Go value of kind (reflect.Kind's name)
// decodes from, for "must be of type" messages of the front doors.
func JSONTypeName(kind string) string {
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

// ChatParams is the typed form of an OpenAI chat completion request.
type ChatParams struct {
	Model               string          `json:"model"`
	Messages            []Message       `json:"messages"`
	Tools               []Tool          `json:"tools,omitempty"`
	ToolChoice          *ToolChoice     `json:"tool_choice,omitempty"`
	ParallelToolCalls   *bool           `json:"parallel_tool_calls,omitempty"`
	ResponseFormat      json.RawMessage `json:"response_format,omitempty"`
	Temperature         *float64        `json:"temperature,omitempty"`
	TopP                *float64        `json:"top_p,omitempty"`
	MaxTokens           *int            `json:"max_tokens,omitempty"`
	MaxCompletionTokens *int            `json:"max_completion_tokens,omitempty"`
	Stop                Stop            `json:"stop,omitzero"`
	N                   *int            `json:"n,omitempty"`
	Seed                *int64          `json:"seed,omitempty"`
	PresencePenalty     *float64        `json:"presence_penalty,omitempty"`
	FrequencyPenalty    *float64        `json:"frequency_penalty,omitempty"`
	Logprobs            *bool           `json:"logprobs,omitempty"`
	TopLogprobs         *int            `json:"top_logprobs,omitempty"`
	LogitBias           json.RawMessage `json:"logit_bias,omitempty"`
	User                string          `json:"user,omitempty"`
	Stream              bool            `json:"stream,omitempty"`
	StreamOptions       *StreamOptions  `json:"stream_options,omitempty"`
	ReasoningEffort     string          `json:"reasoning_effort,omitempty"`
	Metadata            json.RawMessage `json:"metadata,omitempty"`
	Store               *bool           `json:"store,omitempty"`
	Provider            string          `json:"provider,omitempty"`
}

// StreamOptions are the options of a streaming request.
type StreamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// Usage is token usage.
type Usage struct {
	PromptTokens            int             `json:"prompt_tokens"`
	CompletionTokens        int             `json:"completion_tokens"`
	TotalTokens             int             `json:"total_tokens"`
	PromptTokensDetails     json.RawMessage `json:"prompt_tokens_details,omitempty"`
	CompletionTokensDetails json.RawMessage `json:"completion_tokens_details,omitempty"`
	// CachedTokens is the part of PromptTokens read from the provider's
	// prompt cache (OpenAI prompt_tokens_details.cached_tokens, Anthropic
	// cache_read_input_tokens), filled in by the provider adapters.
	CachedTokens int `json:"-"`
}

// ChatResponse is a non-streaming chat completion.
type ChatResponse struct {
	ID                string   `json:"id"`
	Object            string   `json:"object"`
	Created           int64    `json:"created"`
	Model             string   `json:"model"`
	Choices           []Choice `json:"choices"`
	Usage             *Usage   `json:"usage,omitempty"`
	SystemFingerprint string   `json:"system_fingerprint,omitempty"`
	ServiceTier       string   `json:"service_tier,omitempty"`
	// Raw, when set, is the upstream's body in OpenAI's format, to be sent to
	// the client as is; the typed fields then carry at least ID, Model and Usage.
	Raw []byte `json:"-"`
}

// Choice is one choice of a chat completion.
type Choice struct {
	Index        int             `json:"index"`
	Message      Message         `json:"message"`
	FinishReason string          `json:"finish_reason"`
	Logprobs     json.RawMessage `json:"logprobs"`
}

// ChatChunk is one chunk of a streamed chat completion.
type ChatChunk struct {
	ID                string        `json:"id"`
	Object            string        `json:"object"`
	Created           int64         `json:"created"`
	Model             string        `json:"model"`
	Choices           []ChunkChoice `json:"choices"`
	Usage             *Usage        `json:"usage,omitempty"`
	SystemFingerprint string        `json:"system_fingerprint,omitempty"`
	// Raw, when set, is the chunk's JSON as the upstream sent it in OpenAI's
	// format; writers send it unchanged.
	Raw []byte `json:"-"`
}

// ChunkChoice is one choice's delta in a chunk.
type ChunkChoice struct {
	Index        int             `json:"index"`
	Delta        Delta           `json:"delta"`
	FinishReason *string         `json:"finish_reason"`
	Logprobs     json.RawMessage `json:"logprobs,omitempty"`
}

// Delta is the incremental part of a message.
type Delta struct {
	Role             string     `json:"role,omitempty"`
	Content          *string    `json:"content,omitempty"`
	ReasoningContent *string    `json:"reasoning_content,omitempty"`
	ToolCalls        []ToolCall `json:"tool_calls,omitempty"`
	Refusal          *string    `json:"refusal,omitempty"`
}

// HasContent reports whether the chunk carries generated output (a token of
// content, reasoning, refusal or a tool call), as opposed to only a role,
// finish reason or usage. The first such chunk marks the time to first token.
func (c *ChatChunk) HasContent() bool {
	for i := range c.Choices {
		d := &c.Choices[i].Delta
		if (d.Content != nil && *d.Content != "") || (d.ReasoningContent != nil && *d.ReasoningContent != "") ||
			len(d.ToolCalls) > 0 || (d.Refusal != nil && *d.Refusal != "") {
			return true
		}
	}
	return false
}
