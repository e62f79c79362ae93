// Package routing is the routing core of AI Router: given a model's routes,
// their health and their live statistics, it decides where each upstream
// attempt goes. It does no I/O and imports only core/domain.
//
// # Snapshots and live state
//
// [Router.Update] swaps in an immutable configuration snapshot atomically;
// [Router.Model] and [Model.Plan] read it without locks. Live statistics,
// ejections, key invalidation and cooldowns and the strategies' rotation
// state are kept per route ID, key ID, provider ID and model ID across
// updates: an ID that is new starts fresh, an ID that is gone is dropped.
// A route whose model changed and a key whose provider changed start fresh.
// A key whose Version changed (the store bumps it on every status change)
// loses a runtime invalidation, since an operator or a rotation decided anew.
//
// # Which routes and keys can serve
//
// A route can serve when it, its provider and its model are enabled and its
// provider has at least one usable key ([domain.ProviderKey.Usable]: active
// or draining, with a secret) or is an openai_compatible provider with no
// keys at all, which is then called with a keyless [Key] (ID 0).
//
// At planning time each route falls in one of four tiers:
//
//   - 0, healthy: not ejected, its provider's active health is healthy or
//     unknown, and one of its keys is good.
//   - 1, degraded: as tier 0, but its provider's active health is degraded.
//   - 2, out: ejected, or its provider is unhealthy, or none of its keys is
//     good but one is merely cooling down or unhealthy.
//   - 3, unusable: every key is invalid or expired; never planned.
//
// A key is good when it is not invalidated (a 401/403 confirmed by a probe),
// not marked unhealthy by an active check, not cooling down after a 429 or
// an unconfirmed 401/403 and not past its ExpiresAt. [Router.KeyReady] tells
// the gateway whether a planned key may still be called: a cooling or
// invalid key never is, even as a last resort.
//
// A plan uses the routes of tiers 0 and 1 (tier 0 first, each ordered by the
// strategy). Only when no route of tier 0 or 1 is left does it use the
// routes of tier 2, least bad first: earliest return time (end of the
// ejection or of the key cooldown; an unhealthy provider has none), then
// fewest consecutive failures, then route ID. So a model is never refused
// without trying while some key of some route may still work.
//
// # Plans
//
// [Model.Plan] orders the candidate routes as described above and by the
// model's strategy, then fills the caller's buffer up to its capacity by
// cycling through that order: attempt k goes to route k mod n, with that
// route's first key on its first visit and the next good key of its provider
// on each later visit. Consecutive attempts therefore go to a different
// route, or with a single route to a different key, where one exists; once
// the distinct options are used up the plan repeats them. When the request
// names a provider (X-Provider or the body's "provider"), that provider's
// routes come first whatever the strategy (a degraded one before the healthy
// routes of other providers; among routes of tier 2 too), and a provider
// that serves no enabled route of the model is an error (CodeNotFound).
//
// Keys within a provider: the first key is taken from one cycle of smooth
// weighted round robin over the active keys (as for routes below; weights
// reduced by their GCD and scaled down to at most 1024 picks per cycle; a
// weight of 0 or less counts as 1), walked lock-free with an atomic turn;
// keys that are not good are skipped and their turns consumed, so the good
// ones keep their weights' shares among themselves. When no active key is
// good, the draining keys the same way; when none of those is good either,
// the key that will be available again soonest. Later visits take the next
// good key in the order active keys, then draining keys, each by ID.
//
// # Strategies
//
// The model's Strategy, or Options.DefaultStrategy when empty, or auto when
// both are empty, picks the order of the usable routes. Ties not broken by
// the rule are broken by a random rotation per plan, except for fallback and
// weighted_round_robin, which break them by route ID. The latency used below
// is the route's peak-EWMA latency decayed to the present (see statistics);
// a route that has never been measured has none. The estimated cost of a
// route is (InputPrice × PromptTokens + OutputPrice × MaxTokens) / 1e6, where
// MaxTokens falls back to the model's DefaultMaxTokens and then to 256.
//
//   - auto: each route is scored latency × (in-flight + 1) / success rate,
//     the success rate being over the window (1 when empty, at least 0.01).
//     A route never measured scores 0 while idle, so it is explored first,
//     and is scored behind every measured route while it has a request in
//     flight. The first attempt goes to the cheapest unmeasured idle route
//     if there is one, else to the better of two routes drawn at random
//     (power of two choices); the others follow by score, ties by estimated
//     cost. Config: none.
//   - specified_provider: only the routes of the provider the request names
//     (missing name: CodeInvalid on field "provider"), ordered as auto. When
//     none of them is in tier 0 or 1 the plan fails with CodeUnavailable,
//     unless the config says {"allow_fallback": true}; then the model's other
//     routes follow the named provider's, ordered as auto.
//   - fallback: by Priority (lower first), then higher Weight, then route
//     ID. Config: none.
//   - weighted_round_robin: the first attempt is chosen by smooth weighted
//     round robin as nginx does it (each candidate's current weight grows by
//     its weight, the largest is chosen and lowered by the sum); routes with
//     a weight of 0 or less are never chosen first unless all are. The other
//     routes follow by higher weight, then route ID. Over any whole cycle of
//     picks each route gets exactly its weight's share, spread evenly.
//     Config: none.
//   - least_connections: fewest attempts in flight, ties by higher weight.
//     Config: none.
//   - response_time: lowest latency (never measured counts as 0), ties by
//     estimated cost. With probability "explore" (default 0.05, in [0, 1])
//     the first attempt goes instead to the route measured longest ago, so
//     that a route that was slow gets measured again.
//   - cost_optimized: lowest estimated cost among the routes within the
//     config's bounds, "max_latency_ms" (latency; never measured is within)
//     and "min_success_rate" (in [0, 1]; an empty window is within), then
//     the routes outside the bounds, each by cost, ties by auto's score.
//     Without bounds every route is within.
//   - hybrid: lowest weighted sum of latency / highest latency, failure rate
//     (1 − success rate), cost / highest cost and in-flight / highest
//     in-flight over the candidates (a term is 0 when its highest is 0);
//     ties by cost. Config {"weights": {"latency", "success", "cost",
//     "load"}}, each a number ≥ 0, a missing one counting as 0, not all 0;
//     without "weights" they are 0.4, 0.3, 0.2 and 0.1. Weights are
//     normalised to sum to 1.
//
// [ValidateStrategyConfig] rejects a config that is not a JSON object, has a
// key the strategy does not know, a value of the wrong type, a negative
// weight, weights summing to zero, or explore or min_success_rate outside
// [0, 1]; the *domain.Error names the field, e.g.
// "strategy_config.weights.latency". Update never fails for such a model: it
// uses the strategy's defaults and reports one error per bad model.
//
// # Statistics
//
// [Router.Begin] and [Ticket.End] update per-route and per-key state with
// atomics and a mutex of that route or key only. Per route and key:
// in-flight attempts; peak-EWMA latency and time to first token (an
// observation above the current value replaces it; one below is blended in
// with weight 1 − exp(−Δt/EWMADecay), Δt being the time since the previous
// observation, and the value read for routing decays the same way towards
// 0 while no observation comes, so that an idle route is eventually tried
// again); the success rate over SuccessWindow (ten buckets); consecutive
// failures; attempts, failures, errors, tokens and cost.
//
// An attempt's outcome is judged by its error:
//
//   - success: no error. Feeds latency and TTFT.
//   - answered: ClassRequest (the upstream answered; the client was wrong).
//     Counts as a success for health but feeds neither EWMA.
//   - failure: ClassRetryable, ClassAmbiguous, any timeout, a deadline,
//     and errors that are not *domain.UpstreamError. Counts against the
//     route and key, and may raise the latency EWMA but never lower it (a
//     fast 500 does not make a route look fast).
//   - ClassAuth (401/403): the key is suspected, not invalidated: it is out
//     of rotation for AuthCooldown (default 30 s) and event key_auth_failed
//     asks the receiver to probe it (once per suspicion). A confirmed
//     refusal (Router.InvalidateKey, event key_invalidated) invalidates the
//     key until a healthy active check of that key or a configuration
//     change of the key; a successful probe (Router.ClearKeySuspicion) or a
//     healthy check returns it at once. The route and provider are not
//     affected.
//   - ClassRateLimited (429): the key cools down for the RetryAfter of the
//     error, or RateLimitCooldown (default 5 s) without one, at most
//     MaxRateLimitCooldown (default 60 s); the other keys keep serving. The
//     route is not affected and no EWMA is fed. Event key_rate_limited when
//     the key was not already cooling.
//   - ClassCanceled or a canceled context: the client went away; counted as
//     an attempt only.
//
// Both auth and rate-limit outcomes count as failures in the key's own
// statistics. The keyless key of a provider without keys is never
// invalidated, but it cools down after a 429 like any key (without an
// event), which puts its route in tier 2.
//
// # Health and ejection
//
// Health is healthy, degraded, unhealthy or unknown. Active checks reach the
// router through [Router.ApplyHealth], which ignores a result older than one
// already applied, and through Config.Health in Update, which applies only
// entries newer than the last applied, so that a reload does not replay them:
//
//   - a provider check (KeyID 0) sets the provider's state; unhealthy puts
//     all its routes in tier 2 until a later check says otherwise; degraded
//     puts them in tier 1; healthy also returns its ejected routes at once
//     (event route_returned).
//   - a key check: unhealthy makes the key not good until a later healthy
//     or degraded check; healthy also lifts a runtime invalidation.
//
// Passive outlier detection in End: after a failure, a route that is not
// ejected is ejected when it has EjectConsecutiveFailures (default 5)
// consecutive failures, or when its window holds at least EjectMinRequests
// (default 20) judged attempts and the failure rate exceeds EjectFailureRate
// (default 0.5). The n-th ejection in a row lasts EjectBase × 2^(n−1)
// (default 30 s), at most EjectMax (default 5 m); the count starts again at
// 1 when the route stayed in for EjectMax since its last ejection ended.
// Ejection clears the route's window and consecutive failures, and outcomes
// of attempts begun before the ejection do not count towards the next one.
// A route returns when its time is up or a healthy provider check comes
// (event route_returned, emitted by the first Begin or stats read that
// notices, or by the check). A route is never ejected when no other route of
// its model would be left in tier 0 or 1: the last usable route keeps
// serving.
//
// The health a statistics snapshot reports for a route is unhealthy when it
// is ejected or its provider is unhealthy, else its provider's active
// state, where unknown becomes healthy once the route had a success in the
// window.
//
// # Retries
//
// [Backoff] gives the pause before a retry (full jitter under an exponential
// cap) and [Budget] bounds retries to a share of requests. Events are passed
// to Options.OnEvent synchronously, never while a lock is held.
package routing
