package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The new front doors (issue 14): the router's Anthropic Messages,
// Responses and embeddings endpoints, each measured at concurrency 1 like
// section 1, with the same request sent direct to the mock, through the
// reverse proxy and through the router on each kind of route it can take:
// native (the provider speaks the door's format and the body passes
// through), translated (an OpenAI-compatible provider's chat completions
// behind the door), or passthrough (embeddings). The translated and native
// routes of a door run in the same rounds, so their difference, the cost
// of translating, is paired too.

// A door is one endpoint's group of rows.
type door struct {
	key       string // "messages", "responses", "responses-stream", "embeddings"
	label     string // the endpoint as the report names it
	path      string // on the router and on the mock
	stream    bool   // a Responses event stream: time to first token is measured
	tokens    int    // text deltas of a stream
	anthropic bool   // Anthropic headers (x-api-key, anthropic-version)
	want      []byte // a JSON answer must contain this
	headers   map[string]string
	routes    []doorRoute // the router's paths; the first one's model is in the direct body
	body      func(model string) []byte
}

// A doorRoute is one router model and the provider it is routed to.
type doorRoute struct {
	name     string // native, translated, passthrough
	kind     string // the provider's kind
	model    string // the router model
	upstream string // the route's upstream model
	caps     []string
}

// provider is the name of the router provider a route goes through.
func (r doorRoute) provider(d door) string { return "door-" + d.key + "-" + r.name }

// Path names of a door's rows: direct and revproxy, and router plus the
// route ("router native").
func doorPath(route string) string { return router + " " + route }

// paths are the door's rows in order: direct, the router's routes, revproxy.
func (d door) paths() []string {
	p := []string{direct}
	for _, r := range d.routes {
		p = append(p, doorPath(r.name))
	}
	return append(p, revproxy)
}

// reqKey is the target's prepared request of the door (and, on the
// router, of one of its routes).
func (d door) reqKey(route string) string {
	if route == "" {
		return "door:" + d.key
	}
	return "door:" + d.key + ":" + route
}

// doorTokens is the text deltas of a door stream, paced 1 ms apart.
const doorTokens = 5

func doors() []door {
	json0 := map[string]string{"X-Mock-Latency": "0ms"}
	stream := map[string]string{"X-Mock-Tokens": strconv.Itoa(doorTokens), "X-Mock-TPS": "1000"}
	messages := func(model string) []byte {
		return fmt.Appendf(nil, `{"model":%q,"max_tokens":256,"system":"You are a concise assistant.","messages":[{"role":"user","content":"Say hello in one short sentence."}]}`, model)
	}
	// store:false: the router would otherwise keep every response in
	// PostgreSQL on both routes, a cost of its own and not the door's.
	responses := func(streamed bool) func(string) []byte {
		s := ""
		if streamed {
			s = `,"stream":true`
		}
		return func(model string) []byte {
			return fmt.Appendf(nil, `{"model":%q,"instructions":"You are a concise assistant.","input":"Say hello in one short sentence.","max_output_tokens":256,"store":false%s}`, model, s)
		}
	}
	embeddings := func(model string) []byte {
		return fmt.Appendf(nil, `{"model":%q,"input":"Say hello in one short sentence."}`, model)
	}
	return []door{
		{key: "messages", label: "Anthropic Messages", path: "/v1/messages", anthropic: true, want: []byte(`"type":"message"`), headers: json0, body: messages,
			routes: []doorRoute{
				{name: "native", kind: "anthropic", model: "bench-msg-native", upstream: "mock-claude"},
				{name: "translated", kind: "openai_compatible", model: "bench-msg-translated", upstream: "mock-gpt"},
			}},
		{key: "responses", label: "Responses", path: "/v1/responses", want: []byte(`"object":"response"`), headers: json0, body: responses(false),
			routes: []doorRoute{
				{name: "native", kind: "openai", model: "bench-resp-native", upstream: "mock-gpt"},
				{name: "translated", kind: "openai_compatible", model: "bench-resp-translated", upstream: "mock-gpt"},
			}},
		{key: "responses-stream", label: "Responses, streamed (time to first token)", path: "/v1/responses", stream: true, tokens: doorTokens, headers: stream, body: responses(true),
			routes: []doorRoute{
				{name: "native", kind: "openai", model: "bench-rstream-native", upstream: "mock-gpt"},
				{name: "translated", kind: "openai_compatible", model: "bench-rstream-translated", upstream: "mock-gpt"},
			}},
		{key: "embeddings", label: "Embeddings", path: "/v1/embeddings", want: []byte(`"object":"list"`), headers: json0, body: embeddings,
			routes: []doorRoute{
				{name: "passthrough", kind: "openai_compatible", model: "bench-embed", upstream: "mock-embed", caps: []string{"embeddings"}},
			}},
	}
}

