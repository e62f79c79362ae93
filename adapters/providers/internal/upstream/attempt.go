package upstream

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/airouter/airouter/core/domain"
)

// Causes of an attempt's cancellation.
var (
	errFirstByte = errors.New("first-byte timeout")
	errIdle      = errors.New("idle timeout")
	errTotal     = errors.New("total timeout")
	errClosed    = errors.New("closed by the caller")
)

// ErrTruncated is returned (wrapped in an *domain.UpstreamError by Fail)
// when a stream ends before its terminating event.
var ErrTruncated = errors.New("the upstream stream ended before its final event")

// Stages of an attempt.
const (
	stageWaiting   int32 = iota // request sent, awaiting response headers
	stageHeaders                // headers received, awaiting the first stream event
	stageReceiving              // first event (or, non-streaming, headers) received
	stageDraining               // the answer is complete; reading the body's end
)

// drainTimeout bounds reading the end of a body after the final event.
const drainTimeout = time.Second

// Attempt is one upstream HTTP exchange under the provider's timeouts:
//
//   - Connect bounds dialing and the TLS handshake (in the transport).
//   - FirstByte bounds the time until the response headers and, for
//     streams, the first event. It fires as a retryable timeout only while
//     the request has not been written; once it has, the upstream may be
//     processing (and billing) it, so the timeout is ambiguous: never
//     resent.
//   - Idle bounds every wait for progress once receiving: for a
//     non-streaming body any bytes, for a stream a data event (Progress);
//     SSE comments and keep-alive events do not count. A stall ends the
//     attempt with an error marked Timeout, never a clean end.
//   - Total bounds the whole attempt.
//
// One timer enforces them all: it is set to the nearer of the stage's
// timeout and the total deadline.
//
// Cancelling the caller's context cancels the request, which makes the
// transport close the connection at once.
type Attempt struct {
	parent   context.Context
	ctx      context.Context
	cancel   context.CancelCauseFunc
	deadline time.Time // of Total
	timer    *time.Timer
	stage    atomic.Int32
	wrote    atomic.Bool
	t        domain.Timeouts
	key      string
	trace    httptrace.ClientTrace
}

// Begin starts an attempt. t must have its defaults filled in. key is used
// only to scrub messages.
func Begin(parent context.Context, t domain.Timeouts, key string) *Attempt {
	a := &Attempt{parent: parent, t: t, key: key, deadline: time.Now().Add(t.Total)}
	ctx, cancel := context.WithCancelCause(parent)
	a.cancel = cancel
	a.trace.WroteRequest = a.wroteRequest
	a.ctx = httptrace.WithClientTrace(ctx, &a.trace)
	a.timer = time.AfterFunc(min(t.FirstByte, t.Total), a.fire)
	return a
}

// arm sets the timer to d, or to the total deadline when that is nearer.
func (a *Attempt) arm(d time.Duration) {
	a.timer.Reset(min(d, time.Until(a.deadline)))
}

func (a *Attempt) wroteRequest(info httptrace.WroteRequestInfo) {
	if info.Err == nil {
		a.wrote.Store(true)
	}
}

func (a *Attempt) fire() {
	if !time.Now().Before(a.deadline) {
		a.cancel(errTotal)
		return
	}
	switch a.stage.Load() {
	case stageReceiving:
		a.cancel(errIdle)
	case stageDraining:
		a.cancel(errClosed)
	default:
		a.cancel(errFirstByte)
	}
}

// Context is the context to send the request with.
func (a *Attempt) Context() context.Context { return a.ctx }

// Do sends req (made with Context) and returns the response, or the failure
// as an *domain.UpstreamError.
func (a *Attempt) Do(rt http.RoundTripper, req *http.Request) (*http.Response, error) {
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return nil, a.Fail(err)
	}
	a.stage.Store(stageHeaders)
	return resp, nil
}

// Receiving marks the first event of a stream, or the headers of a
// non-streaming response: from now on the idle timeout applies.
func (a *Attempt) Receiving() {
	if a.stage.Swap(stageReceiving) != stageReceiving {
		a.arm(a.t.Idle)
	}
}

// Draining marks the answer complete: the rest of the body is read only so
// that the connection can be reused, under a short timeout.
func (a *Attempt) Draining() {
	a.stage.Store(stageDraining)
	a.arm(min(drainTimeout, a.t.Idle))
}

// Body wraps a non-streaming response body so that every read of data
// re-arms the idle timer. Streams do not use it: bytes of comments and
// keep-alive events would keep a stalled stream alive forever; they call
// Progress for each data event instead.
func (a *Attempt) Body(rc io.ReadCloser) io.ReadCloser { return &body{rc: rc, a: a} }

