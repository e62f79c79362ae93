package portstest

import (
	"testing"
	"time"

	"github.com/airouter/airouter/core/domain"
)

var healthTests = []test{
	{"RecordChecks", func(t *testing.T, s Stores) {
		p := mkProvider(t, s, "p")
		k := mkKey(t, s, p.ID, secret1, domain.KeyActive)
		base := ms(time.Now().Add(-time.Minute))
		at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Second) }
		record := func(i int, keyID int64, st domain.HealthStatus, msg string) {
			t.Helper()
			ok(t, s.Health.RecordChecks(ctx(t), []domain.HealthCheck{
				{ProviderID: p.ID, KeyID: keyID, Status: st, Latency: time.Duration(i) * time.Millisecond, Error: msg, CheckedAt: at(i)},
			}))
		}
		current := func(keyID int64) domain.Health {
			t.Helper()
			for _, h := range must[[]domain.Health](t)(s.Health.ListHealth(ctx(t))) {
				if h.ProviderID == p.ID && h.KeyID == keyID {
					return h
				}
			}
			t.Fatalf("no current health for provider %d key %d", p.ID, keyID)
			return domain.Health{}
		}
		record(1, 0, domain.HealthUnhealthy, "connection refused")
		record(2, 0, domain.HealthUnhealthy, "timeout")
		if h := current(0); h.ConsecutiveFailures != 2 || h.Status != domain.HealthUnhealthy || h.LastError != "timeout" ||
			!h.CheckedAt.Equal(at(2)) || h.Latency != 2*time.Millisecond {
			t.Fatalf("after two failures: %+v", h)
		}
		record(3, 0, domain.HealthDegraded, "slow")
		if h := current(0); h.ConsecutiveFailures != 0 || h.Status != domain.HealthDegraded {
			t.Fatalf("after a degraded check: %+v", h)
		}
		record(4, 0, domain.HealthUnhealthy, "x")
		record(5, k.ID, domain.HealthUnhealthy, "401")
		record(6, k.ID, domain.HealthUnhealthy, "401")
		record(7, 0, domain.HealthHealthy, "")
		if h := current(0); h.ConsecutiveFailures != 0 || h.Status != domain.HealthHealthy || h.LastError != "" {
			t.Fatalf("after recovery: %+v", h)
		}
		if h := current(k.ID); h.ConsecutiveFailures != 2 || h.Status != domain.HealthUnhealthy {
			t.Fatalf("key health: %+v", h)
		}

		recent := must[[]domain.HealthCheck](t)(s.Health.RecentChecks(ctx(t), p.ID, 3))
		if len(recent) != 3 || !recent[0].CheckedAt.Equal(at(7)) || !recent[1].CheckedAt.Equal(at(6)) || recent[1].KeyID != k.ID ||
			recent[1].Error != "401" || recent[1].Latency != 6*time.Millisecond || recent[2].Status != domain.HealthUnhealthy {
			t.Fatalf("RecentChecks(3): %+v", recent)
		}
		if all := must[[]domain.HealthCheck](t)(s.Health.RecentChecks(ctx(t), p.ID, 0)); len(all) != 7 {
			t.Fatalf("RecentChecks(default): %d checks, want 7", len(all))
		}
		list := must[[]domain.Health](t)(s.Health.ListHealth(ctx(t)))
		if len(list) != 2 || list[0].KeyID != 0 || list[1].KeyID != k.ID {
			t.Fatalf("ListHealth: %+v, want the provider row, then the key row", list)
		}
	}},
	{"RecordChecksAllOrNothing", func(t *testing.T, s Stores) {
		p := mkProvider(t, s, "p")
		err := s.Health.RecordChecks(ctx(t), []domain.HealthCheck{
			{ProviderID: p.ID, Status: domain.HealthHealthy},
			{ProviderID: 999, Status: domain.HealthHealthy},
		})
		wantErr(t, err, domain.CodeInvalid, "provider_id")
		err = s.Health.RecordChecks(ctx(t), []domain.HealthCheck{{ProviderID: p.ID, KeyID: 998, Status: domain.HealthHealthy}})
		wantErr(t, err, domain.CodeInvalid, "key_id")
		err = s.Health.RecordChecks(ctx(t), []domain.HealthCheck{{ProviderID: p.ID, Status: "bogus"}})
		wantErr(t, err, domain.CodeInvalid, "status")
		if list := must[[]domain.Health](t)(s.Health.ListHealth(ctx(t))); len(list) != 0 {
			t.Fatalf("failed batches left health: %+v", list)
		}
		if recent := must[[]domain.HealthCheck](t)(s.Health.RecentChecks(ctx(t), p.ID, 10)); len(recent) != 0 {
			t.Fatalf("failed batches left checks: %+v", recent)
		}
		ok(t, s.Health.RecordChecks(ctx(t), nil))
		_, err = s.Health.RecentChecks(ctx(t), 999, 10)
		wantErr(t, err, domain.CodeNotFound, "")
	}},
	{"SetHealth", func(t *testing.T, s Stores) {
		p := mkProvider(t, s, "p")
		k := mkKey(t, s, p.ID, secret1, domain.KeyActive)
		at := ms(time.Now())
		ok(t, s.Health.SetHealth(ctx(t), domain.Health{ProviderID: p.ID, Status: domain.HealthUnhealthy, ConsecutiveFailures: 5, LastError: "down", CheckedAt: at, Latency: time.Second}))
		ok(t, s.Health.SetHealth(ctx(t), domain.Health{ProviderID: p.ID, KeyID: k.ID, Status: domain.HealthDegraded, CheckedAt: at}))
		ok(t, s.Health.SetHealth(ctx(t), domain.Health{ProviderID: p.ID, Status: domain.HealthHealthy, CheckedAt: at.Add(time.Second)}))
		list := must[[]domain.Health](t)(s.Health.ListHealth(ctx(t)))
		if len(list) != 2 {
			t.Fatalf("ListHealth: %+v", list)
		}
		if h := list[0]; h.KeyID != 0 || h.Status != domain.HealthHealthy || h.ConsecutiveFailures != 0 || h.LastError != "" || !h.CheckedAt.Equal(at.Add(time.Second)) {
			t.Fatalf("overwritten provider health: %+v", h)
		}
		if h := list[1]; h.KeyID != k.ID || h.ProviderID != p.ID || h.Status != domain.HealthDegraded || !h.CheckedAt.Equal(at) {
			t.Fatalf("key health: %+v", h)
		}
		wantErr(t, s.Health.SetHealth(ctx(t), domain.Health{ProviderID: 999, Status: domain.HealthHealthy}), domain.CodeInvalid, "provider_id")
		wantErr(t, s.Health.SetHealth(ctx(t), domain.Health{ProviderID: p.ID, KeyID: 999, Status: domain.HealthHealthy}), domain.CodeInvalid, "key_id")
		wantErr(t, s.Health.SetHealth(ctx(t), domain.Health{ProviderID: p.ID, Status: "meh"}), domain.CodeInvalid, "status")
	}},
}

