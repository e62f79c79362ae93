package postgres

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/airouter/airouter/core/domain"
)

// TestRegressionRequestLogPoisonRows: one row PostgreSQL would refuse for its
// text (a NUL, a model name over the btree row limit, a message cut in the
// middle of a character) used to make the whole COPY fail, so the batch's
// good rows were lost with it. Every row is now made storable.
func TestRegressionRequestLogPoisonRows(t *testing.T) {
	t.Parallel()
	s := newStore(t, openPool(t, migratedDB(t)), newBox(t))
	ctx := t.Context()
	now := time.Now().Truncate(time.Microsecond)
	cut := "ошибка апстрима"[:7] // 3½ Cyrillic letters: ends in half a rune
	batch := []domain.RequestLog{
		{Time: now, RequestID: "good-1", Model: "gpt-4o", Status: 200, Provider: "openai", ErrorMessage: "все хорошо"},
		{Time: now, RequestID: "nul-model", Model: "gpt\x00-4o", Status: 404, ErrorClass: "not_found"},
		{Time: now, RequestID: "long-model", Model: strings.Repeat("m", 3000), Status: 404},
		{Time: now, RequestID: "cut-message", Model: "gpt-4o", Status: 502, ErrorClass: "upstream", ErrorMessage: cut},
		{Time: now, RequestID: "bad\xff-id\x00", Model: "gpt-4o", Status: 502, Provider: "p\x00", Strategy: "auto\x00",
			ErrorClass: "x\xfe", ErrorMessage: strings.Repeat("é", 10000) + "\x00"},
		{Time: now, RequestID: "good-2", Model: "gpt-4o-mini", Status: 200, Provider: "openai"},
	}
	if err := s.InsertRequestLogs(ctx, batch); err != nil {
		t.Fatalf("InsertRequestLogs: %v", err)
	}
	got, err := s.ListRequestLogs(ctx, domain.RequestLogFilter{From: now.Add(-time.Minute), Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(batch) {
		t.Fatalf("stored %d of %d rows", len(got), len(batch))
	}
	byID := map[string]domain.RequestLog{}
	for _, e := range got {
		for _, f := range []string{e.RequestID, e.Model, e.Provider, string(e.Strategy), e.ErrorClass, e.ErrorMessage} {
			if !utf8.ValidString(f) || strings.ContainsRune(f, 0) {
				t.Errorf("stored text %q is not clean", f)
			}
		}
		byID[e.RequestID] = e
	}
	if e := byID["good-1"]; e.Model != "gpt-4o" || e.ErrorMessage != "все хорошо" || e.Provider != "openai" {
		t.Errorf("good row changed: %+v", e)
	}
	if e := byID["good-2"]; e.Model != "gpt-4o-mini" {
		t.Errorf("good row changed: %+v", e)
	}
	if e, ok := byID["nul-model"]; !ok || strings.ContainsRune(e.Model, 0) || !strings.HasPrefix(e.Model, "gpt") {
		t.Errorf("NUL model row: %+v", e)
	}
	if e, ok := byID["long-model"]; !ok || len(e.Model) > domain.MaxLogName || !strings.HasPrefix(e.Model, "mmm") {
		t.Errorf("long model row: stored %v, model of %d bytes", ok, len(e.Model))
	}
	if e, ok := byID["cut-message"]; !ok || !strings.HasPrefix(e.ErrorMessage, "ош") {
		t.Errorf("cut message row: %+v", e)
	}
	var odd *domain.RequestLog
	for i := range got {
		if strings.HasPrefix(got[i].RequestID, "bad") {
			odd = &got[i]
		}
	}
	if odd == nil || len(odd.ErrorMessage) > domain.MaxLogMessage || !strings.HasPrefix(odd.ErrorMessage, "éé") {
		t.Errorf("row with every text column bad: %+v", odd)
	}
}
