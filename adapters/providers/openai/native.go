package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/airouter/airouter/adapters/providers/internal/upstream"
	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/core/jsonx"
	"github.com/airouter/airouter/ports"
)

// Native operations: the client's own OpenAI request, passed through.
//
//   - embeddings: POST {base}/embeddings (OpenAI, Ark's /api/v3/embeddings,
//     compatible servers). Usage is usage.prompt_tokens and total_tokens.
//   - images: POST {base}/images/generations (OpenAI, Ark's
//     /api/v3/images/generations, compatible servers). gpt-image-1 reports
//     usage.input_tokens and output_tokens; DALL·E reports none.
//   - responses: POST {base}/responses, OpenAI only. Usage is
//     usage.input_tokens (cached: input_tokens_details.cached_tokens) and
//     output_tokens. Streams are typed events ending with
//     response.completed, response.failed or response.incomplete.
//
// The body keeps every member byte for byte except the top-level "model"
// (the route's upstream model), the router-only "provider" (dropped), and,
// for responses, max_output_tokens when the target caps output and the
// client set none. Call sends "stream":false in place of a client's
// "stream":true (and drops its stream_options); CallStream sends
// "stream":true. The client's OpenAI-Beta header, if any, is passed on.

var _ ports.NativeClient = (*Client)(nil)

// Serves reports the operations the kind serves natively: embeddings and
// images everywhere, responses only at OpenAI.
func (c *Client) Serves(op ports.Operation) bool {
	switch op {
	case ports.OpEmbeddings, ports.OpImages:
		return true
	case ports.OpResponses:
		return c.kind == domain.KindOpenAI
	}
	return false
}

// nativePath is op's path below the base URL.
func nativePath(op ports.Operation) string {
	switch op {
	case ports.OpEmbeddings:
		return "/embeddings"
	case ports.OpImages:
		return "/images/generations"
	case ports.OpResponses:
		return "/responses"
	}
	return ""
}

func (c *Client) nativeEndpoint(op ports.Operation) (upstream.Endpoint, error) {
	if !c.Serves(op) {
		return upstream.Endpoint{}, domain.Errorf(domain.CodeInvalid, "%s providers do not serve %s requests", c.kind, op)
	}
	return c.chat.Sibling("/chat/completions", nativePath(op)), nil
}

// betaHeader is the header the client's beta value travels in.
const betaHeader = "OpenAI-Beta"

func checkBeta(v string) error {
	for i := 0; i < len(v); i++ {
		if b := v[i]; (b < ' ' && b != '\t') || b == 0x7f {
			return &domain.Error{Code: domain.CodeInvalid, Field: "OpenAI-Beta", Msg: "the header value holds a control character"}
		}
	}
	return nil
}

// NativeBody patches a native request's body for the upstream: "model"
// becomes model, "provider" is dropped, and "stream" is set as stream asks
// (see the package's Native operations). For responses, capTokens > 0 sets
// max_output_tokens when the body has none (or null). Every other byte is
// kept.
func NativeBody(dst []byte, op ports.Operation, body []byte, model string, stream bool, capTokens int) ([]byte, error) {
	var mbuf [96]byte
	modelVal := jsonx.AppendString(mbuf[:0], model)
	var ops [5]jsonx.Op
	n := patchOps(&ops, modelVal, stream, !stream && streamRequested(body), nil)
	var cbuf [20]byte
	if op == ports.OpResponses && capTokens > 0 {
		capVal := strconv.AppendInt(cbuf[:0], int64(capTokens), 10)
		ops[n] = jsonx.Op{Key: "max_output_tokens", Edit: func(old []byte) []byte {
			if old == nil || jsonx.IsNull(bytes.TrimSpace(old)) {
				return capVal
			}
			return nil
		}}
		n++
	}
	if dst == nil {
		dst = make([]byte, 0, len(body)+len(modelVal)+48)
	}
	out, err := jsonx.Patch(dst, body, ops[:n])
	if err != nil {
		return nil, &domain.Error{Code: domain.CodeInvalid, Msg: "request body is not a valid JSON object"}
	}
	return out, nil
}

// streamRequested reports whether the body's top-level "stream" is true.
func streamRequested(body []byte) bool {
	it := jsonx.Object(body)
	var m jsonx.Member
	for it.Next(&m) {
		if m.KeyFold("stream") {
			return string(m.Value(body)) == "true"
		}
	}
	return false
}

// Call makes a non-streaming native call.
func (c *Client) Call(ctx context.Context, t ports.Target, req *ports.NativeRequest) (*ports.NativeResponse, error) {
	ep, err := c.nativeEndpoint(req.Op)
	if err != nil {
		return nil, err
	}
	if err := checkBeta(req.Beta); err != nil {
		return nil, err
	}
	body, err := NativeBody(nil, req.Op, req.Body, t.Model, false, t.CapMaxTokens)
	if err != nil {
		return nil, err
	}
	raw, resp, err := upstream.ReadAnswer(c.up.SendWith(ctx, ep, http.MethodPost, t.Key, upstream.JSON, betaHeaders(req.Beta), body))
	if err != nil {
		return nil, err
	}
	u, err := parseNativeAnswer(req.Op, raw)
	if err != nil {
		if ec, ok := err.(*errChunk); ok {
			return nil, streamError(ec.body, t.Key)
		}
		return nil, &domain.UpstreamError{Class: domain.ClassAmbiguous, Status: resp.StatusCode, Message: "the upstream returned an invalid " + string(req.Op) + " answer", Err: err}
	}
	ct := resp.Header.Get("Content-Type")
	if ct == "" {
		ct = "application/json"
	}
	return &ports.NativeResponse{Body: raw, ContentType: ct, Usage: u}, nil
}

