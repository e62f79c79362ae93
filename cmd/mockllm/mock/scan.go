package mock

import (
	"bytes"
	"errors"

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
	if i := jsonx.SkipSpace(b, 0); i >= len(b) || b[i] != '{' {
		return errNotObj
	}
	switch err := jsonx.Check(b, maxDepth); err {
	case nil:
	case jsonx.ErrTooDeep:
		return errTooDeep
	default:
		return errSyntax
	}
	it := jsonx.Object(b)
	var m jsonx.Member
	for it.Next(&m) {
		v := m.Value(b)
		var err error
		switch string(m.RawKey()) {
		case "model":
			if v[0] != '"' {
				return errNotStr
			}
			ri.model = v
		case "stream":
			ri.stream, err = boolean(v)
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
		if err != nil {
			return err
		}
	}
	if it.Err() != nil {
		return errSyntax
	}
	return nil
}

func scanStreamOptions(v []byte, ri *reqInfo) error {
	if v[0] != '{' {
		return nil
	}
	it := jsonx.Object(v)
	var m jsonx.Member
	for it.Next(&m) {
		if string(m.RawKey()) == "include_usage" {
			var err error
			if ri.includeUsage, err = boolean(m.Value(v)); err != nil {
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
	if v[0] != '[' {
		return
	}
	it := jsonx.Array(v)
	var e jsonx.Member
	for it.Next(&e) {
		ri.tools++
		tool := e.Value(v)
		if tool[0] != '{' {
			continue
		}
		mt := jsonx.Object(tool)
		var m jsonx.Member
		for mt.Next(&m) {
			switch string(m.RawKey()) {
			case "name":
				toolName(m.Value(tool), ri)
			case "function":
				fn := m.Value(tool)
				if fn[0] != '{' {
					continue
				}
				ft := jsonx.Object(fn)
				var f jsonx.Member
				for ft.Next(&f) {
					if string(f.RawKey()) == "name" {
						toolName(f.Value(fn), ri)
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
	switch v[0] {
	case '"':
		ri.toolChoiceNone = bytes.Equal(v, litNone)
	case '{':
		it := jsonx.Object(v)
		var m jsonx.Member
		for it.Next(&m) {
			if t := m.Value(v); string(m.RawKey()) == "type" && t[0] == '"' {
				ri.toolChoiceNone = bytes.Equal(t, litNone)
			}
		}
	}
}

// scanMessages counts the messages and records whether the last one is the
// user's own turn: role "user" and, for Anthropic, no tool_result block.
func scanMessages(v []byte, ri *reqInfo) {
	if v[0] != '[' {
		return
	}
	it := jsonx.Array(v)
	var e jsonx.Member
	for it.Next(&e) {
		ri.messages++
		ri.lastIsUser, ri.lastToolResult = false, false
		msg := e.Value(v)
		if msg[0] != '{' {
			continue
		}
		mt := jsonx.Object(msg)
		var m jsonx.Member
		for mt.Next(&m) {
			mv := m.Value(msg)
			switch {
			case string(m.RawKey()) == "role" && mv[0] == '"':
				ri.lastIsUser = bytes.Equal(mv, litUser)
			case string(m.RawKey()) == "content" && mv[0] == '[':
				scanContent(mv, ri)
			}
		}
	}
}

func scanContent(v []byte, ri *reqInfo) {
	it := jsonx.Array(v)
	var e jsonx.Member
	for it.Next(&e) {
		block := e.Value(v)
		if block[0] != '{' {
			continue
		}
		bt := jsonx.Object(block)
		var m jsonx.Member
		for bt.Next(&m) {
			if string(m.RawKey()) == "type" && bytes.Equal(m.Value(block), litToolRes) {
				ri.lastToolResult = true
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
