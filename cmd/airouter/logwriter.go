package main

import (
	"io"
	"sync"
	"time"
)

// logWriter buffers log output and writes it every interval or when the
// buffer fills, so the one log line per request does not cost one write
// system call per request. Close flushes what is left; run closes it before
// it returns, so no line is lost on a normal exit.
type logWriter struct {
	mu       sync.Mutex
	w        io.Writer
	buf      []byte
	max      int
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

func newLogWriter(w io.Writer, interval time.Duration, max int) *logWriter {
	l := &logWriter{w: w, buf: make([]byte, 0, max), max: max, stop: make(chan struct{}), done: make(chan struct{})}
	go l.loop(interval)
	return l
}

func (l *logWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf)+len(p) > l.max {
		l.flushLocked()
	}
	if len(p) >= l.max {
		return l.w.Write(p)
	}
	l.buf = append(l.buf, p...)
	return len(p), nil
}

func (l *logWriter) flushLocked() {
	if len(l.buf) == 0 {
		return
	}
	_, _ = l.w.Write(l.buf)
	l.buf = l.buf[:0]
}

// Flush writes what is buffered.
func (l *logWriter) Flush() {
	l.mu.Lock()
	l.flushLocked()
	l.mu.Unlock()
}

func (l *logWriter) loop(interval time.Duration) {
	defer close(l.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			l.Flush()
		case <-l.stop:
			l.Flush()
			return
		}
	}
}

// Close stops the background flushing and flushes.
func (l *logWriter) Close() {
	l.stopOnce.Do(func() { close(l.stop) })
	<-l.done
}
