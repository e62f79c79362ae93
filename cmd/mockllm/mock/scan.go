package mock

import (
	"bytes"
	"errors"
	"iter"

	"github.com/airouter/airouter/core/jsonx"
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
	// echo holds the request fields a Responses API response repeats, as
	// written; nil ones get respEchoes' defaults.
	echo [len(respEchoes)][]byte
}

var (
	errSyntax  = errors.New("request body is not valid JSON")
	errTooDeep = errors.New("request body nests too deeply")
	errNotBool = errors.New("expected a boolean")
	errNotStr  = errors.New("expected a string")
	errNotInt  = errors.New("expected a non-negative integer")
	errNotObj  = errors.New("request body must be a JSON object")
	litUser    = []byte(`"user"`)
	litNone    = []byte(`"none"`)
	litToolRes = []byte(`"tool_result"`)
)

// maxDepth bounds the nesting of a request body.
const maxDepth = 256

// scanRequest reads the fields of an OpenAI or Anthropic chat request that
// the mock acts on, skipping everything else without allocating. The body
// is checked first with jsonx.Check (structure, separators, literals,
// string ends, but not every detail of the grammar: number shapes, escapes
// inside strings), then walked with jsonx's iterators. Keys are matched as
// written (escapes are not decoded).
func scanRequest(b []byte, ri *reqInfo) error {
	return scanBody(b, ri, chatField)
}

// chatField reads one top-level member of a chat request.
func chatField(ri *reqInfo, k, v []byte) error {
	done, err := commonField(ri, k, v)
	if done {
		return err
	}
	switch string(k) {
	case "stream_options":
		err = scanStreamOptions(v, ri)
	case "tools":
		scanTools(v, ri)
	case "tool_choice":
		scanToolChoice(v, ri)
	case "messages":
		scanMessages(v, ri)
	case "max_tokens", "max_completion_tokens":
		var n int64
		n, err = integer(v)
		if n > 0 && (ri.maxTokens == 0 || n < ri.maxTokens) {
			ri.maxTokens = n
		}
	}
	return err
}

// scanBody checks that b is one JSON object and hands each of its members
// (key as written, value) to field, stopping at field's first error.
func scanBody(b []byte, ri *reqInfo, field func(ri *reqInfo, k, v []byte) error) error {
	if err := checkObject(b); err != nil {
		return err
	}
	it := jsonx.Object(b)
	var m jsonx.Member
	for it.Next(&m) {
		if err := field(ri, m.RawKey(), m.Value(b)); err != nil {
			return err
		}
	}
	if it.Err() != nil {
		return errSyntax
	}
	return nil
}

// commonField reads the members every request format shares (model,
// stream); done reports whether k was one of them.
func commonField(ri *reqInfo, k, v []byte) (done bool, err error) {
	switch string(k) {
	case "model":
		if v[0] != '"' {
			return true, errNotStr
		}
		ri.model = v
		return true, nil
	case "stream":
		ri.stream, err = boolean(v)
		return true, err
	}
	return false, nil
}

// checkObject checks that b is one JSON object (see scanRequest for how
// strictly).
func checkObject(b []byte) error {
	if i := jsonx.SkipSpace(b, 0); i >= len(b) || b[i] != '{' {
		return errNotObj
	}
	switch err := jsonx.Check(b, maxDepth); err {
	case nil:
		return nil
	case jsonx.ErrTooDeep:
		return errTooDeep
	default:
		return errSyntax
	}
}

func scanStreamOptions(v []byte, ri *reqInfo) error {
	for k, val := range members(v) {
		if string(k) == "include_usage" {
			var err error
			if ri.includeUsage, err = boolean(val); err != nil {
				return err
			}
		}
	}
	return nil
}

// scanTools counts the tools and records the first one's name: OpenAI
// nests it ({"type":"function","function":{"name":...}}), Anthropic does
// not ({"name":...}).
func scanTools(v []byte, ri *reqInfo) {
	for tool := range elements(v) {
		ri.tools++
		for k, val := range members(tool) {
			switch string(k) {
			case "name":
				toolName(val, ri)
			case "function":
				for fk, fv := range members(val) {
					if string(fk) == "name" {
						toolName(fv, ri)
					}
				}
			}
		}
	}
}

// toolName records the first tool name that is a string.
func toolName(v []byte, ri *reqInfo) {
	if v[0] == '"' && ri.toolName == nil {
		ri.toolName = v
	}
}

// scanToolChoice recognises "none" (OpenAI) and {"type":"none"} (Anthropic).
func scanToolChoice(v []byte, ri *reqInfo) {
	if v[0] == '"' {
		ri.toolChoiceNone = bytes.Equal(v, litNone)
		return
	}
	for k, t := range members(v) {
		if string(k) == "type" && t[0] == '"' {
			ri.toolChoiceNone = bytes.Equal(t, litNone)
		}
	}
}

// scanMessages counts the messages and records whether the last one is the
// user's own turn: role "user" and, for Anthropic, no tool_result block.
func scanMessages(v []byte, ri *reqInfo) {
	for msg := range elements(v) {
		ri.messages++
		ri.lastIsUser, ri.lastToolResult = false, false
		for k, mv := range members(msg) {
			switch {
			case string(k) == "role" && mv[0] == '"':
				ri.lastIsUser = bytes.Equal(mv, litUser)
			case string(k) == "content" && mv[0] == '[':
				scanContent(mv, ri)
			}
		}
	}
}

func scanContent(v []byte, ri *reqInfo) {
	for block := range elements(v) {
		for k, t := range members(block) {
			if string(k) == "type" && bytes.Equal(t, litToolRes) {
				ri.lastToolResult = true
			}
		}
	}
}

// members yields the key (as written) and the value of each member of the
// object v; nothing when v is not an object. The body was checked before,
// so the iterator's error is not looked at.
func members(v []byte) iter.Seq2[[]byte, []byte] {
	return func(yield func(k, val []byte) bool) {
		if len(v) == 0 || v[0] != '{' {
			return
		}
		it := jsonx.Object(v)
		var m jsonx.Member
		for it.Next(&m) {
			if !yield(m.RawKey(), m.Value(v)) {
				return
			}
		}
	}
}

// elements yields each element of the array v; nothing when v is not an
// array.
func elements(v []byte) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		if len(v) == 0 || v[0] != '[' {
			return
		}
		it := jsonx.Array(v)
		var e jsonx.Member
		for it.Next(&e) {
			if !yield(e.Value(v)) {
				return
			}
		}
	}
}

// boolean reads true, false or null (false).
func boolean(v []byte) (bool, error) {
	switch string(v) {
	case "true":
		return true, nil
	case "false", "null":
		return false, nil
	}
	return false, errNotBool
}

// integer reads a non-negative integer or null (0).
func integer(v []byte) (int64, error) {
	if jsonx.IsNull(v) {
		return 0, nil
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' || n > 1<<40 {
			return 0, errNotInt
		}
		n = n*10 + int64(c-'0')
	}
	return n, nil
}
