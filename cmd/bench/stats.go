package main

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// percentile returns the p-th percentile (0 < p <= 100) of xs by the
// nearest-rank method: the smallest sample with at least p% of the samples
// at or below it. xs need not be sorted and is not modified; an empty xs
// gives 0.
func percentile(xs []time.Duration, p float64) time.Duration {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return percentileSorted(s, p)
}

// percentileSorted is percentile over an already sorted slice.
func percentileSorted(s []time.Duration, p float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[min(max(rank, 1), len(s))-1]
}

// pairedDiffs returns a[i] − b[i] for the pairs where both samples exist
// (ok[i]); a and b are measured back to back, so the differences cancel
// what the two share (the upstream, the machine's state at that moment).
func pairedDiffs(a, b []time.Duration, ok []bool) []time.Duration {
	n := min(len(a), len(b))
	out := make([]time.Duration, 0, n)
	for i := range n {
		if ok != nil && !ok[i] {
			continue
		}
		out = append(out, a[i]-b[i])
	}
	return out
}

// spread is the median of repeated measurements and their range.
type spread struct {
	Med, Min, Max float64
	N             int
}

// summarize returns the median, minimum and maximum of xs, ignoring NaNs;
// with an even count the median is the mean of the middle two.
func summarize(xs []float64) spread {
	s := make([]float64, 0, len(xs))
	for _, x := range xs {
		if !math.IsNaN(x) {
			s = append(s, x)
		}
	}
	if len(s) == 0 {
		return spread{Med: math.NaN(), Min: math.NaN(), Max: math.NaN()}
	}
	slices.Sort(s)
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return spread{Med: med, Min: s[0], Max: s[n-1], N: n}
}

// durSpread summarizes durations, in microseconds.
func durSpread(ds []time.Duration) spread {
	xs := make([]float64, len(ds))
	for i, d := range ds {
		xs[i] = us(d)
	}
	return summarize(xs)
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// fmtUS formats microseconds compactly: 85 µs, 1.25 ms, 51.3 ms.
func fmtUS(v float64) string {
	a := math.Abs(v)
	switch {
	case math.IsNaN(v):
		return "n/a"
	case a < 1000:
		return fmt.Sprintf("%.0f µs", v)
	case a < 10000:
		return fmt.Sprintf("%.2f ms", v/1000)
	default:
		return fmt.Sprintf("%.1f ms", v/1000)
	}
}

// fmtSpreadUS formats a spread of microseconds as "median (min – max)"; a
// single repetition shows only its value.
func fmtSpreadUS(s spread) string {
	if s.N <= 1 {
		return fmtUS(s.Med)
	}
	return fmt.Sprintf("%s (%s – %s)", fmtUS(s.Med), fmtUS(s.Min), fmtUS(s.Max))
}

// fmtSpread formats a spread with a printf verb and a unit.
func fmtSpread(s spread, verb, unit string) string {
	if math.IsNaN(s.Med) {
		return "n/a"
	}
	if s.N <= 1 {
		return fmt.Sprintf(verb+"%s", s.Med, unit)
	}
	return fmt.Sprintf(verb+"%s ("+verb+" – "+verb+")", s.Med, unit, s.Min, s.Max)
}

// ratio is a/b, or NaN when b is not positive (a ratio to a cost that was
// not measurably above zero means nothing).
func ratio(a, b float64) float64 {
	if !(b > 0) || math.IsNaN(a) {
		return math.NaN()
	}
	return a / b
}
