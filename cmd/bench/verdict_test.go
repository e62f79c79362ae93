package main

import "testing"

// A cost target is a ratio to the reference proxy's cost; a reference cost
// at or below zero (noise) leaves the router to cost no more than it.
func TestCostVerdict(t *testing.T) {
	f := func(s spread) string { return "" }
	for _, c := range []struct {
		router, proxy, limit float64
		pass                 bool
	}{
		{65, 100, 0.7, true},
		{70, 100, 0.7, true},
		{75, 100, 0.7, false},
		{100, 100, 1.0, true},
		{101, 100, 1.0, false},
		{-6, -5, 0.7, true},
		{1, -5, 0.7, false},
	} {
		v := costVerdict("x", spread{Med: c.router}, spread{Med: c.proxy}, c.limit, f)
		if v.Pass != c.pass {
			t.Errorf("router %v proxy %v limit %v: pass %v", c.router, c.proxy, c.limit, v.Pass)
		}
	}
}

// The peer never shares a round with the targets: they share n rounds, then
// the peer gets n rounds of its own with direct, every path once per round.
func TestInterleaveKeepsThePeerApart(t *testing.T) {
	b := &bench{order: []string{direct, router, revproxy, portkey}}
	type call struct {
		i          int
		name, peer string
	}
	var calls []call
	if err := b.interleave(t.Context(), 4, func(i int, name, peer string) { calls = append(calls, call{i, name, peer}) }); err != nil {
		t.Fatal(err)
	}
	if len(calls) != 4*3+4*2 {
		t.Fatalf("%d calls", len(calls))
	}
	seen := map[call]int{}
	for k, c := range calls {
		if k < 12 && (c.peer != "" || c.name == portkey) || k >= 12 && (c.peer != portkey || c.name != direct && c.name != portkey) {
			t.Fatalf("call %d: %+v", k, c)
		}
		seen[c]++
	}
	for _, c := range calls {
		if seen[c] != 1 {
			t.Fatalf("%+v measured %d times", c, seen[c])
		}
	}
	if sampleKey(direct, portkey) == direct || sampleKey(router, "") != router {
		t.Fatal("sample keys")
	}
}
