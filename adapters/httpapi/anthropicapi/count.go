package anthropicapi

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/airouter/airouter/core/domain"
)

// EstimateHeader is the response header (value "true") that marks a
// count_tokens answer computed by CountTokens rather than by the upstream.
const EstimateHeader = "X-Airouter-Token-Estimate"

// Estimation constants: Anthropic documents about (width×height)/750 tokens
// per image, about 1,600 for a typical 1,000-pixel image; the size is not
// known here.
const (
	tokensPerImage   = 1600
	tokensPerMessage = 4
	tokensPerTool    = 8
)

// CountTokens estimates the input tokens of a count_tokens request (a
// Messages request without max_tokens) for upstreams that cannot count them:
// about four ASCII characters per token and one per other character, a fixed amount per image and message, and
// the JSON of tool definitions. It validates the request as DecodeRequest
// does. The result is an estimate, not the upstream's tokenizer.
func CountTokens(body []byte) (int, error) {
	var in msgRequest
	if err := json.Unmarshal(body, &in); err != nil {
		return 0, decodeError(err)
	}
	if in.Model == nil {
		return 0, domain.FieldError("model", "is required")
	}
	if err := domain.ValidateModelName("model", *in.Model); err != nil {
		return 0, err
	}
	if len(in.Messages) == 0 {
		return 0, domain.FieldError("messages", "must contain at least one message")
	}
	if in.MaxTokens == nil || *in.MaxTokens < 1 {
		in.MaxTokens = new(1)
	}
	in.Thinking = nil
	p, err := translate(&in)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, m := range p.Messages {
		n += tokensPerMessage
		if m.Content.IsParts() {
			for _, part := range m.Content.Parts {
				switch part.Type {
				case "text":
					n += textTokens(part.Text)
				case "image_url":
					n += tokensPerImage
				case "file":
					// base64 PDF: a rough page count from its size.
					n += len(part.File.FileData) / 20
				}
			}
		} else {
			n += textTokens(m.Content.Text)
		}
		for _, tc := range m.ToolCalls {
			n += tokensPerTool + textTokens(tc.Function.Name) + textTokens(tc.Function.Arguments)
		}
	}
	for _, t := range p.Tools {
		n += tokensPerTool + textTokens(t.Function.Name) + textTokens(t.Function.Description) + (len(t.Function.Parameters)+3)/4
	}
	return n, nil
}

// textTokens counts four ASCII bytes per token and one token per other rune
// (CJK and similar scripts take about one token per character).
func textTokens(s string) int {
	ascii, other := 0, 0
	for _, r := range s {
		if r < utf8.RuneSelf {
			ascii++
		} else {
			other++
		}
	}
	return (ascii+3)/4 + other
}

// CountTokensResponse answers POST /v1/messages/count_tokens with an
// estimate: {"input_tokens":N} from CountTokens. Set EstimateHeader too.
func CountTokensResponse(body []byte) ([]byte, error) {
	n, err := CountTokens(body)
	if err != nil {
		return nil, err
	}
	b := append(make([]byte, 0, 32), `{"input_tokens":`...)
	b = strconv.AppendInt(b, int64(n), 10)
	return append(b, '}'), nil
}
