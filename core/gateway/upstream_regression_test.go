package gateway_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/airouter/airouter/adapters/httpapi"
	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/core/gateway"
)

// waitFor polls cond for up to two seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (fx *fixture) storedInvalid(t *testing.T, provider string) int {
	t.Helper()
	n := 0
	for _, k := range fx.store.keys(t, provider) {
		if k.Status == domain.KeyInvalid {
			n++
		}
	}
	return n
}

// TestRegressionRefusalProbedBeforeInvalidating: one 401 used to store the
// key invalid at once. Now the key is probed first (off the request path);
// a probe that succeeds clears the suspicion and nothing is stored.
func TestRegressionRefusalProbedBeforeInvalidating(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, 2)
	fx.provider(t, "a", "sk-a-00000001", "sk-a-00000002")
	fx.model(t, "m", "", "a")
	fx.script("a", behaviour{err: upstreamErr(domain.ClassAuth, 401)}, behaviour{})
	_, res, err := fx.svc.Complete(context.Background(), fx.call("m", ""))
	if err != nil || res.Attempts != 2 {
		t.Fatalf("err %v attempts %d", err, res.Attempts)
	}
	waitFor(t, "the probe", func() bool { return fx.probed.Load() == 1 })
	waitFor(t, "the suspicion to clear", func() bool {
		for _, k := range fx.svc.Router().KeyStats() {
			if k.Invalid || !k.CooldownUntil.IsZero() {
				return false
			}
		}
		return true
	})
	time.Sleep(50 * time.Millisecond) // a wrong invalidation would be written by now
	if n := fx.storedInvalid(t, "a"); n != 0 {
		t.Fatalf("%d keys stored invalid after a probe that succeeded", n)
	}
	// An inconclusive probe (the upstream is down) does not invalidate
	// either: the key just sits out its cooldown.
	fx.probes["sk-a-00000001"] = upstreamErr(domain.ClassRetryable, 503)
	fx.probes["sk-a-00000002"] = upstreamErr(domain.ClassRetryable, 503)
	fx.script("a", behaviour{err: upstreamErr(domain.ClassAuth, 403)}, behaviour{})
	fx.clients["a"].calls.Store(0)
	if _, _, err := fx.svc.Complete(context.Background(), fx.call("m", "")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the second probe", func() bool { return fx.probed.Load() == 2 })
	time.Sleep(50 * time.Millisecond)
	if n := fx.storedInvalid(t, "a"); n != 0 {
		t.Fatalf("%d keys stored invalid after an inconclusive probe", n)
	}
}

// TestRegressionRefusalsDoNotCascade: every key answering 401 used to be
// tried (and invalidated) in one request. Now a second refusal in the same
// request is returned: at most two keys are tried.
func TestRegressionRefusalsDoNotCascade(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, 4)
	fx.provider(t, "a", "sk-a-00000001", "sk-a-00000002", "sk-a-00000003", "sk-a-00000004")
	fx.model(t, "m", "", "a")
	fx.script("a", behaviour{err: upstreamErr(domain.ClassAuth, 401)})
	_, res, err := fx.svc.Complete(context.Background(), fx.call("m", ""))
	var ue *domain.UpstreamError
	if !errors.As(err, &ue) || ue.Class != domain.ClassAuth || res.Attempts != 2 || httpapi.StatusOf(err) != 502 {
		t.Fatalf("err %v attempts %d", err, res.Attempts)
	}
	if n := fx.clients["a"].calls.Load(); n != 2 {
		t.Fatalf("%d upstream calls", n)
	}
}

