package routing

import (
	"math"
	"testing"
)

// expNeg agrees with math.Exp(-x) to a relative 2e-7 from 0 to where both
// reach zero, and keeps its edge values.
func TestExpNeg(t *testing.T) {
	for _, x := range []float64{0, -1, 1e-12, 1e-6, 0.1, 0.5, math.Ln2, 1, 2.5, 10, 37.3, 100, 500, 700, 708} {
		want := math.Exp(-math.Max(x, 0))
		if got := expNeg(x); math.Abs(got-want) > 2e-7*want {
			t.Errorf("expNeg(%v) = %v, want %v", x, got, want)
		}
	}
	for i := 0; i < 100000; i++ {
		x := float64(i) * 0.007
		want := math.Exp(-x)
		if got := expNeg(x); math.Abs(got-want) > 2e-7*want {
			t.Fatalf("expNeg(%v) = %v, want %v", x, got, want)
		}
	}
	if expNeg(709) != 0 || expNeg(math.Inf(1)) != 0 || expNeg(math.NaN()) != 1 {
		t.Error("edge values")
	}
}
