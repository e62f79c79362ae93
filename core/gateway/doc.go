// Package gateway holds the use cases of AI Router: serving client requests
// over the routing core, and the admin operations on the configuration. It
// performs no I/O of its own; everything goes through ports, and each use
// case declares the few methods it calls as a small interface of its own.
//
// # Serving a request
//
// A request goes through these use cases, one file each:
//
//   - auth.go: the authenticator finds the client key of a bearer token in
//     the configuration snapshot; requestIDs hands out request ids.
//   - limits.go: admission applies the key's allowlist and reserves the
//     request's worst case from its rate limits and budget (core/limits),
//     and settles the reservation with the real usage afterwards.
//   - attempts.go: the attempt loop every endpoint shares. It plans the
//     attempts (core/routing), skips keys that cool down, backs off between
//     retries within the retry budget and the deadline, and stops at the
//     first success or at a failure that must not be retried. An endpoint
//     supplies only an attemptFunc that makes one upstream call.
//   - chat.go: chat completions (Complete): the attempt function calls
//     ProviderClient.Chat; the caller records the request with Result.Finish
//     once the response is sent.
//   - stream.go: streamed chat completions (Stream): an attempt succeeds
//     once the upstream's first chunk arrived, so failover and error
//     statuses stay possible until then. The open streams of each client key
//     are tracked, and a reload that finds the key disabled or deleted ends
//     them (openStreams).
//   - native.go: the front doors with their own wire format (embeddings,
//     images, Anthropic Messages and count_tokens, the Responses API) over
//     the same loop (CallNative, StreamNative): per route, natively when its
//     provider serves the operation (ports.NativeClient), else by chat
//     completions when the request translates, else skipped; the model must
//     declare the capability the operation needs.
//   - observer.go: the observer is told of every finished request and
//     records it: metrics, one access-log line and the request log. The
//     status of a failure is the one the HTTP adapter answers with
//     (Options.StatusOf); the core maps no error to a status.
//   - recorder.go: the recorder writes the request log in batches off the
//     request path; the toucher stores when client keys were last used.
//
// # Configuration and health
//
//   - snapshot.go: the configuration holds the immutable snapshot the
//     request path reads (providers with their clients, client keys). Reload
//     reads the whole configuration, keeps the clients of providers that did
//     not change and closes the others, updates the router and ends the
//     streams of revoked client keys.
//   - changes.go: Apply applies changes by kind and id (ports.Change, from
//     the change feed or an admin write): health goes straight to the
//     router, a provider, model or client key is reread alone, and a change
//     already applied (the feed's echo of an admin write) installs nothing.
//   - keyhealth.go: key health reacts to the router's events: a key an
//     upstream refused is probed before it is stored invalid, and an ejected
//     route starts a recovery probe (ports.Orchestrator). Its work runs as
//     background tasks that Shutdown waits for.
//
// Service (service.go) builds these from the ports, starts and stops their
// background work, and offers their methods to the HTTP adapter.
//
// # Admin
//
// One use case per aggregate (admin_providers.go, admin_keys.go,
// admin_models.go, admin_clientkeys.go, admin_observability.go) validates
// with the domain types' own rules, stores the change and applies it to this
// replica (Service.Apply); Admin (admin.go) groups them for the HTTP adapter.
package gateway
