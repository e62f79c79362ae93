package upstream

import (
	"errors"
	"testing"

	"github.com/airouter/airouter/core/domain"
)

func TestBuild(t *testing.T) {
	s := Setup{Path: "/v1/messages", ModelsPath: "/v1/models?limit=1", Auth: APIKey, Classify: func(_ int, _ ErrorBody, c domain.ErrorClass) domain.ErrorClass { return c },
		Defaults: map[string]string{"Anthropic-Version": "2023-06-01"}}
	chat, models, c, err := Build(domain.Provider{Headers: map[string]string{"x-extra": "1"}}, "https://api.example.com", s)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if chat.String() != "https://api.example.com/v1/messages" || models.String() != "https://api.example.com/v1/models?limit=1" {
		t.Fatalf("endpoints %s %s", chat, models)
	}
	h := c.Headers("k", JSON)
	if h.Get("X-Extra") != "1" || h.Get("Anthropic-Version") != "2023-06-01" || h.Get("X-Api-Key") != "k" {
		t.Fatalf("headers %v", h)
	}
	if c.t.FirstByte == 0 || c.t.Connect == 0 {
		t.Fatalf("timeouts without defaults: %+v", c.t)
	}
	// The provider's header wins over a default.
	_, _, c, err = Build(domain.Provider{Headers: map[string]string{"anthropic-version": "2024-01-01"}}, "https://api.example.com", s)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.Headers("", JSON).Get("Anthropic-Version"); got != "2024-01-01" {
		t.Fatalf("Anthropic-Version %q", got)
	}
	for base, field := range map[string]string{"ftp://x": "base_url", "not a url": "base_url", "https://u:p@x": "base_url"} {
		_, _, _, err := Build(domain.Provider{}, base, s)
		var de *domain.Error
		if !errors.As(err, &de) || de.Code != domain.CodeInvalid || de.Field != field {
			t.Errorf("%s: %v, want an invalid error on %s", base, err, field)
		}
	}
	_, _, _, err = Build(domain.Provider{Headers: map[string]string{"bad header": "x"}}, "https://api.example.com", s)
	if de := (*domain.Error)(nil); !errors.As(err, &de) || de.Field != "headers" {
		t.Fatalf("bad header: %v", err)
	}
}
