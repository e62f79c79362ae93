package mock

import (
	"bytes"
	"errors"
)

// reqInfo is what the mock needs from a chat request. Byte slices point
// into the request body and hold raw JSON string literals, quotes and
// escapes included, so they can be copied into a response as they are.
type reqInfo struct {
	model          []byte
	toolName       []byte
	maxTokens      int64 // smallest of max_tokens and max_completion_tokens; 0 = unset
	messages       int
	tools          int
	stream         bool
	includeUsage   bool
	toolChoiceNone bool
	lastIsUser     bool // the last message has role "user"
	lastToolResult bool // the last message carries a tool_result block (Anthropic)
}

var (
	errSyntax   = errors.New("request body is not valid JSON")
	errTooDeep  = errors.New("request body nests too deeply")
	errNotBool  = errors.New("expected a boolean")
	errNotStr   = errors.New("expected a string")
	errNotInt   = errors.New("expected a non-negative integer")
	errNotObj   = errors.New("request body must be a JSON object")
	maxDepth    = 256
	litTrue     = []byte("true")
	litFalse    = []byte("false")
	litNull     = []byte("null")
	litUser     = []byte(`"user"`)
	litNone     = []byte(`"none"`)
	litToolRes  = []byte(`"tool_result"`)
	numberBytes = [256]bool{'-': true, '+': true, '.': true, 'e': true, 'E': true,
		'0': true, '1': true, '2': true, '3': true, '4': true, '5': true, '6': true, '7': true, '8': true, '9': true}
)

// scanRequest reads the fields of an OpenAI or Anthropic chat request that
// the mock acts on, skipping everything else without allocating. It checks
// JSON structure (brackets, separators, literals, string ends) but not
// every detail of the grammar (number shapes, escapes inside strings).
func scanRequest(b []byte, ri *reqInfo) error {
	i := ws(b, 0)
	if i >= len(b) || b[i] != '{' {
		return errNotObj
	}
	i++
	for first := true; ; first = false {
		key, vi, ok, err := member(b, i, first)
		if err != nil {
			return err
		}
		if !ok {
			i = vi
			break
		}
		switch string(key) {
		case "model":
			var s []byte
			s, i, err = str(b, vi)
			if err == nil {
				ri.model = s
			}
		case "stream":
			i, ri.stream, err = boolean(b, vi)
		case "stream_options":
			i, err = scanStreamOptions(b, vi, ri)
		case "tools":
			i, err = scanTools(b, vi, ri)
		case "tool_choice":
			i, err = scanToolChoice(b, vi, ri)
		case "messages":
			i, err = scanMessages(b, vi, ri)
		case "max_tokens", "max_completion_tokens":
			var n int64
			i, n, err = integer(b, vi)
			if n > 0 && (ri.maxTokens == 0 || n < ri.maxTokens) {
				ri.maxTokens = n
			}
		default:
			i, err = skip(b, vi, 0)
		}
		if err != nil {
			return err
		}
	}
	if ws(b, i) != len(b) {
		return errSyntax
	}
	return nil
}

func scanStreamOptions(b []byte, i int, ri *reqInfo) (int, error) {
	if b[i] != '{' {
		return skip(b, i, 0)
	}
	i++
	for first := true; ; first = false {
		key, vi, ok, err := member(b, i, first)
		if err != nil || !ok {
			return vi, err
		}
		if string(key) == "include_usage" {
			i, ri.includeUsage, err = boolean(b, vi)
		} else {
			i, err = skip(b, vi, 1)
		}
		if err != nil {
			return i, err
		}
	}
}

// scanTools counts the tools and records the first one's name: OpenAI
// nests it ({"type":"function","function":{"name":...}}), Anthropic does
// not ({"name":...}).
func scanTools(b []byte, i int, ri *reqInfo) (int, error) {
	if b[i] != '[' {
		return skip(b, i, 0)
	}
	i++
	for first := true; ; first = false {
		vi, ok, err := element(b, i, first)
		if err != nil || !ok {
			return vi, err
		}
		ri.tools++
		if b[vi] != '{' {
			if i, err = skip(b, vi, 1); err != nil {
				return i, err
			}
			continue
		}
		i = vi + 1
		for mfirst := true; ; mfirst = false {
			key, mvi, ok, err := member(b, i, mfirst)
			if err != nil {
				return mvi, err
			}
			if !ok {
				i = mvi
				break
			}
			switch string(key) {
			case "name":
				if b[mvi] == '"' {
					var s []byte
					s, i, err = str(b, mvi)
					if ri.toolName == nil {
						ri.toolName = s
					}
				} else {
					i, err = skip(b, mvi, 2)
				}
			case "function":
				i, err = scanFunction(b, mvi, ri)
			default:
				i, err = skip(b, mvi, 2)
			}
			if err != nil {
				return i, err
			}
		}
	}
}

