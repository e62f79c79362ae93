package gateway

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/core/routing"
	"github.com/airouter/airouter/ports"
)

// job is what the attempt loop needs of a request, whatever its endpoint.
type job struct {
	Model        string // the public model name the client asked for
	Provider     string // the provider the client asked for, if any
	PromptTokens int    // estimated, for planning
	MaxTokens    int    // the client's completion bound, 0 when it set none
	CapMaxTokens int    // the bound admission reserved for a request that set none
	RequestID    string
	// Needs is the capability the model must declare; "" asks for none.
	Needs domain.Capability
	// Op, when set, is the native operation of the request: a route whose
	// provider does not serve it natively is skipped, unless Translate says
	// that the request can be served there by chat completions.
	Op        ports.Operation
	Translate bool
}

// upstreamAttempt is one attempt the loop hands to an endpoint: the client
// and target to call, the planned route and key, and the ticket that records
// the attempt's outcome in the routing statistics.
type upstreamAttempt struct {
	client ports.ProviderClient
	native ports.NativeClient // nil when the provider serves nothing natively
	target ports.Target
	plan   routing.Attempt
	ticket routing.Ticket
	start  time.Time
}

// route is the route the attempt went to.
func (a *upstreamAttempt) route() *routing.Route { return a.plan.Route }

// attemptFunc makes one upstream attempt of an endpoint. done says whether
// the outcome is recorded now (by the loop, for failures) or later by the
// endpoint (a stream records its outcome when it ends: done false). A
// successful attemptFunc ends its ticket itself.
type attemptFunc func(ctx context.Context, at *upstreamAttempt) (done bool, err error)

// planner is what the attempt loop needs of the router.
type planner interface {
	Model(name string) (*routing.Model, bool)
	KeyReady(a routing.Attempt) (bool, time.Time)
	Usable(a routing.Attempt) bool
	Begin(a routing.Attempt) routing.Ticket
}

// retryBudget bounds retries across requests.
type retryBudget interface {
	OnRequest()
	TryRetry() bool
}

// attemptMetrics is what the attempt loop counts.
type attemptMetrics interface {
	Retried(model string)
	AttemptFailed(provider, class string)
}

// attemptLoop is the failover loop every endpoint shares: it plans the
// attempts of a request and makes them through the endpoint's attemptFunc
// until one succeeds, a failure is not retryable, the plan or the retry
// budget runs out, or the deadline passes. A new endpoint (embeddings,
// messages, responses) supplies only its attemptFunc.
type attemptLoop struct {
	snap        func() *snapshot
	router      planner
	budget      retryBudget
	metrics     attemptMetrics
	log         *slog.Logger
	clock       ports.Clock
	maxRetries  int
	backoffBase time.Duration
	backoffMax  time.Duration
}

// logFailure logs a failed attempt at debug level. It is a function of its
// own so that its arguments are not in run's stack frame.
//
//go:noinline
func (l *attemptLoop) logFailure(requestID, provider string, attempt int, ue *domain.UpstreamError) {
	if l.log.Enabled(context.Background(), slog.LevelDebug) {
		l.log.Debug("upstream attempt failed", "request_id", requestID, "provider", provider, "attempt", attempt, "class", ue.Class, "status", ue.Status, "err", ue.Error())
	}
}

