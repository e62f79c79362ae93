package domain

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

// TestProviderNamePatternMatchesMigration: the Go rule and the database's
// check constraint are the same expression.
func TestProviderNamePatternMatchesMigration(t *testing.T) {
	t.Parallel()
	sql, err := os.ReadFile("../../sql/migrations/000001_init.up.sql")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(sql), "CHECK (name ~ '"+ProviderNamePattern+"')") {
		t.Errorf("providers_name_check is not CHECK (name ~ '%s')", ProviderNamePattern)
	}
	for name, ok := range map[string]bool{"a": true, "A-1.b_c": true, "9": true, "-a": false, "": false, "a b": false, strings.Repeat("a", 64): true, strings.Repeat("a", 65): false} {
		if ValidProviderName(name) != ok {
			t.Errorf("ValidProviderName(%q) = %v", name, !ok)
		}
	}
}

func fieldOf(err error) string {
	if e, ok := err.(*Error); ok && e.Code == CodeInvalid {
		return e.Field
	}
	return "<not a field error: " + func() string {
		if err == nil {
			return "nil"
		}
		return err.Error()
	}() + ">"
}

func TestValidateNamesTheField(t *testing.T) {
	t.Parallel()
	ok := func(Strategy, json.RawMessage) error { return nil }
	cases := []struct {
		field string
		err   error
	}{
		{"name", (&Provider{Name: " ", Kind: KindOpenAI}).Validate()},
		{"kind", (&Provider{Name: "a", Kind: "x"}).Validate()},
		{"base_url", (&Provider{Name: "a", Kind: KindOpenAICompatible}).Validate()},
		{"base_url", (&Provider{Name: "a", Kind: KindOpenAI, BaseURL: "https://u:p@h"}).Validate()},
		{"timeouts.idle_ms", (&Provider{Name: "a", Kind: KindOpenAI, Timeouts: Timeouts{Idle: -1}}).Validate()},
		{"headers.Cookie", (&Provider{Name: "a", Kind: KindOpenAI, Headers: map[string]string{"Cookie": "x"}}).Validate()},
		{"headers.a b", (&Provider{Name: "a", Kind: KindOpenAI, Headers: map[string]string{"a b": "x"}}).Validate()},
		{"secret", (&ProviderKey{Secret: " "}).ValidateNew()},
		{"secret", (&ProviderKey{Secret: "short"}).ValidateNew()},
		{"weight", (&ProviderKey{Secret: "sk-01234567", Weight: 1001, Name: strings.Repeat("n", 129)}).ValidateNew()},
		{"name", (&ProviderKey{Name: strings.Repeat("n", 129)}).ValidateName()},
		{"weight", (&ProviderKey{Weight: -1}).ValidateWeight()},
		{"strategy", (&Model{Name: "m", Strategy: "x"}).Validate(ok)},
		{"context_window", (&Model{Name: "m", ContextWindow: -1}).Validate(ok)},
		{"capabilities", (&Model{Name: "m", Capabilities: []Capability{"audio"}}).Validate(ok)},
		{"capabilities", (&Model{Name: "m", Capabilities: []Capability{CapChat, CapEmbeddings, CapChat}}).Validate(ok)},
		{"capabilities", (&Model{Name: "m", Capabilities: []Capability{""}}).ValidateCapabilities()},
		{"routes[0].provider", (&Model{Name: "m", Capabilities: []Capability{CapEmbeddings}}).ValidateProvider("routes[0].provider", Provider{Name: "c", Kind: KindAnthropic})},
		{"provider", (&Route{UpstreamModel: "u"}).Validate()},
		{"weight", (&Route{ProviderID: 1, UpstreamModel: "u", Weight: 1000001}).Validate()},
		{"cached_input_price", (&Route{ProviderID: 1, UpstreamModel: "u", CachedInputPrice: -1}).Validate()},
		{"to", ValidateStatsRange(time.Unix(10, 0), time.Unix(10, 0))},
		{"from", ValidateStatsRange(time.Unix(0, 0), time.Unix(0, 0).Add(367*24*time.Hour))},
		{"limit", (&RequestLogFilter{Limit: 1001}).Validate()},
		{"keys[2].secret", IndexedFieldError("keys", 2, FieldError("secret", "is required"))},
	}
	for _, c := range cases {
		if got := fieldOf(c.err); got != c.field {
			t.Errorf("field %q, want %q (%v)", got, c.field, c.err)
		}
	}
	p := Provider{Name: " a ", Kind: KindAnthropic}
	if err := p.Validate(); err != nil || p.Name != "a" || p.BaseURL != KindAnthropic.DefaultBaseURL() {
		t.Errorf("Validate = %v, %+v; want trimmed name and default base URL", err, p)
	}
	for _, caps := range [][]Capability{nil, {CapChat}, {CapEmbeddings}, {CapImages, CapChat, CapEmbeddings}} {
		if err := (&Model{Name: "m", Capabilities: caps}).Validate(ok); err != nil {
			t.Errorf("capabilities %v: %v", caps, err)
		}
	}
	m := Model{Name: "m"}
	var got Strategy
	if err := m.Validate(func(s Strategy, _ json.RawMessage) error { got = s; return nil }); err != nil || string(m.StrategyConfig) != "{}" || got != StrategyAuto {
		t.Errorf("Model.Validate = %v, config %s, strategy %q", err, m.StrategyConfig, got)
	}
}

// TestValidateProvider: a model's declared capabilities must be servable by
// each of its routes' provider kinds; Anthropic serves chat only.
func TestValidateProvider(t *testing.T) {
	t.Parallel()
	cases := []struct {
		caps []Capability
		kind ProviderKind
		ok   bool
	}{
		{nil, KindAnthropic, true},
		{[]Capability{CapChat}, KindAnthropic, true},
		{[]Capability{CapEmbeddings}, KindAnthropic, false},
		{[]Capability{CapChat, CapImages}, KindAnthropic, false},
		{[]Capability{CapEmbeddings}, KindOpenAI, true},
		{[]Capability{CapEmbeddings, CapImages, CapChat}, KindOpenAICompatible, true},
		{[]Capability{CapEmbeddings}, KindVolcengine, true},
	}
	for _, c := range cases {
		m := Model{Name: "m", Capabilities: c.caps}
		err := m.ValidateProvider("provider", Provider{Name: "p", Kind: c.kind})
		if (err == nil) != c.ok {
			t.Errorf("%v on %s: %v, want ok=%v", c.caps, c.kind, err, c.ok)
		}
		if err != nil && (ErrorCode(err) != CodeInvalid || !strings.Contains(err.Error(), `provider "p" (anthropic)`)) {
			t.Errorf("%v on %s: %v, want invalid naming the provider and its kind", c.caps, c.kind, err)
		}
	}
}
