package routing

// Key choice within a provider: the key of a route's visit in a plan, and
// the smooth weighted sequence of a provider's keys. Split from plan.go,
// which orders the routes.

import (
	"math"
	"sync/atomic"
)

// keyFor returns the key of a route's visit-th appearance in a plan (0-based).
func (p *provider) keyFor(now int64, visit int, first **Key) *Key {
	if p.keyless != nil {
		return p.keyless
	}
	if visit == 0 || *first == nil {
		k := p.pickKey(now)
		*first = k
		return k
	}
	cnt, pos := 0, -1
	for _, k := range p.keys {
		if k.good(now) {
			if k == *first {
				pos = cnt
			}
			cnt++
		}
	}
	if cnt == 0 {
		return *first
	}
	target := (pos + visit) % cnt
	i := 0
	for _, k := range p.keys {
		if k.good(now) {
			if i == target {
				return k
			}
			i++
		}
	}
	return *first
}

// pickKey chooses the first key: the next good key of the smooth WRR
// sequence of the active keys, else of the draining keys, else the candidate
// key available soonest.
func (p *provider) pickKey(now int64) *Key {
	if k := nextGood(p.activeSeq, &p.st.activeTurn, now); k != nil {
		return k
	}
	if k := nextGood(p.drainSeq, &p.st.drainTurn, now); k != nil {
		return k
	}
	var best *Key
	bestAt := int64(math.MaxInt64)
	for _, k := range p.keys {
		if k.candidate(now) {
			if at := k.availableAt(); best == nil || at < bestAt {
				best, bestAt = k, at
			}
		}
	}
	if best == nil {
		best = p.keys[0] // state changed since the route's tier was read
	}
	return best
}

// nextGood takes the next turn of seq and returns the first good key from
// there, consuming the turns of the keys it skips, so that the good keys
// follow the sequence with the others left out: each keeps its weight's
// share among them. It returns nil when no key of seq is good.
func nextGood(seq []*Key, turn *atomic.Uint64, now int64) *Key {
	n := uint64(len(seq))
	if n == 0 {
		return nil
	}
	t := turn.Add(1) - 1
	for i := range n {
		if k := seq[(t+i)%n]; k.good(now) {
			if i > 0 {
				turn.Add(i)
			}
			return k
		}
	}
	return nil
}

// maxSeq bounds a smooth WRR sequence; larger weight sums are scaled down.
const maxSeq = 1024

// smoothSequence returns one cycle of nginx's smooth weighted round robin
// over keys (weights reduced by their GCD, scaled to at most maxSeq picks):
// each key's current weight grows by its weight, the largest is picked and
// lowered by the total.
func smoothSequence(keys []*Key) []*Key {
	if len(keys) == 0 {
		return nil
	}
	ws := make([]int64, len(keys))
	var g, total int64
	for i, k := range keys {
		ws[i] = k.weight
		g = gcd(g, k.weight)
	}
	for i := range ws {
		ws[i] /= g
		total += ws[i]
	}
	if total > maxSeq {
		scaled := int64(0)
		for i := range ws {
			ws[i] = max(ws[i]*maxSeq/total, 1)
			scaled += ws[i]
		}
		total = scaled
	}
	seq := make([]*Key, 0, total)
	cur := make([]int64, len(keys))
	for range total {
		best := 0
		for i := range cur {
			cur[i] += ws[i]
			if cur[i] > cur[best] {
				best = i
			}
		}
		cur[best] -= total
		seq = append(seq, keys[best])
	}
	return seq
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
