// Package workflows holds AI Router's durable work on Temporal: scheduled
// health checks, recovery probes of ejected providers, key rotation and the
// key-expiry sweep. The request path never waits on any of it.
//
// # Processes
//
// [RunWorker] (airouter worker, or airouter serve --worker) connects to
// TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE, retrying with backoff while
// Temporal is unreachable, and polls TEMPORAL_TASK_QUEUE. It registers the
// workflows below and the [Activities] (methods on one struct holding the
// ports; activity names are the method names). At start it upserts one
// health schedule per enabled provider and the "key-expiry" schedule,
// deletes the health schedules of deleted, disabled or renamed providers,
// and triggers every schedule once; it syncs again every 10 minutes.
//
// The [Orchestrator] is the client side used by serve (ports.Orchestrator).
// Its Temporal client is lazy: serve starts and serves while Temporal is
// down (/readyz reports it), and calls fail within seconds with an
// "unavailable" error until it is back.
//
// # What an operator sees in the Temporal UI
//
//   - Schedules "health-<provider name>": every LOAD_BALANCING_HEALTH_CHECK_INTERVAL,
//     overlap Skip, catch-up window max(interval, 1 min), each run bounded by
//     a run timeout of 90 % of the interval. The admin API creates, updates
//     or deletes a provider's schedule whenever the provider is created,
//     changed, disabled or deleted, and runs it once at once. Each run
//     (HealthCheckWorkflow) has two activities: ProbeProvider probes every
//     enabled (active or draining) key with the provider's cheapest
//     authenticated call, each probe bounded by min(10 s, interval/2);
//     RecordHealth writes key and provider health (healthy; degraded when
//     slower than HEALTH_DEGRADED_THRESHOLD_MS; unhealthy) with latency and
//     error to PostgreSQL, whose trigger makes every router reload within a
//     second. The run's result is the probe report.
//   - Schedule "key-expiry": daily (KeyExpiryWorkflow, activity
//     CheckKeyExpiry).
//   - Workflows "recovery-<provider id>" (RecoveryWorkflow): started by a
//     router when passive health ejects one of the provider's routes, at most
//     one per provider at a time. It probes with exponential backoff (1 s
//     doubling to 1 min) until the provider answers, records its health
//     (healthy, or degraded if slow) so routers return its routes, and ends;
//     it gives up after an hour (the next ejection starts a new one). The
//     "state" query shows attempts, the last error and the next probe.
//   - Workflows "rotate-<provider id>-<new key id>" (RotationWorkflow): key
//     rotations, with the "step" and "state" queries and the "cancel"
//     signal.
//
// # Keys refused by the upstream
//
// A key that gets 401 or 403 from a probe is marked invalid at once (with
// compare-and-swap on its version, so a concurrent change by an operator
// wins): routers stop using it and health checks stop probing it. After
// fixing the account, re-enable it with
//
//	POST /api/v1/providers/{provider}/keys/{key}/enable
//
// and the next health check probes it again.
//
// # Key rotation
//
// Start a rotation through the admin API:
//
//	curl -X POST -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' \
//	  -d '{"secret":"sk-new...","old_key_id":12}' \
//	  http://localhost:8080/api/v1/providers/openai/rotations
//
// The new secret is stored encrypted as a standby key first; the workflow
// gets only key IDs, so no secret enters Temporal's history. Its steps, each
// an idempotent activity guarded by compare-and-swap on the key's version:
//
//  1. verifying: a live probe with the new key (up to 5 attempts with
//     exponential backoff; a 401/403 fails at once);
//  2. activating: the new key becomes active, the old key (or, without
//     old_key_id, every active key) draining — still used when no active key
//     can serve;
//  3. draining: a durable timer for KEY_ROTATION_GRACE_PERIOD (default 10
//     minutes), which survives worker restarts;
//  4. retiring: the old key becomes retired and its secret is wiped;
//  5. done.
//
// Follow it with GET /api/v1/rotations/{id} (live from the workflow's
// query, or from the rotations table), or in the Temporal UI. If someone
// changes one of the keys meanwhile (for example re-enables the old key
// during the grace period), the step that would overwrite the change fails
// the rotation with an error naming the key, and the key is left as the
// operator set it.
//
// POST /api/v1/rotations/{id}/cancel (the "cancel" signal) stops a rotation
// and rolls it back while the new key is not yet active: the new key is
// retired and the old keys are untouched. From activation on, cancel is
// refused (409) and a late signal is ignored: the rotation always runs to
// its end, so keys are never left half-rotated. To keep the old key anyway,
// re-enable it before the grace period ends. A failed verification rolls
// back the same way.
//
// # Key expiry
//
// Keys may carry an expiry (expires_at). The daily "key-expiry" sweep, and
// every health check, flag active and draining keys that expire within 7
// days: a warning is logged and the key's health becomes degraded with
// "key expires at ..." as its last error, visible in GET /api/v1/health. A
// key past its expiry is not probed and its health becomes unhealthy, so
// routing prefers the provider's other keys (routers also stop using a key
// at its expiry on their own). Nothing is rotated automatically — only the
// operator has the new secret — so the warning is the reminder to start a
// rotation.
//
// # Tests
//
// Unit tests run every workflow path in Temporal's test environment with
// in-memory fakes. Replay tests replay the histories in testdata/, recorded
// from the dev server with
//
//	TEMPORAL_ADDRESS=127.0.0.1:7233 go test ./workflows -run TestRecordHistories -record
//
// so a change that breaks determinism fails CI. Integration tests need a
// Temporal server at TEMPORAL_ADDRESS (make test starts one); without it
// they are skipped under -short and fail otherwise.
package workflows
