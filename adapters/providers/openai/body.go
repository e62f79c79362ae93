package openai

import (
	"strconv"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/core/jsonx"
)

var (
	litTrue          = []byte("true")
	litFalse         = []byte("false")
	litIncludeUsage  = []byte(`{"include_usage":true}`)
	includeUsageOnly = []jsonx.Op{{Key: "include_usage", Value: litTrue}}
)

// editStreamOptions keeps the client's stream_options and sets
// include_usage, so that the router always learns the stream's usage.
func editStreamOptions(old []byte) []byte {
	i := jsonx.SkipSpace(old, 0)
	if old == nil || i >= len(old) || old[i] != '{' {
		return litIncludeUsage
	}
	out, err := jsonx.Patch(make([]byte, 0, len(old)+24), old, includeUsageOnly)
	if err != nil {
		return litIncludeUsage
	}
	return out
}

// patchOps fills the first ops of a patch that PatchBody and NativeBody
// share and returns how many it filled: "model" becomes modelVal and
// "provider" is dropped; when stream, "stream" becomes true (and, when
// streamOptions is not nil, stream_options is edited with it); else, when
// unstream (a non-streaming call of a body that asked to stream), "stream"
// becomes false and stream_options is dropped.
func patchOps(ops *[5]jsonx.Op, modelVal []byte, stream, unstream bool, streamOptions func([]byte) []byte) int {
	ops[0] = jsonx.Op{Key: "model", Value: modelVal}
	ops[1] = jsonx.Op{Key: "provider", Delete: true}
	switch {
	case stream && streamOptions != nil:
		ops[2] = jsonx.Op{Key: "stream", Value: litTrue}
		ops[3] = jsonx.Op{Key: "stream_options", Edit: streamOptions}
		return 4
	case stream:
		ops[2] = jsonx.Op{Key: "stream", Value: litTrue}
		return 3
	case unstream:
		ops[2] = jsonx.Op{Key: "stream", Value: litFalse}
		ops[3] = jsonx.Op{Key: "stream_options", Delete: true}
		return 4
	}
	return 2
}

// PatchBody rewrites a client's request body for an OpenAI-compatible
// upstream, changing only top-level members: "model" becomes the upstream
// model, the router-only "provider" is removed, and for streams "stream" is
// true and stream_options.include_usage is true (other stream options kept).
// A non-streaming call of a body that asked to stream gets "stream":false and
// no stream_options. Every other member passes through byte for byte, so
// parameters the router does not know still reach the upstream.
//
// capKey and capTokens, when capTokens > 0 and the request sets no
// max_tokens or max_completion_tokens, add that bound under capKey
// (a limited client key's reservation, see ports.Target.CapMaxTokens).
func PatchBody(dst []byte, req *domain.ChatRequest, model string, stream bool, capKey string, capTokens int) ([]byte, error) {
	var mbuf [96]byte
	modelVal := jsonx.AppendString(mbuf[:0], model)
	var ops [5]jsonx.Op
	n := patchOps(&ops, modelVal, stream, req.Stream, editStreamOptions)
	var cbuf [20]byte
	if capTokens > 0 && req.MaxTokens <= 0 {
		ops[n] = jsonx.Op{Key: capKey, Value: strconv.AppendInt(cbuf[:0], int64(capTokens), 10)}
		n++
	}
	if dst == nil {
		dst = make([]byte, 0, len(req.Raw)+len(modelVal)+48)
	}
	out, err := jsonx.PatchLaid(dst, req.Raw, &req.Layout, ops[:n])
	if err != nil {
		return nil, &domain.Error{Code: domain.CodeInvalid, Msg: "request body is not a valid JSON object"}
	}
	return out, nil
}
