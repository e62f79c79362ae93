package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestE2ECanarySecrets seeds canary secrets, drives every error path it can
// and checks that no secret appears in any response, log line or metric.
func TestE2ECanarySecrets(t *testing.T) {
	t.Parallel()
	const (
		providerKey = "sk-canaryPROVIDERkey-9f8e7d6c5b4a3210"
		adminToken  = "adm-canaryADMINtoken-0a1b2c3d4e5f"
	)
	var transcript bytes.Buffer
	record := func(parts ...string) {
		for _, p := range parts {
			transcript.WriteString(p)
			transcript.WriteByte('\n')
		}
	}
	// An upstream that echoes whatever key it gets in its errors, as some do.
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if key == "" {
			key = r.Header.Get("X-Api-Key")
		}
		status := 401
		if strings.Contains(r.URL.Path, "models") {
			status = 500
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, `{"error":{"message":"Incorrect API key provided: `+key+`. You can find your API key at https://example.com","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`)
	}))
	defer echo.Close()
	echo500 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(500)
		_, _ = io.WriteString(w, `{"error":{"message":"internal error for key `+key+` (retry)","type":"server_error"}}`)
	}))
	defer echo500.Close()

	s := startServer(t, serverOpts{env: map[string]string{"ADMIN_TOKEN": adminToken, "DEBUG": "true"}})
	clientToken := s.clientKey(t, "app")
	call := func(method, path, token string, body any) {
		var raw json.RawMessage
		st := s.do(t, method, path, token, body, &raw)
		record(method+" "+path, string(raw))
		_ = st
	}
	call("POST", "/api/v1/providers", adminToken, map[string]any{"name": "echo", "kind": "openai_compatible", "base_url": echo.URL + "/v1"})
	call("POST", "/api/v1/providers", adminToken, map[string]any{"name": "echo500", "kind": "openai", "base_url": echo500.URL + "/v1"})
	call("POST", "/api/v1/providers", adminToken, map[string]any{"name": "anth", "kind": "anthropic", "base_url": echo.URL})
	for _, p := range []string{"echo", "echo500", "anth"} {
		call("POST", "/api/v1/providers/"+p+"/keys", adminToken, map[string]any{"secret": providerKey, "name": "canary"})
		// Duplicate: a conflict that must not echo the secret.
		call("POST", "/api/v1/providers/"+p+"/keys", adminToken, map[string]any{"secret": providerKey})
		call("GET", "/api/v1/providers/"+p+"/keys", adminToken, nil)
		call("GET", "/api/v1/providers/"+p, adminToken, nil)
	}
	// Malformed secrets and bodies.
	call("POST", "/api/v1/providers/echo/keys", adminToken, map[string]any{"secret": providerKey + " with spaces"})
	call("POST", "/api/v1/providers/echo/keys", adminToken, map[string]any{"secret": providerKey, "unknown": providerKey})
	call("POST", "/api/v1/providers", adminToken, map[string]any{"name": "x", "kind": "openai", "headers": map[string]string{"Authorization": "Bearer " + providerKey}})
	call("POST", "/api/v1/providers", adminToken, map[string]any{"name": "y", "kind": "openai_compatible", "base_url": "http://user:" + providerKey + "@host/v1"})
	s.mustAdmin(t, 201, "POST", "/models", map[string]any{"name": "m", "strategy": "fallback"}, nil)
	s.mustAdmin(t, 201, "POST", "/models/m/routes", map[string]any{"provider": "echo", "upstream_model": "x", "priority": 0}, nil)
	s.mustAdmin(t, 201, "POST", "/models/m/routes", map[string]any{"provider": "echo500", "upstream_model": "x", "priority": 1}, nil)
	s.mustAdmin(t, 201, "POST", "/models/m/routes", map[string]any{"provider": "anth", "upstream_model": "x", "priority": 2}, nil)
	for i := 0; i < 3; i++ {
		st, hdr, out := s.chat(t, clientToken, userMsg("m", "hi"), nil)
		record("chat", string(out))
		for k, v := range hdr {
			record(k + ": " + strings.Join(v, ","))
		}
		if st < 400 {
			t.Fatalf("expected a failure, got %d", st)
		}
		resp, err := streamChat(t, s, clientToken, userMsg("m", "hi"), nil)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			record("stream", string(b))
		}
	}
	// Wrong tokens on both APIs, including each other's.
	call("GET", "/v1/models", adminToken, nil)
	call("GET", "/api/v1/providers", clientToken, nil)
	call("GET", "/api/v1/providers", providerKey, nil)
	call("GET", "/v1/models", providerKey, nil)
	// Everything an operator can read.
	for _, p := range []string{"/api/v1/health", "/api/v1/providers/echo/health", "/api/v1/requests", "/api/v1/stats", "/api/v1/stats/live", "/api/v1/client-keys", "/api/v1/models", "/api/v1/providers"} {
		call("GET", p, adminToken, nil)
	}
	for _, p := range []string{"/metrics", "/readyz", "/openapi.json"} {
		resp, err := http.Get(s.URL + p)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			record(p, string(b))
		}
	}
	s.Stop(t)
	record(s.Stdout.String(), s.Stderr.String())
	all := transcript.String()
	if !strings.Contains(all, "Incorrect API key provided") {
		t.Fatalf("the upstream's error did not reach the transcript; the test would prove nothing:\n%s", all)
	}
	for name, secret := range map[string]string{"provider key": providerKey, "client token": clientToken, "admin token": adminToken} {
		if i := strings.Index(all, secret); i >= 0 {
			lo := max(0, i-200)
			t.Errorf("%s leaked: …%s…", name, all[lo:min(len(all), i+len(secret)+50)])
		}
		// Nor a large part of it.
		if part := secret[4:20]; strings.Contains(all, part) {
			t.Errorf("part of the %s leaked (%q)", name, part)
		}
	}
}
