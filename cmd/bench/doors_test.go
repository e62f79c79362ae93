package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/airouter/airouter/cmd/mockllm/mock"
)

func TestClassifyResponsesEvent(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]respEvent{
		`{"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Lore","logprobs":[]}`: evDelta,
		`{"sequence_number":4, "delta" : "Lore", "type" : "response.output_text.delta"}`:                                                              evDelta,
		`{"type":"response.output_text.delta","delta":""}`:                                                                                            evOther,
		`{"type":"response.created","response":{"id":"resp_1","status":"in_progress","output":[]}}`:                                                   evOther,
		`{"type":"response.output_text.done","text":"Lorem"}`:                                                                                         evOther,
		`{"type":"response.completed","response":{"id":"resp_1","status":"completed"}}`:                                                               evDone,
		`{"type":"response.incomplete","response":{"status":"incomplete"}}`:                                                                           evFailed,
		`{"type":"response.failed","response":{"status":"failed"}}`:                                                                                   evFailed,
		`{"type":"error","code":"server_error","message":"The response could not be stored.","param":null}`:                                           evFailed,
		`{"choices":[{"delta":{"content":"Lor"}}]}`:                                                                                                   evBad,
		`[DONE]`:   evBad,
		`{"type":`: evBad,
	} {
		if got := classifyResponsesEvent([]byte(in)); got != want {
			t.Errorf("classifyResponsesEvent(%s) = %d, want %d", in, got, want)
		}
	}
}

func TestSummarizeDoorPairsAndTranslationCost(t *testing.T) {
	t.Parallel()
	nat, tr := doorPath("native"), doorPath("translated")
	paths := []string{direct, nat, tr, revproxy}
	// Round 2 failed somewhere: its huge samples must not count.
	lat := map[string][]time.Duration{
		direct:   ms(10, 20, 900, 30),
		nat:      ms(11, 22, 900, 33),
		tr:       ms(15, 24, 1, 40),
		revproxy: ms(12, 21, 900, 31),
	}
	ok := []bool{true, true, false, true}
	dr := summarizeDoor(paths, lat, ok)
	if dr.N != 3 {
		t.Fatalf("N = %d, want 3", dr.N)
	}
	// Paired: native − direct = 1, 2, 3 → median 2; translated − direct =
	// 5, 4, 10 → 5; revproxy − direct = 2, 1, 1 → 1.
	for path, want := range map[string]time.Duration{nat: 2, tr: 5, revproxy: 1} {
		if got := dr.AddedP50[path]; got != want*time.Millisecond {
			t.Errorf("AddedP50[%s] = %v, want %vms", path, got, want)
		}
	}
	if _, ok := dr.AddedP50[direct]; ok {
		t.Error("direct has an added latency")
	}
	if dr.P50[tr] != 24*time.Millisecond || dr.P99[tr] != 40*time.Millisecond || dr.P99[direct] != 30*time.Millisecond {
		t.Errorf("translated p50 %v p99 %v, direct p99 %v; want 24ms, 40ms, 30ms", dr.P50[tr], dr.P99[tr], dr.P99[direct])
	}
	if dr.AddedP99[tr] != 10*time.Millisecond {
		t.Errorf("AddedP99[translated] = %v, want 10ms", dr.AddedP99[tr])
	}
	// Translated − native paired: 4, 2, 7 → 4; p99: 40 − 33 = 7.
	if !dr.HasTrans || dr.TransP50 != 4*time.Millisecond || dr.TransP99 != 7*time.Millisecond {
		t.Errorf("translation cost = %v / %v (has %v), want 4ms / 7ms", dr.TransP50, dr.TransP99, dr.HasTrans)
	}

	// A door without a translated route states no translation cost.
	pass := doorPath("passthrough")
	dr = summarizeDoor([]string{direct, pass, revproxy}, map[string][]time.Duration{
		direct: ms(1, 2), pass: ms(3, 5), revproxy: ms(2, 3),
	}, []bool{true, true})
	if dr.HasTrans || dr.N != 2 || dr.AddedP50[pass] != 2*time.Millisecond {
		t.Errorf("passthrough: HasTrans %v, N %d, added %v; want false, 2, 2ms", dr.HasTrans, dr.N, dr.AddedP50[pass])
	}

	// No successful round: nothing but N = 0.
	dr = summarizeDoor(paths, lat, make([]bool, 4))
	if dr.N != 0 || len(dr.P50) != 0 || dr.HasTrans {
		t.Errorf("all rounds failed: %+v", dr)
	}
}

