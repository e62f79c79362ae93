package jsonx

import (
	"encoding/json"
	"strings"
	"testing"
)

// laid walks obj once with the checked iterator, recording its layout.
func laid(t testing.TB, obj []byte) (*Layout, error) {
	t.Helper()
	var l Layout
	it := CheckedObject(obj)
	var m Member
	for it.Next(&m) {
		l.Add(obj, &m)
	}
	if err := it.Err(); err != nil {
		return nil, err
	}
	l.Close(obj, &it)
	return &l, nil
}

var layoutOps = []Op{
	{Key: "model", Value: []byte(`"up"`)},
	{Key: "provider", Delete: true},
	{Key: "stream", Value: []byte("true")},
	{Key: "max_tokens", Value: []byte("7")},
}

func TestPatchLaidMatchesPatch(t *testing.T) {
	t.Parallel()
	many := `{` + strings.Repeat(`"k":1,`, layoutCap) + `"model":"m"}`
	for _, in := range []string{`{}`, ` {"model":"m"} `, `{"a":1,"provider":"p","b":2}`, `{"provider":"p"}`,
		`{"MODEL":"m","model":"n","Stream":false,"x":{"model":1}}`, "{\n \"k\": [1, 2],\n \"provider\": \"p\"\n}", many} {
		l, err := laid(t, []byte(in))
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if (in == many) == l.Complete() {
			t.Errorf("%q: complete %v", in, l.Complete())
		}
		want, err := Patch(nil, []byte(in), layoutOps)
		if err != nil {
			t.Fatal(err)
		}
		got, err := PatchLaid(nil, []byte(in), l, layoutOps)
		if err != nil || string(got) != string(want) {
			t.Errorf("%q: PatchLaid %s (%v), Patch %s", in, got, err, want)
		}
	}
	// The zero layout scans.
	got, err := PatchLaid(nil, []byte(`{"model":"m"}`), &Layout{}, layoutOps[:1])
	if err != nil || string(got) != `{"model":"up"}` {
		t.Errorf("zero layout: %s %v", got, err)
	}
	// A layout recorded for other bytes is not used.
	other, _ := laid(t, []byte(`{"model":"m","x":1}`))
	got, err = PatchLaid(nil, []byte(`{"model":"m"}`), other, layoutOps[:1])
	if err != nil || string(got) != `{"model":"up"}` {
		t.Errorf("layout of other bytes: %s %v", got, err)
	}
	// Trailing bytes leave the layout incomplete, so PatchLaid reports them.
	l, _ := laid(t, []byte(`{"a":1} x`))
	if l.Complete() {
		t.Error("trailing bytes: layout complete")
	}
}

// FuzzPatchLaid: over any object the checked iterator accepts, patching by
// the recorded layout gives the bytes Patch gives; and the iterator accepts
// exactly the objects encoding/json accepts.
func FuzzPatchLaid(f *testing.F) {
	for _, s := range []string{`{"model":"m","provider":"p","stream":false,"x":[1,"a"]}`, `{}`, `{"Model":1,"model":2,"PROVIDER":3}`,
		"{\"a\":\"\\u006dodel\",\"mod\\u0065l\":1}", `{"n":-0.5e+3,"s":"\u00e9\t"}`, `{"a":01}`, `{"a":"\x01"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		l, err := laid(t, in)
		var v map[string]json.RawMessage
		valid := json.Unmarshal(in, &v) == nil && v != nil
		switch {
		case valid && (err != nil || !l.Complete() && !l.full):
			t.Fatalf("%q: encoding/json accepts it, the checked iterator: %v", in, err)
		case !valid && err == nil && l.Complete():
			t.Fatalf("%q: encoding/json rejects it, the checked iterator accepts it", in)
		case err != nil || !l.Complete():
			return
		}
		want, werr := Patch(nil, in, layoutOps)
		got, gerr := PatchLaid(nil, in, l, layoutOps)
		if (werr == nil) != (gerr == nil) || string(got) != string(want) {
			t.Fatalf("%q: PatchLaid %q (%v), Patch %q (%v)", in, got, gerr, want, werr)
		}
	})
}