// run makes the attempts of j; res collects the strategy, the attempts made
// and the provider of the last one. It returns the last attempt made (for the
// request log) and the error that ended the loop, nil on success.
func (l *attemptLoop) run(ctx context.Context, j job, res *Result, fn attemptFunc) (routing.Attempt, error) {
	snap := l.snap()
	model, ok := l.router.Model(j.Model)
	if !ok {
		return routing.Attempt{}, ModelNotFound(j.Model)
	}
	dm := model.Domain()
	res.strategy = model.Strategy()
	if j.Needs != "" && !dm.Serves(j.Needs) {
		return routing.Attempt{}, &domain.Error{Code: domain.CodeInvalid, Field: "model",
			Msg: "The model `" + j.Model + "` does not serve " + string(j.Needs) + "; it serves " + capabilityList(dm) + "."}
	}
	var buf [11]routing.Attempt
	n := min(l.maxRetries+1, len(buf))
	plan, err := model.Plan(routing.PlanRequest{Provider: j.Provider, PromptTokens: j.PromptTokens, MaxTokens: j.MaxTokens}, buf[:0:n])
	if err != nil {
		return routing.Attempt{}, err
	}
	l.budget.OnRequest()
	var lastErr error
	var last routing.Attempt // the last attempt made; returned for the log
	authFailures := 0
	cooling := false  // an attempt was skipped because its key cools down
	unserved := false // a route was skipped because its provider cannot serve j.Op
	for i, a := range plan {
		// Never spend an upstream call on a key that is cooling down (a
		// 429, an unconfirmed 401/403) or invalid, not even as the last
		// attempt: with nothing else left the client gets a 429 with
		// Retry-After below.
		if ok, until := l.router.KeyReady(a); !ok {
			cooling = cooling || !until.IsZero()
			continue
		}
		if res.Attempts > 0 {
			// Skip attempts whose route went bad earlier in this plan
			// while an alternative remains.
			if i < len(plan)-1 && !l.router.Usable(a) {
				continue
			}
			if !l.budget.TryRetry() {
				break
			}
			wait := routing.Backoff(res.Attempts, l.backoffBase, l.backoffMax, nil)
			if dl, ok := ctx.Deadline(); ok && l.clock.Now().Add(wait).After(dl) {
				break
			}
			if wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					t.Stop()
					return last, canceledError(ctx, lastErr)
				case <-t.C:
				}
			}
			l.metrics.Retried(j.Model)
		}
		if ctx.Err() != nil {
			return last, canceledError(ctx, lastErr)
		}
		pe := snap.providers[a.Route.Provider().ID]
		if pe == nil {
			continue
		}
		if j.Op != "" && !j.Translate && !pe.serves(j.Op) {
			unserved = true
			continue
		}
		res.Attempts++
		last = a
		res.Provider = pe.p.Name
		at := upstreamAttempt{
			client: pe.client,
			native: pe.native,
			target: ports.Target{Model: a.Route.Domain().UpstreamModel, Key: a.Key.Secret(), DefaultMaxTokens: dm.DefaultMaxTokens, CapMaxTokens: j.CapMaxTokens},
			plan:   a,
			start:  l.clock.Now(),
		}
		at.ticket = l.router.Begin(a)
		done, err := fn(ctx, &at)
		if err == nil {
			return a, nil
		}
		if done {
			at.ticket.End(routing.Outcome{Err: err, Latency: l.clock.Now().Sub(at.start)})
		}
		var ue *domain.UpstreamError
		if errors.As(err, &ue) {
			ue.Provider = pe.p.Name
			l.metrics.AttemptFailed(pe.p.Name, string(ue.Class))
			l.logFailure(j.RequestID, pe.p.Name, res.Attempts, ue)
			if ue.Class == domain.ClassCanceled {
				return a, err
			}
			lastErr = err
			if !ue.Class.Retryable() {
				return a, err
			}
			if ue.Class == domain.ClassAuth {
				// A refusal does not cascade over a provider's keys: one
				// more key is tried, a second refusal is returned.
				if authFailures++; authFailures >= 2 {
					return a, err
				}
			}
			continue
		}
		// Not an upstream error: a translation error (the request cannot be
		// expressed for this provider) or an internal one; do not retry.
		return a, err
	}
	if lastErr == nil && unserved && res.Attempts == 0 && !cooling {
		lastErr = &domain.Error{Code: domain.CodeInvalid, Field: "model",
			Msg: "The model `" + j.Model + "` has no route whose provider serves " + string(j.Op) + "."}
	}
	if lastErr == nil && cooling {
		// Every planned key cools down: answer 429 with the earliest time
		// one frees up instead of calling a cooling key.
		var wait time.Duration
		if at := model.KeysFree(); !at.IsZero() {
			wait = max(at.Sub(l.clock.Now()), time.Second)
		}
		lastErr = &domain.UpstreamError{Class: domain.ClassRateLimited, Status: 429, RetryAfter: wait,
			Message: "every key of model " + j.Model + " is cooling down after upstream rate limits or refusals; retry after " + wait.Round(time.Second).String()}
	}
	if lastErr == nil {
		lastErr = &domain.Error{Code: domain.CodeUnavailable, Msg: "no upstream could be tried for model " + j.Model}
	}
	return last, lastErr
}

func canceledError(ctx context.Context, last error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		if last != nil {
			return last
		}
		return &domain.UpstreamError{Class: domain.ClassRetryable, Timeout: true, Message: "the request's deadline passed before an upstream answered"}
	}
	return &domain.UpstreamError{Class: domain.ClassCanceled, Message: "the client closed the request", Err: ctx.Err()}
}

// ModelNotFound is the error for an unknown or disabled model.
func ModelNotFound(name string) error {
	return &domain.Error{Code: domain.CodeNotFound, Field: "model", Msg: "The model `" + name + "` does not exist or you do not have access to it."}
}

// capabilityList names what a model serves, for error messages.
func capabilityList(m *domain.Model) string {
	if len(m.Capabilities) == 0 {
		return string(domain.CapChat)
	}
	out := ""
	for i, c := range m.Capabilities {
		if i > 0 {
			out += ", "
		}
		out += string(c)
	}
	return out
}
