package upstream

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestRegressionUpstreamTextIsClean: an upstream error body is arbitrary
// bytes; its message went on as it was (NUL, invalid UTF-8) into the request
// log and the key's last error, where PostgreSQL refuses such text.
func TestRegressionUpstreamTextIsClean(t *testing.T) {
	for _, body := range []string{
		"<html>\x00 bad gateway \xff\xfe</html>",
		`{"error":{"message":"bad\u0000thing","type":"x\u0000"}}`,
		`{"detail":[{"msg":"bad\u0000"}]}`,
		strings.Repeat("ж", 300) + "\xd0", // 600 bytes of two-byte runes, then half of one
	} {
		eb := ParseErrorBody([]byte(body))
		for _, s := range []string{eb.Message, eb.Type, Scrub(eb.Message, ""), Scrub(eb.Type, "")} {
			if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
				t.Errorf("%q: got %q", body, s)
			}
		}
		if len(eb.Message) > 512+len("…") {
			t.Errorf("%q: message of %d bytes", body, len(eb.Message))
		}
	}
	if got := Scrub("fine message", ""); got != "fine message" {
		t.Errorf("clean text changed: %q", got)
	}
}
