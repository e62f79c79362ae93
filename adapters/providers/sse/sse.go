// Package sse reads Server-Sent Events as the provider adapters receive them
// from upstream LLM APIs.
//
// It follows the WHATWG event-stream format: lines end with LF, CRLF or a
// lone CR; lines starting with a colon are comments; "data" lines of one
// event are joined with LF; "event" names the event; a blank line dispatches
// it. Unlike bufio.Scanner it has no 64 KiB line limit: its buffer grows up
// to a configurable maximum (4 MiB by default, DefaultMaxLine), so multi-MiB
// events (large tool arguments, base64 images) are read whole, while one
// oversized event from a faulty upstream costs a bounded amount of memory.
//
// A stream that ends in the middle of an event — after a field line but
// before the blank line that dispatches it, or inside a line — is reported
// as ErrTruncated, never as a clean io.EOF, because a cut upstream
// connection must not look like a finished answer.
package sse

import (
	"bytes"
	"errors"
	"io"
)

// ErrTruncated reports a stream that ended in the middle of an event.
var ErrTruncated = errors.New("sse: stream ended in the middle of an event")

// ErrTooLong reports a line or an event's data longer than the reader's
// maximum.
var ErrTooLong = errors.New("sse: line or event too long")

// Default sizes of a Reader's buffer.
const (
	DefaultInitialSize = 1 << 10 // grows on demand (doubling); small keeps memory per open stream low: token deltas are a few hundred bytes
	// DefaultMaxLine bounds a line and an event's data. Real provider
	// events are token deltas of a few hundred bytes; the largest are whole
	// tool-call arguments or an inline base64 image (a 1024×1024 PNG is
	// 1.5–3 MiB as base64), so 4 MiB leaves headroom while bounding a
	// stream's buffers (line buffer + event data) to about 8 MiB.
	DefaultMaxLine = 4 << 20
)

// Event is one dispatched event.
type Event struct {
	// Type is the event's "event" field; empty means the default
	// "message".
	Type string
	// Data is the event's data, lines joined with LF. It is only valid
	// until the next call to Next.
	Data []byte
	// ID is the last event ID seen on the stream.
	ID string
}

// Reader reads events from a stream.
type Reader struct {
	r       io.Reader
	buf     []byte
	start   int // buf[start:end] is unread
	end     int
	max     int
	err     error // sticky read error
	skipLF  bool  // the last line ended with CR: drop a following LF
	bomDone bool

	data    []byte
	hasData bool
	typ     string
	id      string
	pending bool // a field line of an undispatched event was read
	names   map[string]string
}

// NewReader returns a Reader with the default sizes.
func NewReader(r io.Reader) *Reader { return NewReaderSize(r, DefaultInitialSize, DefaultMaxLine) }

// NewReaderSize returns a Reader whose buffer starts at initial bytes and
// grows up to max bytes (the longest line, and the most data of one event,
// it accepts).
func NewReaderSize(r io.Reader, initial, max int) *Reader {
	if initial < 16 {
		initial = 16
	}
	if max < initial {
		max = initial
	}
	return &Reader{r: r, buf: make([]byte, initial), max: max}
}

// Next returns the next event. At the end of the stream it returns io.EOF if
// the stream ended between events, ErrTruncated if it ended inside one, and
// otherwise the underlying reader's error.
func (r *Reader) Next() (Event, error) {
	r.data = r.data[:0]
	for {
		line, err := r.readLine()
		if err != nil {
			if err == io.EOF && r.pending {
				err = ErrTruncated
			}
			return Event{}, err
		}
		if len(line) == 0 {
			if !r.hasData {
				// An event with no data is not dispatched.
				r.typ, r.pending = "", false
				continue
			}
			ev := Event{Type: r.typ, Data: r.data, ID: r.id}
			r.typ, r.hasData, r.pending = "", false, false
			return ev, nil
		}
		if line[0] == ':' {
			continue // comment
		}
		r.pending = true
		field, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			if len(value) > 0 && value[0] == ' ' {
				value = value[1:]
			}
		}
		switch string(field) {
		case "data":
			if len(r.data)+len(value) >= r.max {
				return Event{}, ErrTooLong
			}
			if r.hasData {
				r.data = append(r.data, '\n')
			}
			r.data = append(r.data, value...)
			r.hasData = true
		case "event":
			r.typ = r.intern(value)
		case "id":
			if bytes.IndexByte(value, 0) < 0 {
				r.id = r.intern(value)
			}
		}
		// "retry" and unknown fields are ignored.
	}
}

