package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/airouter/airouter/cmd/mockllm/mock"
)

// The chaos test: the router under modest load while its only upstream
// misbehaves in every way issue 10 lists, with hostile client input mixed
// in.

const (
	chaosLoad          = 10 * time.Second // how long the clients send
	chaosClients       = 8
	chaosClientTimeout = 6 * time.Second // bounds every request: no hangs
	chaosFirstByte     = 500 * time.Millisecond
	chaosStall         = 3 * chaosFirstByte // far past the first-byte timeout
	chaosModel         = "chaos-model"
	chaosProvider      = "chaos"
)

// What the fake upstream does with one client request. The client names it
// in the prompt ("chaos=stall id=17"), so every attempt the router makes for
// that request meets the same fault, except faultRateLimit, which only the
// first attempt meets (the key it used hit its limit; another key works).
const (
	faultNone      = "none"
	faultStall     = "stall"     // no byte for chaosStall
	faultCut       = "cut"       // the connection closes in the middle of the response
	faultRateLimit = "ratelimit" // 429 with Retry-After: 1, first attempt only
	faultFlagged   = "flagged"   // 403 content_policy_violation: the prompt, not the key
	// Poison: client input the router must refuse with a 4xx before any
	// upstream sees it.
	poisonNUL  = "poison-nul"  // a model name with a NUL byte
	poisonLong = "poison-long" // a 3 KB model name
	poisonJSON = "poison-json" // a body that is not JSON
)

// chaosKind is the fault of client request n, and whether it streams. Of
// every 20 requests 3 stall, 2 are cut, 1 is flagged, 2 are poison and
// (every third round) 1 meets a 429; the rest are plain. Streaming
// alternates, so that each kind comes both as JSON and as a stream.
func chaosKind(n int64) (kind string, stream bool) {
	round, m := n/20, n%20
	stream = (round+m)%2 == 1
	switch m {
	case 2, 9, 16:
		return faultStall, stream
	case 4, 13:
		return faultCut, stream
	case 7:
		return faultFlagged, stream
	case 11, 19:
		return [...]string{poisonNUL, poisonLong, poisonJSON}[(round*2+m/19)%3], stream
	case 18:
		if round%3 == 0 {
			return faultRateLimit, stream
		}
	}
	return faultNone, stream
}

var chaosMarker = regexp.MustCompile(`chaos=([a-z]+) id=([0-9]+)`)

// chaosUpstream is the mock LLM behind a switch that turns the marker of
// each request into the mock's fault-injection headers, and that counts
// the generations the mock started and finished.
type chaosUpstream struct {
	*httptest.Server
	gen      mock.Counters
	attempts atomic.Int64 // chat requests received
	unmarked atomic.Int64 // chat requests without a marker (poison that got through)
	mu       sync.Mutex
	seen     map[string]int // attempts per client request
}

func newChaosUpstream(t *testing.T) *chaosUpstream {
	t.Helper()
	u := &chaosUpstream{seen: map[string]int{}}
	h := mock.NewHandler(mock.Config{TTFT: 5 * time.Millisecond, Tokens: 8, TPS: 400, Counters: &u.gen})
	u.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/chat/completions") {
			u.inject(r)
		}
		h.ServeHTTP(w, r)
	}))
	u.Config.ErrorLog = log.New(io.Discard, "", 0) // cut connections are the point
	u.Start()
	t.Cleanup(u.Close)
	return u
}

func (u *chaosUpstream) inject(r *http.Request) {
	u.attempts.Add(1)
	b, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(b))
	m := chaosMarker.FindSubmatch(b)
	if m == nil {
		u.unmarked.Add(1)
		return
	}
	u.mu.Lock()
	u.seen[string(m[2])]++
	n := u.seen[string(m[2])]
	u.mu.Unlock()
	switch string(m[1]) {
	case faultStall:
		r.Header.Set(mock.HeaderStall, "before-first-byte:"+chaosStall.String())
	case faultCut:
		r.Header.Set(mock.HeaderCut, "true")
	case faultRateLimit:
		if n == 1 {
			r.Header.Set(mock.HeaderErrorRate, "1")
			r.Header.Set(mock.HeaderErrorStatus, "429")
			r.Header.Set(mock.HeaderRetryAfter, "1")
		}
	case faultFlagged:
		r.Header.Set(mock.HeaderErrorRate, "1")
		r.Header.Set(mock.HeaderErrorStatus, "403")
		r.Header.Set(mock.HeaderErrorCode, mock.ErrorCodeContentPolicy)
	}
}

