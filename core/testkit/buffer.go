// Package testkit holds the helpers that tests in several layers share (the
// core, the mock, the binary's end-to-end tests). It depends only on the
// standard library.
package testkit

import (
	"bytes"
	"sync"
)

// Buffer is an io.Writer safe for concurrent use: the code under test
// writes its logs to it from its goroutines while the test reads them.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String is everything written so far.
func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
