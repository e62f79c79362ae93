package domain

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseChatRequest(t *testing.T) {
	t.Parallel()
	r, err := ParseChatRequest([]byte(`{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true,
		"stream_options":{"include_usage":true},"provider":"p","max_tokens":5,"max_completion_tokens":7,"unknown":{"x":1}}`))
	if err != nil {
		t.Fatal(err)
	}
	if r.Model != "m" || !r.Stream || !r.IncludeUsage || r.Provider != "p" || r.MaxTokens != 7 || r.EstimatedPromptTokens() < 10 {
		t.Fatalf("%+v", r)
	}
	for body, field := range map[string]string{
		`{"messages":[{"role":"user","content":"x"}]}`:            "model",
		`{"model":"","messages":[{"role":"user","content":"x"}]}`: "model",
		`{"model":"m"}`:                                 "messages",
		`{"model":"m","messages":null}`:                 "messages",
		`{"model":"m","messages":{}}`:                   "messages",
		`{"model":"m","messages":[ 	 ]}`:                "messages",
		`{"model":3,"messages":[1]}`:                    "model",
		`{"model":"m","messages":[1],"stream":"yes"}`:   "stream",
		`{"model":"m","messages":[1],"max_tokens":-1}`:  "max_tokens",
		`{"model":"m","messages":[1],"max_tokens":1.5}`: "max_tokens",
	} {
		_, err := ParseChatRequest([]byte(body))
		var de *Error
		if !errors.As(err, &de) || de.Code != CodeInvalid || de.Field != field {
			t.Errorf("%s: %v, want field %s", body, err, field)
		}
	}
	for _, body := range []string{``, `[]`, `{"model":"m",`, `null`} {
		if _, err := ParseChatRequest([]byte(body)); ErrorCode(err) != CodeInvalid {
			t.Errorf("%q: %v", body, err)
		}
	}
}

func TestParamsUnions(t *testing.T) {
	t.Parallel()
	r, err := ParseChatRequest([]byte(`{"model":"m","messages":[
		{"role":"system","content":"be brief"},
		{"role":"user","content":[{"type":"text","text":"look"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]},
		{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},
		{"role":"tool","tool_call_id":"c1","content":"42"}],
		"stop":"END","tool_choice":{"type":"function","function":{"name":"f"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := r.Params()
	if err != nil {
		t.Fatal(err)
	}
	if p.Messages[0].Content.String() != "be brief" || !p.Messages[1].Content.IsParts() || p.Messages[1].Content.Parts[1].ImageURL == nil ||
		!p.Messages[2].Content.IsNull() || p.Messages[2].ToolCalls[0].Function.Name != "f" || len(p.Stop) != 1 || p.Stop[0] != "END" ||
		p.ToolChoice == nil || p.ToolChoice.Function != "f" {
		t.Fatalf("%+v", p)
	}
	// Round trip keeps the union shapes.
	b, _ := json.Marshal(p)
	for _, want := range []string{`"content":"be brief"`, `"content":null`, `"tool_choice":{"function":{"name":"f"},"type":"function"}`, `"stop":["END"]`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("missing %s in %s", want, b)
		}
	}
	for _, body := range []string{
		`{"model":"m","messages":[{"role":"user","content":5}]}`,
		`{"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":"sometimes"}`,
		`{"model":"m","messages":[{"role":"user","content":"x"}],"stop":[1]}`,
	} {
		r, err := ParseChatRequest([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Params(); ErrorCode(err) != CodeInvalid {
			t.Errorf("%s: %v", body, err)
		}
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	for status, want := range map[int]ErrorClass{400: ClassRequest, 401: ClassAuth, 403: ClassAuth, 404: ClassRequest, 408: ClassRetryable,
		429: ClassRateLimited, 500: ClassRetryable, 502: ClassRetryable, 503: ClassRetryable, 504: ClassRetryable, 529: ClassRetryable} {
		if got := ClassifyStatus(status); got != want {
			t.Errorf("%d: %s, want %s", status, got, want)
		}
	}
	if !ClassRetryable.Retryable() || ClassRequest.Retryable() || ClassAmbiguous.Retryable() || ClassCanceled.Retryable() {
		t.Error("Retryable")
	}
}

func BenchmarkParseChatRequest(b *testing.B) {
	body := []byte(`{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Write a haiku about routers and the sea, please."}],"temperature":0.7,"stream":false}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseChatRequest(body); err != nil {
			b.Fatal(err)
		}
	}
}

func TestRegressionCachedPromptTokensUseTheCachedPrice(t *testing.T) {
	r := Route{InputPrice: 2, OutputPrice: 8, CachedInputPrice: 0.5}
	u := &Usage{PromptTokens: 1_000_000, CompletionTokens: 100_000, CachedTokens: 800_000}
	// 200k at 2, 800k at 0.5, 100k at 8.
	if got, want := r.UsageCost(u), 0.4+0.4+0.8; got < want-1e-9 || got > want+1e-9 {
		t.Fatalf("cost %v, want %v", got, want)
	}
	r.CachedInputPrice = 0 // unset: the input price
	if got, want := r.UsageCost(u), 2.0+0.8; got < want-1e-9 || got > want+1e-9 {
		t.Fatalf("cost without a cached price %v, want %v", got, want)
	}
}

func TestClientKeyLimitsValidateAndAllow(t *testing.T) {
	for _, tc := range []struct {
		l     Limits
		field string
	}{
		{Limits{Budget: Budget{USD: -1, Period: PeriodDaily}}, "budget.usd"},
		{Limits{Budget: Budget{USD: 1, Period: "weekly"}}, "budget.period"},
		{Limits{Budget: Budget{USD: 1}}, "budget.period"},
		{Limits{RPM: -1}, "rpm"},
		{Limits{TPM: -5}, "tpm"},
		{Limits{Allow: []string{"gpt-*", ""}}, "allow[1]"},
		{Limits{Allow: []string{"g*pt"}}, "allow[0]"},
		{Limits{Allow: []string{"gpt**"}}, "allow[0]"},
	} {
		err := tc.l.Validate()
		var de *Error
		if !errors.As(err, &de) || de.Code != CodeInvalid || de.Field != tc.field {
			t.Errorf("%+v: %v, want an invalid %s", tc.l, err, tc.field)
		}
	}
	l := Limits{Allow: []string{"gpt-4o", "claude-*"}}
	for m, want := range map[string]bool{"gpt-4o": true, "gpt-4o-mini": false, "claude-3-haiku": true, "claude": false, "x": false} {
		if l.Allows(m) != want {
			t.Errorf("Allows(%q) = %v", m, !want)
		}
	}
	if !(&Limits{}).Allows("anything") {
		t.Error("an empty allowlist refuses")
	}
	d := time.Date(2026, 3, 15, 13, 4, 5, 0, time.UTC)
	if PeriodDaily.Start(d) != time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC) || PeriodMonthly.Start(d) != time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC) ||
		PeriodMonthly.End(d) != time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC) || !PeriodTotal.End(d).IsZero() {
		t.Error("period boundaries")
	}
}

