package gateway

import (
	"context"
	"io"
	"time"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/core/routing"
	"github.com/airouter/airouter/ports"
)

// NativeCall is a request of a front door with its own wire format
// (embeddings, images, Anthropic Messages, the Responses API). It goes
// through the same pipeline as a chat request: the client key's limits, the
// model's strategy, failover across routes and keys before the first byte,
// statistics, metrics and the request log.
//
// Each planned route is served natively when its provider serves Op (the
// body passes through byte for byte but for its model), else by chat
// completions when Translate is set, else skipped. A model none of whose
// routes can serve the call is refused with a 400.
type NativeCall struct {
	// Call carries the client, the request id and the routing fields in
	// Req: Model, Provider, MaxTokens, Stream, and a Raw whose length
	// estimates the prompt. When Translate is set, Req is the whole neutral
	// chat request the body translates to.
	Call
	Op   ports.Operation
	Body []byte // in Op's wire format, validated by the front door
	Beta string // the client's beta-feature header, passed on natively
	// Translate lets routes that do not serve Op natively serve Req by
	// chat completions.
	Translate bool
	// Needs is the capability the model must declare.
	Needs domain.Capability
}

// prepare readies the call for admission.
func (c *NativeCall) prepare() {
	c.promptOnly = c.Op == ports.OpEmbeddings || c.Op == ports.OpCountTokens
}

func (c *NativeCall) job() job {
	j := c.Call.job()
	j.Op, j.Translate, j.Needs = c.Op, c.Translate, c.Needs
	return j
}

func (c *NativeCall) request() *ports.NativeRequest {
	return &ports.NativeRequest{Op: c.Op, Body: c.Body, Beta: c.Beta}
}

// Served is how a NativeCall was answered: Native when a route served it
// natively, Chat when a route served it by chat completions.
type Served struct {
	Native *ports.NativeResponse
	Chat   *domain.ChatResponse
}

// CallNative serves a non-streaming NativeCall. On success the caller must
// call Result.Finish once the response is sent.
func (ch *chat) CallNative(ctx context.Context, c *NativeCall) (Served, *Result, error) {
	ch.flight.InFlight(1)
	defer ch.flight.InFlight(-1)
	ctx, cancel := context.WithTimeout(ctx, ch.timeout)
	defer cancel()
	res := &Result{RequestID: c.RequestID, Model: c.Req.Model}
	c.prepare()
	lease, err := ch.admit.admit(ctx, &c.Call, res)
	if err != nil {
		e := entry(&c.Call, res, routing.Attempt{}, false)
		ch.obs.failed(&e, err)
		return Served{}, res, err
	}
	var out Served
	var usage *domain.Usage
	var cost float64
	a, err := ch.loop.run(ctx, c.job(), res, func(ctx context.Context, at *upstreamAttempt) (bool, error) {
		var u *domain.Usage
		var s Served
		if at.native != nil && at.native.Serves(c.Op) {
			r, err := at.native.Call(ctx, at.target, c.request())
			if err != nil {
				return true, err
			}
			s.Native, u = r, r.Usage
			if u == nil && c.Op == ports.OpCountTokens {
				u = &domain.Usage{} // counting generates nothing: nothing to charge
			}
		} else {
			r, err := at.client.Chat(ctx, at.target, c.Req)
			if err != nil {
				return true, err
			}
			s.Chat, u = r, r.Usage
		}
		cost = at.route().Domain().UsageCost(u)
		at.ticket.End(outcome(ch.clock.Now().Sub(at.start), u, cost))
		out, usage = s, u
		return true, nil
	})
	e := entry(&c.Call, res, a, false)
	if err != nil {
		ch.admit.settle(lease, nil, nil)
		ch.obs.failed(&e, err)
		return Served{}, res, err
	}
	ch.admit.settle(lease, a.Route, usage)
	e.Status = 200
	if usage != nil {
		e.PromptTokens, e.CompletionTokens = usage.PromptTokens, usage.CompletionTokens
	}
	e.Cost = cost
	res.finish = func() { ch.obs.done(&e) }
	return out, res, nil
}

// outcome is a successful attempt's outcome.
func outcome(latency time.Duration, u *domain.Usage, cost float64) routing.Outcome {
	o := routing.Outcome{Latency: latency, Cost: cost}
	if u != nil {
		o.PromptTokens, o.CompletionTokens = u.PromptTokens, u.CompletionTokens
	}
	return o
}

// Streamed is how a streaming NativeCall is answered: Native when a route
// serves it natively, Chat when a route serves it by chat completions.
// Exactly one is set; the caller must Close it.
type Streamed struct {
	Native *NativeStream
	Chat   *Stream
}

