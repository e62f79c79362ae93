package postgres

import (
	"context"
	"errors"
	"testing"
)

func TestVerifyMasterKey(t *testing.T) {
	t.Parallel()
	pool := openPool(t, migratedDB(t))
	s1 := newStore(t, pool, newBox(t))
	ctx := context.Background()
	if err := s1.VerifyMasterKey(ctx); err != nil {
		t.Fatalf("first use: %v", err)
	}
	if err := s1.VerifyMasterKey(ctx); err != nil {
		t.Fatalf("same key again: %v", err)
	}
	s2 := newStore(t, pool, newBox(t))
	if err := s2.VerifyMasterKey(ctx); !errors.Is(err, ErrMasterKeyMismatch) {
		t.Fatalf("other key: %v", err)
	}
}
