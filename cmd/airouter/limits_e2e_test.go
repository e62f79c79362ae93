package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/airouter/airouter/cmd/mockllm/mock"
)

func (s *server) limitedKey(t *testing.T, body map[string]any) (token string, id int64) {
	t.Helper()
	var out struct {
		ID    int64  `json:"id"`
		Token string `json:"token"`
	}
	s.mustAdmin(t, 201, "POST", "/client-keys", body, &out)
	return out.Token, out.ID
}

// TestE2EBudgetHoldsAcrossReplicas: 200 concurrent requests on two
// replicas against one key with a $0.05 budget, each call costing $0.001
// (10 completion tokens at $100 per million), spend at most the budget;
// every refused request is a 429 in OpenAI's envelope with Retry-After and
// the x-ratelimit headers.
func TestE2EBudgetHoldsAcrossReplicas(t *testing.T) {
	t.Parallel()
	up := newUpstream(t, mock.Config{Tokens: 10})
	db := freshDatabase(t)
	s1, s2 := startReplicas(t, serverOpts{dbURL: db})
	s1.setupProvider(t, "up", "openai_compatible", up.URL+"/v1", nil)
	s1.setupModel(t, "m", "", nil)
	s1.addRoute(t, "m", "up", "mock-gpt", map[string]any{"input_price": 0, "output_price": 100})
	tok, _ := s1.limitedKey(t, map[string]any{"name": "app", "rpm": 100000, "tpm": 10000000,
		"budget": map[string]any{"usd": 0.05, "period": "daily"}})
	body := userMsg("m", "hi")
	body["max_tokens"] = 10
	waitFor(t, 3*time.Second, func() bool {
		var ms struct {
			Data []struct{} `json:"data"`
		}
		return s2.do(t, "GET", "/v1/models", tok, nil, &ms) == 200 && len(ms.Data) == 1
	}, "the key and model did not reach the second replica")

	var mu sync.Mutex
	var ok, refused int
	var wg sync.WaitGroup
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func(s *server) {
			defer wg.Done()
			st, h, out := s.chat(t, tok, body, nil)
			mu.Lock()
			defer mu.Unlock()
			switch st {
			case 200:
				ok++
				if h.Get("X-Ratelimit-Limit-Requests") != "100000" || h.Get("X-Ratelimit-Remaining-Tokens") == "" {
					t.Errorf("200 without x-ratelimit headers: %v", h)
				}
			case 429:
				refused++
				e := decodeErr(t, out)
				if e.Error.Type != "rate_limit_error" || e.Error.Code == nil || *e.Error.Code != "rate_limit_exceeded" {
					t.Errorf("429 envelope %s", out)
				}
				if ra, err := strconv.Atoi(h.Get("Retry-After")); err != nil || ra <= 0 || ra > 86400 {
					t.Errorf("429 Retry-After %q", h.Get("Retry-After"))
				}
				for _, hd := range []string{"X-Ratelimit-Limit-Requests", "X-Ratelimit-Remaining-Requests", "X-Ratelimit-Reset-Requests",
					"X-Ratelimit-Limit-Tokens", "X-Ratelimit-Remaining-Tokens", "X-Ratelimit-Reset-Tokens"} {
					if h.Get(hd) == "" {
						t.Errorf("429 without %s", hd)
					}
				}
			default:
				t.Errorf("status %d: %s", st, out)
			}
		}([]*server{s1, s2}[i%2])
	}
	wg.Wait()
	t.Logf("%d served, %d refused", ok, refused)
	if ok > 51 || ok < 30 || ok+refused != 200 {
		t.Fatalf("%d calls of $0.001 served under a $0.05 budget (%d refused)", ok, refused)
	}
	// The request log agrees: the key spent at most $0.05 (+ one call).
	var stats struct {
		Rows []struct {
			ClientKey string  `json:"client_key"`
			Requests  int64   `json:"requests"`
			Cost      float64 `json:"cost"`
		} `json:"rows"`
	}
	waitFor(t, 5*time.Second, func() bool {
		s1.mustAdmin(t, 200, "GET", "/stats?group_by=client_key", nil, &stats)
		return len(stats.Rows) > 0 && stats.Rows[len(stats.Rows)-1].Requests >= 200
	}, "the request log did not record the 200 requests")
	last := stats.Rows[len(stats.Rows)-1]
	if last.ClientKey != "app" || last.Cost > 0.051+1e-9 {
		t.Fatalf("stats %+v: spend over the budget", stats.Rows)
	}
	// Prometheus carries the key's spend.
	resp, err := http.Get(s1.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == 200 && !strings.Contains(string(b), `airouter_client_key_spend_total{key="app"}`) {
		t.Errorf("no airouter_client_key_spend_total for the key in /metrics")
	}
}

