package jsonx

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestIterObject(t *testing.T) {
	b := []byte(` { "a" : 1 , "b\u0063":[1,{"x":"}"}], "s":"q\"uote\\" ,"n":null} `)
	it := Object(b)
	var m Member
	var keys, vals []string
	for it.Next(&m) {
		keys = append(keys, string(m.RawKey()))
		vals = append(vals, string(m.Value(b)))
	}
	if it.Err() != nil {
		t.Fatal(it.Err())
	}
	wantK := []string{"a", `b\u0063`, "s", "n"}
	wantV := []string{"1", `[1,{"x":"}"}]`, `"q\"uote\\"`, "null"}
	if !reflect.DeepEqual(keys, wantK) || !reflect.DeepEqual(vals, wantV) {
		t.Fatalf("keys %q vals %q", keys, vals)
	}
}

func TestIterErrors(t *testing.T) {
	for _, in := range []string{``, `[]`, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{"a":1 "b":2}`, `{"a":[1}`, `{"a":"x}`, `{1:2}`} {
		it := Object([]byte(in))
		var m Member
		for it.Next(&m) {
		}
		if it.Err() == nil {
			t.Errorf("%q: no error", in)
		}
	}
}

func TestStringRoundTrip(t *testing.T) {
	for _, s := range []string{"", "plain", "tab\there", "quote\"back\\slash", "\x00\x1f", "héllo ✓ 😀", "bad\xffutf8", "\u2028"} {
		enc := AppendString(nil, s)
		if !json.Valid(enc) {
			t.Fatalf("%q: invalid %s", s, enc)
		}
		var want string
		if err := json.Unmarshal(enc, &want); err != nil {
			t.Fatal(err)
		}
		got, err := String(enc)
		if err != nil || got != want {
			t.Fatalf("%q: got %q want %q (%v)", s, got, want, err)
		}
	}
	got, err := String([]byte(`"\ud83d\ude00 \u00e9 \/ \ud800x"`))
	if err != nil || got != "😀 é / \uFFFDx" {
		t.Fatalf("got %q %v", got, err)
	}
}

func TestPatch(t *testing.T) {
	model := Op{Key: "model", Value: []byte(`"up"`)}
	del := Op{Key: "provider", Delete: true}
	stream := Op{Key: "stream", Value: []byte(`true`)}
	cases := []struct {
		in, want string
		ops      []Op
	}{
		{`{"model":"m","x":1}`, `{"model":"up","x":1}`, []Op{model}},
		{`{"model": "m", "provider": "p", "x": 1}`, `{"model":"up", "x": 1}`, []Op{model, del}},
		{`{"provider":"p","model":"m"}`, `{"model":"up"}`, []Op{model, del}},
		{`{"a":1,"provider":"p"}`, `{"a":1}`, []Op{del}},
		{`{"a":1, "provider":"p", "provider":"q"}`, `{"a":1}`, []Op{del}},
		{`{"provider":"p"}`, `{}`, []Op{del}},
		{`{"provider":"p"}`, `{"stream":true}`, []Op{del, stream}},
		{`{}`, `{"stream":true}`, []Op{stream}},
		{` { } `, ` {"stream":true } `, []Op{stream}},
		{`{"a":1}`, `{"a":1,"stream":true}`, []Op{stream}},
		{`{"a":1,"provider":"p","b":2}`, `{"a":1,"b":2,"stream":true}`, []Op{del, stream}},
		{`{"a":1,"provider":"p"}`, `{"a":1,"stream":true}`, []Op{del, stream}},
		{`{"MODEL":"m","Stream":false}`, `{"model":"up","stream":true}`, []Op{model, stream}},
		{`{"model":"a","model":"b"}`, `{"model":"up"}`, []Op{model}},
		{`{"model":"a","x":[1,2],"model":"b","y":{}}`, `{"model":"up","x":[1,2],"y":{}}`, []Op{model}},
		{"{\n  \"model\": \"m\",\n  \"provider\": \"p\",\n  \"k\": [ 1 ]\n}", "{\n  \"model\":\"up\",\n  \"k\": [ 1 ]\n}", []Op{model, del}},
		{"{\n  \"k\": 1,\n  \"provider\": \"p\"\n}", "{\n  \"k\": 1\n}", []Op{del}},
		{`{"a":1}`, `{"a":1}`, []Op{{Key: "s", Value: []byte("1"), OnlyIfPresent: true}}},
		{`{"so":{"x":1}}`, `{"so":{"x":1,"include_usage":true}}`, []Op{{Key: "so", Edit: func(old []byte) []byte {
			out, err := Patch(nil, old, []Op{{Key: "include_usage", Value: []byte("true")}})
			if err != nil {
				return []byte(`{"include_usage":true}`)
			}
			return out
		}}}},
	}
	for _, c := range cases {
		got, err := Patch(nil, []byte(c.in), c.ops)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if string(got) != c.want {
			t.Errorf("%q:\n got %s\nwant %s", c.in, got, c.want)
		}
		if !json.Valid(got) {
			t.Errorf("%q: invalid output %s", c.in, got)
		}
	}
	for _, bad := range []string{`[]`, `{"a":1} x`, `{"a":1`, `"s"`} {
		if _, err := Patch(nil, []byte(bad), []Op{model}); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// FuzzPatch checks that patching any valid object yields valid JSON whose
// members are the original ones with exactly the patched keys changed.
func FuzzPatch(f *testing.F) {
	for _, s := range []string{`{"model":"m","provider":"p","stream":false,"x":[1,"a"]}`, `{}`, `{"Model":1,"model":2,"PROVIDER":3}`, "{\"a\":\"\\u006dodel\",\"mod\\u0065l\":1}", `{"stream_options":{"include_usage":false,"x":1}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var orig map[string]any
		if json.Unmarshal(in, &orig) != nil || orig == nil {
			return
		}
		ops := []Op{{Key: "model", Value: []byte(`"up"`)}, {Key: "provider", Delete: true}, {Key: "stream", Value: []byte("true")}}
		out, err := Patch(nil, in, ops)
		if err != nil {
			t.Fatalf("valid input %q: %v", in, err)
		}
		var got map[string]any
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("output of %q invalid: %q", in, out)
		}
		want := map[string]any{}
		for k, v := range orig {
			if strings.EqualFold(k, "model") || strings.EqualFold(k, "provider") || strings.EqualFold(k, "stream") {
				continue
			}
			want[k] = v
		}
		want["model"], want["stream"] = "up", true
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("in %q\nout %q\ngot %v\nwant %v", in, out, got, want)
		}
	})
}

func TestCheck(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{`{}`, ` [ ] `, `"x"`, `1`, `-2.5e3`, `true`, `null`, `{"a":[1,{"b":false},"c\"}"],"d":{}}`,
		`0`, `-0.0e-7`, `1E+2`, `"\u00e9\n\/\\"`, "\"\xff\""} {
		if err := Check([]byte(ok), 8); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{``, ` `, `{`, `{"a"}`, `{"a":1,}`, `[1,]`, `[,1]`, `{"a":tru}`, `{"a":nul}`, `{"a":"x}`,
		`{"a":1}}`, `{"a":{"b":1 "c":2}}`, `{1:2}`, `[1 2]`, `{"a"::1}`, `x`, `]`,
		// Numbers and strings as encoding/json reads them.
		`01`, `1.`, `.5`, `-`, `1e`, `1e+`, `1.2.3`, `+1`, `--1`, `1-2`, `"\x"`, `"\u12"`, `"\u12g4"`, "\"a\tb\"", "\"\x00\"", `{"a\q":1}`} {
		if err := Check([]byte(bad), 8); err != ErrSyntax {
			t.Errorf("%q: %v, want ErrSyntax", bad, err)
		}
	}
	deep := strings.Repeat("[", 9) + strings.Repeat("]", 9)
	if err := Check([]byte(deep), 8); err != ErrTooDeep {
		t.Errorf("9 levels: %v", err)
	}
	if err := Check([]byte(deep[1:len(deep)-1]), 8); err != nil {
		t.Errorf("8 levels: %v", err)
	}
}
