package main

import (
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/airouter/airouter/cmd/mockllm/mock"
)

// TestE2EWorker runs `serve --worker` on real PostgreSQL and the real
// Temporal dev server: a provider's health flips within an interval when its
// upstream fails and recovers when it heals, and a key rotation started
// through the admin API completes.
func TestE2EWorker(t *testing.T) {
	t.Parallel()
	up := newUpstream(t, mock.Config{})
	suffix := strings.ToLower(rand.Text()[:8])
	s := startServer(t, serverOpts{temporal: true, args: []string{"serve", "--worker"}, env: map[string]string{
		"TEMPORAL_TASK_QUEUE":                  "e2e-" + suffix,
		"LOAD_BALANCING_HEALTH_CHECK_INTERVAL": "2",
		"KEY_ROTATION_GRACE_PERIOD":            "1",
	}})
	name := "wk-" + suffix // schedule IDs are per namespace
	t.Cleanup(func() { s.admin(t, "DELETE", "/providers/"+name, nil, nil) })
	s.setupProvider(t, name, "openai_compatible", up.URL+"/v1", nil)

	type health struct {
		Health struct {
			Status string `json:"status"`
		} `json:"health"`
		Keys []struct {
			KeyID     int64  `json:"key_id"`
			KeyStatus string `json:"key_status"`
		} `json:"keys"`
	}
	status := func() string {
		var h health
		s.mustAdmin(t, 200, "GET", "/providers/"+name+"/health", nil, &h)
		return h.Health.Status
	}
	waitFor(t, 15*time.Second, func() bool { return status() == "healthy" }, "the provider never became healthy")
	up.failStatus.Store(500)
	start := time.Now()
	waitFor(t, 2*2*time.Second+3*time.Second, func() bool { return status() == "unhealthy" }, "health did not flip to unhealthy")
	t.Logf("unhealthy after %v", time.Since(start))
	up.failStatus.Store(0)
	start = time.Now()
	waitFor(t, 2*2*time.Second+3*time.Second, func() bool { return status() == "healthy" }, "health did not recover")
	t.Logf("healthy again after %v", time.Since(start))

	// Rotation: new key verified, activated, old one drained then retired.
	var started struct {
		Rotation struct {
			ID string `json:"id"`
		} `json:"rotation"`
		NewKey struct {
			ID     int64  `json:"id"`
			Status string `json:"status"`
		} `json:"new_key"`
	}
	s.mustAdmin(t, 202, "POST", "/providers/"+name+"/rotations", map[string]any{"secret": "sk-rotated-key-000111"}, &started)
	if started.Rotation.ID == "" || started.NewKey.Status != "standby" {
		t.Fatalf("rotation: %+v", started)
	}
	var rot struct {
		Status string `json:"status"`
		Step   string `json:"step"`
		Error  string `json:"error"`
	}
	waitFor(t, 30*time.Second, func() bool {
		s.mustAdmin(t, 200, "GET", "/rotations/"+started.Rotation.ID, nil, &rot)
		return rot.Status != "running"
	}, "the rotation did not finish")
	if rot.Status != "completed" {
		t.Fatalf("rotation ended %+v", rot)
	}
	var keys struct {
		Data []struct {
			ID     int64  `json:"id"`
			Status string `json:"status"`
		} `json:"data"`
	}
	s.mustAdmin(t, 200, "GET", "/providers/"+name+"/keys", nil, &keys)
	got := map[int64]string{}
	for _, k := range keys.Data {
		got[k.ID] = k.Status
	}
	if got[started.NewKey.ID] != "active" || len(got) != 2 {
		t.Fatalf("keys after rotation: %v", got)
	}
	for id, st := range got {
		if id != started.NewKey.ID && st != "retired" {
			t.Fatalf("old key %d is %s", id, st)
		}
	}
	// Requests use the new key.
	tok := s.clientKey(t, "app")
	s.setupModel(t, "m", "", nil)
	s.addRoute(t, "m", name, "mock-gpt", nil)
	if st, _, out := s.chat(t, tok, userMsg("m", "hi"), nil); st != 200 {
		t.Fatalf("chat: %d %s", st, out)
	}
	if got := up.lastHeader().Get("Authorization"); got != "Bearer sk-rotated-key-000111" {
		t.Fatalf("upstream saw %q", got)
	}
}