func TestRotateKeepsEveryPathOnce(t *testing.T) {
	t.Parallel()
	for n := 1; n <= 4; n++ {
		names := []string{"a", "b", "c", "d"}[:n]
		first := map[string]int{}
		for i := range 8 {
			got := rotate(names, i)
			if s := slices.Sorted(slices.Values(got)); !slices.Equal(s, names) {
				t.Fatalf("rotate(%v, %d) = %v", names, i, got)
			}
			first[got[0]]++
		}
		if len(first) != n {
			t.Errorf("%d paths: only %v ever come first", n, first)
		}
	}
	five := []string{"a", "b", "c", "d", "e"}
	if got := rotate(five, 3); !slices.Equal(got, five) {
		t.Errorf("rotate without a rotation = %v, want the names unchanged", got)
	}
}

func TestDoorsRequests(t *testing.T) {
	t.Parallel()
	ds := doors()
	seen := map[string]bool{}
	for _, d := range ds {
		if len(d.routes) == 0 {
			t.Fatalf("door %s has no route", d.key)
		}
		for _, r := range d.routes {
			var body map[string]any
			if err := json.Unmarshal(d.body(r.model), &body); err != nil {
				t.Fatalf("door %s route %s: body is not JSON: %v", d.key, r.name, err)
			}
			if body["model"] != r.model {
				t.Errorf("door %s route %s: model %v, want %s", d.key, r.name, body["model"], r.model)
			}
			if got, want := body["stream"] == true, d.stream; got != want {
				t.Errorf("door %s: stream %v, want %v", d.key, got, want)
			}
			if strings.HasPrefix(d.path, "/v1/responses") && body["store"] != false {
				t.Errorf("door %s: store %v, want false", d.key, body["store"])
			}
			if seen[r.model] || seen[r.provider(d)] {
				t.Errorf("model %s or provider %s used twice", r.model, r.provider(d))
			}
			seen[r.model], seen[r.provider(d)] = true, true
		}
	}

	dt := newTarget(direct, "http://mock", 1, nil, "")
	rt := newTarget(router, "http://router", 2, nil, "")
	dt.addDoors(ds, "")
	rt.addDoors(ds, "ck-1")
	msg := ds[0]
	if msg.key != "messages" {
		t.Fatalf("first door %s, want messages", msg.key)
	}
	p := dt.reqs[msg.reqKey("")]
	if p.url != "http://mock/v1/messages" || p.header.Get("X-Mock-Latency") != "0ms" || p.header.Get("Anthropic-Version") == "" || p.header.Get("X-Api-Key") == "" {
		t.Errorf("direct messages request: %s %v", p.url, p.header)
	}
	p = rt.reqs[msg.reqKey("translated")]
	if p.url != "http://router/v1/messages" || p.header.Get("X-Api-Key") != "ck-1" || p.header.Get("X-Mock-Latency") != "" || p.header.Get("Authorization") != "" {
		t.Errorf("router messages request: %s %v", p.url, p.header)
	}
	if !strings.Contains(string(p.body), `"bench-msg-translated"`) {
		t.Errorf("router translated body names another model: %s", p.body)
	}
	for _, d := range ds[1:] {
		for _, r := range d.routes {
			if got := rt.reqs[d.reqKey(r.name)].header.Get("Authorization"); got != "Bearer ck-1" {
				t.Errorf("router %s %s: Authorization %q", d.key, r.name, got)
			}
		}
	}
}

// TestDoorCallsAgainstTheMock sends every door's direct request to the
// mock the benchmark uses, so the requests, the JSON checks and the
// Responses stream reader keep up with its formats.
func TestDoorCallsAgainstTheMock(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(mock.NewHandler(mock.Config{}))
	t.Cleanup(srv.Close)
	ctx := context.Background()
	tg := newTarget(direct, srv.URL, 0, nil, "")
	tg.addDoors(doors(), "")
	b := &bench{targets: map[string]*target{direct: tg}}
	for _, d := range doors() {
		lat, err := b.doorCall(ctx, d, direct)
		if err != nil {
			t.Errorf("door %s: %v", d.key, err)
		}
		if lat <= 0 {
			t.Errorf("door %s: latency %v", d.key, lat)
		}
	}

	// A stream the mock cuts mid-event is not complete.
	d := doors()[2]
	if !d.stream {
		t.Fatalf("door %s does not stream", d.key)
	}
	p := tg.reqs[d.reqKey("")]
	p.header = p.header.Clone()
	p.header.Set("X-Mock-Cut", "true")
	tg.reqs[d.reqKey("")] = p
	if _, err := b.doorCall(ctx, d, direct); err == nil {
		t.Error("a cut stream counted as complete")
	}

	// An answer without the expected shape is an error.
	if err := tg.doorJSON(ctx, doors()[0].reqKey(""), []byte(`"object":"response"`)); err == nil {
		t.Error("a Messages answer passed as a Responses one")
	}
	// So is an error status.
	p = tg.reqs[doors()[3].reqKey("")]
	p.body = []byte(`{"model":"m"}`)
	tg.reqs["bad"] = p
	if err := tg.doorJSON(ctx, "bad", []byte(`"object":"list"`)); err == nil || !strings.Contains(err.Error(), "400") {
		t.Errorf("embeddings without input: %v, want a 400", err)
	}
}

