package sse

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

type ev struct{ typ, data, id string }

func readAll(r *Reader) ([]ev, error) {
	var out []ev
	for {
		e, err := r.Next()
		if err != nil {
			return out, err
		}
		out = append(out, ev{e.Type, string(e.Data), e.ID})
	}
}

func TestReader(t *testing.T) {
	cases := []struct {
		name, in string
		want     []ev
		err      error
	}{
		{"lf", "data: a\n\ndata: b\n\n", []ev{{"", "a", ""}, {"", "b", ""}}, io.EOF},
		{"crlf", "data: a\r\n\r\ndata: b\r\n\r\n", []ev{{"", "a", ""}, {"", "b", ""}}, io.EOF},
		{"cr", "data: a\r\rdata: b\r\r", []ev{{"", "a", ""}, {"", "b", ""}}, io.EOF},
		{"mixed", "data: a\r\n\ndata: b\r\r\n", []ev{{"", "a", ""}, {"", "b", ""}}, io.EOF},
		{"multiline", "data: a\ndata:b\ndata:  c\n\n", []ev{{"", "a\nb\n c", ""}}, io.EOF},
		{"comments", ": ping\n\n:\ndata: x\n: mid\n\n", []ev{{"", "x", ""}}, io.EOF},
		{"event names", "event: message_start\ndata: {}\n\nevent: ping\ndata: {\"type\":\"ping\"}\n\n", []ev{{"message_start", "{}", ""}, {"ping", `{"type":"ping"}`, ""}}, io.EOF},
		{"name reset", "event: x\n\ndata: y\n\n", []ev{{"", "y", ""}}, io.EOF},
		{"id", "id: 7\ndata: a\n\ndata: b\n\n", []ev{{"", "a", "7"}, {"", "b", "7"}}, io.EOF},
		{"empty data", "data\n\ndata:\n\n", []ev{{"", "", ""}, {"", "", ""}}, io.EOF},
		{"bom", "\xEF\xBB\xBFdata: a\n\n", []ev{{"", "a", ""}}, io.EOF},
		{"unknown field", "retry: 10\nfoo: bar\ndata: a\n\n", []ev{{"", "a", ""}}, io.EOF},
		{"no space strip twice", "data:  two\n\n", []ev{{"", " two", ""}}, io.EOF},
		{"empty stream", "", nil, io.EOF},
		{"cut after field", "data: a\n\ndata: {\"partial\":", []ev{{"", "a", ""}}, ErrTruncated},
		{"cut before blank", "data: a\n\ndata: b\n", []ev{{"", "a", ""}}, ErrTruncated},
		{"cut in event line", "data: a\n\nevent: mess", []ev{{"", "a", ""}}, ErrTruncated},
		{"trailing comment ok", "data: a\n\n: bye\n", []ev{{"", "a", ""}}, io.EOF},
		{"done", "data: {\"x\":1}\n\ndata: [DONE]\n\n", []ev{{"", `{"x":1}`, ""}, {"", "[DONE]", ""}}, io.EOF},
	}
	for _, c := range cases {
		for _, mode := range []string{"whole", "onebyte", "half"} {
			var src io.Reader = strings.NewReader(c.in)
			switch mode {
			case "onebyte":
				src = iotest.OneByteReader(src)
			case "half":
				src = iotest.HalfReader(src)
			}
			got, err := readAll(NewReaderSize(src, 16, 1<<20))
			if fmt.Sprint(got) != fmt.Sprint(c.want) || !errors.Is(err, c.err) {
				t.Errorf("%s/%s: got %v, %v; want %v, %v", c.name, mode, got, err, c.want, c.err)
			}
		}
	}
}

func TestReaderLongLines(t *testing.T) {
	big := strings.Repeat("x", 3<<20) // 3 MiB: far past bufio.Scanner's 64 KiB, within DefaultMaxLine
	in := "data: " + big + "\n\ndata: after\n\n"
	got, err := readAll(NewReader(iotest.HalfReader(strings.NewReader(in))))
	if err != io.EOF || len(got) != 2 || got[0].data != big || got[1].data != "after" {
		t.Fatalf("got %d events, err %v", len(got), err)
	}
	_, err = readAll(NewReaderSize(strings.NewReader(in), 1024, 1<<20))
	if !errors.Is(err, ErrTooLong) {
		t.Fatalf("over the limit: %v", err)
	}
	many := strings.Repeat("data: "+strings.Repeat("y", 1000)+"\n", 2000) + "\n"
	_, err = readAll(NewReaderSize(strings.NewReader(many), 1024, 1<<20))
	if !errors.Is(err, ErrTooLong) {
		t.Fatalf("event data over the limit: %v", err)
	}
}

