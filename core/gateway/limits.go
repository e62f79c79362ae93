package gateway

import (
	"context"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/core/limits"
	"github.com/airouter/airouter/core/routing"
)

// fallbackMaxTokens bounds the completion of a request that sets no
// max_tokens on a model without a default, for the worst-case reservation.
const fallbackMaxTokens = 4096

// modelFinder resolves a public model name.
type modelFinder interface {
	Model(name string) (*routing.Model, bool)
}

// admission applies a client key's limits to a request: its allowlist, and
// its rate limits and budget, spent from the key's local leases.
type admission struct {
	limiter *limits.Limiter // nil: rate limits and budgets are not enforced
	models  modelFinder
}

// admit checks the client key's allowlist and reserves the request's worst
// case (prompt estimate + max_tokens, at the dearest route's prices) from
// the key's local leases. The limits' state goes into res for the
// x-ratelimit headers.
func (s *admission) admit(ctx context.Context, c *Call, res *Result) (*limits.Reservation, error) {
	k := c.Client
	if k == nil {
		return nil, nil
	}
	if !k.Allows(c.Req.Model) {
		return nil, ModelNotFound(c.Req.Model)
	}
	if s.limiter == nil || !k.Limited() {
		return nil, nil
	}
	var need limits.Need
	prompt := c.Req.EstimatedPromptTokens()
	maxTok := c.Req.MaxTokens
	if m, ok := s.models.Model(c.Req.Model); ok {
		dm := m.Domain()
		if maxTok <= 0 {
			maxTok = dm.DefaultMaxTokens
		}
		if maxTok <= 0 {
			maxTok = fallbackMaxTokens
		}
		if c.promptOnly {
			maxTok = 0
		}
		for i := range dm.Routes {
			if r := &dm.Routes[i]; r.Enabled {
				need.Cost = max(need.Cost, r.Cost(prompt, maxTok))
			}
		}
	} else {
		return nil, ModelNotFound(c.Req.Model)
	}
	if c.Req.MaxTokens <= 0 && !c.promptOnly && (k.TPM > 0 || (k.Budget.USD > 0 && k.Budget.HardStop)) {
		// The reservation assumed maxTok: the upstream must be told, or a
		// long answer would spend more than was reserved.
		c.capMaxTokens = maxTok
	}
	need.Tokens = float64(prompt + maxTok)
	r, st, err := s.limiter.Reserve(ctx, k, need)
	res.Limits = st
	return r, err
}

// settle replaces a reservation by the real usage on the route that served
// the request. Nil route: no upstream produced anything, only the request
// counts. A route without usage (a stream the client left before its usage
// chunk, an upstream that reports none) is charged the worst case it
// reserved: the upstream generated, and billed, an unknown amount.
func (s *admission) settle(r *limits.Reservation, route *routing.Route, u *domain.Usage) {
	if r == nil {
		return
	}
	var tokens, cost float64
	if u == nil && route != nil {
		tokens, cost = r.Reserved()
	}
	if u != nil {
		tokens = float64(u.PromptTokens + u.CompletionTokens)
		if route != nil {
			cost = route.Domain().UsageCost(u)
		}
	}
	s.limiter.Settle(r, tokens, cost)
}
