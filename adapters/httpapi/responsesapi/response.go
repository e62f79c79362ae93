package responsesapi

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/airouter/airouter/core/domain"
)

// Response is a Responses API response object, with the request fields the
// SDKs expect echoed back.
type Response struct {
	ID                 string             `json:"id"`
	Object             string             `json:"object"` // "response"
	CreatedAt          int64              `json:"created_at"`
	Status             string             `json:"status"` // in_progress, completed, incomplete or failed
	Error              *ResponseError     `json:"error"`
	IncompleteDetails  *IncompleteDetails `json:"incomplete_details"`
	Instructions       *string            `json:"instructions"`
	MaxOutputTokens    *int               `json:"max_output_tokens"`
	Model              string             `json:"model"` // as the client asked
	Output             []Item             `json:"output"`
	ParallelToolCalls  bool               `json:"parallel_tool_calls"`
	PreviousResponseID *string            `json:"previous_response_id"`
	Reasoning          Reasoning          `json:"reasoning"`
	Store              bool               `json:"store"`
	Temperature        float64            `json:"temperature"`
	Text               json.RawMessage    `json:"text"`
	ToolChoice         json.RawMessage    `json:"tool_choice"`
	Tools              []Tool             `json:"tools"`
	TopP               float64            `json:"top_p"`
	Truncation         string             `json:"truncation"`
	Usage              *Usage             `json:"usage"` // null until the response ends
	User               *string            `json:"user,omitempty"`
	Metadata           map[string]string  `json:"metadata"`
}

// ResponseError is a failed response's error.
type ResponseError struct {
	Code    string `json:"code"` // server_error, rate_limit_exceeded or invalid_prompt
	Message string `json:"message"`
}

// IncompleteDetails says why a response is incomplete.
type IncompleteDetails struct {
	Reason string `json:"reason"` // max_output_tokens or content_filter
}

