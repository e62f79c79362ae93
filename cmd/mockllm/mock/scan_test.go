package mock

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

func TestScanRequest(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		body string
		want reqInfo
	}{
		{"openai minimal", `{"model":"gpt","messages":[{"role":"user","content":"hi"}]}`,
			reqInfo{model: []byte(`"gpt"`), messages: 1, lastIsUser: true}},
		{"whitespace and order", " {\n\t\"messages\" : [ {\"content\":\"a\\\"}\",\"role\":\"user\"} ] ,\"stream\": true , \"model\" : \"m\\\\\" } \n",
			reqInfo{model: []byte(`"m\\"`), messages: 1, lastIsUser: true, stream: true}},
		{"stream options", `{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"system","content":"s"}]}`,
			reqInfo{model: []byte(`"m"`), messages: 1, stream: true, includeUsage: true}},
		{"openai tools", `{"model":"m","tools":[{"type":"function","function":{"name":"f1","parameters":{"type":"object","properties":{"name":{"type":"string"}}}}},{"type":"function","function":{"name":"f2"}}],"tool_choice":"none","messages":[{"role":"user","content":"x"},{"role":"tool","content":"r"}],"max_tokens":7,"max_completion_tokens":9}`,
			reqInfo{model: []byte(`"m"`), messages: 2, tools: 2, toolName: []byte(`"f1"`), toolChoiceNone: true, maxTokens: 7}},
		{"anthropic tools", `{"model":"c","max_tokens":1024,"system":[{"type":"text","text":"s"}],"tools":[{"name":"get","input_schema":{"type":"object"}}],"tool_choice":{"type":"auto"},"messages":[{"role":"user","content":[{"type":"text","text":"x"}]}]}`,
			reqInfo{model: []byte(`"c"`), messages: 1, tools: 1, toolName: []byte(`"get"`), maxTokens: 1024, lastIsUser: true}},
		{"anthropic tool result", `{"model":"c","max_tokens":5,"messages":[{"role":"user","content":"x"},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"text","text":"r"}]}]}]}`,
			reqInfo{model: []byte(`"c"`), messages: 2, maxTokens: 5, lastIsUser: true, lastToolResult: true}},
		{"nulls", `{"model":"m","stream":null,"stream_options":null,"tools":null,"tool_choice":null,"max_tokens":null,"messages":[{"role":"user","content":null}],"x":[1,-2.5e3,true,false,null,{}]}`,
			reqInfo{model: []byte(`"m"`), messages: 1, lastIsUser: true}},
	} {
		var got reqInfo
		if err := scanRequest([]byte(tc.body), &got); err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if string(got.model) != string(tc.want.model) || string(got.toolName) != string(tc.want.toolName) {
			t.Errorf("%s: model %s tool %s", tc.name, got.model, got.toolName)
		}
		got.model, got.toolName, tc.want.model, tc.want.toolName = nil, nil, nil, nil
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.name, got, tc.want)
		}
	}
	for _, bad := range []string{``, `[]`, `{`, `{"model"}`, `{"model":"m",}`, `{"model":"m"`, `{"a":[1,]}`, `{"a":tru}`,
		`{"a":"x}`, `{"a":1}}`, `{"a":{"b":1 "c":2}}`, `{"stream":1}`, `{"max_tokens":-1}`, `{"model":["m"]}`} {
		var ri reqInfo
		if err := scanRequest([]byte(bad), &ri); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}

func TestScanDepth(t *testing.T) {
	t.Parallel()
	deep := make([]byte, 0, 4000)
	deep = append(deep, `{"a":`...)
	for range 1000 {
		deep = append(deep, '[')
	}
	for range 1000 {
		deep = append(deep, ']')
	}
	deep = append(deep, '}')
	var ri reqInfo
	if err := scanRequest(deep, &ri); !errors.Is(err, errTooDeep) {
		t.Errorf("1000 levels: %v", err)
	}
}

func TestScanDoesNotAllocate(t *testing.T) {
	body := []byte(`{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"tools":[{"type":"function","function":{"name":"f","parameters":{}}}],"messages":[{"role":"system","content":"You are helpful."},{"role":"user","content":[{"type":"text","text":"Hello"}]}]}`)
	var ri reqInfo
	if n := testing.AllocsPerRun(100, func() {
		ri = reqInfo{}
		if err := scanRequest(body, &ri); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("%v allocations per scan", n)
	}
}

// FuzzScanRequest: the scanner never panics; on valid JSON it fails only
// for a field of the wrong type, and the model it reads is the one
// encoding/json reads.
func FuzzScanRequest(f *testing.F) {
	for _, s := range []string{
		`{"model":"gpt","messages":[{"role":"user","content":"hi"}]}`,
		`{"model":"a\"b\\","stream":true,"tools":[{"name":"x"}],"messages":[{"role":"user","content":[{"type":"tool_result"}]}]}`,
		`{"model":"\u00e9","max_tokens":12,"x":{"y":[1,2,{"z":null}]}}`,
		`{"tool_choice":{"type":"none"},"stream_options":{"include_usage":false}}`,
		`  {"a" : [ ] , "b" : { } }  `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var ri reqInfo
		err := scanRequest(b, &ri)
		if !json.Valid(b) {
			return
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(b, &m) != nil {
			if err == nil {
				t.Fatalf("accepted a non-object: %s", b)
			}
			return
		}
		if errors.Is(err, errSyntax) {
			t.Fatalf("valid JSON rejected as a syntax error: %s", b)
		}
		if err != nil || ri.model == nil || bytes.Count(b, []byte(`\`)) > bytes.Count(ri.model, []byte(`\`)) {
			// An escaped key may spell "model" too; only encoding/json sees it.
			return
		}
		var want, got string
		if json.Unmarshal(m["model"], &want) != nil || json.Unmarshal(ri.model, &got) != nil || want != got {
			// Duplicate keys: encoding/json keeps the last, so does the scanner.
			t.Fatalf("model %q, encoding/json reads %q: %s", got, want, b)
		}
	})
}
