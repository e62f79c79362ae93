package jsonx

// Op is one change to an object's top-level member, matched by key under
// case folding (as encoding/json matches keys, so that the router and the
// upstream agree on which member is meant).
type Op struct {
	Key string
	// Delete removes every member with the key.
	Delete bool
	// Value replaces the first member's value (and writes the key as Key);
	// later duplicates are removed. When no member has the key, it is added
	// unless OnlyIfPresent.
	Value []byte
	// Edit, when set, computes the new value from the old one (nil when the
	// member is absent); returning nil keeps the member unchanged.
	Edit          func(old []byte) []byte
	OnlyIfPresent bool
}

type edit struct {
	start, end int
	repl       []byte // written in place of obj[start:end]
	key        string // when set, repl is a member value to write as "key":repl
}

// Patch applies ops to the top-level members of the JSON object obj and
// appends the result to dst. Every byte outside the changed members,
// including whitespace, is copied unchanged.
func Patch(dst, obj []byte, ops []Op) ([]byte, error) { return patch(dst, obj, ops, nil) }

// patch is Patch over the members l recorded, or, with l nil, over the
// members an iterator finds.
func patch(dst, obj []byte, ops []Op, l *Layout) ([]byte, error) {
	var seenArr [8]bool
	seen := seenArr[:0]
	for range ops {
		seen = append(seen, false)
	}
	var editsArr [8]edit
	edits := editsArr[:0]
	var it Iter
	if l == nil {
		it = Object(obj)
	}
	var m Member
	lastKeptEnd := -1 // end of the last member that stays
	for i := 0; ; i++ {
		if l == nil {
			if !it.Next(&m) {
				break
			}
		} else {
			if i == int(l.n) {
				break
			}
			m = l.member(obj, i)
		}
		op := -1
		for k := range ops {
			if m.KeyFold(ops[k].Key) {
				op = k
				break
			}
		}
		if op < 0 {
			lastKeptEnd = m.ValEnd
			continue
		}
		o := &ops[op]
		first := !seen[op]
		seen[op] = true
		var val []byte
		if first && !o.Delete {
			if o.Edit != nil {
				val = o.Edit(m.Value(obj))
				if val == nil {
					lastKeptEnd = m.ValEnd
					continue
				}
			} else {
				val = o.Value
			}
		}
		if val != nil {
			edits = append(edits, edit{start: m.KeyStart, end: m.ValEnd, repl: val, key: o.Key})
			lastKeptEnd = m.ValEnd
			continue
		}
		// Deleted; apply widens the span to take one comma with it.
		edits = append(edits, edit{start: m.KeyStart, end: m.ValEnd})
	}
	closing := int(l.closingBrace())
	if l == nil {
		if err := it.Err(); err != nil {
			return dst, err
		}
		closing = it.End
		if SkipSpace(obj, closing+1) != len(obj) {
			return dst, ErrSyntax
		}
	}
	// Additions go after the last member that stays.
	var adds []edit
	for k := range ops {
		o := &ops[k]
		if seen[k] || o.Delete || o.OnlyIfPresent {
			continue
		}
		val := o.Value
		if o.Edit != nil {
			val = o.Edit(nil)
		}
		if val == nil {
			continue
		}
		adds = append(adds, edit{key: o.Key, repl: val})
	}
	return apply(dst, obj, edits, adds, lastKeptEnd, closing), nil
}

// apply writes obj with edits. Deleted members take a comma with them so the
// result stays valid: a deleted member's span is extended to the next
// member's key, or, for trailing deletions, back to the end of the last
// member that stays.
func apply(dst, obj []byte, edits, adds []edit, lastKeptEnd, closing int) []byte {
	open := SkipSpace(obj, 0) + 1
	// Widen deletions so separators go with them.
	for k := range edits {
		e := &edits[k]
		if e.repl != nil || e.key != "" {
			continue
		}
		if e.end < lastKeptEnd || lastKeptEnd < 0 {
			// A member follows that stays (or nothing stays at all): delete
			// up to the next non-deleted content, i.e. through the comma.
			j := SkipSpace(obj, e.end)
			if j < closing && obj[j] == ',' {
				j = SkipSpace(obj, j+1)
			}
			e.end = j
		} else {
			// Trailing deletion: take the comma before it.
			if e.start > lastKeptEnd {
				e.start = lastKeptEnd
			}
		}
	}
	pos := 0
	insertAt := lastKeptEnd
	if insertAt < 0 {
		insertAt = open
	}
	needComma := lastKeptEnd >= 0
	inserted := false
	writeAdds := func() {
		for _, a := range adds {
			if needComma {
				dst = append(dst, ',')
			}
			dst = AppendString(dst, a.key)
			dst = append(dst, ':')
			dst = append(dst, a.repl...)
			needComma = true
		}
		inserted = true
	}
	for _, e := range edits {
		start := e.start
		if start < pos {
			start = pos // overlapping trailing deletions
		}
		if !inserted && insertAt <= start {
			dst = append(dst, obj[pos:insertAt]...)
			pos = insertAt
			writeAdds()
		}
		if start > pos {
			dst = append(dst, obj[pos:start]...)
		}
		if e.key != "" {
			dst = AppendString(dst, e.key)
			dst = append(dst, ':')
			dst = append(dst, e.repl...)
		}
		if e.end > pos {
			pos = e.end
		}
	}
	if !inserted {
		if insertAt < pos {
			insertAt = pos
		}
		dst = append(dst, obj[pos:insertAt]...)
		pos = insertAt
		writeAdds()
	}
	return append(dst, obj[pos:]...)
}
