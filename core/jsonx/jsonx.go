// Package jsonx is the module's one JSON scanner and writer: small and
// allocation-free, for the hot paths. It walks the members of an object or
// the elements of an array without decoding them, so that a request body
// can be patched at its top level and a response chunk read for a few
// fields while every other byte passes through untouched.
//
// The plain iterators check structure (quotes, nesting, separators) but not
// the grammar of numbers and literals; Check and CheckedObject check the
// grammar as encoding/json does. A Layout recorded while a body is walked
// once lets PatchLaid patch it later without a second scan: the domain's
// ParseChatRequest records it, the OpenAI adapter patches by it.
//
// It depends on nothing but the standard library: core/domain, the
// provider adapters, the front-door codecs and the mock upstream use it.
package jsonx

import (
	"bytes"
	"errors"

	"unicode/utf8"
)

// ErrSyntax reports malformed JSON.
var ErrSyntax = errors.New("malformed JSON")

// maxDepth bounds nesting, as encoding/json does.
const maxDepth = 10000

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// SkipSpace returns the index of the first non-space byte at or after i.
func SkipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// skipString returns the index just past the string whose opening quote is
// at b[i].
func skipString(b []byte, i int) (int, error) {
	i++ // opening quote
	for {
		j := bytes.IndexByte(b[i:], '"')
		if j < 0 {
			return 0, ErrSyntax
		}
		q := i + j
		// An odd number of backslashes before the quote escapes it.
		n := 0
		for k := q - 1; k >= i && b[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			return q + 1, nil
		}
		i = q + 1
	}
}

// SkipValue returns the index just past the value starting at b[i] (after
// optional space).
func SkipValue(b []byte, i int) (int, error) {
	i = SkipSpace(b, i)
	if i >= len(b) {
		return 0, ErrSyntax
	}
	switch c := b[i]; c {
	case '"':
		return skipString(b, i)
	case '{', '[':
		return skipContainer(b, i)
	case '}', ']', ',', ':':
		return 0, ErrSyntax
	default:
		j := i
		for j < len(b) {
			c := b[j]
			if c == ',' || c == '}' || c == ']' || c == ':' || c == '"' || c == '{' || c == '[' || isSpace(c) {
				break
			}
			j++
		}
		return j, nil
	}
}

// skipContainer skips an object or array by counting brackets outside
// strings; it checks that brackets match.
func skipContainer(b []byte, i int) (int, error) {
	var stack [64]byte
	st := stack[:0]
	for i < len(b) {
		switch c := b[i]; c {
		case '"':
			j, err := skipString(b, i)
			if err != nil {
				return 0, err
			}
			i = j
			continue
		case '{', '[':
			if len(st) >= maxDepth {
				return 0, ErrSyntax
			}
			st = append(st, c)
		case '}', ']':
			if len(st) == 0 {
				return 0, ErrSyntax
			}
			open := st[len(st)-1]
			if (c == '}') != (open == '{') {
				return 0, ErrSyntax
			}
			st = st[:len(st)-1]
			if len(st) == 0 {
				return i + 1, nil
			}
		}
		i++
	}
	return 0, ErrSyntax
}

// Member is one member of an object. Offsets index the object's bytes.
type Member struct {
	KeyStart int // the key's opening quote
	ValStart int // the value's first byte
	ValEnd   int // just past the value
	key      []byte
}

// Iter walks the members of an object, or the elements of an array.
type Iter struct {
	b     []byte
	pos   int
	array bool
	check bool // validate members as Check does
	n     int
	err   error
	done  bool
	// End is the index of the closing bracket once Next returned false
	// without error.
	End int
}

// Object starts iterating over the object in b (which may have surrounding
// space).
func Object(b []byte) Iter {
	i := SkipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return Iter{err: ErrSyntax, done: true}
	}
	return Iter{b: b, pos: i + 1}
}

// CheckedObject is Object that also checks each member as Check does, so
// that one pass both validates an object and walks its members; Next fails
// with ErrSyntax or ErrTooDeep at the first malformed member.
func CheckedObject(b []byte) Iter {
	it := Object(b)
	it.check = true
	return it
}

// Array starts iterating over the array in b.
func Array(b []byte) Iter {
	i := SkipSpace(b, 0)
	if i >= len(b) || b[i] != '[' {
		return Iter{err: ErrSyntax, done: true}
	}
	return Iter{b: b, pos: i + 1, array: true}
}

// Err returns the syntax error that stopped the iteration, if any.
func (it *Iter) Err() error { return it.err }

func (it *Iter) fail() bool { return it.failWith(ErrSyntax) }

func (it *Iter) failWith(err error) bool {
	it.err, it.done = err, true
	return false
}

// Next advances to the next member (objects) or element (arrays).
func (it *Iter) Next(m *Member) bool {
	if it.done {
		return false
	}
	b := it.b
	i := SkipSpace(b, it.pos)
	if i >= len(b) {
		return it.fail()
	}
	closing := byte('}')
	if it.array {
		closing = ']'
	}
	if b[i] == closing {
		it.End, it.done = i, true
		return false
	}
	if it.n > 0 {
		if b[i] != ',' {
			return it.fail()
		}
		i = SkipSpace(b, i+1)
		if i >= len(b) {
			return it.fail()
		}
	}
	it.n++
	if !it.array {
		if b[i] != '"' {
			return it.fail()
		}
		skip := skipString
		if it.check {
			skip = checkString
		}
		ke, err := skip(b, i)
		if err != nil {
			return it.fail()
		}
		m.KeyStart = i
		m.key = b[i+1 : ke-1]
		i = SkipSpace(b, ke)
		if i >= len(b) || b[i] != ':' {
			return it.fail()
		}
		i++
	} else {
		m.KeyStart, m.key = -1, nil
	}
	i = SkipSpace(b, i)
	var e int
	var err error
	if it.check {
		e, err = checkValue(b, i, 1, maxDepth)
	} else {
		e, err = SkipValue(b, i)
	}
	if err != nil {
		return it.failWith(err)
	}
	if e == i {
		return it.fail()
	}
	m.ValStart, m.ValEnd = i, e
	it.pos = e
	return true
}

// Value returns the member's value bytes within b.
func (m *Member) Value(b []byte) []byte { return b[m.ValStart:m.ValEnd] }

// RawKey returns the key as written, without quotes (escapes not decoded).
func (m *Member) RawKey() []byte { return m.key }

// KeyIs reports whether the key equals name exactly (after decoding escapes).
func (m *Member) KeyIs(name string) bool {
	if bytes.IndexByte(m.key, '\\') < 0 {
		return string(m.key) == name
	}
	s, ok := unquote(m.key)
	return ok && s == name
}

// KeyFold reports whether the key equals name under Unicode case folding,
// the way encoding/json matches keys to struct fields.
func (m *Member) KeyFold(name string) bool {
	if bytes.IndexByte(m.key, '\\') < 0 {
		if len(m.key) != len(name) && ascii(m.key) {
			return false // ASCII folds preserve length
		}
		return equalFold(m.key, name)
	}
	s, ok := unquote(m.key)
	return ok && equalFold([]byte(s), name)
}

func ascii(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func equalFold(b []byte, s string) bool {
	if len(b) == len(s) {
		i := 0
		for ; i < len(b); i++ {
			c, d := b[i], s[i]
			if c == d {
				continue
			}
			if c|0x20 != d|0x20 || c|0x20 < 'a' || c|0x20 > 'z' || c >= utf8.RuneSelf {
				break
			}
		}
		if i == len(b) {
			return true
		}
	}
	return bytes.EqualFold(b, []byte(s))
}
