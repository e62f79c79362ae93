package portstest

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/ports"
)

func ptr[T any](v T) *T { return &v }

var requestLogTests = []test{
	{"InsertAndList", func(t *testing.T, s Stores) {
		base := ms(time.Now().Add(-time.Hour))
		var in []domain.RequestLog
		for i := range 10 {
			e := domain.RequestLog{
				Time: base.Add(time.Duration(i) * time.Minute), RequestID: fmt.Sprintf("req-%d", i), ClientKeyID: 7,
				Model: "m-a", ProviderID: 1, Provider: "prov-a", KeyID: 2, RouteID: 3, Strategy: domain.StrategyWeightedRR,
				Attempts: 1, Stream: i%2 == 0, Status: 200, Latency: time.Duration(i+1) * time.Millisecond,
				TTFT: 500 * time.Microsecond, PromptTokens: 10 * i, CompletionTokens: i, Cost: 0.001 * float64(i),
			}
			if i >= 7 {
				e.Model, e.Provider, e.Status, e.ErrorClass, e.ErrorMessage = "m-b", "prov-b", 502, "retryable", "bad gateway"
			}
			in = append(in, e)
		}
		in[4].Time = in[3].Time // a tie, broken by id
		in[9].ClientKeyID, in[9].ProviderID, in[9].KeyID, in[9].RouteID = 0, 0, 0, 0
		old := in[0]
		old.RequestID, old.Time = "req-old", base.Add(-25*time.Hour)
		ok(t, s.RequestLogs.InsertRequestLogs(ctx(t), append(in, old)))
		ok(t, s.RequestLogs.InsertRequestLogs(ctx(t), nil))

		all := must[[]domain.RequestLog](t)(s.RequestLogs.ListRequestLogs(ctx(t), domain.RequestLogFilter{}))
		if len(all) != 10 {
			t.Fatalf("default range: %d entries, want the 10 of the last day", len(all))
		}
		for i := 1; i < len(all); i++ {
			a, b := all[i-1], all[i]
			if a.Time.Before(b.Time) || a.Time.Equal(b.Time) && a.ID <= b.ID {
				t.Fatalf("not newest first (time, then id): %+v then %+v", a, b)
			}
		}
		byReq := map[string]domain.RequestLog{}
		for _, e := range all {
			if e.ID == 0 {
				t.Fatalf("entry without id: %+v", e)
			}
			byReq[e.RequestID] = e
		}
		for _, want := range in {
			got := byReq[want.RequestID]
			want.ID = got.ID
			if !got.Time.Equal(want.Time) {
				t.Fatalf("time of %s: %v, want %v", want.RequestID, got.Time, want.Time)
			}
			got.Time = want.Time
			if got != want {
				t.Fatalf("entry round trip\n got %+v\nwant %+v", got, want)
			}
		}

		// Keyset pagination visits every entry once, in order.
		var pages []domain.RequestLog
		f := domain.RequestLogFilter{Limit: 3}
		for range 10 {
			page := must[[]domain.RequestLog](t)(s.RequestLogs.ListRequestLogs(ctx(t), f))
			pages = append(pages, page...)
			if len(page) < 3 {
				break
			}
			last := page[len(page)-1]
			f.BeforeTime, f.BeforeID = &last.Time, last.ID
		}
		if len(pages) != len(all) {
			t.Fatalf("pagination returned %d entries, want %d", len(pages), len(all))
		}
		for i := range pages {
			if pages[i].ID != all[i].ID {
				t.Fatalf("page entry %d is %d, want %d", i, pages[i].ID, all[i].ID)
			}
		}

		count := func(f domain.RequestLogFilter) int {
			t.Helper()
			return len(must[[]domain.RequestLog](t)(s.RequestLogs.ListRequestLogs(ctx(t), f)))
		}
		for name, c := range map[string]struct {
			f    domain.RequestLogFilter
			want int
		}{
			"model":       {domain.RequestLogFilter{Model: "m-b"}, 3},
			"provider":    {domain.RequestLogFilter{Provider: "prov-a"}, 7},
			"status":      {domain.RequestLogFilter{Status: 502}, 3},
			"failed":      {domain.RequestLogFilter{Failed: ptr(true)}, 3},
			"succeeded":   {domain.RequestLogFilter{Failed: ptr(false)}, 7},
			"none":        {domain.RequestLogFilter{Model: "m-a", Status: 502}, 0},
			"from":        {domain.RequestLogFilter{From: base.Add(5 * time.Minute)}, 5},
			"to":          {domain.RequestLogFilter{To: base.Add(2 * time.Minute)}, 2},
			"window":      {domain.RequestLogFilter{From: base.Add(time.Minute), To: base.Add(3 * time.Minute)}, 2},
			"old":         {domain.RequestLogFilter{From: base.Add(-26 * time.Hour)}, 11},
			"before time": {domain.RequestLogFilter{BeforeTime: ptr(base.Add(3 * time.Minute))}, 3},
			"limit":       {domain.RequestLogFilter{Limit: 4}, 4},
		} {
			if got := count(c.f); got != c.want {
				t.Errorf("filter %s: %d entries, want %d", name, got, c.want)
			}
		}
	}},
	{"Limits", func(t *testing.T, s Stores) {
		base := ms(time.Now().Add(-time.Hour))
		batch := make([]domain.RequestLog, 1005)
		for i := range batch {
			batch[i] = domain.RequestLog{Time: base.Add(time.Duration(i) * time.Millisecond), RequestID: "r", Model: "m", Status: 200}
		}
		ok(t, s.RequestLogs.InsertRequestLogs(ctx(t), batch))
		if n := len(must[[]domain.RequestLog](t)(s.RequestLogs.ListRequestLogs(ctx(t), domain.RequestLogFilter{}))); n != 50 {
			t.Fatalf("default limit: %d entries, want 50", n)
		}
		if n := len(must[[]domain.RequestLog](t)(s.RequestLogs.ListRequestLogs(ctx(t), domain.RequestLogFilter{Limit: 5000}))); n != 1000 {
			t.Fatalf("limit 5000: %d entries, want at most 1000", n)
		}
	}},
	{"AnyText", func(t *testing.T, s Stores) {
		// A row with text a database refuses (NUL, invalid UTF-8, over an
		// index's limit) is stored cleaned, and does not cost its batch.
		base := ms(time.Now().Add(-time.Hour))
		batch := []domain.RequestLog{
			{Time: base, RequestID: "good-1", Model: "m", Status: 200, ErrorMessage: "всё хорошо"},
			{Time: base, RequestID: "nul", Model: "m\x00", Status: 404},
			{Time: base, RequestID: "long", Model: strings.Repeat("m", 3000), Status: 404},
			{Time: base, RequestID: "cut", Model: "m", Status: 502, ErrorMessage: "ошибка"[:5]},
			{Time: base, RequestID: "bad\xff", Model: "m", Provider: "p\x00", Strategy: "x\xfe", ErrorClass: "c\x00", Status: 502,
				ErrorMessage: strings.Repeat("é", 5000)},
			{Time: base, RequestID: "good-2", Model: "m", Status: 200},
		}
		ok(t, s.RequestLogs.InsertRequestLogs(ctx(t), batch))
		got := must[[]domain.RequestLog](t)(s.RequestLogs.ListRequestLogs(ctx(t), domain.RequestLogFilter{}))
		if len(got) != len(batch) {
			t.Fatalf("stored %d of %d entries", len(got), len(batch))
		}
		bounds := []int{domain.MaxLogRequestID, domain.MaxLogName, domain.MaxLogName, domain.MaxLogShort, domain.MaxLogShort, domain.MaxLogMessage}
		byReq := map[string]domain.RequestLog{}
		for _, e := range got {
			for i, f := range []string{e.RequestID, e.Model, e.Provider, string(e.Strategy), e.ErrorClass, e.ErrorMessage} {
				if !utf8.ValidString(f) || strings.IndexByte(f, 0) >= 0 || len(f) > bounds[i] {
					t.Errorf("stored text %q is not clean", f)
				}
			}
			byReq[e.RequestID] = e
		}
		if e := byReq["good-1"]; e.Model != "m" || e.ErrorMessage != "всё хорошо" {
			t.Errorf("clean entry changed: %+v", e)
		}
		if e := byReq["cut"]; !strings.HasPrefix(e.ErrorMessage, "ош") {
			t.Errorf("cut message: %q", e.ErrorMessage)
		}
		if e := byReq["long"]; !strings.HasPrefix(e.Model, "mmmm") {
			t.Errorf("long model: %q", e.Model)
		}
	}},
	{"Stats", func(t *testing.T, s Stores) {
		base := ms(time.Now().Add(-time.Hour))
		var batch []domain.RequestLog
		for i := 1; i <= 100; i++ {
			e := domain.RequestLog{Time: base.Add(time.Duration(i) * time.Second), Model: "alpha", Provider: "p1", RouteID: 11,
				Status: 200, Latency: time.Duration(i) * time.Millisecond, PromptTokens: 10, CompletionTokens: 5, Cost: 0.25}
			if i%2 == 0 {
				e.TTFT = time.Duration(i) * 100 * time.Microsecond
			}
			if i > 90 {
				e.Status, e.Provider, e.RouteID = 500, "p2", 12
			}
			batch = append(batch, e)
		}
		batch = append(batch,
			domain.RequestLog{Time: base, Model: "beta", Provider: "p1", Status: 429, Latency: 7 * time.Millisecond},
			domain.RequestLog{Time: base.Add(-48 * time.Hour), Model: "alpha", Status: 200, Latency: time.Hour}, // outside the range
		)
		ok(t, s.RequestLogs.InsertRequestLogs(ctx(t), batch))

		rows := must[[]domain.StatsRow](t)(s.RequestLogs.Stats(ctx(t), base.Add(-time.Hour), time.Time{}, false))
		if len(rows) != 2 || rows[0].Model != "alpha" || rows[1].Model != "beta" {
			t.Fatalf("Stats by model: %+v", rows)
		}
		for _, r := range rows {
			if r.RouteID != 0 || r.Provider != "" {
				t.Fatalf("Stats by model names a route: %+v", r)
			}
		}
		a := rows[0]
		if a.Requests != 100 || a.Errors != 10 || !near(a.SuccessRate, 0.9) || a.PromptTokens != 1000 ||
			a.CompletionTokens != 500 || !near(a.Cost, 25) {
			t.Fatalf("alpha counts: %+v", a)
		}
		// percentile_cont over 1..100 ms: p50 = 50.5, p95 = 95.05, p99 = 99.01.
		wantDur(t, "latency p50", a.LatencyP50, 50500*time.Microsecond)
		wantDur(t, "latency p95", a.LatencyP95, 95050*time.Microsecond)
		wantDur(t, "latency p99", a.LatencyP99, 99010*time.Microsecond)
		// TTFT only where present: 0.2..10 ms by 0.2; p50 = 5.1 ms, p95 = 9.51 ms.
		wantDur(t, "ttft p50", a.TTFTP50, 5100*time.Microsecond)
		wantDur(t, "ttft p95", a.TTFTP95, 9510*time.Microsecond)
		if b := rows[1]; b.Requests != 1 || b.Errors != 1 || b.SuccessRate != 0 || b.LatencyP99 != 7*time.Millisecond || b.TTFTP50 != 0 {
			t.Fatalf("beta: %+v", b)
		}

		routes := must[[]domain.StatsRow](t)(s.RequestLogs.Stats(ctx(t), base.Add(-time.Hour), base.Add(time.Hour), true))
		if len(routes) != 3 {
			t.Fatalf("Stats by route: %+v", routes)
		}
		if r := routes[0]; r.Model != "alpha" || r.RouteID != 11 || r.Provider != "p1" || r.Requests != 90 || r.Errors != 0 || r.SuccessRate != 1 {
			t.Fatalf("route 11: %+v", r)
		}
		if r := routes[1]; r.RouteID != 12 || r.Provider != "p2" || r.Requests != 10 || r.Errors != 10 {
			t.Fatalf("route 12: %+v", r)
		}
		if r := routes[2]; r.Model != "beta" || r.RouteID != 0 || r.Requests != 1 {
			t.Fatalf("beta's route: %+v", r)
		}
		if rows := must[[]domain.StatsRow](t)(s.RequestLogs.Stats(ctx(t), base.Add(time.Hour), base.Add(2*time.Hour), false)); len(rows) != 0 {
			t.Fatalf("Stats of an empty range: %+v", rows)
		}
	}},
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func wantDur(t *testing.T, what string, got, want time.Duration) {
	t.Helper()
	if d := got - want; d < -time.Microsecond || d > time.Microsecond {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

var feedTests = []test{
	{"PublishListen", func(t *testing.T, s Stores) {
		got := listen(t, s.Feed)
		waitFor(t, s.Publish, got, ports.Change{Kind: "model", ID: 42})
	}},
	{"WritesNotify", func(t *testing.T, s Stores) {
		got := listen(t, s.Feed)
		waitFor(t, s.Publish, got, ports.Change{Kind: ports.ChangeModel, ID: 1}) // the listener is up
		mkProvider(t, s, "p")
		deadline := time.After(5 * time.Second)
		for {
			select {
			case c := <-got:
				if c.Kind == "provider" {
					return
				}
			case <-deadline:
				t.Fatalf("creating a provider did not notify listeners")
			}
		}
	}},
	{"ListenEnds", func(t *testing.T, s Stores) {
		c, cancel := context.WithCancel(ctx(t))
		done := make(chan error, 1)
		go func() { done <- s.Feed.Listen(c, func(ports.Change) {}) }()
		time.Sleep(50 * time.Millisecond)
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Listen returned %v after its context ended, want nil", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("Listen did not return after its context ended")
		}
	}},
}

// listen starts a listener for the test's lifetime and returns its changes.
func listen(t *testing.T, feed ports.ChangeFeed) <-chan ports.Change {
	t.Helper()
	c, cancel := context.WithCancel(context.Background())
	got := make(chan ports.Change, 1024)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = feed.Listen(c, func(ch ports.Change) {
			select {
			case got <- ch:
			default:
			}
		})
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return got
}

// waitFor publishes want until the listener sees it (a listener starts
// asynchronously, so early publications may be missed).
func waitFor(t *testing.T, publish func(context.Context, ports.Change) error, got <-chan ports.Change, want ports.Change) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	ok(t, publish(ctx(t), want))
	for {
		select {
		case c := <-got:
			if c == want {
				return
			}
		case <-tick.C:
			ok(t, publish(ctx(t), want))
		case <-deadline:
			t.Fatalf("the listener did not receive %+v", want)
		}
	}
}