func TestReaderErrors(t *testing.T) {
	boom := errors.New("boom")
	r := NewReader(io.MultiReader(strings.NewReader("data: a\n\ndata: b"), iotest.ErrReader(boom)))
	got, err := readAll(r)
	if len(got) != 1 || err != boom {
		t.Fatalf("got %v %v", got, err)
	}
	if _, err := r.Next(); err != boom {
		t.Fatalf("error not sticky: %v", err)
	}
}

// TestReaderDoesNotWaitAfterCR checks that an event ending in CR is
// dispatched without waiting for a possible LF: a stream must not stall.
func TestReaderDoesNotWaitAfterCR(t *testing.T) {
	pr, pw := io.Pipe()
	r := NewReader(pr)
	go pw.Write([]byte("data: a\r\r"))
	e, err := r.Next()
	if err != nil || string(e.Data) != "a" {
		t.Fatalf("got %q %v", e.Data, err)
	}
	go func() { pw.Write([]byte("\ndata: b\r\n\r\n")); pw.Close() }()
	got, err := readAll(r)
	if len(got) != 1 || got[0].data != "b" || err != io.EOF {
		t.Fatalf("got %v %v", got, err)
	}
}

// reference is a direct transcription of the WHATWG parsing rules over the
// whole input, used as the oracle of FuzzReader.
func reference(in []byte) ([]ev, error) {
	in = bytes.TrimPrefix(in, bom)
	var out []ev
	var data []byte
	hasData, pending := false, false
	typ, id := "", ""
	for len(in) > 0 {
		i := bytes.IndexAny(in, "\r\n")
		if i < 0 {
			return out, ErrTruncated
		}
		line := in[:i]
		if in[i] == '\r' && i+1 < len(in) && in[i+1] == '\n' {
			in = in[i+2:]
		} else {
			in = in[i+1:]
		}
		switch {
		case len(line) == 0:
			if hasData {
				out = append(out, ev{typ, string(data), id})
			}
			data, hasData, typ, pending = nil, false, "", false
			continue
		case line[0] == ':':
			continue
		}
		pending = true
		field, value := string(line), ""
		if j := bytes.IndexByte(line, ':'); j >= 0 {
			field, value = string(line[:j]), strings.TrimPrefix(string(line[j+1:]), " ")
		}
		switch field {
		case "data":
			if hasData {
				data = append(data, '\n')
			}
			data = append(data, value...)
			hasData = true
		case "event":
			typ = value
		case "id":
			if !strings.Contains(value, "\x00") {
				id = value
			}
		}
	}
	if pending {
		return out, ErrTruncated
	}
	return out, io.EOF
}

type chunkReader struct {
	b []byte
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	n := min(c.n, len(p), len(c.b))
	copy(p, c.b[:n])
	c.b = c.b[n:]
	return n, nil
}

// FuzzReader compares the Reader, fed in chunks of every size, with the
// reference parser.
func FuzzReader(f *testing.F) {
	f.Add([]byte("data: a\r\n\r\nevent: x\rdata: b\r\r"), uint8(1))
	f.Fuzz(func(t *testing.T, in []byte, chunk uint8) {
		want, wantErr := reference(in)
		n := int(chunk)%64 + 1
		got, err := readAll(NewReaderSize(&chunkReader{b: in, n: n}, 16, 1<<20))
		if !errors.Is(err, wantErr) || fmt.Sprintf("%q", got) != fmt.Sprintf("%q", want) {
			t.Fatalf("input %q chunk %d:\n got %q %v\nwant %q %v", in, n, got, err, want, wantErr)
		}
	})
}

func BenchmarkReader(b *testing.B) {
	var buf bytes.Buffer
	for range 1000 {
		buf.WriteString(`data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"hello"},"finish_reason":null}]}` + "\n\n")
	}
	in := buf.Bytes()
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		r := NewReader(bytes.NewReader(in))
		for {
			if _, err := r.Next(); err != nil {
				break
			}
		}
	}
}

func TestHasEvent(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   string
		want []bool // HasEvent before each Next
	}{
		{"data: a\n\ndata: b\n\n", []bool{false, true, false}},
		{"data: a\r\n\r\n: comment\n\n", []bool{false, false}},
		{"data: a\n\ndata: partial", []bool{false, false}},
	} {
		r := NewReader(strings.NewReader(c.in))
		for i, want := range c.want {
			if got := r.HasEvent(); got != want {
				t.Errorf("%q before Next %d: HasEvent = %v, want %v", c.in, i, got, want)
			}
			if _, err := r.Next(); err != nil {
				break
			}
		}
	}
}