// maxAttempts is the most attempts any one client request got.
func (u *chaosUpstream) maxAttempts() (id string, n int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for k, v := range u.seen {
		if v > n {
			id, n = k, v
		}
	}
	return id, n
}

// chaosResult is what one client request got.
type chaosResult struct {
	n         int64
	kind      string
	stream    bool
	status    int
	outcome   string // "success", "error" (a clean one) or "bad"
	problem   string // why it is bad
	requestID string
}

func (r chaosResult) String() string {
	mode := "json"
	if r.stream {
		mode = "stream"
	}
	return fmt.Sprintf("request %d (%s, %s): status %d: %s", r.n, r.kind, mode, r.status, r.problem)
}

func chaosBody(n int64, kind string, stream bool) []byte {
	model := chaosModel
	switch kind {
	case poisonNUL:
		model = "mo\x00del"
	case poisonLong:
		var b [1500]byte
		_, _ = rand.Read(b[:])
		model = hex.EncodeToString(b[:]) // 3000 bytes that do not compress
	case poisonJSON:
		return []byte(fmt.Sprintf(`{"model":%q,"stream":%v,"messages":[{"role":"user","content":"id=%d`, chaosModel, stream, n))
	}
	prompt := fmt.Sprintf("chaos=%s id=%d Tell me something.", kind, n)
	if strings.HasPrefix(kind, "poison") {
		prompt = fmt.Sprintf("poison id=%d", n) // no marker: reaching the upstream shows
	}
	b, _ := json.Marshal(map[string]any{"model": model, "stream": stream,
		"messages": []any{map[string]any{"role": "user", "content": prompt}}})
	return b
}

// chaosRequest sends client request n and judges the answer.
func chaosRequest(c *http.Client, s *server, token string, n int64) chaosResult {
	kind, stream := chaosKind(n)
	res := chaosResult{n: n, kind: kind, stream: stream, outcome: "bad"}
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/v1/chat/completions", bytes.NewReader(chaosBody(n, kind, stream)))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		res.problem = "no answer: " + err.Error()
		return res
	}
	defer resp.Body.Close()
	res.status = resp.StatusCode
	res.requestID = resp.Header.Get("X-Request-Id")
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		res.problem = fmt.Sprintf("reading the body: %v after %q", err, truncateForLog(body))
		return res
	}
	ct := resp.Header.Get("Content-Type")
	switch {
	case resp.StatusCode >= 400 && resp.StatusCode <= 599:
		if !strings.HasPrefix(ct, "application/json") {
			res.problem = fmt.Sprintf("error with Content-Type %q: %q", ct, truncateForLog(body))
		} else if msg := envelopeProblem(body); msg != "" {
			res.problem = msg
		} else {
			res.outcome = "error"
		}
	case resp.StatusCode != http.StatusOK:
		res.problem = fmt.Sprintf("status %d: %q", resp.StatusCode, truncateForLog(body))
	case stream:
		if !strings.HasPrefix(ct, "text/event-stream") {
			res.problem = fmt.Sprintf("stream with Content-Type %q", ct)
			break
		}
		res.outcome, res.problem = judgeStream(body)
	default:
		var cc struct {
			Object  string `json:"object"`
			Choices []struct {
				Message struct {
					Content string `json:"content"`
				} `json:"message"`
			} `json:"choices"`
		}
		if err := json.Unmarshal(body, &cc); err != nil || cc.Object != "chat.completion" || len(cc.Choices) == 0 || cc.Choices[0].Message.Content == "" {
			res.problem = fmt.Sprintf("200 without a completion (%v): %q", err, truncateForLog(body))
			break
		}
		res.outcome = "success"
	}
	switch {
	case res.outcome == "success" && res.requestID == "":
		res.outcome, res.problem = "bad", "success without X-Request-Id"
	case strings.HasPrefix(kind, "poison") && res.outcome != "bad" && (res.outcome == "success" || res.status < 400 || res.status > 499):
		res.outcome, res.problem = "bad", "poison input was not refused with a 4xx"
	case kind == faultFlagged && res.outcome == "success":
		res.outcome, res.problem = "bad", "succeeded although the upstream refuses the prompt every time"
	}
	return res
}

