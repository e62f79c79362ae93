package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"
)

// Measuring the front doors: one request of a door's path (a JSON answer,
// or a Responses event stream), and the interleaved rounds of frontDoors.

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

// bodyPool holds the buffers JSON answers are read into.
var bodyPool = sync.Pool{New: func() any { return bytes.NewBuffer(make([]byte, 0, 32<<10)) }}

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
