package domain

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxModelNameBytes bounds a model name, in bytes of UTF-8.
const MaxModelNameBytes = 256

// ValidateModelName is the one rule for model names, wherever one comes in
// (the admin API's model name, the model of a chat request): 1 to
// MaxModelNameBytes bytes of valid UTF-8 (no U+FFFD, which is what a JSON
// decoder makes of invalid bytes) without white space or control characters.
// The error names field.
func ValidateModelName(field, name string) error {
	switch {
	case name == "":
		return FieldError(field, "is required")
	case len(name) > MaxModelNameBytes:
		return FieldError(field, "is %d bytes long; a model name has at most %d bytes", len(name), MaxModelNameBytes)
	}
	for i := 0; i < len(name); {
		c := name[i]
		if c < utf8.RuneSelf {
			if c <= ' ' || c == 0x7f {
				return FieldError(field, "must not contain white space or control characters")
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(name[i:])
		if r == utf8.RuneError {
			// U+FFFD too: a JSON decoder puts it where the bytes were not
			// UTF-8.
			return FieldError(field, "is not valid UTF-8")
		}
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return FieldError(field, "must not contain white space or control characters")
		}
		i += n
	}
	return nil
}

// TruncateText returns s cut to at most max bytes, on a rune boundary, so
// that a valid UTF-8 string stays valid.
func TruncateText(s string, max int) string {
	if len(s) <= max {
		return s
	}
	if max <= 0 {
		return ""
	}
	n := max
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// CleanText returns s as text any store accepts: valid UTF-8 (each invalid
// sequence becomes U+FFFD), no NUL (each becomes U+FFFD) and at most max
// bytes, cut on a rune boundary. A string that is already clean is returned
// as it is, without allocating.
func CleanText(s string, max int) string {
	if len(s) <= max && strings.IndexByte(s, 0) < 0 && utf8.ValidString(s) {
		return s
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	}
	return TruncateText(s, max)
}

// Bounds of a request-log entry's text, in bytes: what stores keep (the
// model and provider are indexed, and an index entry must stay small).
const (
	MaxLogRequestID = 128
	MaxLogName      = 512 // model, provider
	MaxLogShort     = 64  // strategy, error class
	MaxLogMessage   = 2048
)

// CleanText makes every text field of e storable with CleanText and the
// MaxLog bounds, so that no store refuses the entry for its text. Clean
// fields are left as they are, without allocating.
func (e *RequestLog) CleanText() {
	e.RequestID = CleanText(e.RequestID, MaxLogRequestID)
	e.Model = CleanText(e.Model, MaxLogName)
	e.Provider = CleanText(e.Provider, MaxLogName)
	e.Strategy = Strategy(CleanText(string(e.Strategy), MaxLogShort))
	e.ErrorClass = CleanText(e.ErrorClass, MaxLogShort)
	e.ErrorMessage = CleanText(e.ErrorMessage, MaxLogMessage)
}
