package main

import (
	"fmt"

	"time"
)

// report holds everything a run measured.
type report struct {
	cfg                   config
	Started, Finished     time.Time
	Machine               machine
	GoToolchain, Commit   string
	LoadBefore, LoadAfter string
	OtherCPU, OurCPU      float64 // cores, averaged over the run
	SectionTimes          []sectionTime

	IdleRSS, IdleRSSAfter map[string]int64 // by process name

	Pairs     []pairsRep
	Open      map[openKey][]openRes // index: repetition
	Search    map[string][]searchRes
	TTFT      []ttftRep
	Trunc     map[string]map[string]*truncCount // level → target
	Mem       map[string][]memRes
	MemWarm   map[string]memRes
	MockProcs int
	Doors     map[string][]doorRep // by door key; index: repetition
	DoorsNote string               // why the doors were not measured

	Profile, ProfileNote string
	Targets              []string // measured paths, direct first, the peer last
	PortkeyNote          string   // how the peer ran, or why it did not
}

type sectionTime struct {
	Name     string
	Took     time.Duration
	OtherCPU float64 // cores used by other processes meanwhile
}

type pairsRep struct {
	N                  int // triplets where all three requests succeeded
	Errors             map[string]int
	ErrSample          string
	P50, P99           map[string]time.Duration
	AddedP50, AddedP99 map[string]time.Duration
}

type openKey struct {
	sc     string
	rate   float64
	target string
}

type openRes struct {
	N, OK     int
	P50, P99  time.Duration
	CPUus     float64 // CPU of the serving process per request
	PGCPUus   float64 // CPU of the router's PostgreSQL backends per request
	MockCPUus float64
	MockReqs  uint64
	MockCPU   float64 // seconds
	Lag       loopStats
	Aborted   bool
	Err       string
}

type searchRes struct {
	Rate           float64 // highest passing rate, 0 if none
	P99            time.Duration
	CPUus, PGCPUus float64 // at that rate
	Probes         []probeRes
}

type probeRes struct {
	Rate           float64
	Pass, Aborted  bool
	P99            time.Duration
	Errors         int
	CPUus, PGCPUus float64
}

type ttftRep struct {
	TTFTP50, AddedTTFT  map[string]time.Duration
	GapP99, AddedGapP99 map[string]time.Duration
}

type truncCount struct {
	Streams, Complete, Failed, Truncated int
	Sample                               string
}

func (c *truncCount) add(r *streamResult, tokens int) {
	c.Streams++
	switch {
	case r.complete(tokens):
		c.Complete++
	case r.truncated(tokens):
		c.Truncated++
		if c.Sample == "" {
			c.Sample = fmt.Sprintf("%d/%d content frames, [DONE] %v, err %v", r.Content, tokens, r.Done, r.Err)
		}
	default:
		c.Failed++
		if c.Sample == "" && r.Err != nil {
			c.Sample = r.Err.Error()
		}
	}
}

func (c *truncCount) merge(o truncCount) {
	c.Streams += o.Streams
	c.Complete += o.Complete
	c.Failed += o.Failed
	c.Truncated += o.Truncated
	if c.Sample == "" {
		c.Sample = o.Sample
	}
}

type memRes struct {
	Idle           int64 // RSS bytes of the fresh process before the round
	Before, During int64 // RSS bytes
	Open           int   // streams open when During was sampled
	PerStream      float64
}

func newReport(c config) *report {
	return &report{
		cfg:     c,
		Machine: readMachine(),
		Open:    map[openKey][]openRes{},
		Search:  map[string][]searchRes{},
		Trunc:   map[string]map[string]*truncCount{},
		Mem:     map[string][]memRes{},
		MemWarm: map[string]memRes{},
		Doors:   map[string][]doorRep{},
	}
}

func (r *report) addOpen(k openKey, rep int, v openRes) {
	s := r.Open[k]
	for len(s) <= rep {
		s = append(s, openRes{})
	}
	s[rep] = v
	r.Open[k] = s
}

func (r *report) addTrunc(level, target string, c truncCount) {
	m := r.Trunc[level]
	if m == nil {
		m = map[string]*truncCount{}
		r.Trunc[level] = m
	}
	if m[target] == nil {
		m[target] = &truncCount{}
	}
	m[target].merge(c)
}

// --- derived figures ---

func (r *report) pairsSpread(target string, f func(pairsRep) map[string]time.Duration) spread {
	var ds []time.Duration
	for _, p := range r.Pairs {
		if v, ok := f(p)[target]; ok {
			ds = append(ds, v)
		}
	}
	return durSpread(ds)
}

func (r *report) ttftSpread(target string, f func(ttftRep) map[string]time.Duration) spread {
	var ds []time.Duration
	for _, p := range r.TTFT {
		if v, ok := f(p)[target]; ok {
			ds = append(ds, v)
		}
	}
	return durSpread(ds)
}

// openAdded is, per repetition, target minus direct at the same rate and
// scenario, for the percentile pick selects.
func (r *report) openAdded(sc string, rate float64, target string, pick func(openRes) time.Duration) spread {
	t, d := r.Open[openKey{sc, rate, target}], r.Open[openKey{sc, rate, direct}]
	var ds []time.Duration
	for i := range min(len(t), len(d)) {
		if t[i].OK > 0 && d[i].OK > 0 {
			ds = append(ds, pick(t[i])-pick(d[i]))
		}
	}
	return durSpread(ds)
}

func (r *report) openSpread(sc string, rate float64, target string, f func(openRes) float64) spread {
	var xs []float64
	for _, v := range r.Open[openKey{sc, rate, target}] {
		xs = append(xs, f(v))
	}
	return summarize(xs)
}

func (r *report) searchSpread(target string, f func(searchRes) float64) spread {
	var xs []float64
	for _, s := range r.Search[target] {
		xs = append(xs, f(s))
	}
	return summarize(xs)
}

func (r *report) memSpread(target string) spread {
	var xs []float64
	for _, m := range r.Mem[target] {
		if m.Open > 0 {
			xs = append(xs, m.PerStream/1024)
		}
	}
	return summarize(xs)
}

func (r *report) truncTotal(target string) (streams, bad int) {
	for _, m := range r.Trunc {
		if c := m[target]; c != nil {
			streams += c.Streams
			bad += c.Truncated + c.Failed
		}
	}
	return
}

// --- Markdown ---