// referenceFields is the encoding/json reading of the routing fields that
// ParseChatRequest's one pass replaces.
type referenceFields struct {
	Model         *string `json:"model"`
	Stream        *bool   `json:"stream"`
	StreamOptions *struct {
		IncludeUsage *bool `json:"include_usage"`
	} `json:"stream_options"`
	Provider            *string `json:"provider"`
	MaxTokens           *int    `json:"max_tokens"`
	MaxCompletionTokens *int    `json:"max_completion_tokens"`
}

// FuzzParseChatRequest: the one-pass parser rejects every body that is not
// JSON, and where encoding/json reads the routing fields it reads the same
// values.
func FuzzParseChatRequest(f *testing.F) {
	for _, s := range []string{`{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true},"max_tokens":5}`,
		`{"MODEL":"a","model":"b","messages":[1],"Provider":"p","max_completion_tokens":3,"max_tokens":9}`,
		`{"model":"m\u00e9","messages":[{}],"stream":null,"stream_options":null}`, `{"model":"m","messages":[1]} x`, `{"model":"m","messages":[1],"t":01}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := ParseChatRequest(body)
		if !json.Valid(body) {
			if err == nil {
				t.Fatalf("%q: not JSON, accepted", body)
			}
			return
		}
		var ref referenceFields
		if json.Unmarshal(body, &ref) != nil || err != nil {
			return // type errors: both refuse, with their own words
		}
		want := ChatRequest{Model: *ref.Model}
		if ref.Stream != nil {
			want.Stream = *ref.Stream
		}
		if ref.StreamOptions != nil && ref.StreamOptions.IncludeUsage != nil {
			want.IncludeUsage = *ref.StreamOptions.IncludeUsage
		}
		if ref.Provider != nil {
			want.Provider = *ref.Provider
		}
		switch {
		case ref.MaxCompletionTokens != nil:
			want.MaxTokens = *ref.MaxCompletionTokens
		case ref.MaxTokens != nil:
			want.MaxTokens = *ref.MaxTokens
		}
		if r.Model != want.Model || r.Stream != want.Stream || r.IncludeUsage != want.IncludeUsage || r.Provider != want.Provider || r.MaxTokens != want.MaxTokens {
			t.Fatalf("%q: one pass %+v, encoding/json %+v", body, *r, want)
		}
	})
}
