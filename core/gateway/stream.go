package gateway

import (
	"context"
	"crypto/sha256"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/core/limits"
	"github.com/airouter/airouter/core/routing"
	"github.com/airouter/airouter/ports"
)

// Stream serves a streaming request. On success the returned stream's first
// chunk has already arrived from the upstream, so the caller can still send
// an error status if Stream fails. The caller must Close the stream.
func (ch *chat) Stream(ctx context.Context, c *Call) (*Stream, *Result, error) {
	ch.flight.InFlight(1)
	ctx, cancel := context.WithTimeout(ctx, ch.timeout)
	res := &Result{RequestID: c.RequestID, Model: c.Req.Model}
	lease, err := ch.admit.admit(ctx, c, res)
	if err != nil {
		ch.streamFailed(c, res, routing.Attempt{}, err, cancel)
		return nil, res, err
	}
	var st *Stream
	a, err := ch.loop.run(ctx, c.job(), res, func(ctx context.Context, at *upstreamAttempt) (bool, error) {
		var err error
		st, err = ch.openChat(ctx, at, c.Req, cancel)
		return st == nil, err
	})
	if err != nil {
		ch.admit.settle(lease, nil, nil)
		ch.streamFailed(c, res, a, err, cancel)
		return nil, res, err
	}
	fillEntry(&st.entry, c, res, a, true)
	st.lease = lease
	if st.first.HasContent() {
		st.markFirstToken()
	}
	ch.streams.track(&st.openStream, c.Client)
	return st, res, nil
}

// streamFailed records a stream that failed before its first chunk. (A
// function of its own, so that the entry is not in Stream's stack frame.)
//
//go:noinline
func (ch *chat) streamFailed(c *Call, res *Result, a routing.Attempt, err error, cancel context.CancelFunc) {
	e := entry(c, res, a, true)
	ch.obs.failed(&e, err)
	cancel()
	ch.flight.InFlight(-1)
}

// openChat opens a chat stream on the attempt's route and reads its first
// chunk; a failure (the stream closed) is returned for the attempt loop.
func (ch *chat) openChat(ctx context.Context, at *upstreamAttempt, req *domain.ChatRequest, cancel context.CancelFunc) (*Stream, error) {
	up, err := at.client.ChatStream(ctx, at.target, req)
	if err != nil {
		return nil, err
	}
	first, err := up.Next()
	if err != nil {
		up.Close()
		if err == io.EOF {
			err = emptyStream()
		}
		return nil, err
	}
	st := &Stream{up: up, first: first, includeUsage: req.IncludeUsage}
	st.start(ch, at, cancel)
	return st, nil
}

// Stream is a streaming chat response in progress.
type Stream struct {
	openStream
	up           ports.ChatStream
	first        *domain.ChatChunk
	includeUsage bool
}

// openStream is what every open stream records, whatever its wire format:
// the attempt that serves it, its request-log entry, its usage and its
// client key's revocation. end records the outcome once.
type openStream struct {
	ch           *chat
	ticket       routing.Ticket
	attemptStart time.Time
	route        *routing.Route
	cancel       context.CancelFunc
	entry        domain.RequestLog
	ttftAttempt  time.Duration
	usage        *domain.Usage
	ended        bool
	lease        *limits.Reservation
	set          *streamSet  // where track registered it
	revoked      atomic.Bool // its client key was disabled or deleted
}

// start records the attempt that serves the stream.
func (st *openStream) start(ch *chat, at *upstreamAttempt, cancel context.CancelFunc) {
	st.ch, st.ticket, st.attemptStart, st.route, st.cancel = ch, at.ticket, at.start, at.route(), cancel
}

// revoke ends the stream because its client key was revoked: the upstream
// read fails at once and Next reports errKeyRevoked.
func (st *openStream) revoke() {
	st.revoked.Store(true)
	st.cancel()
}

func (st *openStream) markFirstToken() {
	if st.entry.TTFT == 0 {
		now := st.ch.clock.Now()
		st.entry.TTFT = now.Sub(st.entry.Time)
		st.ttftAttempt = now.Sub(st.attemptStart)
	}
}

// readFailed ends the stream after the upstream read failed with err and
// returns the error for the client: errKeyRevoked when the read failed
// because the client key was revoked (neither the route nor the upstream is
// to blame), err otherwise.
func (st *openStream) readFailed(err error) error {
	if st.revoked.Load() {
		st.end(&domain.UpstreamError{Class: domain.ClassCanceled, Message: "the client key was revoked during the stream"})
		return errKeyRevoked
	}
	st.end(err)
	return err
}

// close ends the stream (a stream closed before its end counts as canceled
// by the client), closes its upstream and forgets it.
func (st *openStream) close(up interface{ Close() error }) {
	if !st.ended {
		st.end(&domain.UpstreamError{Class: domain.ClassCanceled, Message: "the client closed the stream"})
	}
	up.Close()
	st.cancel()
	if st.set != nil {
		st.set.mu.Lock()
		delete(st.set.m, st)
		st.set.mu.Unlock()
	}
}

