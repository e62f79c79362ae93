package jsonx

import "math"

// layoutCap is how many members a Layout records; an object with more is
// scanned again by PatchLaid (chat requests have about six).
const layoutCap = 16

// Layout records where the top-level members of an object are, taken while
// the object is walked once (for instance while its fields are validated
// and read), so that PatchLaid can change members without scanning the
// object again. The zero Layout records nothing: PatchLaid then scans.
type Layout struct {
	members [layoutCap]laidMember
	n       int32
	closing int32 // the closing brace; 0 until Close
	size    int32 // len of the object recorded, so a layout never splices other bytes
	full    bool  // more members than layoutCap: record nothing
}

type laidMember struct{ keyStart, keyEnd, valStart, valEnd int32 } // keyEnd: the closing quote

// Add records m, a member of obj met by an iterator over obj.
func (l *Layout) Add(obj []byte, m *Member) {
	if l.full || l.closing != 0 {
		return
	}
	if int(l.n) == layoutCap || len(obj) > math.MaxInt32 {
		l.full = true
		return
	}
	l.members[l.n] = laidMember{int32(m.KeyStart), int32(m.KeyStart + 1 + len(m.key)), int32(m.ValStart), int32(m.ValEnd)}
	l.n++
}

// Close ends the recording once the iterator over obj has stopped: the
// layout is complete when the iterator met no error and only space follows
// the object's closing brace.
func (l *Layout) Close(obj []byte, it *Iter) {
	if !l.full && it.err == nil && it.done && it.End > 0 && it.End <= math.MaxInt32 && SkipSpace(obj, it.End+1) == len(obj) {
		l.closing, l.size = int32(it.End), int32(len(obj))
	}
}

// Complete reports whether the layout holds every member of its object.
func (l *Layout) Complete() bool { return l.closing != 0 }

// member returns the i-th recorded member of obj.
func (l *Layout) member(obj []byte, i int) Member {
	lm := l.members[i]
	return Member{KeyStart: int(lm.keyStart), ValStart: int(lm.valStart), ValEnd: int(lm.valEnd), key: obj[lm.keyStart+1 : lm.keyEnd]}
}

// PatchLaid is Patch for an object whose members l recorded: it changes
// the same members the same way without scanning obj again. With an
// incomplete layout (the zero Layout, or an object of many members), or one
// recorded for bytes of another length, it is Patch.
func PatchLaid(dst, obj []byte, l *Layout, ops []Op) ([]byte, error) {
	if l == nil || !l.Complete() || int(l.size) != len(obj) {
		return Patch(dst, obj, ops) // no layout, or one of other bytes
	}
	return patch(dst, obj, ops, l)
}

func (l *Layout) closingBrace() int32 {
	if l == nil {
		return 0
	}
	return l.closing
}