// addDoors prepares the doors' requests on t: one per door on direct and
// revproxy (the X-Mock-* headers sent by the client, the first route's
// model), one per route on the router (its client key, the route's model).
func (t *target) addDoors(ds []door, clientKey string) {
	for _, d := range ds {
		hdr := func(key string) http.Header {
			h := http.Header{}
			h.Set("Content-Type", "application/json")
			if d.stream {
				h.Set("Accept", "text/event-stream")
			}
			if d.anthropic {
				h.Set("X-Api-Key", key)
				h.Set("Anthropic-Version", "2023-06-01")
			} else {
				h.Set("Authorization", "Bearer "+key)
			}
			return h
		}
		if t.name == router {
			for _, r := range d.routes {
				t.reqs[d.reqKey(r.name)] = prepared{url: t.base + d.path, header: hdr(clientKey), body: d.body(r.model), tokens: d.tokens}
			}
			continue
		}
		h := hdr("sk-bench-direct-0000000000000000000000000000")
		for k, v := range d.headers {
			h.Set(k, v)
		}
		t.reqs[d.reqKey("")] = prepared{url: t.base + d.path, header: h, body: d.body(d.routes[0].model), tokens: d.tokens}
	}
}

// configureDoors creates, through the admin API, every door route's
// provider (pointing at the mock, the door's X-Mock-* headers as its
// extra headers), a key, and its model with one route.
func configureDoors(ctx context.Context, a admin, mockURL string, ds []door) error {
	for _, d := range ds {
		for _, r := range d.routes {
			base := mockURL + "/v1"
			if r.kind == "anthropic" {
				base = mockURL // the adapter calls {base}/v1/messages
			}
			prov := r.provider(d)
			if err := a.call(ctx, "POST", "/providers", map[string]any{
				"name": prov, "kind": r.kind, "base_url": base, "headers": d.headers,
			}, nil, http.StatusCreated); err != nil {
				return err
			}
			if err := a.call(ctx, "POST", "/providers/"+prov+"/keys", map[string]any{"secret": "sk-bench-" + randomHex(12), "name": "k1"}, nil, http.StatusCreated); err != nil {
				return err
			}
			m := map[string]any{"name": r.model}
			if r.caps != nil {
				m["capabilities"] = r.caps
			}
			if err := a.call(ctx, "POST", "/models", m, nil, http.StatusCreated); err != nil {
				return err
			}
			if err := a.call(ctx, "POST", "/models/"+r.model+"/routes", map[string]any{"provider": prov, "upstream_model": r.upstream}, nil, http.StatusCreated); err != nil {
				return err
			}
		}
	}
	return nil
}

// doorJSON sends one non-streaming door request and checks the answer is
// a 200 holding want.
func (t *target) doorJSON(ctx context.Context, key string, want []byte) error {
	resp, _, err := t.send(ctx, key)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	buf := bodyPool.Get().(*bytes.Buffer)
	defer func() { buf.Reset(); bodyPool.Put(buf) }()
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return err
	}
	if buf.Len() == 0 {
		return errEmpty
	}
	if !bytes.Contains(buf.Bytes(), want) {
		return fmt.Errorf("the answer holds no %s: %.200s", want, buf.Bytes())
	}
	return nil
}

// respEvent is what a Responses stream event means to the harness.
type respEvent int

const (
	evOther  respEvent = iota
	evDelta            // response.output_text.delta with non-empty text
	evDone             // response.completed
	evFailed           // error, response.failed, response.incomplete
	evBad              // not a JSON object with a type
)