type body struct {
	rc io.ReadCloser
	a  *Attempt
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if n > 0 {
		b.a.Progress()
	}
	return n, err
}

// Progress re-arms the idle timer once receiving: a stream calls it for
// every event that carries data (not for SSE comments or pings).
func (a *Attempt) Progress() {
	if a.stage.Load() == stageReceiving {
		a.arm(a.t.Idle)
	}
}

// EventTooLarge is the error for a stream event over limit bytes. It is
// never retried: the upstream accepted the request and is generating (and
// billing) it, so sending it again elsewhere would pay for it twice. Before
// the first event the client gets a 502; after it the stream ends with this
// error.
func (a *Attempt) EventTooLarge(limit int) *domain.UpstreamError {
	return &domain.UpstreamError{Class: domain.ClassAmbiguous, Message: "the upstream sent a stream event larger than the limit of " + sizeString(limit)}
}

func sizeString(n int) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return strconv.Itoa(n>>20) + " MiB"
	}
	return strconv.Itoa(n) + " bytes"
}

func (b *body) Close() error { return b.rc.Close() }

// End releases the attempt's timer and context. Safe to call twice.
func (a *Attempt) End() {
	a.timer.Stop()
	a.cancel(errClosed)
}

// Fail converts err, which ended the attempt, into an *domain.UpstreamError.
// An *domain.UpstreamError passes through unchanged.
func (a *Attempt) Fail(err error) *domain.UpstreamError {
	var ue *domain.UpstreamError
	if errors.As(err, &ue) {
		return ue
	}
	stage := a.stage.Load()
	// Only a request that was never written is safe to resend: once it was,
	// the upstream may be processing (and billing) it.
	sent := a.wrote.Load() || stage > stageWaiting
	late := func() domain.ErrorClass {
		if !sent {
			return domain.ClassRetryable
		}
		return domain.ClassAmbiguous
	}
	cause := context.Cause(a.ctx)
	switch perr := a.parent.Err(); {
	case errors.Is(perr, context.Canceled):
		return &domain.UpstreamError{Class: domain.ClassCanceled, Message: "the client canceled the request", Err: err}
	case errors.Is(perr, context.DeadlineExceeded):
		return &domain.UpstreamError{Class: late(), Timeout: true, Message: "the request's deadline passed", Err: err}
	}
	switch cause {
	case errFirstByte:
		if !sent {
			return &domain.UpstreamError{Class: domain.ClassRetryable, Timeout: true, Message: "could not send the request within the first-byte timeout of " + a.t.FirstByte.String(), Err: err}
		}
		what := "no response headers"
		if stage == stageHeaders {
			what = "no stream event after the headers"
		}
		return &domain.UpstreamError{Class: domain.ClassAmbiguous, Timeout: true, Message: "the upstream did not answer within first_byte_ms (" + a.t.FirstByte.String() + ") after the request was sent (" + what + "); it may still be processing the request, so it was not retried", Err: err}
	case errIdle:
		return &domain.UpstreamError{Class: domain.ClassAmbiguous, Timeout: true, Message: "the upstream sent nothing for the idle timeout of " + a.t.Idle.String(), Err: err}
	case errTotal:
		return &domain.UpstreamError{Class: late(), Timeout: true, Message: "the attempt exceeded the total timeout of " + a.t.Total.String(), Err: err}
	case errClosed:
		return &domain.UpstreamError{Class: domain.ClassCanceled, Message: "the stream was closed", Err: err}
	}
	if errors.Is(err, ErrTruncated) {
		return &domain.UpstreamError{Class: domain.ClassAmbiguous, Message: ErrTruncated.Error(), Err: err}
	}
	msg := Scrub(err.Error(), a.key)
	if stage == stageWaiting {
		if !a.wrote.Load() {
			// Refused, reset or timed out before the request was sent:
			// the upstream cannot have processed it.
			var ne net.Error
			timeout := errors.As(err, &ne) && ne.Timeout()
			return &domain.UpstreamError{Class: domain.ClassRetryable, Timeout: timeout, Message: "could not send the request: " + msg, Err: err}
		}
		return &domain.UpstreamError{Class: domain.ClassAmbiguous, Message: "the connection broke after the request was sent: " + msg, Err: err}
	}
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		msg = "unexpected end of the response body"
	}
	return &domain.UpstreamError{Class: domain.ClassAmbiguous, Message: "the connection broke while reading the response: " + msg, Err: err}
}

// ReadError reads a non-2xx response's body (bounded) and returns its error.
func (a *Attempt) ReadError(resp *http.Response, now time.Time, classify Classifier) *domain.UpstreamError {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
	return StatusError(resp, b, a.key, now, classify)
}