// TestE2EClientKeyAllowlistExpiryAndValidation: disallowed models are 404 and
// absent from /v1/models; an expired key is refused; bad limits are RFC 9457
// problems naming the field.
func TestE2EClientKeyAllowlistExpiryAndValidation(t *testing.T) {
	t.Parallel()
	up := newUpstream(t, mock.Config{Tokens: 5})
	s := startServer(t, serverOpts{})
	s.setupProvider(t, "up", "openai_compatible", up.URL+"/v1", nil)
	for _, m := range []string{"gpt-a", "claude-b", "other"} {
		s.setupModel(t, m, "", nil)
		s.addRoute(t, m, "up", "mock-gpt", nil)
	}
	tok, id := s.limitedKey(t, map[string]any{"name": "narrow", "allow": []string{"gpt-a", "claude-*"}, "owner": "team-x", "tags": []string{"prod"}})
	if st, _, out := s.chat(t, tok, userMsg("gpt-a", "hi"), nil); st != 200 {
		t.Fatalf("allowed model: %d %s", st, out)
	}
	if st, _, out := s.chat(t, tok, userMsg("claude-b", "hi"), nil); st != 200 {
		t.Fatalf("allowed prefix: %d %s", st, out)
	}
	st, _, out := s.chat(t, tok, userMsg("other", "hi"), nil)
	if e := decodeErr(t, out); st != 404 || e.Error.Code == nil || *e.Error.Code != "model_not_found" {
		t.Fatalf("disallowed model: %d %s", st, out)
	}
	var models struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if st := s.do(t, "GET", "/v1/models", tok, nil, &models); st != 200 || len(models.Data) != 2 {
		t.Fatalf("/v1/models for the key: %d %+v, want gpt-a and claude-b", st, models)
	}
	for _, m := range models.Data {
		if m.ID == "other" {
			t.Fatal("/v1/models lists a model the key may not use")
		}
	}
	if st := s.do(t, "GET", "/v1/models/other", tok, nil, nil); st != 404 {
		t.Fatalf("GET /v1/models/other = %d", st)
	}
	// Metadata and limits are shown and can be changed.
	var k map[string]any
	s.mustAdmin(t, 200, "PATCH", "/client-keys/"+strconv.FormatInt(id, 10), map[string]any{
		"expires_at": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339), "allow": []string{}, "rpm": 10}, &k)
	if k["owner"] != "team-x" || k["rpm"] != float64(10) || k["expires_at"] == nil {
		t.Fatalf("patched key %v", k)
	}
	waitFor(t, 2*time.Second, func() bool {
		st, _, _ := s.chat(t, tok, userMsg("other", "hi"), nil)
		return st == 401
	}, "an expired key is still accepted")

	for _, tc := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"name": "neg", "budget": map[string]any{"usd": -1, "period": "daily"}}, "body.budget.usd"},
		{map[string]any{"name": "period", "budget": map[string]any{"usd": 5, "period": "weekly"}}, "body.budget.period"},
		{map[string]any{"name": "allow", "allow": []string{"gpt-*", "a*b"}}, "body.allow[1]"},
		{map[string]any{"name": "rpm", "rpm": -3}, "body.rpm"},
	} {
		var p struct {
			Status int `json:"status"`
			Errors []struct {
				Location string `json:"location"`
			} `json:"errors"`
		}
		raw := json.RawMessage{}
		if st := s.admin(t, "POST", "/client-keys", tc.body, &raw); st != 422 {
			t.Fatalf("%v: status %d %s", tc.body, st, raw)
		}
		_ = json.Unmarshal(raw, &p)
		if len(p.Errors) != 1 || p.Errors[0].Location != tc.field || p.Status != 422 {
			t.Fatalf("%v: problem %s, want one naming %s", tc.body, raw, tc.field)
		}
	}
	var raw json.RawMessage
	if st := s.admin(t, "PATCH", "/client-keys/"+strconv.FormatInt(id, 10), map[string]any{"budget": map[string]any{"usd": 1, "period": "hourly"}}, &raw); st != 422 || !strings.Contains(string(raw), "body.budget.period") {
		t.Fatalf("PATCH with an unknown period: %d %s", st, raw)
	}
}

// stepClock is a test clock that moves only when told to.
type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stepClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *stepClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestE2ERPMHoldsAcrossReplicas: an rpm limit of 60 holds within ±5 % over
// each of two minutes with requests split over two replicas (4 requests a
// second, alternating); the replicas share an injected clock, so the
// minutes pass at once.
func TestE2ERPMHoldsAcrossReplicas(t *testing.T) {
	t.Parallel()
	up := newUpstream(t, mock.Config{Tokens: 2})
	db := freshDatabase(t)
	clk := &stepClock{t: time.Now().UTC().Truncate(time.Minute).Add(time.Hour)}
	s1, s2 := startReplicas(t, serverOpts{dbURL: db, clock: clk})
	s1.setupProvider(t, "up", "openai_compatible", up.URL+"/v1", nil)
	s1.setupModel(t, "m", "", nil)
	s1.addRoute(t, "m", "up", "mock-gpt", nil)
	tok, _ := s1.limitedKey(t, map[string]any{"name": "rpm", "rpm": 60})
	waitFor(t, 3*time.Second, func() bool {
		var ms struct {
			Data []struct{} `json:"data"`
		}
		return s2.do(t, "GET", "/v1/models", tok, nil, &ms) == 200 && len(ms.Data) == 1
	}, "the key and model did not reach the second replica")
	for m := 0; m < 2; m++ {
		served := 0
		for i := 0; i < 240; i++ {
			st, h, out := []*server{s1, s2}[i%2].chat(t, tok, userMsg("m", "hi"), nil)
			switch st {
			case 200:
				served++
			case 429:
				if h.Get("Retry-After") == "" || h.Get("X-Ratelimit-Limit-Requests") != "60" || h.Get("X-Ratelimit-Remaining-Requests") != "0" {
					t.Fatalf("429 headers %v", h)
				}
			default:
				t.Fatalf("status %d: %s", st, out)
			}
			clk.Add(time.Minute / 240)
		}
		t.Logf("minute %d: %d served", m, served)
		if served < 57 || served > 63 {
			t.Fatalf("minute %d: %d requests served under rpm 60 on two replicas, want 60±5%%", m, served)
		}
	}
}
