package memory_test

import (
	"crypto/rand"
	"testing"

	"github.com/airouter/airouter/adapters/memory"
	"github.com/airouter/airouter/adapters/secretbox"
	"github.com/airouter/airouter/ports/portstest"
)

func newBox(t *testing.T) *secretbox.Box {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	box, err := secretbox.New(key)
	if err != nil {
		t.Fatal(err)
	}
	return box
}

func TestStores(t *testing.T) {
	portstest.TestStores(t, func(t *testing.T) portstest.Stores {
		s, err := memory.New(newBox(t))
		if err != nil {
			t.Fatal(err)
		}
		return portstest.Stores{
			Providers: s, Keys: s, Models: s, ClientKeys: s, Config: s, Health: s, RequestLogs: s, Rotations: s, Feed: s, Leases: memory.NewLeases(nil),
			Publish: s.Publish,
			CopyCiphertext: func(t *testing.T, from, to int64) {
				if err := s.CopyCiphertext(from, to); err != nil {
					t.Fatal(err)
				}
			},
		}
	})
}

func TestNewRejectsNilBox(t *testing.T) {
	t.Parallel()
	if _, err := memory.New(nil); err == nil {
		t.Fatal("New(nil) succeeded")
	}
}
