package main

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
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

// routeNamed returns the door's route named name.
func (d door) routeNamed(name string) (doorRoute, bool) {
	for _, r := range d.routes {
		if r.name == name {
			return r, true
		}
	}
	return doorRoute{}, false
}