// TestRegressionCoolingKeyNotCalledAgain: with one key, a 429 with
// Retry-After: 30 used to be followed by a second call to the same key (the
// last attempt of a plan was never skipped). Now the 429 is returned, and
// while the key cools down a request makes no upstream call and gets 429
// with the time left.
func TestRegressionCoolingKeyNotCalledAgain(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, 2)
	fx.provider(t, "a", "sk-a-00000001")
	fx.model(t, "m", "", "a")
	fx.script("a", behaviour{err: &domain.UpstreamError{Class: domain.ClassRateLimited, Status: 429, Message: "slow down", RetryAfter: 30 * time.Second}})
	_, res, err := fx.svc.Complete(context.Background(), fx.call("m", ""))
	if httpapi.StatusOf(err) != 429 || res.Attempts != 1 || fx.clients["a"].calls.Load() != 1 {
		t.Fatalf("err %v attempts %d calls %d", err, res.Attempts, fx.clients["a"].calls.Load())
	}
	for _, stream := range []bool{false, true} {
		var err error
		var res *gateway.Result
		if stream {
			var st *gateway.Stream
			st, res, err = fx.svc.Stream(context.Background(), fx.call("m", ""))
			if st != nil {
				st.Close()
			}
		} else {
			_, res, err = fx.svc.Complete(context.Background(), fx.call("m", ""))
		}
		var ue *domain.UpstreamError
		if !errors.As(err, &ue) || httpapi.StatusOf(err) != 429 || res.Attempts != 0 {
			t.Fatalf("stream %v: err %v attempts %d", stream, err, res.Attempts)
		}
		if ue.RetryAfter < 28*time.Second || ue.RetryAfter > 30*time.Second {
			t.Fatalf("stream %v: Retry-After %v", stream, ue.RetryAfter)
		}
	}
	if n := fx.clients["a"].calls.Load(); n != 1 {
		t.Fatalf("%d upstream calls to a cooling key", n)
	}
}

// TestRegressionContentRefusalIsTheClients: a moderation refusal (class
// request, even when the upstream sent it as 403) is returned as a 400
// without a retry, a probe or any key invalidated.
func TestRegressionContentRefusalIsTheClients(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, 3)
	fx.provider(t, "a", "sk-a-00000001", "sk-a-00000002")
	fx.model(t, "m", "", "a")
	fx.script("a", behaviour{err: &domain.UpstreamError{Class: domain.ClassRequest, Status: 403, Type: "content_policy_violation", Message: "Your input was flagged"}})
	_, res, err := fx.svc.Complete(context.Background(), fx.call("m", ""))
	if httpapi.StatusOf(err) != 400 || res.Attempts != 1 {
		t.Fatalf("err %v status %d attempts %d", err, httpapi.StatusOf(err), res.Attempts)
	}
	time.Sleep(50 * time.Millisecond)
	if fx.probed.Load() != 0 || fx.storedInvalid(t, "a") != 0 {
		t.Fatalf("probes %d", fx.probed.Load())
	}
	for _, k := range fx.svc.Router().KeyStats() {
		if k.Invalid || !k.CooldownUntil.IsZero() {
			t.Fatalf("key held against: %+v", k)
		}
	}
}

// TestAmbiguousTimeoutNotRetried: a first-byte timeout after the
// request was written (class ambiguous, as the adapters now report it) is
// answered 504 after one attempt, never resent to another route.
func TestAmbiguousTimeoutNotRetried(t *testing.T) {
	t.Parallel()
	fx := fallbackFixture(t, 3, "a", "b")
	fx.script("a", behaviour{err: &domain.UpstreamError{Class: domain.ClassAmbiguous, Timeout: true, Message: "the upstream did not answer within first_byte_ms (2s) after the request was sent"}})
	_, res, err := fx.svc.Complete(context.Background(), fx.call("m", ""))
	if httpapi.StatusOf(err) != 504 || res.Attempts != 1 || fx.clients["b"] != nil && fx.clients["b"].calls.Load() != 0 {
		t.Fatalf("err %v attempts %d", err, res.Attempts)
	}
}

// TestRegressionForbiddenKeyNotReturnedByAModelListing: a 403 (billing,
// permission, a model the key may not use) followed by a probe that lists
// models used to put the key straight back, to be refused again by every
// request. It now sits out its cooldown; only a 401 is cleared by a probe.
func TestRegressionForbiddenKeyNotReturnedByAModelListing(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, 2)
	fx.provider(t, "a", "sk-a-00000001", "sk-a-00000002")
	fx.model(t, "m", "", "a")
	fx.script("a", behaviour{err: upstreamErr(domain.ClassAuth, 403)}, behaviour{})
	if _, _, err := fx.svc.Complete(context.Background(), fx.call("m", "")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the probe", func() bool { return fx.probed.Load() == 1 })
	time.Sleep(50 * time.Millisecond) // a wrong clearing would have happened by now
	cooling := 0
	for _, k := range fx.svc.Router().KeyStats() {
		if k.Invalid {
			t.Fatalf("key %d invalid after a 403 and a successful probe", k.KeyID)
		}
		if !k.CooldownUntil.IsZero() {
			cooling++
		}
	}
	if cooling != 1 {
		t.Fatalf("%d keys cooling down after a 403 and a successful probe, want 1", cooling)
	}
}
