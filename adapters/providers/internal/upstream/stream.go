package upstream

import (
	"io"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/airouter/airouter/adapters/providers/sse"
	"github.com/airouter/airouter/core/domain"
)

// Stream is the part of a provider's stream that does not depend on its
// events: the attempt, the body and its SSE reader, the error that ended it,
// and a release that runs once whether the stream ends, fails or is closed
// from another goroutine. Adapters embed it and translate SSE.Next's events.
type Stream struct {
	A      *Attempt
	SSE    *sse.Reader
	body   io.ReadCloser
	err    error
	once   sync.Once
	closed atomic.Bool
}

// Start makes s read the raw body of a 2xx streaming answer under attempt
// a. The body is not wrapped by Attempt.Body: only data events count as
// progress for the idle timeout (the adapter calls A.Progress), not bytes of
// comments and keep-alives.
func (s *Stream) Start(a *Attempt, resp *http.Response) {
	s.A, s.body = a, resp.Body
	s.SSE = sse.NewReaderSize(resp.Body, sse.DefaultInitialSize, sse.DefaultMaxLine)
}

// Done returns the error Next must return before reading: the error that
// ended the stream, or, once Close was called, a canceled error (which then
// ends the stream). nil means Next may read.
func (s *Stream) Done() error {
	if s.err != nil {
		return s.err
	}
	if s.closed.Load() {
		return s.End(&domain.UpstreamError{Class: domain.ClassCanceled, Message: "the stream was closed"})
	}
	return nil
}

// Ended reports whether the stream has ended (Next returns at once).
func (s *Stream) Ended() bool { return s.err != nil }

// End records err (io.EOF for a clean end) as the stream's result, releases
// the connection and returns err.
func (s *Stream) End(err error) error {
	s.err = err
	s.Release()
	return err
}

// Broken ends the stream on an error of SSE.Next: an event over the size
// limit, a body that ended before the final event, or a failed read.
func (s *Stream) Broken(err error) error {
	if err == sse.ErrTooLong {
		return s.End(s.A.EventTooLarge(sse.DefaultMaxLine))
	}
	if err == io.EOF || err == sse.ErrTruncated {
		err = ErrTruncated
	}
	return s.End(s.A.Fail(err))
}

// Drain reads what follows the final event (normally just the end of the
// body), so that the connection returns to the pool; it gives up quickly.
func (s *Stream) Drain() {
	s.A.Draining()
	_, _ = io.CopyN(io.Discard, s.body, 64<<10)
}

// Release ends the attempt and closes the body, once.
func (s *Stream) Release() {
	s.once.Do(func() {
		s.A.End()
		s.body.Close()
	})
}

// Close ends the stream and releases its connection at once (an unfinished
// body is not drained: the connection is closed); safe to call twice, and
// from another goroutine than Next's.
func (s *Stream) Close() error {
	s.closed.Store(true)
	s.Release()
	return nil
}
