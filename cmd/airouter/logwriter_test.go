package main

import (
	"strings"
	"testing"
	"time"
)

func TestLogWriter(t *testing.T) {
	t.Parallel()
	var out syncBuffer
	l := newLogWriter(&out, 20*time.Millisecond, 64)
	_, _ = l.Write([]byte("one\n"))
	if out.String() != "" {
		t.Fatal("written before the interval")
	}
	waitFor(t, time.Second, func() bool { return out.String() == "one\n" }, "not flushed by the ticker")
	_, _ = l.Write([]byte(strings.Repeat("x", 60) + "\n")) // fills the buffer: flushes "one"? no, buffer was empty
	_, _ = l.Write([]byte("two\n"))                        // does not fit: flushes the line before
	if !strings.Contains(out.String(), strings.Repeat("x", 60)) {
		t.Fatal("a full buffer was not flushed")
	}
	_, _ = l.Write([]byte(strings.Repeat("y", 100))) // larger than the buffer: written at once
	l.Close()
	if got := out.String(); !strings.HasSuffix(got, "two\n") && !strings.Contains(got, "two\n") {
		t.Fatalf("Close did not flush: %q", got)
	}
}
