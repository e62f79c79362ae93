package gateway_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/core/gateway"
)

// TestStreamsSettleTheirRealUsage: a stream reserves its worst case (prompt
// estimate + max_tokens) and settles the usage of its final chunk, so a tpm
// limit admits what the streams really used, not their reservations.
func TestStreamsSettleTheirRealUsage(t *testing.T) {
	fx := oneRouteFixture(t)
	k := domain.ClientKey{ID: 7, Name: "tpm", Limits: domain.Limits{TPM: 200}}
	// Each stream: usage 3 prompt + 1 completion token = 4; it reserves
	// more (max_tokens 20 alone).
	ok, refused := streamsAdmitted(t, fx, &k, func(st *gateway.Stream) {
		for {
			if _, err := st.Next(); err == io.EOF {
				break
			} else if err != nil {
				t.Fatal(err)
			}
		}
	})
	// 200 / 4 = 50 at most; the last ones need room for their reservation.
	if ok < 40 || ok > 50 {
		t.Fatalf("%d streams of 4 tokens admitted under tpm 200", ok)
	}
	if refused.Limits.LimitTokens != 200 || refused.Limits.RetryAfter <= 0 {
		t.Fatalf("refused stream's limits: %+v", refused.Limits)
	}
}

// TestAllowlistRefusesOtherModels: a model outside the key's allowlist is
// not found for that key.
func TestAllowlistRefusesOtherModels(t *testing.T) {
	fx := oneRouteFixture(t)
	fx.model(t, "n", domain.StrategyFallback, "a")
	k := domain.ClientKey{ID: 8, Name: "narrow", Limits: domain.Limits{Allow: []string{"m"}}}
	c := fx.call("n", "")
	c.Client = &k
	if _, _, err := fx.svc.Complete(context.Background(), c); domain.ErrorCode(err) != domain.CodeNotFound {
		t.Fatalf("disallowed model: %v", err)
	}
	c = fx.call("m", "")
	c.Client = &k
	_, res, err := fx.svc.Complete(context.Background(), c)
	if err != nil {
		t.Fatalf("allowed model: %v", err)
	}
	res.Finish()
}

// TestRegressionStreamLeftBeforeUsageIsCharged: a client that closed its
// stream before the usage chunk used to be charged nothing (tokens and
// cost 0), so a tpm limit or a budget could be spent without end. It is now
// charged the worst case it reserved.
func TestRegressionStreamLeftBeforeUsageIsCharged(t *testing.T) {
	fx := oneRouteFixture(t)
	k := domain.ClientKey{ID: 9, Name: "leaver", Limits: domain.Limits{TPM: 300}}
	ok, _ := streamsAdmitted(t, fx, &k, func(st *gateway.Stream) {
		if _, err := st.Next(); err != nil { // gone before the usage chunk
			t.Fatal(err)
		}
	})
	// Each reserves at least 20 tokens: at most 300 / 20 = 15.
	if ok > 15 {
		t.Fatalf("%d streams left before their usage admitted under tpm 300", ok)
	}
}

// TestRegressionShutdownStopsTheLimiter: the limiter's renewal loop ran on
// Start's context, which serve never cancels, so every Shutdown waited for
// its whole deadline and the leases' leftovers were never returned.
func TestRegressionShutdownStopsTheLimiter(t *testing.T) {
	fx := newFixture(t, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := fx.svc.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Shutdown took %v with a 5 s deadline", d)
	}
}

// TestRegressionReservedCapReachesTheUpstream: a budgeted key's request
// without max_tokens reserved the model's default cap, but the upstream was
// not told it, so a long answer spent more than the reservation. The cap
// now goes to the provider client (which sends it upstream).
func TestRegressionReservedCapReachesTheUpstream(t *testing.T) {
	fx := oneRouteFixture(t)
	budgeted := domain.ClientKey{ID: 11, Name: "budgeted", Limits: domain.Limits{Budget: domain.Budget{USD: 10, Period: domain.PeriodDaily, HardStop: true}}}
	for _, tc := range []struct {
		key  *domain.ClientKey
		body string
		want int64
	}{
		{&budgeted, `{"model":"m","messages":[{"role":"user","content":"hi"}]}`, 4096}, // no default on the model: the fallback
		{&budgeted, `{"model":"m","max_tokens":50,"messages":[{"role":"user","content":"hi"}]}`, 0},
		{nil, `{"model":"m","messages":[{"role":"user","content":"hi"}]}`, 0},
		{&domain.ClientKey{ID: 12, Name: "rpm-only", Limits: domain.Limits{RPM: 100}}, `{"model":"m","messages":[{"role":"user","content":"hi"}]}`, 0},
	} {
		c := fx.call("m", tc.body)
		c.Client = tc.key
		_, res, err := fx.svc.Complete(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		res.Finish()
		if got := fx.clients["a"].lastCap.Load(); got != tc.want {
			t.Fatalf("%s: cap sent %d, want %d", tc.body, got, tc.want)
		}
	}
}

// oneRouteFixture has provider "a" with one key and model "m" routed to it.
func oneRouteFixture(t *testing.T) *fixture {
	fx := newFixture(t, 0)
	fx.provider(t, "a", "sk-key-aaaa-1")
	fx.model(t, "m", domain.StrategyFallback, "a")
	return fx
}

// streamsAdmitted opens up to 100 streams of model "m" (max_tokens 20) as
// k, each read by read and then closed, until one is refused, which must be
// for the key's limits; it returns how many were admitted and the refused
// one's result (nil when none was refused).
func streamsAdmitted(t *testing.T, fx *fixture, k *domain.ClientKey, read func(*gateway.Stream)) (int, *gateway.Result) {
	t.Helper()
	body := `{"model":"m","stream":true,"max_tokens":20,"messages":[{"role":"user","content":"hi"}]}`
	for i := 0; i < 100; i++ {
		c := fx.call("m", body)
		c.Client = k
		st, res, err := fx.svc.Stream(context.Background(), c)
		if err != nil {
			if domain.ErrorCode(err) != domain.CodeRateLimited {
				t.Fatalf("stream %d: %v", i, err)
			}
			return i, res
		}
		read(st)
		st.Close()
	}
	return 100, nil
}
