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