// envelopeProblem says what is wrong with an OpenAI error envelope, or "".
func envelopeProblem(b []byte) string {
	var e struct {
		Error *struct {
			Message string `json:"message"`
			Type    string `json:"type"`
		} `json:"error"`
	}
	if err := json.Unmarshal(b, &e); err != nil || e.Error == nil || e.Error.Message == "" || e.Error.Type == "" {
		return fmt.Sprintf("not an OpenAI error envelope: %q", truncateForLog(b))
	}
	return ""
}

// judgeStream: a stream succeeded when its chunks end with [DONE]; it
// failed cleanly when it ends with an error event and no [DONE].
func judgeStream(body []byte) (outcome, problem string) {
	var frames []string
	done := false
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64<<10), 1<<24)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "data:")
		if !ok {
			continue
		}
		line = strings.TrimSpace(line)
		if done {
			return "bad", "data after [DONE]"
		}
		if line == "[DONE]" {
			done = true
			continue
		}
		frames = append(frames, line)
	}
	if len(frames) == 0 {
		return "bad", fmt.Sprintf("stream without events: %q", truncateForLog(body))
	}
	if !done {
		if p := envelopeProblem([]byte(frames[len(frames)-1])); p != "" {
			return "bad", "stream ended without [DONE] or an error event: " + p
		}
		return "error", ""
	}
	var text strings.Builder
	for _, f := range frames {
		var ch struct {
			Object  string          `json:"object"`
			Error   json.RawMessage `json:"error"`
			Choices []struct {
				Delta struct {
					Content string `json:"content"`
				} `json:"delta"`
			} `json:"choices"`
		}
		if err := json.Unmarshal([]byte(f), &ch); err != nil || ch.Object != "chat.completion.chunk" || ch.Error != nil {
			return "bad", fmt.Sprintf("a stream with [DONE] has a frame that is not a chunk: %q", truncateForLog([]byte(f)))
		}
		for _, c := range ch.Choices {
			text.WriteString(c.Delta.Content)
		}
	}
	if text.Len() == 0 {
		return "bad", "a stream with [DONE] but no text"
	}
	return "success", ""
}