// CallStream makes a streaming native call (responses, and images where
// the model streams partial images); it returns once the upstream answered
// 200 with an event stream.
func (c *Client) CallStream(ctx context.Context, t ports.Target, req *ports.NativeRequest) (ports.NativeStream, error) {
	ep, err := c.nativeEndpoint(req.Op)
	if err != nil {
		return nil, err
	}
	if req.Op == ports.OpEmbeddings {
		return nil, domain.Errorf(domain.CodeInvalid, "embeddings requests do not stream")
	}
	if err := checkBeta(req.Beta); err != nil {
		return nil, err
	}
	body, err := NativeBody(nil, req.Op, req.Body, t.Model, true, t.CapMaxTokens)
	if err != nil {
		return nil, err
	}
	a, resp, err := c.up.SendWith(ctx, ep, http.MethodPost, t.Key, upstream.EventStream, betaHeaders(req.Beta), body)
	if err != nil {
		return nil, err
	}
	if ct := resp.Header.Get("Content-Type"); strings.HasPrefix(ct, "application/json") {
		return nil, notAStream(a, resp, t.Key, func(raw []byte) error { _, err := parseNativeAnswer(req.Op, raw); return err })
	}
	s := &nativeStream{key: t.Key}
	s.Start(a, resp)
	return s, nil
}

// parseNativeAnswer reads a non-streaming answer's usage. An error object
// in place of the answer is an *errChunk; a responses object with a
// non-null "error" (a failed response) is an answer, not an error.
func parseNativeAnswer(op ports.Operation, raw []byte) (*domain.Usage, error) {
	it := jsonx.Object(raw)
	var m jsonx.Member
	var usage []byte
	var errVal bool
	isResponse := false
	for it.Next(&m) {
		v := m.Value(raw)
		switch string(m.RawKey()) {
		case "usage":
			usage = v
		case "error":
			errVal = !jsonx.IsNull(v)
		case "object":
			isResponse = string(v) == `"response"`
		}
	}
	if err := it.Err(); err != nil {
		return nil, err
	}
	if errVal && !(op == ports.OpResponses && isResponse) {
		return nil, &errChunk{upstream.ParseErrorBody(raw)}
	}
	return parseNativeUsage(usage)
}

// nativeUsage is the union of the usage objects of embeddings (prompt_tokens,
// total_tokens), images and responses (input_tokens, output_tokens,
// input_tokens_details, output_tokens_details).
type nativeUsage struct {
	PromptTokens            *int            `json:"prompt_tokens"`
	CompletionTokens        *int            `json:"completion_tokens"`
	InputTokens             *int            `json:"input_tokens"`
	OutputTokens            *int            `json:"output_tokens"`
	TotalTokens             *int            `json:"total_tokens"`
	InputTokensDetails      json.RawMessage `json:"input_tokens_details"`
	OutputTokensDetails     json.RawMessage `json:"output_tokens_details"`
	PromptTokensDetails     json.RawMessage `json:"prompt_tokens_details"`
	CompletionTokensDetails json.RawMessage `json:"completion_tokens_details"`
}

// parseNativeUsage decodes a usage object; nil (and no error) when v is
// absent, null or holds no token count.
func parseNativeUsage(v []byte) (*domain.Usage, error) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 || jsonx.IsNull(v) {
		return nil, nil
	}
	var w nativeUsage
	if err := json.Unmarshal(v, &w); err != nil {
		return nil, jsonx.ErrSyntax
	}
	first := func(ps ...*int) (int, bool) {
		for _, p := range ps {
			if p != nil {
				return *p, true
			}
		}
		return 0, false
	}
	u := new(domain.Usage)
	var okP, okC, okT bool
	u.PromptTokens, okP = first(w.PromptTokens, w.InputTokens)
	u.CompletionTokens, okC = first(w.CompletionTokens, w.OutputTokens)
	u.TotalTokens, okT = first(w.TotalTokens)
	if !okP && !okC && !okT {
		return nil, nil
	}
	if !okT {
		u.TotalTokens = u.PromptTokens + u.CompletionTokens
	}
	u.PromptTokensDetails = detail(w.PromptTokensDetails, w.InputTokensDetails)
	u.CompletionTokensDetails = detail(w.CompletionTokensDetails, w.OutputTokensDetails)
	u.CachedTokens = cachedTokens(u.PromptTokensDetails)
	return u, nil
}

// detail is the first non-null details object.
func detail(ds ...json.RawMessage) json.RawMessage {
	for _, d := range ds {
		if len(d) > 0 && !jsonx.IsNull(d) {
			return d
		}
	}
	return nil
}

// betaHeaders is the client's OpenAI-Beta header for SendWith (joined to a
// provider-configured one); nil when the client sent none.
func betaHeaders(beta string) http.Header {
	if beta == "" {
		return nil
	}
	return http.Header{http.CanonicalHeaderKey(betaHeader): {beta}}
}
