package domain

import (
	"encoding/json"
	"errors"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The validation rules of the configuration aggregates, once, as methods of
// the domain types: the admin use cases (core/gateway) and the seed command
// call them. The database's check constraints (sql/migrations) repeat the
// rules that must hold for every writer.

// ProviderNamePattern is the one Go spelling of the provider-name rule; the
// providers_name_check constraint of sql/migrations/000001_init.up.sql is
// the other, and the two must stay equal.
const ProviderNamePattern = `^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`

var providerNameRe = regexp.MustCompile(ProviderNamePattern)

// ValidProviderName reports whether name follows ProviderNamePattern.
func ValidProviderName(name string) bool { return providerNameRe.MatchString(name) }

// headerNameRe is RFC 9110's token, the syntax of a header field name.
var headerNameRe = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

// MaxTimeout bounds every provider timeout.
const MaxTimeout = 24 * time.Hour

// Validate trims the name, fills the kind's default base URL, strips the
// base URL's trailing slashes and checks every field; errors name the field.
func (p *Provider) Validate() error {
	p.Name = strings.TrimSpace(p.Name)
	if !ValidProviderName(p.Name) {
		return FieldError("name", "must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	if !p.Kind.Valid() {
		return FieldError("kind", "%q is not one of openai, anthropic, volcengine, openai_compatible", p.Kind)
	}
	if p.BaseURL == "" {
		p.BaseURL = p.Kind.DefaultBaseURL()
		if p.BaseURL == "" {
			return FieldError("base_url", "is required for openai_compatible providers")
		}
	}
	u, err := url.Parse(p.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return FieldError("base_url", "must be an absolute http or https URL")
	}
	if u.User != nil {
		return FieldError("base_url", "must not contain credentials; add them as provider keys")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return FieldError("base_url", "must not have a query or fragment")
	}
	p.BaseURL = strings.TrimRight(p.BaseURL, "/")
	if err := p.Timeouts.Validate(); err != nil {
		return err
	}
	for k, v := range p.Headers {
		if !headerNameRe.MatchString(k) {
			return FieldError("headers."+k, "is not a valid header name")
		}
		if ForbiddenHeader(k) {
			return FieldError("headers."+k, "cannot be set as an extra header; API keys are added as provider keys")
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			return FieldError("headers."+k, "must not contain line breaks")
		}
	}
	return nil
}

// Validate checks that no timeout is negative or over MaxTimeout.
func (t Timeouts) Validate() error {
	for name, d := range map[string]time.Duration{"timeouts.connect_ms": t.Connect, "timeouts.first_byte_ms": t.FirstByte, "timeouts.idle_ms": t.Idle, "timeouts.total_ms": t.Total} {
		if d < 0 {
			return FieldError(name, "must not be negative")
		}
		if d > MaxTimeout {
			return FieldError(name, "must be at most 24 hours")
		}
	}
	return nil
}

// Bounds of a provider key's fields.
const (
	MaxKeyWeight     = 1000
	MaxKeyNameLen    = 128
	MinKeySecretLen  = 8
	MaxKeySecretLen  = 4096
	DefaultKeyWeight = 1
)

// ValidateNew trims the secret of a key about to be added and checks it,
// then the weight and the name.
func (k *ProviderKey) ValidateNew() error {
	k.Secret = strings.TrimSpace(k.Secret)
	if k.Secret == "" {
		return FieldError("secret", "is required")
	}
	if len(k.Secret) < MinKeySecretLen || len(k.Secret) > MaxKeySecretLen || strings.ContainsAny(k.Secret, " \t\r\n") {
		return FieldError("secret", "must be 8 to 4096 characters without white space")
	}
	if err := k.ValidateWeight(); err != nil {
		return err
	}
	return k.ValidateName()
}

// ValidateName checks the key's name.
func (k *ProviderKey) ValidateName() error {
	if len(k.Name) > MaxKeyNameLen {
		return FieldError("name", "must be at most 128 characters")
	}
	return nil
}

// ValidateWeight checks the key's weight.
func (k *ProviderKey) ValidateWeight() error {
	if k.Weight < 0 || k.Weight > MaxKeyWeight {
		return FieldError("weight", "must be between 0 and 1000")
	}
	return nil
}

// Validate trims the name, normalises an empty strategy config to {} and
// checks the fields; strategyConfig (core/routing's ValidateStrategyConfig)
// checks the config against the strategy, "" resolved to auto.
func (m *Model) Validate(strategyConfig func(Strategy, json.RawMessage) error) error {
	m.Name = strings.TrimSpace(m.Name)
	if err := ValidateModelName("name", m.Name); err != nil {
		return err
	}
	if m.Strategy != "" && !m.Strategy.Valid() {
		names := make([]string, len(Strategies))
		for i, s := range Strategies {
			names[i] = string(s)
		}
		return FieldError("strategy", "%q is not one of %s", m.Strategy, strings.Join(names, ", "))
	}
	if len(m.StrategyConfig) == 0 || string(m.StrategyConfig) == "null" {
		m.StrategyConfig = json.RawMessage("{}")
	}
	strategy := m.Strategy
	if strategy == "" {
		strategy = StrategyAuto
	}
	if err := strategyConfig(strategy, m.StrategyConfig); err != nil {
		return err
	}
	if m.ContextWindow < 0 {
		return FieldError("context_window", "must not be negative")
	}
	if m.DefaultMaxTokens < 0 {
		return FieldError("default_max_tokens", "must not be negative")
	}
	return m.ValidateCapabilities()
}

// ValidateCapabilities checks that every capability the model declares is
// known and declared once. None is valid: the model serves chat only.
func (m *Model) ValidateCapabilities() error {
	for i, c := range m.Capabilities {
		if !c.Valid() {
			names := make([]string, len(Capabilities))
			for j, v := range Capabilities {
				names[j] = string(v)
			}
			return FieldError("capabilities", "%q is not one of %s", c, strings.Join(names, ", "))
		}
		if slices.Contains(m.Capabilities[:i], c) {
			return FieldError("capabilities", "%q is listed twice", c)
		}
	}
	return nil
}

// ValidateProvider checks that provider p, of a route of the model, can
// serve every capability the model declares (KindServes); the error names
// field. An Anthropic provider cannot route an embeddings or images model.
func (m *Model) ValidateProvider(field string, p Provider) error {
	caps := m.Capabilities
	if len(caps) == 0 {
		caps = []Capability{CapChat}
	}
	for _, c := range caps {
		if !KindServes(p.Kind, c) {
			return FieldError(field, "model %q serves %s, which provider %q (%s) cannot serve", m.Name, c, p.Name, p.Kind)
		}
	}
	return nil
}

// Bounds of a route's fields.
const (
	MaxRouteWeight        = 1000000
	MaxUpstreamModelBytes = 256
)

// Validate trims the upstream model and checks the route.
func (r *Route) Validate() error {
	r.UpstreamModel = strings.TrimSpace(r.UpstreamModel)
	switch {
	case r.ProviderID <= 0:
		return FieldError("provider", "is required")
	case r.UpstreamModel == "" || len(r.UpstreamModel) > MaxUpstreamModelBytes:
		return FieldError("upstream_model", "must be 1-256 characters")
	case r.Weight < 0 || r.Weight > MaxRouteWeight:
		return FieldError("weight", "must be between 0 and 1000000")
	case r.InputPrice < 0:
		return FieldError("input_price", "must not be negative")
	case r.OutputPrice < 0:
		return FieldError("output_price", "must not be negative")
	case r.CachedInputPrice < 0:
		return FieldError("cached_input_price", "must not be negative")
	}
	return nil
}

// MaxStatsRange bounds a statistics query.
const MaxStatsRange = 366 * 24 * time.Hour

// ValidateStatsRange checks a statistics range [from, to).
func ValidateStatsRange(from, to time.Time) error {
	if !to.After(from) {
		return FieldError("to", "must be after from")
	}
	if to.Sub(from) > MaxStatsRange {
		return FieldError("from", "the range must be at most 366 days")
	}
	return nil
}

// MaxRequestLogPage bounds a request-log page.
const MaxRequestLogPage = 1000

// Validate checks the page size and the time range.
func (f *RequestLogFilter) Validate() error {
	if f.Limit < 0 || f.Limit > MaxRequestLogPage {
		return FieldError("limit", "must be between 1 and 1000")
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.To.After(f.From) {
		return FieldError("to", "must be after from")
	}
	return nil
}

// IndexedFieldError returns err with its field under list[i] ("keys[2]."
// + "secret"), for a rule checked on one element of a list; an error
// without a field is returned as it is.
func IndexedFieldError(list string, i int, err error) error {
	var de *Error
	if errors.As(err, &de) {
		return FieldError(list+"["+strconv.Itoa(i)+"]."+de.Field, "%s", de.Msg)
	}
	return err
}