func TestDoorsMarkdownStatesTranslationCost(t *testing.T) {
	t.Parallel()
	nat, tr := doorPath("native"), doorPath("translated")
	r := newReport(config{doorRequests: 500})
	durs := func(kv ...any) map[string]time.Duration {
		m := map[string]time.Duration{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = time.Duration(kv[i+1].(int)) * time.Microsecond
		}
		return m
	}
	r.Doors["messages"] = []doorRep{{N: 500, Errors: map[string]int{tr: 2}, ErrSample: tr + ": status 502: boom",
		P50: durs(direct, 150, nat, 450, tr, 520, revproxy, 400), P99: durs(direct, 200, nat, 900, tr, 1000, revproxy, 800),
		AddedP50: durs(nat, 300, tr, 370, revproxy, 250), AddedP99: durs(nat, 700, tr, 800, revproxy, 600),
		TransP50: 68 * time.Microsecond, TransP99: 100 * time.Microsecond, HasTrans: true}}
	var b strings.Builder
	r.doorsMarkdown(func(f string, a ...any) { b.WriteString(fmt.Sprintf(f, a...)) }, doors())
	md := b.String()
	for _, want := range []string{
		"## 6. New front doors",
		"| Anthropic Messages | router native | anthropic provider, `/v1/messages` | 450 µs | 900 µs | 300 µs | 700 µs | 1.20× | 0 |",
		"| Anthropic Messages | router translated | openai_compatible provider, `/v1/chat/completions` | 520 µs | 1.00 ms | 370 µs | 800 µs | 1.48× | 2 |",
		"| Anthropic Messages | 300 µs | 370 µs | **68 µs** | 100 µs |",
		"first error: `messages, router translated: status 502: boom`",
		"| Embeddings | router passthrough |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "| Embeddings | n/a") {
		t.Errorf("embeddings has a translation row:\n%s", md)
	}
	if p := r.doorsProblems(doors()); len(p) != 3 || !strings.Contains(p[0], "responses") {
		t.Errorf("doorsProblems = %q, want the three unmeasured doors", p)
	}

	r = newReport(config{})
	r.DoorsNote = "not measured (no router)"
	b.Reset()
	r.doorsMarkdown(func(f string, a ...any) { b.WriteString(fmt.Sprintf(f, a...)) }, doors())
	if !strings.Contains(b.String(), "Not measured (no router).") || r.doorsProblems(doors()) != nil {
		t.Errorf("without the router: %q, problems %q", b.String(), r.doorsProblems(doors()))
	}
}

// TestResponsesStreamReportsBadEvents: a stream with every delta and
// response.completed still fails when an event is not a Responses event.
func TestResponsesStreamReportsBadEvents(t *testing.T) {
	t.Parallel()
	ev := func(typ, extra string) string {
		return "event: " + typ + "\ndata: {\"type\":\"" + typ + "\"" + extra + "}\n\n"
	}
	good := ev("response.created", `,"response":{}`)
	for range doorTokens {
		good += ev("response.output_text.delta", `,"delta":"ab"`)
	}
	good += ev("response.completed", `,"response":{}`)
	for name, c := range map[string]struct {
		body string
		ok   bool
	}{
		"complete":      {good, true},
		"chat chunk":    {good + "data: {\"choices\":[]}\n\n", false},
		"error event":   {good + ev("error", `,"message":"x"`), false},
		"no completion": {strings.TrimSuffix(good, ev("response.completed", `,"response":{}`)), false},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = io.WriteString(w, c.body)
		}))
		tg := newTarget(direct, srv.URL, 0, nil, "")
		tg.addDoors(doors(), "")
		r := tg.doResponsesStream(context.Background(), doors()[2].reqKey(""))
		srv.Close()
		if got := r.complete(doorTokens); got != c.ok {
			t.Errorf("%s: complete = %v (err %v, %d deltas, done %v), want %v", name, got, r.Err, r.Content, r.Done, c.ok)
		}
		if c.ok && r.TTFT <= 0 {
			t.Errorf("%s: no time to first token", name)
		}
	}
}
