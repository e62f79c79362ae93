package upstream

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
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

// TestBuildOptions: an adapter's options reach the client; WithDenyNonPublic
// refuses a loopback upstream, which is allowed without it.
func TestBuildOptions(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{"ok":true}`)) }))
	defer srv.Close()
	s := Setup{Path: "/chat", ModelsPath: "/models", Auth: Bearer}
	for _, deny := range []bool{false, true} {
		chat, _, c, err := Build(domain.Provider{}, srv.URL, s, WithDenyNonPublic(deny))
		if err != nil {
			t.Fatal(err)
		}
		raw, resp, err := ReadAnswer(c.Send(context.Background(), chat, http.MethodPost, "k", JSON, []byte(`{}`)))
		c.Close()
		switch {
		case deny && err == nil:
			t.Errorf("deny: connected to %s", srv.URL)
		case deny && !errors.Is(err, ErrNonPublic):
			t.Errorf("deny: error %v does not say why", err)
		case !deny && err != nil:
			t.Errorf("allow: %v", err)
		case !deny && (string(raw) != `{"ok":true}` || resp.StatusCode != 200):
			t.Errorf("allow: %d %q", resp.StatusCode, raw)
		}
	}
}

// TestReadAnswer: a failed send passes its error through; a non-2xx answer
// is the send's error, read and classed.
func TestReadAnswer(t *testing.T) {
	t.Parallel()
	sent := errors.New("sent")
	if raw, resp, err := ReadAnswer(nil, nil, sent); err != sent || raw != nil || resp != nil {
		t.Fatalf("ReadAnswer of a failed send: %q %v %v", raw, resp, err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(500)
		_, _ = w.Write([]byte(`{"error":{"message":"boom"}}`))
	}))
	defer srv.Close()
	chat, _, c, err := Build(domain.Provider{}, srv.URL, Setup{Path: "/chat", ModelsPath: "/models", Auth: Bearer})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _, err = ReadAnswer(c.Send(context.Background(), chat, http.MethodPost, "k", JSON, []byte(`{}`)))
	var ue *domain.UpstreamError
	if !errors.As(err, &ue) || ue.Status != 500 || !strings.Contains(ue.Message, "boom") {
		t.Fatalf("500 answer: %v", err)
	}
}
