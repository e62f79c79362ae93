package jsonx

import "errors"

// ErrTooDeep reports JSON nested deeper than Check's limit.
var ErrTooDeep = errors.New("JSON nests too deeply")

// Check reports whether b holds exactly one JSON value, with optional space
// around it, nested at most maxDepth objects and arrays deep. It checks the
// grammar as encoding/json does (separators at every level, the spelling
// of true, false and null, the shape of numbers, escapes and control
// characters in strings), so a body it accepts decodes; unlike the
// iterators, which only match brackets inside the values they skip. It
// does not check that strings are valid UTF-8 (decoders replace what is
// not). It returns nil, ErrSyntax or ErrTooDeep, and does not allocate.
func Check(b []byte, maxDepth int) error {
	i, err := checkValue(b, 0, 0, maxDepth)
	if err != nil {
		return err
	}
	if SkipSpace(b, i) != len(b) {
		return ErrSyntax
	}
	return nil
}

// numberByte marks the bytes a number may contain.
var numberByte = [256]bool{'-': true, '+': true, '.': true, 'e': true, 'E': true,
	'0': true, '1': true, '2': true, '3': true, '4': true, '5': true, '6': true, '7': true, '8': true, '9': true}

// checkValue returns the index just past the value at or after b[i].
func checkValue(b []byte, i, depth, maxDepth int) (int, error) {
	i = SkipSpace(b, i)
	if i >= len(b) {
		return 0, ErrSyntax
	}
	switch b[i] {
	case '"':
		return checkString(b, i)
	case '{', '[':
		if depth >= maxDepth {
			return 0, ErrTooDeep
		}
		return checkContainer(b, i, depth+1, maxDepth)
	case 't':
		return checkLiteral(b, i, "true")
	case 'f':
		return checkLiteral(b, i, "false")
	case 'n':
		return checkLiteral(b, i, "null")
	}
	return checkNumber(b, i)
}

// checkNumber returns the index just past the number at b[i]:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func checkNumber(b []byte, i int) (int, error) {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(b, i)
	default:
		return 0, ErrSyntax
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return 0, ErrSyntax
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return 0, ErrSyntax
		}
		i = j
	}
	if i < len(b) && numberByte[b[i]] {
		return 0, ErrSyntax // e.g. 01, 1.2.3, 1e5e
	}
	return i, nil
}

func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

// checkString returns the index just past the string whose opening quote
// is b[i], checking its escapes and that it holds no control characters.
func checkString(b []byte, i int) (int, error) {
	for i++; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1, nil
		case c < 0x20:
			return 0, ErrSyntax
		case c == '\\':
			i++
			if i >= len(b) {
				return 0, ErrSyntax
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if _, ok := hex4(b[i+1 : min(i+5, len(b))]); !ok {
					return 0, ErrSyntax
				}
				i += 4
			default:
				return 0, ErrSyntax
			}
		}
	}
	return 0, ErrSyntax
}

func checkLiteral(b []byte, i int, lit string) (int, error) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return 0, ErrSyntax
	}
	return i + len(lit), nil
}

// checkContainer checks the object or array whose opening bracket is b[i];
// its members are at the given depth.
func checkContainer(b []byte, i, depth, maxDepth int) (int, error) {
	object := b[i] == '{'
	closing := byte(']')
	if object {
		closing = '}'
	}
	i++
	for n := 0; ; n++ {
		i = SkipSpace(b, i)
		if i >= len(b) {
			return 0, ErrSyntax
		}
		if b[i] == closing {
			return i + 1, nil
		}
		if n > 0 {
			if b[i] != ',' {
				return 0, ErrSyntax
			}
			i = SkipSpace(b, i+1)
		}
		if object {
			if i >= len(b) || b[i] != '"' {
				return 0, ErrSyntax
			}
			ke, err := checkString(b, i)
			if err != nil {
				return 0, err
			}
			i = SkipSpace(b, ke)
			if i >= len(b) || b[i] != ':' {
				return 0, ErrSyntax
			}
			i++
		}
		var err error
		if i, err = checkValue(b, i, depth, maxDepth); err != nil {
			return 0, err
		}
	}
}