func truncateForLog(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

// TestChaos drives the router for chaosLoad with chaosClients concurrent
// clients, JSON and streaming, while its one provider (three keys) answers
// with 429s, 403 content-policy refusals, stalls past the first-byte
// timeout and mid-stream cuts, and the clients mix in poison input. Then:
//   - every request succeeded or got a clean error (an OpenAI envelope with
//     a 4xx/5xx, or after the first byte of a stream an error event and no
//     [DONE]), within the client timeout; poison got a 4xx;
//   - most plain requests succeeded (the provider stays usable);
//   - no key of the provider ends invalid: only the prompt was refused;
//   - the upstream started at most 1.2 × client requests + 5 generations
//     (no double billing by retrying what the upstream may be working on);
//   - every successful request has its request-log row.
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end chaos test (-short)")
	}
	t.Parallel()
	up := newChaosUpstream(t)
	s := startServer(t, serverOpts{})
	s.mustAdmin(t, 201, "POST", "/providers", map[string]any{"name": chaosProvider, "kind": "openai_compatible", "base_url": up.URL + "/v1",
		"timeouts": map[string]any{"first_byte_ms": chaosFirstByte.Milliseconds(), "idle_ms": 2000, "total_ms": 4000}}, nil)
	for _, k := range []string{"k1", "k2", "k3"} {
		s.mustAdmin(t, 201, "POST", "/providers/"+chaosProvider+"/keys", map[string]any{"secret": "sk-chaos-" + k + "-secret", "name": k}, nil)
	}
	s.setupModel(t, chaosModel, "", nil)
	s.addRoute(t, chaosModel, chaosProvider, "mock-gpt", nil)
	token := s.clientKey(t, "chaos")

	tr := &http.Transport{MaxIdleConnsPerHost: chaosClients}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: chaosClientTimeout}
	var (
		seq     atomic.Int64
		mu      sync.Mutex
		results []chaosResult
		wg      sync.WaitGroup
	)
	ctx, cancel := context.WithTimeout(context.Background(), chaosLoad)
	defer cancel()
	started := time.Now()
	for range chaosClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				r := chaosRequest(client, s, token, seq.Add(1)-1)
				mu.Lock()
				results = append(results, r)
				mu.Unlock()
				select {
				case <-ctx.Done():
				case <-time.After(20 * time.Millisecond):
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("%d requests in %v", len(results), time.Since(started).Round(time.Millisecond))

	// Every request succeeded or failed cleanly.
	type cell struct{ kind, outcome string }
	counts := map[cell]int{}
	statuses := map[string]map[int]int{}
	var bad []chaosResult
	var successIDs []string
	clientRequests := 0 // requests an upstream may see: all but poison
	for _, r := range results {
		counts[cell{r.kind, r.outcome}]++
		if statuses[r.kind] == nil {
			statuses[r.kind] = map[int]int{}
		}
		statuses[r.kind][r.status]++
		if !strings.HasPrefix(r.kind, "poison") {
			clientRequests++
		}
		switch r.outcome {
		case "bad":
			bad = append(bad, r)
		case "success":
			successIDs = append(successIDs, r.requestID)
		}
	}
	kinds := []string{faultNone, faultStall, faultCut, faultRateLimit, faultFlagged, poisonNUL, poisonLong, poisonJSON}
	for _, k := range kinds {
		t.Logf("%-11s success %4d  clean error %4d  bad %4d  statuses %v", k, counts[cell{k, "success"}], counts[cell{k, "error"}], counts[cell{k, "bad"}], statuses[k])
	}
	if len(bad) > 0 {
		sort.Slice(bad, func(i, j int) bool { return bad[i].n < bad[j].n })
		var b strings.Builder
		for i, r := range bad {
			if i == 15 {
				fmt.Fprintf(&b, "\n\t… and %d more", len(bad)-i)
				break
			}
			b.WriteString("\n\t" + r.String())
		}
		t.Errorf("%d of %d requests neither succeeded nor failed cleanly:%s", len(bad), len(results), b.String())
	}
	if len(results) < 100 {
		t.Errorf("only %d requests in %v: too few to judge", len(results), chaosLoad)
	}
	plain, plainOK := counts[cell{faultNone, "success"}]+counts[cell{faultNone, "error"}]+counts[cell{faultNone, "bad"}], counts[cell{faultNone, "success"}]
	if plainOK*2 < plain {
		t.Errorf("only %d of %d plain requests succeeded: the provider did not stay usable", plainOK, plain)
	}
	if n := up.unmarked.Load(); n > 0 {
		t.Errorf("%d poison requests reached the upstream", n)
	}

	// No double billing: a request the upstream may be working on is not
	// sent again.
	gens := up.gen.Started()
	limit := int64(float64(clientRequests)*1.2) + 5
	id, most := up.maxAttempts()
	t.Logf("upstream: %d attempts, %d generations started, %d finished, for %d client requests (limit %d); most attempts for one request: %d (request %s)",
		up.attempts.Load(), gens, up.gen.Finished(), clientRequests, limit, most, id)
	if gens > limit {
		t.Errorf("the upstream started %d generations for %d client requests, more than 1.2 × %d + 5 = %d", gens, clientRequests, clientRequests, limit)
	}

	// Every successful request is in the request log, once the async
	// writer has flushed.
	missing := chaosMissingLogRows(t, s, successIDs, 5*time.Second)
	if len(missing) > 0 {
		sample := missing[:min(len(missing), 5)]
		t.Errorf("%d of %d successful requests have no request-log row, e.g. %v", len(missing), len(successIDs), sample)
		for _, line := range strings.Split(s.Stderr.String(), "\n") {
			if strings.Contains(line, "request log") {
				t.Logf("server: %s", truncateForLog([]byte(line)))
			}
		}
	}

	// Only the prompt was refused: no key of the provider is invalid, in
	// the database or in the router.
	var keys struct {
		Data []struct {
			ID        int64  `json:"id"`
			Name      string `json:"name"`
			Status    string `json:"status"`
			LastError string `json:"last_error"`
		} `json:"data"`
	}
	s.mustAdmin(t, 200, "GET", "/providers/"+chaosProvider+"/keys", nil, &keys)
	if len(keys.Data) != 3 {
		t.Errorf("provider has %d keys, want 3", len(keys.Data))
	}
	for _, k := range keys.Data {
		if k.Status != "active" {
			t.Errorf("key %s ends %s (%s)", k.Name, k.Status, k.LastError)
		}
	}
	var live struct {
		Keys []struct {
			KeyID    int64  `json:"key_id"`
			Provider string `json:"provider"`
			Invalid  bool   `json:"invalid"`
		} `json:"keys"`
	}
	s.mustAdmin(t, 200, "GET", "/stats/live", nil, &live)
	for _, k := range live.Keys {
		if k.Provider == chaosProvider && k.Invalid {
			t.Errorf("the router holds key %d invalid", k.KeyID)
		}
	}
}