var rotationTests = []test{
	{"SaveGetList", func(t *testing.T, s Stores) {
		p := mkProvider(t, s, "p")
		r := must[domain.Rotation](t)(s.Rotations.SaveRotation(ctx(t), domain.Rotation{ID: "rot-1", ProviderID: p.ID, OldKeyID: 3, NewKeyID: 4}))
		if r.Step != "started" || r.Status != "running" || r.StartedAt.IsZero() || r.OldKeyID != 3 || r.NewKeyID != 4 {
			t.Fatalf("saved %+v, want step started, status running and a start time", r)
		}
		time.Sleep(2 * time.Millisecond)
		u := must[domain.Rotation](t)(s.Rotations.SaveRotation(ctx(t), domain.Rotation{ID: "rot-1", ProviderID: p.ID, NewKeyID: 4,
			Step: "draining", Status: "failed", Error: "probe failed"}))
		if u.Step != "draining" || u.Status != "failed" || u.Error != "probe failed" || u.OldKeyID != 3 ||
			!u.StartedAt.Equal(r.StartedAt) || !u.UpdatedAt.After(r.UpdatedAt) {
			t.Fatalf("updated %+v (was %+v): want the old key and start time kept", u, r)
		}
		got := must[domain.Rotation](t)(s.Rotations.GetRotation(ctx(t), "rot-1"))
		if got.Step != "draining" || got.Status != "failed" || got.ProviderID != p.ID {
			t.Fatalf("GetRotation: %+v", got)
		}
		time.Sleep(2 * time.Millisecond)
		must[domain.Rotation](t)(s.Rotations.SaveRotation(ctx(t), domain.Rotation{ID: "rot-2", ProviderID: p.ID, NewKeyID: 5}))
		list := must[[]domain.Rotation](t)(s.Rotations.ListRotations(ctx(t), p.ID, 0))
		if len(list) != 2 || list[0].ID != "rot-2" || list[1].ID != "rot-1" {
			t.Fatalf("ListRotations: %+v, want newest first", list)
		}
		if list := must[[]domain.Rotation](t)(s.Rotations.ListRotations(ctx(t), p.ID, 1)); len(list) != 1 || list[0].ID != "rot-2" {
			t.Fatalf("ListRotations(1): %+v", list)
		}
	}},
	{"Errors", func(t *testing.T, s Stores) {
		p := mkProvider(t, s, "p")
		_, err := s.Rotations.GetRotation(ctx(t), "nope")
		wantErr(t, err, domain.CodeNotFound, "")
		_, err = s.Rotations.SaveRotation(ctx(t), domain.Rotation{ID: "r", ProviderID: 999, NewKeyID: 1})
		wantErr(t, err, domain.CodeInvalid, "provider_id")
		_, err = s.Rotations.SaveRotation(ctx(t), domain.Rotation{ID: "r", ProviderID: p.ID, NewKeyID: 1, Status: "sideways"})
		wantErr(t, err, domain.CodeInvalid, "status")
		_, err = s.Rotations.SaveRotation(ctx(t), domain.Rotation{ProviderID: p.ID, NewKeyID: 1})
		wantErr(t, err, domain.CodeInvalid, "id")
		_, err = s.Rotations.ListRotations(ctx(t), 999, 10)
		wantErr(t, err, domain.CodeNotFound, "")
		if list := must[[]domain.Rotation](t)(s.Rotations.ListRotations(ctx(t), p.ID, 10)); len(list) != 0 {
			t.Fatalf("ListRotations of a provider without rotations: %+v", list)
		}
	}},
}
