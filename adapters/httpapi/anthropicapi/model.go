package anthropicapi

import (
	"encoding/json"

	"github.com/airouter/airouter/core/domain"
)

var errNotObject = &domain.Error{Code: domain.CodeInvalid, Msg: "request body is not a valid JSON object"}

// ReplaceModel returns body with the value of its top-level "model" member
// replaced by model (added first when absent). Everything else, unknown
// fields included, is kept byte for byte; every top-level "model" member is
// replaced when the key repeats. body is not modified. A body that is not
// a JSON object is a *domain.Error with CodeInvalid. It is for Anthropic
// routes, which get the client's body natively.
func ReplaceModel(body []byte, model string) ([]byte, error) {
	if !json.Valid(body) {
		return nil, errNotObject
	}
	i := skipSpace(body, 0)
	if i >= len(body) || body[i] != '{' {
		return nil, errNotObject
	}
	var spans [][2]int // value ranges of top-level "model" members
	open := i
	i = skipSpace(body, i+1)
	if body[i] != '}' {
		for {
			keyStart := i
			keyEnd, err := skipValue(body, i)
			if err != nil {
				return nil, err
			}
			i = skipSpace(body, keyEnd)
			i = skipSpace(body, i+1) // the colon
			valEnd, err := skipValue(body, i)
			if err != nil {
				return nil, err
			}
			if isModelKey(body[keyStart:keyEnd]) {
				spans = append(spans, [2]int{i, valEnd})
			}
			i = skipSpace(body, valEnd)
			if body[i] == '}' {
				break
			}
			i = skipSpace(body, i+1) // the comma
		}
	}
	val := appendString(nil, model)
	out := make([]byte, 0, len(body)+len(val)+10)
	if len(spans) == 0 {
		out = append(out, body[:open+1]...)
		out = append(out, `"model":`...)
		out = append(out, val...)
		if j := skipSpace(body, open+1); body[j] != '}' {
			out = append(out, ',')
		}
		return append(out, body[open+1:]...), nil
	}
	last := 0
	for _, s := range spans {
		out = append(out, body[last:s[0]]...)
		out = append(out, val...)
		last = s[1]
	}
	return append(out, body[last:]...), nil
}

// isModelKey reports whether a JSON string token decodes to "model".
func isModelKey(tok []byte) bool {
	if string(tok) == `"model"` {
		return true
	}
	var s string
	return len(tok) > 0 && tok[0] == '"' && json.Unmarshal(tok, &s) == nil && s == "model"
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the end of the JSON value at i; b is valid JSON.
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errNotObject
	}
	switch b[i] {
	case '"':
		for j := i + 1; j < len(b); j++ {
			switch b[j] {
			case '\\':
				j++
			case '"':
				return j + 1, nil
			}
		}
		return 0, errNotObject
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, err := skipValue(b, j)
				if err != nil {
					return 0, err
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, errNotObject
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
		j++
	}
	if j == i {
		return 0, errNotObject
	}
	return j, nil
}