// classifyResponsesEvent reads the payload of one Responses stream event.
func classifyResponsesEvent(p []byte) respEvent {
	var ev struct {
		Type  string `json:"type"`
		Delta string `json:"delta"`
	}
	if err := json.Unmarshal(p, &ev); err != nil || ev.Type == "" {
		return evBad
	}
	switch ev.Type {
	case "response.output_text.delta":
		if ev.Delta != "" {
			return evDelta
		}
	case "response.completed":
		return evDone
	case "error", "response.failed", "response.incomplete":
		return evFailed
	}
	return evOther
}

// doResponsesStream sends one streaming Responses request and counts its
// events: Content is the text deltas, Done a response.completed, TTFT the
// time to the first delta.
func (t *target) doResponsesStream(ctx context.Context, key string) streamResult {
	var r streamResult
	start := time.Now()
	resp := t.openSSE(ctx, key, &r)
	if resp == nil {
		return r
	}
	defer resp.Body.Close()
	var bad error
	r.Err = readSSE(resp.Body, func(payload []byte) {
		now := time.Now()
		r.Frames++
		switch classifyResponsesEvent(payload) {
		case evDelta:
			r.Content++
			if r.Content == 1 {
				r.TTFT = now.Sub(start)
			}
		case evDone:
			r.Done = true
		case evFailed, evBad:
			if bad == nil {
				bad = fmt.Errorf("event %.200s", payload)
			}
		}
	})
	if r.Err == nil {
		r.Err = bad
	}
	return r
}

// doorCall sends one request of a door's path and returns its latency
// (for a stream, the time to first token) and whether it failed.
func (b *bench) doorCall(ctx context.Context, d door, path string) (time.Duration, error) {
	t, key := b.targets[path], d.reqKey("")
	if path != direct && path != revproxy {
		t = b.targets[router]
		key = d.reqKey(path[len(router)+1:])
	}
	if d.stream {
		r := t.doResponsesStream(ctx, key)
		if !r.complete(d.tokens) {
			err := r.Err
			if err == nil {
				err = fmt.Errorf("incomplete stream: %d/%d text deltas, response.completed %v", r.Content, d.tokens, r.Done)
			}
			return r.TTFT, err
		}
		return r.TTFT, nil
	}
	t0 := time.Now()
	err := t.doorJSON(ctx, key, d.want)
	return time.Since(t0), err
}

// doorRep is one repetition of one door.
type doorRep struct {
	N                  int // rounds where every path succeeded
	Errors             map[string]int
	ErrSample          string
	P50, P99           map[string]time.Duration // latency, or time to first token
	AddedP50, AddedP99 map[string]time.Duration // paired p50 of path − direct; p99 − p99(direct)
	// Translation cost: translated − native, paired p50 and p99 − p99;
	// HasTrans when the door has both routes.
	TransP50, TransP99 time.Duration
	HasTrans           bool
}

// summarizeDoor computes a repetition's figures from per-path samples of
// the same rounds (lat[path][i]) and the rounds where all paths
// succeeded (ok).
func summarizeDoor(paths []string, lat map[string][]time.Duration, ok []bool) doorRep {
	dr := doorRep{Errors: map[string]int{}, P50: map[string]time.Duration{}, P99: map[string]time.Duration{},
		AddedP50: map[string]time.Duration{}, AddedP99: map[string]time.Duration{}}
	sel := func(name string) []time.Duration {
		var out []time.Duration
		for i, d := range lat[name] {
			if i < len(ok) && ok[i] {
				out = append(out, d)
			}
		}
		return out
	}
	for _, v := range ok {
		if v {
			dr.N++
		}
	}
	if dr.N == 0 {
		return dr
	}
	for _, name := range paths {
		dr.P50[name] = percentile(sel(name), 50)
		dr.P99[name] = percentile(sel(name), 99)
		if name != direct {
			dr.AddedP50[name] = percentile(pairedDiffs(lat[name], lat[direct], ok), 50)
			dr.AddedP99[name] = dr.P99[name] - dr.P99[direct]
		}
	}
	nat, tr := doorPath("native"), doorPath("translated")
	if _, ok1 := lat[nat]; ok1 {
		if _, ok2 := lat[tr]; ok2 {
			dr.HasTrans = true
			dr.TransP50 = percentile(pairedDiffs(lat[tr], lat[nat], ok), 50)
			dr.TransP99 = dr.P99[tr] - dr.P99[nat]
		}
	}
	return dr
}

