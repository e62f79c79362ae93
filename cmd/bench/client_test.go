package main

import (
	"strings"
	"testing"
)

func TestHasContent(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]bool{
		`{"choices":[{"index":0,"delta":{"content":"Lor"},"finish_reason":null}]}`:           true,
		`{"choices":[{"index":0,"delta":{"content": "Lor"}}]}`:                               true,
		`{"choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null}}]}`: false,
		`{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`:                        false,
		`{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":20}}`:                  false,
		`{"choices":[{"delta":{"content":null,"tool_calls":[]}}]}`:                           false,
		`{"choices":[{"delta":{"role":"assistant","content":""}}],"x":{"content":"later"}}`:  true,
	} {
		if got := hasContent([]byte(in)); got != want {
			t.Errorf("hasContent(%s) = %v, want %v", in, got, want)
		}
	}
}

func TestReadSSECountsFrames(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 100<<10) // longer than the reader's buffer
	in := "data: {\"delta\":{\"content\":\"\"}}\n\n" +
		"data: {\"delta\":{\"content\":\"a\"}}\r\n\r\n" +
		": comment\n" +
		"data:{\"delta\":{\"content\":\"" + long + "\"}}\n\n" +
		"data: [DONE]\n\n"
	var frames, content int
	done := false
	err := readSSE(strings.NewReader(in), func(p []byte) {
		if string(p) == "[DONE]" {
			done = true
			return
		}
		frames++
		if hasContent(p) {
			content++
		}
	})
	if err != nil || frames != 3 || content != 2 || !done {
		t.Errorf("frames %d content %d done %v err %v; want 3, 2, true, nil", frames, content, done, err)
	}
}

func TestTruncCountClassifies(t *testing.T) {
	t.Parallel()
	var c truncCount
	ok := streamResult{Status: 200, Done: true, Content: 20}
	short := streamResult{Status: 200, Done: true, Content: 19}
	noDone := streamResult{Status: 200, Content: 20}
	failed := streamResult{Status: 502, Err: &statusError{502, "bad gateway"}}
	for _, r := range []streamResult{ok, short, noDone, failed} {
		c.add(&r, 20)
	}
	if c.Streams != 4 || c.Complete != 1 || c.Truncated != 2 || c.Failed != 1 {
		t.Errorf("%+v: want 4 streams, 1 complete, 2 truncated, 1 failed", c)
	}
	if !strings.Contains(c.Sample, "19/20") {
		t.Errorf("sample %q should describe the first truncated stream", c.Sample)
	}
}
