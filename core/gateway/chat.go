package gateway

import (
	"context"
	"time"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/core/limits"
	"github.com/airouter/airouter/core/routing"
	"github.com/airouter/airouter/ports"
)

// Call is one client request.
type Call struct {
	Req       *domain.ChatRequest
	Client    *domain.ClientKey
	Provider  string // from X-Provider; overrides the body's provider field
	RequestID string
	Start     time.Time

	capMaxTokens int  // set by admit: the completion bound reserved for a request that set none
	promptOnly   bool // the operation generates no tokens (embeddings, count_tokens): admit reserves the prompt only
}

// job is what the attempt loop needs of the call.
func (c *Call) job() job {
	provider := c.Provider
	if provider == "" {
		provider = c.Req.Provider
	}
	return job{Model: c.Req.Model, Provider: provider, PromptTokens: c.Req.EstimatedPromptTokens(), MaxTokens: c.Req.MaxTokens,
		CapMaxTokens: c.capMaxTokens, RequestID: c.RequestID, Needs: domain.CapChat}
}

// Result says how a request was served.
type Result struct {
	RequestID string
	Model     string
	Provider  string
	Attempts  int
	// Limits is the client key's rate-limit state for the x-ratelimit
	// headers (zero for keys without limits).
	Limits limits.Status

	strategy domain.Strategy // of the resolved model; "" when it was not found
	finish   func()
}

// Finish records a successful non-streaming request (statistics, metrics,
// request log, the access-log line). Complete leaves it to the caller, to be
// called once the response is sent, so that none of it delays the client.
// Safe to call more than once and on failed requests (a no-op).
func (r *Result) Finish() {
	if r != nil && r.finish != nil {
		f := r.finish
		r.finish = nil
		f()
	}
}

// inFlight counts requests in progress.
type inFlight interface {
	InFlight(delta int)
}

// chat serves chat completions, JSON and streamed, over the attempt loop.
type chat struct {
	loop    *attemptLoop
	admit   *admission
	obs     *observer
	streams *openStreams
	clock   ports.Clock
	flight  inFlight
	timeout time.Duration // over all attempts, streams included
}

// Complete serves a non-streaming request. On success the caller must call
// Result.Finish once the response is sent.
func (ch *chat) Complete(ctx context.Context, c *Call) (*domain.ChatResponse, *Result, error) {
	ch.flight.InFlight(1)
	defer ch.flight.InFlight(-1)
	ctx, cancel := context.WithTimeout(ctx, ch.timeout)
	defer cancel()
	res := &Result{RequestID: c.RequestID, Model: c.Req.Model}
	lease, err := ch.admit.admit(ctx, c, res)
	if err != nil {
		e := entry(c, res, routing.Attempt{}, false)
		ch.obs.failed(&e, err)
		return nil, res, err
	}
	var resp *domain.ChatResponse
	var cost float64
	a, err := ch.loop.run(ctx, c.job(), res, func(ctx context.Context, at *upstreamAttempt) (bool, error) {
		r, err := at.client.Chat(ctx, at.target, c.Req)
		if err != nil {
			return true, err
		}
		cost = at.route().Domain().UsageCost(r.Usage)
		at.ticket.End(outcome(ch.clock.Now().Sub(at.start), r.Usage, cost))
		resp = r
		return true, nil
	})
	e := entry(c, res, a, false)
	if err != nil {
		ch.admit.settle(lease, nil, nil)
		ch.obs.failed(&e, err)
		return nil, res, err
	}
	ch.admit.settle(lease, a.Route, resp.Usage)
	e.Status = 200
	if resp.Usage != nil {
		e.PromptTokens, e.CompletionTokens = resp.Usage.PromptTokens, resp.Usage.CompletionTokens
	}
	e.Cost = cost
	res.finish = func() { ch.obs.done(&e) }
	return resp, res, nil
}
