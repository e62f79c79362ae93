package domain

import (
	"github.com/airouter/airouter/core/jsonx"
)

// Requests of the native front doors that have no chat form (embeddings,
// image generation) are validated here and read only for routing: the body
// itself passes through to the upstream. The routing view is a ChatRequest
// whose Raw is the body (its length estimates the prompt) and which carries
// no messages.

// maxEmbeddingInputs is OpenAI's bound on the items of an embeddings input.
const maxEmbeddingInputs = 2048

// ParseEmbeddingsRequest validates a POST /v1/embeddings body (OpenAI's
// format: model, input as a string, an array of strings, an array of
// tokens or an array of token arrays; encoding_format float or base64;
// dimensions) and returns its routing view.
func ParseEmbeddingsRequest(body []byte) (*ChatRequest, error) {
	r := &ChatRequest{Raw: body}
	var input []byte
	err := parseRouting(r, nil, func(m jsonx.Member, v []byte) error {
		var err error
		switch {
		case m.KeyFold("input"):
			input = v
		case m.KeyFold("encoding_format"):
			err = oneOf("encoding_format", v, "float", "base64")
		case m.KeyFold("dimensions"):
			err = positive("dimensions", v)
		case m.KeyFold("user"):
			_, err = stringField("user", v)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return r, validateEmbeddingInput(input)
}

// validateEmbeddingInput checks the shapes OpenAI accepts.
func validateEmbeddingInput(v []byte) error {
	if v == nil || jsonx.IsNull(v) {
		return FieldError("input", "is required")
	}
	switch v[0] {
	case '"':
		s, err := stringField("input", v)
		if err == nil && s == "" {
			err = FieldError("input", "must not be empty")
		}
		return err
	case '[':
	default:
		return FieldError("input", "must be a string or an array of strings or tokens")
	}
	n, kind := 0, byte(0)
	it := jsonx.Array(v)
	var m jsonx.Member
	for it.Next(&m) {
		item := m.Value(v)
		n++
		k := item[0]
		if k == '-' || '0' <= k && k <= '9' {
			k = '0'
			if _, err := intField("input", item); err != nil {
				return FieldError("input", "tokens must be integers")
			}
		}
		if kind != 0 && k != kind {
			return FieldError("input", "must not mix strings, tokens and token arrays")
		}
		kind = k
		switch k {
		case '"':
			if s, err := stringField("input", item); err != nil || s == "" {
				return FieldError("input", "must not contain empty strings")
			}
		case '[':
			if err := tokenArray(item); err != nil {
				return err
			}
		case '0':
		default:
			return FieldError("input", "items must be strings, tokens or token arrays")
		}
	}
	if err := it.Err(); err != nil {
		return syntaxError(err)
	}
	switch {
	case n == 0:
		return FieldError("input", "must not be empty")
	case n > maxEmbeddingInputs && kind != '0':
		return FieldError("input", "must have at most %d items", maxEmbeddingInputs)
	}
	return nil
}

func tokenArray(v []byte) error {
	n := 0
	it := jsonx.Array(v)
	var m jsonx.Member
	for it.Next(&m) {
		n++
		if _, err := intField("input", m.Value(v)); err != nil {
			return FieldError("input", "token arrays must hold integers")
		}
	}
	if n == 0 {
		return FieldError("input", "must not contain empty token arrays")
	}
	return it.Err()
}

// ParseImagesRequest validates a POST /v1/images/generations body (OpenAI's
// format) and returns its routing view. The router needs a model to route
// by, so model is required here although OpenAI defaults it. Streaming
// (partial images) is not offered.
func ParseImagesRequest(body []byte) (*ChatRequest, error) {
	r := &ChatRequest{Raw: body}
	var prompt []byte
	err := parseRouting(r, nil, func(m jsonx.Member, v []byte) error {
		var err error
		switch {
		case m.KeyFold("prompt"):
			prompt = v
		case m.KeyFold("n"):
			if err = positive("n", v); err == nil {
				if n, _ := intField("n", v); n > 10 {
					err = FieldError("n", "must be at most 10")
				}
			}
		case m.KeyFold("response_format"):
			err = oneOf("response_format", v, "url", "b64_json")
		case m.KeyFold("stream"):
			var s bool
			if s, err = boolField("stream", v); err == nil && s {
				err = FieldError("stream", "streaming image generation is not supported; set stream to false")
			}
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if prompt == nil || jsonx.IsNull(prompt) {
		return nil, FieldError("prompt", "is required")
	}
	if s, err := stringField("prompt", prompt); err != nil {
		return nil, err
	} else if s == "" {
		return nil, FieldError("prompt", "must not be empty")
	}
	return r, nil
}

// parseRouting walks r.Raw with members (recording where its members are
// in lay when lay is not nil): it reads the routing members, model and
// provider, into r and hands every other member to fn; then it checks the
// model.
func parseRouting(r *ChatRequest, lay *jsonx.Layout, fn func(m jsonx.Member, v []byte) error) error {
	var model []byte
	err := members(r.Raw, lay, func(m jsonx.Member, v []byte) error {
		switch {
		case m.KeyFold("model"):
			model = v
			return nil
		case m.KeyFold("provider"):
			var err error
			r.Provider, err = stringField("provider", v)
			return err
		}
		return fn(m, v)
	})
	if err != nil {
		return err
	}
	r.Model, err = requiredModel(model)
	return err
}

// members checks that body is one JSON object and calls fn for each of its
// top-level members, stopping at fn's first error. When lay is not nil, it
// records where the members are (see ChatRequest.Layout).
func members(body []byte, lay *jsonx.Layout, fn func(m jsonx.Member, v []byte) error) error {
	it := jsonx.CheckedObject(body)
	var m jsonx.Member
	for it.Next(&m) {
		if lay != nil {
			lay.Add(body, &m)
		}
		if err := fn(m, m.Value(body)); err != nil {
			return err
		}
	}
	if err := it.Err(); err != nil {
		return syntaxError(err)
	}
	if jsonx.SkipSpace(body, it.End+1) != len(body) {
		return syntaxError(jsonx.ErrSyntax)
	}
	if lay != nil {
		lay.Close(body, &it)
	}
	return nil
}

func requiredModel(v []byte) (string, error) {
	if v == nil || jsonx.IsNull(v) {
		return "", FieldError("model", "is required")
	}
	s, err := stringField("model", v)
	if err != nil {
		return "", err
	}
	return s, ValidateModelName("model", s)
}

// oneOf checks that v, when not null, is one of the strings allowed.
func oneOf(name string, v []byte, allowed ...string) error {
	if jsonx.IsNull(v) {
		return nil
	}
	s, err := stringField(name, v)
	if err != nil {
		return err
	}
	for _, a := range allowed {
		if s == a {
			return nil
		}
	}
	msg := "must be one of"
	for i, a := range allowed {
		if i > 0 {
			msg += ","
		}
		msg += " " + a
	}
	return FieldError(name, "%s", msg)
}

// positive checks that v, when not null, is an integer of at least 1.
func positive(name string, v []byte) error {
	if jsonx.IsNull(v) {
		return nil
	}
	n, err := intField(name, v)
	if err == nil && n < 1 {
		err = FieldError(name, "must be at least 1")
	}
	return err
}
