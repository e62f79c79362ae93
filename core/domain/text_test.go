package domain

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTruncateTextCutsOnRunes(t *testing.T) {
	for _, c := range []struct {
		in   string
		max  int
		want string
	}{
		{"abc", 5, "abc"},
		{"abc", 2, "ab"},
		{"héllo", 2, "h"}, // é is two bytes: not cut in half
		{"héllo", 3, "hé"},
		{"日本", 4, "日"},
		{"日本", 2, ""},
		{"abc", 0, ""},
	} {
		if got := TruncateText(c.in, c.max); got != c.want {
			t.Errorf("TruncateText(%q, %d) = %q, want %q", c.in, c.max, got, c.want)
		}
	}
}

func TestCleanText(t *testing.T) {
	for _, c := range []struct {
		in   string
		max  int
		want string
	}{
		{"ok", 10, "ok"},
		{"a\x00b", 10, "a\uFFFDb"},
		{"a\xffb", 10, "a\uFFFDb"},
		{"ош"[:3], 10, "о\uFFFD"},
		{strings.Repeat("é", 10), 5, "éé"},
		{"a\x00" + strings.Repeat("é", 10), 6, "a\uFFFDé"},
	} {
		got := CleanText(c.in, c.max)
		if got != c.want {
			t.Errorf("CleanText(%q, %d) = %q, want %q", c.in, c.max, got, c.want)
		}
		if !utf8.ValidString(got) || len(got) > c.max {
			t.Errorf("CleanText(%q, %d) = %q: not clean", c.in, c.max, got)
		}
	}
	s := "already clean"
	if n := testing.AllocsPerRun(100, func() { _ = CleanText(s, 100) }); n != 0 {
		t.Errorf("CleanText of clean text allocates %v times", n)
	}
}

func TestValidateModelName(t *testing.T) {
	for _, ok := range []string{"gpt-4o", "claude-3.5/sonnet", "模型-1", strings.Repeat("m", MaxModelNameBytes)} {
		if err := ValidateModelName("model", ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "gpt\x00", "gpt 4", "gpt\t4", "gpt\n", "a\u0085b", "a\u00a0b", "a\x7fb", "a\xffb", "a\uFFFDb", strings.Repeat("m", MaxModelNameBytes+1)} {
		err := ValidateModelName("model", bad)
		var e *Error
		if err == nil || !errors.As(err, &e) || e.Code != CodeInvalid || e.Field != "model" {
			t.Errorf("%q: got %v, want an invalid error on field model", bad, err)
		}
	}
}
