package domain

import (
	"strconv"
	"strings"
	"time"
)

// BudgetPeriod is how often a client key's budget starts over.
type BudgetPeriod string

const (
	PeriodDaily   BudgetPeriod = "daily"   // from 00:00 UTC
	PeriodMonthly BudgetPeriod = "monthly" // from the 1st, 00:00 UTC
	PeriodTotal   BudgetPeriod = "total"   // never
)

// Valid reports whether p is a known period.
func (p BudgetPeriod) Valid() bool {
	return p == PeriodDaily || p == PeriodMonthly || p == PeriodTotal
}

// Start returns the UTC start of the period that contains t; for total
// budgets the Unix epoch.
func (p BudgetPeriod) Start(t time.Time) time.Time {
	t = t.UTC()
	switch p {
	case PeriodDaily:
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	case PeriodMonthly:
		return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	return time.Unix(0, 0).UTC()
}

// End returns when the period containing t ends (zero for total budgets).
func (p BudgetPeriod) End(t time.Time) time.Time {
	switch p {
	case PeriodDaily:
		return p.Start(t).AddDate(0, 0, 1)
	case PeriodMonthly:
		return p.Start(t).AddDate(0, 1, 0)
	}
	return time.Time{}
}

// Budget is a spending limit in USD per period. USD 0 means none. Without
// HardStop the budget is tracked but requests over it are still served.
type Budget struct {
	USD      float64
	Period   BudgetPeriod
	HardStop bool
}

// Limits are what a client key may do. Zero values mean unlimited.
type Limits struct {
	// Allow lists the models the key may use: exact names or prefixes
	// ending in "*". Empty: every model.
	Allow     []string
	RPM       int   // requests per minute
	TPM       int64 // tokens (prompt + completion) per minute
	Budget    Budget
	ExpiresAt *time.Time
}

// Limited reports whether any rate or budget limit is set.
func (l *Limits) Limited() bool { return l.RPM > 0 || l.TPM > 0 || l.Budget.USD > 0 }

// Allows reports whether the allowlist admits model.
func (l *Limits) Allows(model string) bool {
	if len(l.Allow) == 0 {
		return true
	}
	for _, a := range l.Allow {
		if p, ok := strings.CutSuffix(a, "*"); ok {
			if strings.HasPrefix(model, p) {
				return true
			}
		} else if a == model {
			return true
		}
	}
	return false
}

// Expired reports whether the key's expiry has passed at now.
func (l *Limits) Expired(now time.Time) bool {
	return l.ExpiresAt != nil && !now.Before(*l.ExpiresAt)
}

// Validate checks the limits; errors name the offending field.
func (l *Limits) Validate() error {
	for i, a := range l.Allow {
		field := "allow[" + strconv.Itoa(i) + "]"
		p, wild := strings.CutSuffix(a, "*")
		switch {
		case a == "":
			return FieldError(field, "must not be empty")
		case len(a) > 256:
			return FieldError(field, "must be at most 256 characters")
		case strings.ContainsAny(p, "*?[] \t\r\n"):
			return FieldError(field, "must be a model name or a prefix ending in a single '*' (got %q)", a)
		case wild && p == "" && len(l.Allow) > 1:
			return FieldError(field, "'*' allows every model; leave the list empty instead")
		}
	}
	switch {
	case l.RPM < 0:
		return FieldError("rpm", "must not be negative")
	case l.TPM < 0:
		return FieldError("tpm", "must not be negative")
	case l.Budget.USD < 0 || l.Budget.USD != l.Budget.USD:
		return FieldError("budget.usd", "must not be negative")
	case l.Budget.USD > 0 && !l.Budget.Period.Valid():
		return FieldError("budget.period", "must be one of daily, monthly, total (got %q)", l.Budget.Period)
	case l.Budget.Period != "" && !l.Budget.Period.Valid():
		return FieldError("budget.period", "must be one of daily, monthly, total (got %q)", l.Budget.Period)
	}
	return nil
}

// Validate trims the name and checks a client key's metadata and limits.
func (k *ClientKey) Validate() error {
	k.Name = strings.TrimSpace(k.Name)
	if n := len(k.Name); n < 1 || n > 128 {
		return FieldError("name", "must be 1-128 characters")
	}
	if len(k.Owner) > 256 {
		return FieldError("owner", "must be at most 256 characters")
	}
	if len(k.Tags) > 32 {
		return FieldError("tags", "at most 32 tags")
	}
	for i, t := range k.Tags {
		if t == "" || len(t) > 64 {
			return FieldError("tags["+strconv.Itoa(i)+"]", "must be 1-64 characters")
		}
	}
	return k.Limits.Validate()
}

// ClientKeyStats is aggregated usage of one client key over a time range.
type ClientKeyStats struct {
	ClientKeyID      int64
	ClientKey        string // name; empty for deleted keys and anonymous requests
	Requests         int64
	Errors           int64
	LatencyP50       time.Duration
	LatencyP95       time.Duration
	LatencyP99       time.Duration
	PromptTokens     int64
	CompletionTokens int64
	Cost             float64
}