func scanFunction(b []byte, i int, ri *reqInfo) (int, error) {
	if b[i] != '{' {
		return skip(b, i, 2)
	}
	i++
	for first := true; ; first = false {
		key, vi, ok, err := member(b, i, first)
		if err != nil || !ok {
			return vi, err
		}
		if string(key) == "name" && b[vi] == '"' {
			var s []byte
			s, i, err = str(b, vi)
			if ri.toolName == nil {
				ri.toolName = s
			}
		} else {
			i, err = skip(b, vi, 3)
		}
		if err != nil {
			return i, err
		}
	}
}

// scanToolChoice recognises "none" (OpenAI) and {"type":"none"} (Anthropic).
func scanToolChoice(b []byte, i int, ri *reqInfo) (int, error) {
	switch b[i] {
	case '"':
		s, end, err := str(b, i)
		ri.toolChoiceNone = bytes.Equal(s, litNone)
		return end, err
	case '{':
		i++
		for first := true; ; first = false {
			key, vi, ok, err := member(b, i, first)
			if err != nil || !ok {
				return vi, err
			}
			if string(key) == "type" && b[vi] == '"' {
				var s []byte
				s, i, err = str(b, vi)
				ri.toolChoiceNone = bytes.Equal(s, litNone)
			} else {
				i, err = skip(b, vi, 1)
			}
			if err != nil {
				return i, err
			}
		}
	}
	return skip(b, i, 0)
}

// scanMessages counts the messages and records whether the last one is the
// user's own turn: role "user" and, for Anthropic, no tool_result block.
func scanMessages(b []byte, i int, ri *reqInfo) (int, error) {
	if b[i] != '[' {
		return skip(b, i, 0)
	}
	i++
	for first := true; ; first = false {
		vi, ok, err := element(b, i, first)
		if err != nil || !ok {
			return vi, err
		}
		ri.messages++
		ri.lastIsUser, ri.lastToolResult = false, false
		if b[vi] != '{' {
			if i, err = skip(b, vi, 1); err != nil {
				return i, err
			}
			continue
		}
		i = vi + 1
		for mfirst := true; ; mfirst = false {
			key, mvi, ok, err := member(b, i, mfirst)
			if err != nil {
				return mvi, err
			}
			if !ok {
				i = mvi
				break
			}
			switch {
			case string(key) == "role" && b[mvi] == '"':
				var s []byte
				s, i, err = str(b, mvi)
				ri.lastIsUser = bytes.Equal(s, litUser)
			case string(key) == "content" && b[mvi] == '[':
				i, err = scanContent(b, mvi, ri)
			default:
				i, err = skip(b, mvi, 2)
			}
			if err != nil {
				return i, err
			}
		}
	}
}

func scanContent(b []byte, i int, ri *reqInfo) (int, error) {
	i++
	for first := true; ; first = false {
		vi, ok, err := element(b, i, first)
		if err != nil || !ok {
			return vi, err
		}
		if b[vi] != '{' {
			if i, err = skip(b, vi, 3); err != nil {
				return i, err
			}
			continue
		}
		i = vi + 1
		for mfirst := true; ; mfirst = false {
			key, mvi, ok, err := member(b, i, mfirst)
			if err != nil {
				return mvi, err
			}
			if !ok {
				i = mvi
				break
			}
			if string(key) == "type" && b[mvi] == '"' {
				var s []byte
				s, i, err = str(b, mvi)
				if bytes.Equal(s, litToolRes) {
					ri.lastToolResult = true
				}
			} else {
				i, err = skip(b, mvi, 4)
			}
			if err != nil {
				return i, err
			}
		}
	}
}