// chaosMissingLogRows pages through the request log until every id in ids
// is there or wait passes, and returns the ids it did not find.
func chaosMissingLogRows(t *testing.T, s *server, ids []string, wait time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		logged := map[string]bool{}
		cursor := ""
		for {
			path := "/requests?limit=1000"
			if cursor != "" {
				path += "&cursor=" + url.QueryEscape(cursor)
			}
			var page struct {
				Data []struct {
					RequestID string `json:"request_id"`
				} `json:"data"`
				NextCursor string `json:"next_cursor"`
			}
			s.mustAdmin(t, 200, "GET", path, nil, &page)
			for _, e := range page.Data {
				logged[e.RequestID] = true
			}
			if page.NextCursor == "" || len(page.Data) == 0 {
				break
			}
			cursor = page.NextCursor
		}
		var missing []string
		for _, id := range ids {
			if !logged[id] {
				missing = append(missing, id)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			t.Logf("request log: %d rows; %d of %d successful requests missing", len(logged), len(missing), len(ids))
			return missing
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TestChaosJudge checks the chaos test's verdicts on answers it must reject
// as well as on the ones it accepts.
func TestChaosJudge(t *testing.T) {
	t.Parallel()
	chunk := `data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"hi"}}]}` + "\n\n"
	errEv := `data: {"error":{"message":"upstream cut","type":"server_error"}}` + "\n\n"
	for _, tc := range []struct {
		name, body, want string
	}{
		{"complete", chunk + "data: [DONE]\n\n", "success"},
		{"error event", chunk + errEv, "error"},
		{"cut without an error event", chunk, "bad"},
		{"error event and [DONE]", chunk + errEv + "data: [DONE]\n\n", "bad"},
		{"data after [DONE]", chunk + "data: [DONE]\n\n" + chunk, "bad"},
		{"[DONE] without text", "data: [DONE]\n\n", "bad"},
		{"no events", "", "bad"},
		{"garbage", "data: {not json\n\n", "bad"},
	} {
		if got, why := judgeStream([]byte(tc.body)); got != tc.want {
			t.Errorf("%s: %s (%s), want %s", tc.name, got, why, tc.want)
		}
	}
	for body, ok := range map[string]bool{
		`{"error":{"message":"m","type":"invalid_request_error","param":null,"code":null}}`: true,
		`{"error":{"message":"","type":"x"}}`:                                               false,
		`{"error":"m"}`:                                                                     false,
		`{"type":"about:blank","status":502}`:                                               false,
		`Bad Gateway`:                                                                       false,
	} {
		if got := envelopeProblem([]byte(body)) == ""; got != ok {
			t.Errorf("envelope %s: accepted %v", body, got)
		}
	}
	// The schedule has every kind, and poison of each sort.
	seen := map[string]int{}
	for n := range int64(60) {
		k, _ := chaosKind(n)
		seen[k]++
	}
	for _, k := range []string{faultNone, faultStall, faultCut, faultRateLimit, faultFlagged, poisonNUL, poisonLong, poisonJSON} {
		if seen[k] == 0 {
			t.Errorf("kind %s never scheduled", k)
		}
	}
	if b := chaosBody(1, poisonLong, false); len(b) < 3000 {
		t.Errorf("long model body is %d bytes", len(b))
	}
	if b := chaosBody(1, poisonNUL, true); !bytes.Contains(b, []byte(`"mo\u0000del"`)) {
		t.Errorf("NUL model body %s", b)
	}
	if json.Valid(chaosBody(1, poisonJSON, false)) {
		t.Error("poison JSON is valid")
	}
}