// StreamNative serves a streaming NativeCall. As with Stream, the first
// event has arrived from the upstream on success, so failures before it
// keep their status and fail over.
func (ch *chat) StreamNative(ctx context.Context, c *NativeCall) (Streamed, *Result, error) {
	ch.flight.InFlight(1)
	ctx, cancel := context.WithTimeout(ctx, ch.timeout)
	res := &Result{RequestID: c.RequestID, Model: c.Req.Model}
	fail := func(a routing.Attempt, err error) (Streamed, *Result, error) {
		e := entry(&c.Call, res, a, true)
		ch.obs.failed(&e, err)
		cancel()
		ch.flight.InFlight(-1)
		return Streamed{}, res, err
	}
	c.prepare()
	lease, err := ch.admit.admit(ctx, &c.Call, res)
	if err != nil {
		return fail(routing.Attempt{}, err)
	}
	var out Streamed
	var rec *openStream
	a, err := ch.loop.run(ctx, c.job(), res, func(ctx context.Context, at *upstreamAttempt) (bool, error) {
		if at.native != nil && at.native.Serves(c.Op) {
			up, err := at.native.CallStream(ctx, at.target, c.request())
			if err != nil {
				return true, err
			}
			first, err := firstEvent(up)
			if err != nil {
				return true, err
			}
			st := &NativeStream{up: up, first: first}
			st.start(ch, at, cancel)
			st.usage = first.Usage
			out, rec = Streamed{Native: st}, &st.openStream
			return false, nil
		}
		st, err := ch.openChat(ctx, at, c.Req, cancel)
		if err != nil {
			return true, err
		}
		out, rec = Streamed{Chat: st}, &st.openStream
		return false, nil
	})
	if err != nil {
		ch.admit.settle(lease, nil, nil)
		return fail(a, err)
	}
	rec.entry = entry(&c.Call, res, a, true)
	rec.lease = lease
	if out.Chat != nil && out.Chat.first.HasContent() {
		out.Chat.markFirstToken()
	}
	if out.Native != nil && out.Native.first.Content {
		out.Native.markFirstToken()
	}
	ch.streams.track(rec, c.Client)
	return out, res, nil
}

// emptyStream is the error of a stream the upstream ended before any data
// (a new one each time: the attempt loop sets its provider).
func emptyStream() error {
	return &domain.UpstreamError{Class: domain.ClassRetryable, Message: "the upstream ended the stream without any data"}
}

// firstEvent reads a native stream's first event; the stream is closed when
// that fails.
func firstEvent(up ports.NativeStream) (*ports.NativeEvent, error) {
	ev, err := up.Next()
	if err != nil {
		up.Close()
		if err == io.EOF {
			err = emptyStream()
		}
		return nil, err
	}
	// The event is valid only until the next call: keep a copy.
	cp := *ev
	cp.Data = append([]byte(nil), ev.Data...)
	return &cp, nil
}

// NativeStream is a natively served stream in progress: the upstream's own
// events, recorded like a chat stream (first token, usage, outcome).
type NativeStream struct {
	openStream
	up    ports.NativeStream
	first *ports.NativeEvent
}

// Next returns the next event to send, io.EOF after the upstream's terminal
// event, or the error that ended the stream. The event is valid only until
// the next call.
func (st *NativeStream) Next() (*ports.NativeEvent, error) {
	if st.first != nil {
		ev := st.first
		st.first = nil
		return ev, nil
	}
	if st.ended {
		return nil, io.EOF
	}
	ev, err := st.up.Next()
	if err == nil && st.revoked.Load() {
		err = errKeyRevoked // an event that was already read is not sent
	}
	if err != nil {
		return nil, st.readFailed(err)
	}
	if ev.Content {
		st.markFirstToken()
	}
	if ev.Usage != nil {
		st.usage = ev.Usage
	}
	return ev, nil
}

// Ready reports whether Next will return without waiting for the upstream.
func (st *NativeStream) Ready() bool {
	return st.first != nil || st.ended || st.up.Ready()
}

// Close ends the stream; a stream closed before its end counts as canceled
// by the client.
func (st *NativeStream) Close() { st.close(st.up) }

// ServesNatively reports whether any enabled route of model has a provider
// that serves op natively (count_tokens is estimated where none does).
func (ch *chat) ServesNatively(model string, op ports.Operation) bool {
	m, ok := ch.loop.router.Model(model)
	if !ok {
		return false
	}
	snap := ch.loop.snap()
	dm := m.Domain()
	for i := range dm.Routes {
		if r := &dm.Routes[i]; r.Enabled {
			if pe := snap.providers[r.ProviderID]; pe != nil && pe.serves(op) {
				return true
			}
		}
	}
	return false
}
