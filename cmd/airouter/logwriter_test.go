package main

import (
	"strings"
	"testing"
	"time"

	"github.com/airouter/airouter/core/testkit"
)

func TestLogWriter(t *testing.T) {
	t.Parallel()
	var out testkit.Buffer
	l := newLogWriter(&out, 20*time.Millisecond, 64)
	_, _ = l.Write([]byte("one\n"))
	if out.String() != "" {
		t.Fatal("written before the interval")
	}
	waitFor(t, time.Second, func() bool { return out.String() == "one\n" }, "not flushed by the ticker")
	_, _ = l.Write([]byte(strings.Repeat("x", 60) + "\n")) // 61 of 64 bytes: buffered
	if strings.Contains(out.String(), "x") {
		t.Fatal("written before the buffer filled")
	}
	_, _ = l.Write([]byte("two\n")) // does not fit: the buffered line goes out first
	if !strings.Contains(out.String(), strings.Repeat("x", 60)) || strings.Contains(out.String(), "two") {
		t.Fatalf("a full buffer was not flushed in order: %q", out.String())
	}
	l.Close()
	if got := out.String(); !strings.HasSuffix(got, "two\n") {
		t.Fatalf("Close did not flush: %q", got)
	}
	// A write larger than the buffer goes out at once.
	big := newLogWriter(&out, time.Hour, 64)
	defer big.Close()
	_, _ = big.Write([]byte(strings.Repeat("y", 100)))
	if !strings.HasSuffix(out.String(), strings.Repeat("y", 100)) {
		t.Fatal("a large write was held back")
	}
}
