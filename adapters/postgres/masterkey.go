package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

var (
	masterCheckPlain = []byte("airouter master key check v1")
	masterCheckAD    = []byte("airouter:master_key_check")
)

// ErrMasterKeyMismatch means the master key differs from the one the
// database's provider keys were sealed with.
var ErrMasterKeyMismatch = errors.New("AIROUTER_MASTER_KEY does not match the key this database's provider keys were encrypted with; start with the original key (provider keys would otherwise be unusable)")

// VerifyMasterKey checks the master key against a value sealed when the
// database was first used (and seals it on first use). Call it before
// loading any key: with the wrong master key every key would fail to open.
func (s *Store) VerifyMasterKey(ctx context.Context) error {
	sealed, err := s.q.GetMasterKeyCheck(ctx)
	if errors.Is(err, pgx.ErrNoRows) {
		ct, err := s.box.Seal(masterCheckPlain, masterCheckAD)
		if err != nil {
			return err
		}
		if err := s.q.InsertMasterKeyCheck(ctx, ct); err != nil {
			return fmt.Errorf("store the master key check: %w", err)
		}
		// Another process may have won the race with another key: read back.
		if sealed, err = s.q.GetMasterKeyCheck(ctx); err != nil {
			return fmt.Errorf("read the master key check: %w", err)
		}
	} else if err != nil {
		return fmt.Errorf("read the master key check: %w", err)
	}
	pt, err := s.box.Open(sealed, masterCheckAD)
	if err != nil || !bytes.Equal(pt, masterCheckPlain) {
		return ErrMasterKeyMismatch
	}
	return nil
}