// Usage is a response's token usage.
type Usage struct {
	InputTokens        int `json:"input_tokens"`
	InputTokensDetails struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"input_tokens_details"`
	OutputTokens        int `json:"output_tokens"`
	OutputTokensDetails struct {
		ReasoningTokens int `json:"reasoning_tokens"`
	} `json:"output_tokens_details"`
	TotalTokens int `json:"total_tokens"`
}

// Options are the caller's choices for a response.
type Options struct {
	ID        string    // response id; "" generates "resp_…"
	CreatedAt time.Time // zero: now
	// NewID generates the ids of the response and its items; nil uses the
	// package's NewID. Tests set it to get stable ids.
	NewID func(prefix string) string
}

func (o Options) newID(prefix string) string {
	if o.NewID != nil {
		return o.NewID(prefix)
	}
	return NewID(prefix)
}

// NewID returns a random id with the given prefix and an underscore
// ("resp" → "resp_3f…").
func NewID(prefix string) string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return prefix + "_" + hex.EncodeToString(b[:])
}

var (
	defaultText       = json.RawMessage(`{"format":{"type":"text"}}`)
	defaultToolChoice = json.RawMessage(`"auto"`)
)

// base is the response object before any output: status in_progress.
func base(req *Request, o Options) *Response {
	id := o.ID
	if id == "" {
		id = o.newID("resp")
	}
	at := o.CreatedAt
	if at.IsZero() {
		at = time.Now()
	}
	r := &Response{
		ID: id, Object: "response", CreatedAt: at.Unix(), Status: "in_progress",
		Instructions: req.Instructions, MaxOutputTokens: req.MaxOutputTokens, Model: req.Model,
		Output: []Item{}, ParallelToolCalls: true, Store: req.StoreEnabled(), Temperature: 1, TopP: 1,
		Text: req.Text, ToolChoice: req.ToolChoice, Tools: req.Tools, Truncation: "disabled", Metadata: req.Metadata,
	}
	if req.ParallelToolCalls != nil {
		r.ParallelToolCalls = *req.ParallelToolCalls
	}
	if req.PreviousResponseID != "" {
		r.PreviousResponseID = new(req.PreviousResponseID)
	}
	if req.Reasoning != nil {
		r.Reasoning = *req.Reasoning
	}
	if req.Temperature != nil {
		r.Temperature = *req.Temperature
	}
	if req.TopP != nil {
		r.TopP = *req.TopP
	}
	if r.Text == nil {
		r.Text = defaultText
	}
	if r.ToolChoice == nil {
		r.ToolChoice = defaultToolChoice
	}
	if r.Tools == nil {
		r.Tools = []Tool{}
	}
	if r.Metadata == nil {
		r.Metadata = map[string]string{}
	}
	if req.User != "" {
		r.User = new(req.User)
	}
	return r
}

// end sets the final status from a chat finish reason.
func (r *Response) end(finish string) {
	switch finish {
	case "length":
		r.Status, r.IncompleteDetails = "incomplete", &IncompleteDetails{Reason: "max_output_tokens"}
	case "content_filter":
		r.Status, r.IncompleteDetails = "incomplete", &IncompleteDetails{Reason: "content_filter"}
	default:
		r.Status = "completed"
	}
}

func (r *Response) itemStatus() string {
	if r.Status == "incomplete" {
		return "incomplete"
	}
	return "completed"
}

// NewResponse translates a chat completion into a Responses object for req.
// A completion with only Raw set (as OpenAI-compatible adapters return it)
// is decoded from Raw. Only the first choice is used.
func NewResponse(req *Request, chat *domain.ChatResponse, o Options) (*Response, error) {
	if len(chat.Choices) == 0 && len(chat.Raw) > 0 {
		var full domain.ChatResponse
		if err := json.Unmarshal(chat.Raw, &full); err != nil {
			return nil, &domain.UpstreamError{Class: domain.ClassAmbiguous, Status: 200, Message: "the upstream sent an invalid chat completion", Err: err}
		}
		if chat.Usage != nil {
			full.Usage = chat.Usage
		}
		chat = &full
	}
	r := base(req, o)
	var finish string
	var msg domain.Message
	if len(chat.Choices) > 0 {
		finish, msg = chat.Choices[0].FinishReason, chat.Choices[0].Message
	}
	r.end(finish)
	st := r.itemStatus()
	if msg.ReasoningContent != "" {
		r.Output = append(r.Output, Item{Type: TypeReasoning, ID: o.newID("rs"), Status: st, Summary: []Part{},
			Content: []Part{{Type: "reasoning_text", Text: msg.ReasoningContent}}})
	}
	text := msg.Content.String()
	var refusal string
	if msg.Refusal != nil {
		refusal = *msg.Refusal
	}
	if text != "" || refusal != "" || len(msg.ToolCalls) == 0 {
		var parts []Part
		if text != "" || refusal == "" {
			parts = append(parts, Part{Type: "output_text", Text: text})
		}
		if refusal != "" {
			parts = append(parts, Part{Type: "refusal", Refusal: refusal})
		}
		r.Output = append(r.Output, Item{Type: TypeMessage, ID: o.newID("msg"), Status: st, Role: "assistant", Content: parts})
	}
	for _, tc := range msg.ToolCalls {
		id := tc.ID
		if id == "" {
			id = o.newID("call")
		}
		r.Output = append(r.Output, Item{Type: TypeFunctionCall, ID: o.newID("fc"), Status: st, CallID: id,
			Name: tc.Function.Name, Arguments: tc.Function.Arguments})
	}
	r.Usage = usageFrom(chat.Usage)
	return r, nil
}

// usageFrom maps chat usage; a missing usage is all zeros.
func usageFrom(u *domain.Usage) *Usage {
	out := &Usage{}
	if u == nil {
		return out
	}
	out.InputTokens, out.OutputTokens, out.TotalTokens = u.PromptTokens, u.CompletionTokens, u.TotalTokens
	if out.TotalTokens == 0 {
		out.TotalTokens = out.InputTokens + out.OutputTokens
	}
	out.InputTokensDetails.CachedTokens = u.CachedTokens
	if u.CachedTokens == 0 && len(u.PromptTokensDetails) > 0 {
		var d struct {
			CachedTokens int `json:"cached_tokens"`
		}
		if json.Unmarshal(u.PromptTokensDetails, &d) == nil {
			out.InputTokensDetails.CachedTokens = d.CachedTokens
		}
	}
	if len(u.CompletionTokensDetails) > 0 {
		var d struct {
			ReasoningTokens int `json:"reasoning_tokens"`
		}
		if json.Unmarshal(u.CompletionTokensDetails, &d) == nil {
			out.OutputTokensDetails.ReasoningTokens = d.ReasoningTokens
		}
	}
	return out
}

// errorCode maps an error to a Responses error code.
func errorCode(err error) string {
	switch domain.ErrorCode(err) {
	case domain.CodeRateLimited:
		return "rate_limit_exceeded"
	case domain.CodeInvalid:
		return "invalid_prompt"
	default:
		return "server_error"
	}
}

// Stored is what the router keeps for a stored response (store: true): the
// response object, answered by GET /v1/responses/{id}, and the full input it
// was generated from (after History), so that a later request naming it in
// previous_response_id can continue the conversation on any provider. It is
// plain JSON; the owner (client key) and expiry are the caller's.
type Stored struct {
	Response *Response `json:"response"`
	Input    []Item    `json:"input"`
}

// NewStored returns the value to store for resp, the answer to req.
func NewStored(req *Request, resp *Response) *Stored {
	return &Stored{Response: resp, Input: req.Input}
}

// History returns the full item list for a request continuing prev: prev's
// input, prev's output, then the new input. A nil prev returns input. The
// previous instructions are not carried over (as in OpenAI's API).
func History(prev *Stored, input []Item) []Item {
	if prev == nil {
		return input
	}
	var out []Item
	if prev.Response != nil {
		out = make([]Item, 0, len(prev.Input)+len(prev.Response.Output)+len(input))
		out = append(out, prev.Input...)
		out = append(out, prev.Response.Output...)
	} else {
		out = append(out, prev.Input...)
	}
	return append(out, input...)
}