// rotate is names in the i-th order of rotations (names unchanged when
// there is no rotation for their count).
func rotate(names []string, i int) []string {
	rs, ok := rotations[len(names)]
	if !ok {
		return names
	}
	r := rs[i%len(rs)]
	out := make([]string, len(r))
	for j, k := range r {
		out[j] = names[k]
	}
	return out
}

// frontDoors measures every door at concurrency 1: per repetition and
// door, doorRequests interleaved rounds, each sending the door's request
// once on every path in rotating order.
func (b *bench) frontDoors(ctx context.Context) error {
	if b.router == nil {
		b.rep.DoorsNote = "not measured (no router)"
		return nil
	}
	n := b.cfg.doorRequests
	for range b.cfg.reps {
		for _, d := range b.doors {
			paths := d.paths()
			for i := range 10 { // warm-up
				for _, p := range rotate(paths, i) {
					_, _ = b.doorCall(ctx, d, p)
				}
			}
			lat := map[string][]time.Duration{}
			for _, p := range paths {
				lat[p] = make([]time.Duration, n)
			}
			ok := make([]bool, n)
			errs := map[string]int{}
			sample := ""
			for i := range n {
				ok[i] = true
				for _, p := range rotate(paths, i) {
					dur, err := b.doorCall(ctx, d, p)
					lat[p][i] = dur
					if err != nil {
						ok[i] = false
						errs[p]++
						if sample == "" {
							sample = p + ": " + err.Error()
						}
					}
				}
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			dr := summarizeDoor(paths, lat, ok)
			dr.Errors, dr.ErrSample = errs, sample
			b.rep.Doors[d.key] = append(b.rep.Doors[d.key], dr)
		}
	}
	return nil
}

// doorsProblems lists the doors a smoke run found broken: one without a
// round where every path succeeded.
func (r *report) doorsProblems(ds []door) []string {
	if r.DoorsNote != "" {
		return nil
	}
	var p []string
	for _, d := range ds {
		reps := r.Doors[d.key]
		if len(reps) == 0 || reps[0].N == 0 {
			msg := "front door " + d.key + ": no round succeeded on every path"
			if len(reps) > 0 && reps[0].ErrSample != "" {
				msg += " (" + reps[0].ErrSample + ")"
			}
			p = append(p, msg)
		}
	}
	return p
}

// bodyPool holds the buffers JSON answers are read into.
var bodyPool = sync.Pool{New: func() any { return bytes.NewBuffer(make([]byte, 0, 32<<10)) }}

// upstreamCall is what a door's path sends to the mock, for the report.
func (d door) upstreamCall(path string) string {
	for _, r := range d.routes {
		if path != doorPath(r.name) {
			continue
		}
		up := d.path
		if r.name == "translated" {
			up = "/v1/chat/completions"
		}
		return fmt.Sprintf("%s provider, `%s`", r.kind, up)
	}
	return "`" + d.path + "`"
}

func (r *report) doorSpread(key, path string, f func(doorRep) map[string]time.Duration) spread {
	var ds []time.Duration
	for _, dr := range r.Doors[key] {
		if v, ok := f(dr)[path]; ok {
			ds = append(ds, v)
		}
	}
	return durSpread(ds)
}

func (r *report) transSpread(key string, f func(doorRep) time.Duration) spread {
	var ds []time.Duration
	for _, dr := range r.Doors[key] {
		if dr.HasTrans {
			ds = append(ds, f(dr))
		}
	}
	return durSpread(ds)
}

// doorsMarkdown writes the new front doors' section.
func (r *report) doorsMarkdown(w func(string, ...any), ds []door) {
	w("\n## 6. New front doors\n\n")
	if r.DoorsNote != "" {
		w("%s.\n", capitalize(r.DoorsNote))
		return
	}
	w("The router's other endpoints at concurrency 1, measured like section 1: per repetition and endpoint, %d interleaved rounds, each sending the endpoint's request once on every path in rotating order, 0 ms mock. ", r.cfg.doorRequests)
	w("**direct** and **revproxy** send the request in the endpoint's own format to the mock's same endpoint; the router takes it on a **native** route (a provider of the endpoint's format: the body passes through), a **translated** one (an `openai_compatible` provider: the router turns the request into a chat completion and the answer back), or, for embeddings, a **passthrough** one. ")
	w("Added p50 is the median of the paired differences (path − direct of the same round), added p99 is p99(path) − p99(direct); for streams (%d text deltas 1 ms apart) the figures are the time to the first `response.output_text.delta`, and a stream counts only with all its deltas and `response.completed`. ", doorTokens)
	w("Responses requests send `store: false` (stored responses would add a PostgreSQL write on every route). The peer is not measured here.\n\n")
	w("| Endpoint | Path | Upstream call | p50 | p99 | Added p50 (paired) | Added p99 | Added p50 ÷ revproxy's | Errors |\n|---|---|---|---|---|---|---|---|---|\n")
	var errSamples []string
	for _, d := range ds {
		key := d.key
		proxy := r.doorSpread(key, revproxy, func(dr doorRep) map[string]time.Duration { return dr.AddedP50 })
		for _, path := range d.paths() {
			p50 := r.doorSpread(key, path, func(dr doorRep) map[string]time.Duration { return dr.P50 })
			p99 := r.doorSpread(key, path, func(dr doorRep) map[string]time.Duration { return dr.P99 })
			a50, a99, rt := "—", "—", "—"
			if path != direct {
				s50 := r.doorSpread(key, path, func(dr doorRep) map[string]time.Duration { return dr.AddedP50 })
				a50 = fmtSpreadUS(s50)
				a99 = fmtSpreadUS(r.doorSpread(key, path, func(dr doorRep) map[string]time.Duration { return dr.AddedP99 }))
				if path != revproxy {
					if v := ratio(s50.Med, proxy.Med); !math.IsNaN(v) {
						rt = fmt.Sprintf("%.2f×", v)
					}
				}
			}
			errs := 0
			for _, dr := range r.Doors[key] {
				errs += dr.Errors[path]
			}
			w("| %s | %s | %s | %s | %s | %s | %s | %s | %d |\n", d.label, path, d.upstreamCall(path), fmtSpreadUS(p50), fmtSpreadUS(p99), a50, a99, rt, errs)
		}
		for _, dr := range r.Doors[key] {
			if dr.ErrSample != "" {
				errSamples = append(errSamples, key+", "+dr.ErrSample)
				break
			}
		}
	}
	w("\n**Translation cost** (translated − native route, same rounds): p50 is the median of the paired differences, p99 is p99(translated) − p99(native).\n\n")
	w("| Endpoint | Added p50, native | Added p50, translated | Translation cost p50 (paired) | Translation cost p99 |\n|---|---|---|---|---|\n")
	for _, d := range ds {
		if _, ok := d.routeNamed("translated"); !ok {
			continue
		}
		nat := r.doorSpread(d.key, doorPath("native"), func(dr doorRep) map[string]time.Duration { return dr.AddedP50 })
		tr := r.doorSpread(d.key, doorPath("translated"), func(dr doorRep) map[string]time.Duration { return dr.AddedP50 })
		c50 := r.transSpread(d.key, func(dr doorRep) time.Duration { return dr.TransP50 })
		c99 := r.transSpread(d.key, func(dr doorRep) time.Duration { return dr.TransP99 })
		w("| %s | %s | %s | **%s** | %s |\n", d.label, fmtSpreadUS(nat), fmtSpreadUS(tr), fmtSpreadUS(c50), fmtSpreadUS(c99))
	}
	for _, s := range errSamples {
		w("\n- first error: `%s`", clip(s))
	}
	if len(errSamples) > 0 {
		w("\n")
	}
}

// routeNamed returns the door's route named name.
func (d door) routeNamed(name string) (doorRoute, bool) {
	for _, r := range d.routes {
		if r.name == name {
			return r, true
		}
	}
	return doorRoute{}, false
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
