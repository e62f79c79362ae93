package main

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/procfs"
)

func ms(v ...int) []time.Duration {
	out := make([]time.Duration, len(v))
	for i, x := range v {
		out[i] = time.Duration(x) * time.Millisecond
	}
	return out
}

func TestPercentileNearestRank(t *testing.T) {
	t.Parallel()
	xs := ms(5, 1, 4, 2, 3, 10, 9, 8, 7, 6) // 1..10 shuffled
	cases := []struct {
		p    float64
		want int
	}{{50, 5}, {90, 9}, {99, 10}, {100, 10}, {10, 1}, {1, 1}, {55, 6}}
	for _, c := range cases {
		if got := percentile(xs, c.p); got != time.Duration(c.want)*time.Millisecond {
			t.Errorf("p%v = %v, want %dms", c.p, got, c.want)
		}
	}
	if xs[0] != 5*time.Millisecond {
		t.Error("percentile sorted its input in place")
	}
	if percentile(nil, 50) != 0 {
		t.Error("empty input should give 0")
	}
	// p99 of 1000 samples is the 990th smallest.
	big := make([]time.Duration, 1000)
	for i := range big {
		big[i] = time.Duration(1000-i) * time.Microsecond
	}
	if got := percentile(big, 99); got != 990*time.Microsecond {
		t.Errorf("p99 of 1..1000 µs = %v, want 990µs", got)
	}
}

func TestPairedDiffs(t *testing.T) {
	t.Parallel()
	routed := ms(10, 12, 30, 11)
	direct := ms(8, 9, 5, 10)
	got := pairedDiffs(routed, direct, []bool{true, true, false, true})
	want := ms(2, 3, 1)
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	// The median of paired differences is not the difference of medians:
	// a shared slow moment cancels within its pair.
	a := ms(1, 2, 100, 3, 4)
	b := ms(0, 1, 99, 2, 3)
	if p := percentile(pairedDiffs(a, b, nil), 50); p != time.Millisecond {
		t.Errorf("median paired diff = %v, want 1ms", p)
	}
	if len(pairedDiffs(ms(1, 2, 3), ms(1), nil)) != 1 {
		t.Error("unequal lengths should pair only the common prefix")
	}
}

func TestSummarize(t *testing.T) {
	t.Parallel()
	s := summarize([]float64{3, 1, 2})
	if s.Med != 2 || s.Min != 1 || s.Max != 3 || s.N != 3 {
		t.Errorf("odd: %+v", s)
	}
	s = summarize([]float64{4, 1, 3, 2, math.NaN()})
	if s.Med != 2.5 || s.N != 4 {
		t.Errorf("even with NaN: %+v", s)
	}
	if s := summarize(nil); !math.IsNaN(s.Med) {
		t.Errorf("empty: %+v", s)
	}
	if got := fmtSpreadUS(spread{Med: 85, Min: 80, Max: 1250, N: 3}); got != "85 µs (80 µs – 1.25 ms)" {
		t.Errorf("fmtSpreadUS = %q", got)
	}
	if !math.IsNaN(ratio(1, 0)) || ratio(3, 2) != 1.5 {
		t.Error("ratio")
	}
}

func TestSearchMaxRate(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name      string
		threshold float64 // probes pass at or below it
		start     float64
		lo, hi    float64 // the answer's acceptable range
	}{
		{"above start", 3300, 500, 3000, 3300},
		{"below start", 130, 500, 118, 130},
		{"nothing passes", 0, 500, 0, 0},
		{"capped", 1e9, 500, 64000, 64000},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			probes := 0
			got := searchMaxRate(func(r float64) bool { probes++; return r <= c.threshold }, c.start, 64000, 0.1, 30)
			if got < c.lo || got > c.hi {
				t.Errorf("searchMaxRate = %v, want in [%v, %v] (%d probes)", got, c.lo, c.hi, probes)
			}
		})
	}
	probes := 0
	searchMaxRate(func(r float64) bool { probes++; return r < 5000 }, 500, 64000, 0.01, 4)
	if probes != 4 {
		t.Errorf("maxProbes 4: made %d probes", probes)
	}
}

func TestProcCPU(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	for pid, stat := range map[string]string{
		"1234": "1234 (my (odd) proc) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 8 0 100 0 0" + strings.Repeat(" 0", 30),
		"99":   "garbage",
	} {
		if err := os.MkdirAll(filepath.Join(root, pid), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, pid, "stat"), []byte(stat), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fs, err := procfs.NewFS(root)
	if err != nil {
		t.Fatal(err)
	}
	got, err := procCPUIn(fs, 1234)
	if err != nil || got != 3*time.Second {
		t.Errorf("procCPU = %v, %v; want 3s", got, err)
	}
	if _, err := procCPUIn(fs, 99); err == nil {
		t.Error("want an error for a malformed line")
	}
}

// TestProcSelf reads this process and machine through the real /proc.
func TestProcSelf(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	if _, err := procCPU(os.Getpid()); err != nil {
		t.Errorf("procCPU: %v", err)
	}
	if rss, err := procRSS(os.Getpid()); err != nil || rss <= 0 {
		t.Errorf("procRSS = %d, %v", rss, err)
	}
	if busy, total, err := machineCPU(); err != nil || total <= 0 || busy > total {
		t.Errorf("machineCPU = %v, %v, %v", busy, total, err)
	}
	if m := readMachine(); m.Cores <= 0 || m.Kernel == "" || !strings.HasSuffix(m.MemTotal, " kB") {
		t.Errorf("readMachine = %+v", m)
	}
	if l := loadAvg(); len(strings.Fields(l)) != 3 {
		t.Errorf("loadAvg = %q", l)
	}
}