// Next returns the next chunk to send, io.EOF at a clean end, or the error
// that ended the stream. Usage chunks are dropped when the client did not ask
// for them (the router asks upstream for usage either way).
func (st *Stream) Next() (*domain.ChatChunk, error) {
	for {
		var ch *domain.ChatChunk
		if st.first != nil {
			ch, st.first = st.first, nil
		} else {
			if st.ended {
				return nil, io.EOF
			}
			var err error
			ch, err = st.up.Next()
			if err == nil && st.revoked.Load() {
				err = errKeyRevoked // a chunk that was already read is not sent
			}
			if err != nil {
				return nil, st.readFailed(err)
			}
			if ch.HasContent() {
				st.markFirstToken()
			}
		}
		if ch.Usage != nil {
			st.usage = ch.Usage
			if !st.includeUsage && len(ch.Choices) == 0 {
				continue
			}
		}
		return ch, nil
	}
}

// Ready reports whether Next will return without waiting for the upstream.
// A writer flushes only when it is not, so chunks that arrived together
// leave together.
func (st *Stream) Ready() bool {
	return st.first != nil || st.ended || st.up.Ready()
}

// Close ends the stream; a stream closed before its end counts as canceled
// by the client.
func (st *Stream) Close() { st.close(st.up) }

func (st *openStream) end(err error) {
	if st.ended {
		return
	}
	st.ended = true
	ch := st.ch
	defer ch.flight.InFlight(-1)
	var pt, ct int
	if st.usage != nil {
		pt, ct = st.usage.PromptTokens, st.usage.CompletionTokens
	}
	cost := st.route.Domain().UsageCost(st.usage)
	ch.admit.settle(st.lease, st.route, st.usage)
	out := routing.Outcome{Latency: ch.clock.Now().Sub(st.attemptStart), TTFT: st.ttftAttempt, PromptTokens: pt, CompletionTokens: ct, Cost: cost}
	e := st.entry
	e.PromptTokens, e.CompletionTokens, e.Cost = pt, ct, cost
	if err == io.EOF {
		st.ticket.End(out)
		e.Status = 200
		ch.obs.done(&e)
		return
	}
	// A client that went away is an attempt only (ClassCanceled): the
	// router neither credits nor blames the route for it.
	out.Err = err
	st.ticket.End(out)
	// The status line went out as 200; the log records what the client saw
	// at the end: the stream broke.
	ch.obs.failed(&e, err)
}

// errKeyRevoked is what a client sees when its key is disabled or deleted
// while its stream is open.
var errKeyRevoked = &domain.Error{Code: domain.CodeUnauthorized, Msg: "The API key used for this stream was disabled or deleted; the stream was ended."}

// openStreams holds the open streams of each client key (ID → *streamSet),
// so that a reload that finds a key disabled or deleted ends them.
type openStreams struct {
	snap func() *snapshot
	m    sync.Map
}

// streamSet is the open streams of one client key. Its lock is taken at a
// stream's start and end only, and contended only by the same key's streams.
type streamSet struct {
	mu   sync.Mutex
	m    map[*openStream]struct{}
	dead bool // dropped from openStreams; a new stream takes a new set
}

// track registers an open stream of its client key, then ends it at once if
// the key was revoked meanwhile: a reload stores its snapshot before it ends
// the streams it finds, so every stream is seen by one or the other.
func (o *openStreams) track(st *openStream, client *domain.ClientKey) {
	if client == nil || len(client.Hash) != sha256.Size {
		return
	}
	var set *streamSet
	for {
		v, ok := o.m.Load(client.ID)
		if !ok {
			v, _ = o.m.LoadOrStore(client.ID, &streamSet{m: map[*openStream]struct{}{}})
		}
		set = v.(*streamSet)
		set.mu.Lock()
		if !set.dead {
			set.m[st] = struct{}{}
			set.mu.Unlock()
			break
		}
		set.mu.Unlock() // dropped by a reload: take the new one
	}
	st.set = set
	var h [sha256.Size]byte
	copy(h[:], client.Hash)
	if e, ok := o.snap().clientKeys[h]; !ok || !e.key.Enabled || e.key.ID != client.ID {
		st.revoke()
	}
}

// revoke ends the open streams of client keys not in enabled, and drops
// their sets so that deleted keys leave nothing behind.
func (o *openStreams) revoke(enabled map[int64]bool) {
	o.m.Range(func(k, v any) bool {
		if enabled[k.(int64)] {
			return true
		}
		set := v.(*streamSet)
		set.mu.Lock()
		for st := range set.m {
			st.revoke()
		}
		set.dead = true
		o.m.Delete(k)
		set.mu.Unlock()
		return true
	})
}
