package gateway

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"strconv"
	"sync/atomic"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/ports"
)

// authenticator finds the client key of a bearer token in the current
// snapshot and notes when each key was last used (the toucher stores it).
type authenticator struct {
	snap  func() *snapshot
	clock ports.Clock
}

// Authenticate finds the client key of a bearer token.
func (a *authenticator) Authenticate(token string) (*domain.ClientKey, error) {
	if token == "" {
		return nil, &domain.Error{Code: domain.CodeUnauthorized, Msg: "You didn't provide an API key. Provide it in the Authorization header as 'Bearer YOUR_KEY'."}
	}
	h := sha256.Sum256([]byte(token))
	e, ok := a.snap().clientKeys[h]
	if !ok || subtle.ConstantTimeCompare(h[:], e.key.Hash) != 1 || !e.key.Enabled {
		return nil, &domain.Error{Code: domain.CodeUnauthorized, Msg: "Incorrect API key provided."}
	}
	if e.key.Expired(a.clock.Now()) {
		return nil, &domain.Error{Code: domain.CodeUnauthorized, Msg: "This API key has expired."}
	}
	e.lastUsed.Store(a.clock.Now().UnixNano())
	return &e.key, nil
}

// requestIDs hands out request ids unique across replicas: a random
// per-process prefix and a sequence number.
type requestIDs struct {
	prefix string
	seq    atomic.Uint64
}

func newRequestIDs() *requestIDs {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return &requestIDs{prefix: "req_" + hex.EncodeToString(b[:])}
}

// next returns a unique request id.
func (r *requestIDs) next() string {
	n := r.seq.Add(1)
	var b [40]byte
	out := append(b[:0], r.prefix...)
	out = append(out, '_')
	out = strconv.AppendUint(out, n, 16)
	return string(out)
}
