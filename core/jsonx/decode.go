package jsonx

import (
	"bytes"

	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// IsNull reports whether v is the literal null.
func IsNull(v []byte) bool { return string(v) == "null" }

// String decodes a JSON string value (with its quotes). It allocates only
// the result.
func String(v []byte) (string, error) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", ErrSyntax
	}
	s, ok := unquote(v[1 : len(v)-1])
	if !ok {
		return "", ErrSyntax
	}
	return s, nil
}

// Int decodes an integer value.
func Int(v []byte) (int64, error) {
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		// Accept integral floats such as 1.0 or 1e3.
		f, ferr := strconv.ParseFloat(string(v), 64)
		if ferr != nil || f != float64(int64(f)) {
			return 0, ErrSyntax
		}
		return int64(f), nil
	}
	return n, nil
}

func unquote(s []byte) (string, bool) {
	if bytes.IndexByte(s, '\\') < 0 {
		if !utf8.Valid(s) {
			return string(bytes.ToValidUTF8(s, []byte("\uFFFD"))), true
		}
		return string(s), true
	}
	out, err := appendUnescaped(make([]byte, 0, len(s)), s)
	if err != nil {
		return "", false
	}
	return string(out), true
}

func hex4(s []byte) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range s[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

func appendUnescaped(dst, s []byte) ([]byte, error) {
	for len(s) > 0 {
		i := bytes.IndexByte(s, '\\')
		if i < 0 {
			return append(dst, s...), nil
		}
		dst = append(dst, s[:i]...)
		s = s[i:]
		if len(s) < 2 {
			return dst, ErrSyntax
		}
		switch s[1] {
		case '"', '\\', '/':
			dst = append(dst, s[1])
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, ok := hex4(s[2:])
			if !ok {
				return dst, ErrSyntax
			}
			s = s[6:]
			if utf16.IsSurrogate(r) {
				if len(s) >= 6 && s[0] == '\\' && s[1] == 'u' {
					if r2, ok := hex4(s[2:]); ok {
						if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
							dst = utf8.AppendRune(dst, d)
							s = s[6:]
							continue
						}
					}
				}
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default:
			return dst, ErrSyntax
		}
		s = s[2:]
	}
	return dst, nil
}
