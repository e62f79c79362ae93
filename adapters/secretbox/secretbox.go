// Package secretbox seals provider keys at rest with AES-256-GCM under the
// master key (AIROUTER_MASTER_KEY).
package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/airouter/airouter/ports"
)

// version prefixes every ciphertext so that the format can change later.
const version byte = 1

// Box implements ports.SecretBox.
type Box struct {
	aead cipher.AEAD
}

var _ ports.SecretBox = (*Box)(nil)

// ErrOpen is returned when a ciphertext does not open: a wrong master key, a
// ciphertext moved to another row, or corruption.
var ErrOpen = errors.New("secretbox: ciphertext cannot be opened with this master key")

// ParseKey decodes a base64 (standard or URL, padded or not) master key of
// exactly 32 bytes. Its errors never contain the key.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("is empty; generate one with: head -c 32 /dev/urandom | base64")
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != 32 {
				return nil, fmt.Errorf("must decode to 32 bytes, got %d; generate one with: head -c 32 /dev/urandom | base64", len(b))
			}
			return b, nil
		}
	}
	return nil, errors.New("is not valid base64; generate one with: head -c 32 /dev/urandom | base64")
}

// New returns a Box for a 32-byte key.
func New(key []byte) (*Box, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("secretbox: key must be 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Box{aead: aead}, nil
}

// Seal encrypts plaintext bound to associatedData.
func (b *Box) Seal(plaintext, associatedData []byte) ([]byte, error) {
	ns := b.aead.NonceSize()
	out := make([]byte, 1+ns, 1+ns+len(plaintext)+b.aead.Overhead())
	out[0] = version
	if _, err := rand.Read(out[1 : 1+ns]); err != nil {
		return nil, fmt.Errorf("secretbox: nonce: %w", err)
	}
	return b.aead.Seal(out, out[1:1+ns], plaintext, associatedData), nil
}

// Open decrypts a ciphertext made by Seal with the same associated data.
func (b *Box) Open(ciphertext, associatedData []byte) ([]byte, error) {
	ns := b.aead.NonceSize()
	if len(ciphertext) < 1+ns+b.aead.Overhead() || ciphertext[0] != version {
		return nil, ErrOpen
	}
	pt, err := b.aead.Open(nil, ciphertext[1:1+ns], ciphertext[1+ns:], associatedData)
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}