// member reads the next key of an object whose '{' (first) or previous
// value has been consumed. It returns the raw key, the index of the value
// and ok; at the closing '}' ok is false and the index is just past it.
func member(b []byte, i int, first bool) (key []byte, vi int, ok bool, err error) {
	i = ws(b, i)
	if i >= len(b) {
		return nil, i, false, errSyntax
	}
	if b[i] == '}' {
		return nil, i + 1, false, nil
	}
	if !first {
		if b[i] != ',' {
			return nil, i, false, errSyntax
		}
		i = ws(b, i+1)
		if i >= len(b) {
			return nil, i, false, errSyntax
		}
	}
	if b[i] != '"' {
		return nil, i, false, errSyntax
	}
	end, err := stringEnd(b, i)
	if err != nil {
		return nil, i, false, err
	}
	key = b[i+1 : end-1]
	i = ws(b, end)
	if i >= len(b) || b[i] != ':' {
		return nil, i, false, errSyntax
	}
	i = ws(b, i+1)
	if i >= len(b) {
		return nil, i, false, errSyntax
	}
	return key, i, true, nil
}

// element is member's counterpart for arrays.
func element(b []byte, i int, first bool) (vi int, ok bool, err error) {
	i = ws(b, i)
	if i >= len(b) {
		return i, false, errSyntax
	}
	if b[i] == ']' {
		return i + 1, false, nil
	}
	if !first {
		if b[i] != ',' {
			return i, false, errSyntax
		}
		i = ws(b, i+1)
		if i >= len(b) {
			return i, false, errSyntax
		}
	}
	return i, true, nil
}

// skip returns the index just past the value starting at b[i].
func skip(b []byte, i, depth int) (int, error) {
	if depth > maxDepth {
		return i, errTooDeep
	}
	i = ws(b, i)
	if i >= len(b) {
		return i, errSyntax
	}
	switch c := b[i]; c {
	case '"':
		return stringEnd(b, i)
	case '{':
		i++
		for first := true; ; first = false {
			_, vi, ok, err := member(b, i, first)
			if err != nil || !ok {
				return vi, err
			}
			if i, err = skip(b, vi, depth+1); err != nil {
				return i, err
			}
		}
	case '[':
		i++
		for first := true; ; first = false {
			vi, ok, err := element(b, i, first)
			if err != nil || !ok {
				return vi, err
			}
			if i, err = skip(b, vi, depth+1); err != nil {
				return i, err
			}
		}
	case 't':
		return literal(b, i, litTrue)
	case 'f':
		return literal(b, i, litFalse)
	case 'n':
		return literal(b, i, litNull)
	default:
		j := i
		for j < len(b) && numberBytes[b[j]] {
			j++
		}
		if j == i {
			return i, errSyntax
		}
		return j, nil
	}
}

func literal(b []byte, i int, lit []byte) (int, error) {
	if !bytes.HasPrefix(b[i:], lit) {
		return i, errSyntax
	}
	return i + len(lit), nil
}

// stringEnd returns the index just past the string literal at b[i] == '"'.
// A quote ends the string when an even number of backslashes precede it.
func stringEnd(b []byte, i int) (int, error) {
	start := i + 1
	for j := start; ; {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return len(b), errSyntax
		}
		k += j
		n := 0
		for p := k - 1; p >= start && b[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return k + 1, nil
		}
		j = k + 1
	}
}

// str reads a string literal, returning it raw (quotes included).
func str(b []byte, i int) ([]byte, int, error) {
	if b[i] != '"' {
		end, err := skip(b, i, 1)
		if err == nil {
			err = errNotStr
		}
		return nil, end, err
	}
	end, err := stringEnd(b, i)
	if err != nil {
		return nil, end, err
	}
	return b[i:end], end, nil
}

// boolean reads true, false or null (false).
func boolean(b []byte, i int) (int, bool, error) {
	switch b[i] {
	case 't':
		end, err := literal(b, i, litTrue)
		return end, err == nil, err
	case 'f':
		end, err := literal(b, i, litFalse)
		return end, false, err
	case 'n':
		end, err := literal(b, i, litNull)
		return end, false, err
	}
	end, err := skip(b, i, 1)
	if err == nil {
		err = errNotBool
	}
	return end, false, err
}

// integer reads a non-negative integer or null (0).
func integer(b []byte, i int) (int, int64, error) {
	if b[i] == 'n' {
		end, err := literal(b, i, litNull)
		return end, 0, err
	}
	end, err := skip(b, i, 1)
	if err != nil {
		return end, 0, err
	}
	var n int64
	for _, c := range b[i:end] {
		if c < '0' || c > '9' || n > 1<<40 {
			return end, 0, errNotInt
		}
		n = n*10 + int64(c-'0')
	}
	return end, n, nil
}

func ws(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}