// HasEvent reports whether the buffer already holds a whole event with data
// (a "data" field before a blank line), so that the next call to Next will
// not wait for the network. Writers use it to coalesce flushes. It may say
// false when an event is in fact ready (a safe answer).
func (r *Reader) HasEvent() bool {
	if r.err != nil {
		return true
	}
	unread := r.buf[r.start:r.end]
	i := bytes.Index(unread, []byte("\n\n"))
	if j := bytes.Index(unread, []byte("\r\n\r\n")); j >= 0 && (i < 0 || j < i) {
		i = j
	}
	if i < 0 {
		return false
	}
	return r.hasData || bytes.Contains(unread[:i], []byte("data"))
}

// intern returns value as a string, reusing earlier strings: event names
// repeat on every event.
func (r *Reader) intern(value []byte) string {
	if s, ok := r.names[string(value)]; ok {
		return s
	}
	s := string(value)
	if r.names == nil {
		r.names = make(map[string]string, 8)
	}
	if len(r.names) < 64 {
		r.names[s] = s
	}
	return s
}

var bom = []byte("\xEF\xBB\xBF")

// indexEOL returns the index of the first CR or LF in b, or -1.
func indexEOL(b []byte) int {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return bytes.IndexByte(b, '\r')
	}
	if j := bytes.IndexByte(b[:i], '\r'); j >= 0 {
		return j
	}
	return i
}

// readLine returns the next line without its terminator. The line is valid
// until the next call.
func (r *Reader) readLine() ([]byte, error) {
	scan := r.start // bytes before scan hold no line end
	for {
		if r.skipLF && r.start < r.end {
			if r.buf[r.start] == '\n' {
				r.start++
			}
			r.skipLF = false
			if scan < r.start {
				scan = r.start
			}
		}
		if !r.bomDone {
			// A UTF-8 byte order mark may start the stream.
			avail := r.buf[r.start:r.end]
			switch {
			case len(avail) >= len(bom):
				if bytes.HasPrefix(avail, bom) {
					r.start += len(bom)
					scan = r.start
				}
				r.bomDone = true
			case !bytes.HasPrefix(bom, avail) || r.err != nil:
				r.bomDone = true
			}
		}
		if !r.skipLF && (r.bomDone || r.err != nil) {
			if i := indexEOL(r.buf[scan:r.end]); i >= 0 {
				i += scan
				line := r.buf[r.start:i]
				r.skipLF = r.buf[i] == '\r'
				r.start = i + 1
				return line, nil
			}
			scan = r.end
		}
		if r.err != nil {
			if r.start < r.end {
				// A line without its terminator.
				r.start = r.end
				if r.err == io.EOF {
					return nil, ErrTruncated
				}
			}
			return nil, r.err
		}
		if err := r.fill(&scan); err != nil {
			return nil, err
		}
	}
}

// fill reads more data, compacting or growing the buffer.
func (r *Reader) fill(scan *int) error {
	if r.start > 0 {
		n := copy(r.buf, r.buf[r.start:r.end])
		*scan -= r.start
		r.end = n
		r.start = 0
	}
	if r.end == len(r.buf) {
		if len(r.buf) >= r.max {
			return ErrTooLong
		}
		size := 2 * len(r.buf)
		if size > r.max {
			size = r.max
		}
		nb := make([]byte, size)
		copy(nb, r.buf[:r.end])
		r.buf = nb
	}
	for tries := 0; ; tries++ {
		n, err := r.r.Read(r.buf[r.end:])
		r.end += n
		if err != nil {
			r.err = err
			return nil
		}
		if n > 0 {
			return nil
		}
		if tries == 100 {
			r.err = io.ErrNoProgress
			return nil
		}
	}
}
