package jsonx

import "errors"

// ErrTooDeep reports JSON nested deeper than Check's limit.
var ErrTooDeep = errors.New("JSON nests too deeply")

// Check reports whether b holds exactly one JSON value, with optional space
// around it, nested at most maxDepth objects and arrays deep. It is stricter
// than the iterators, which only match brackets inside the values they
// skip: it checks separators at every level, the spelling of true, false
// and null, and that numbers are made of number characters. Like them, it
// does not check escapes inside strings or the shape of numbers. It returns
// nil, ErrSyntax or ErrTooDeep, and does not allocate.
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
		return skipString(b, i)
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
	j := i
	for j < len(b) && numberByte[b[j]] {
		j++
	}
	if j == i {
		return 0, ErrSyntax
	}
	return j, nil
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
			ke, err := skipString(b, i)
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
