package secretbox

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func newBox(t *testing.T) *Box {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	b, err := New(k)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSealOpen(t *testing.T) {
	t.Parallel()
	b := newBox(t)
	secret := []byte("sk-canary-1234567890")
	ct, err := b.Seal(secret, []byte("provider_key:1:7"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(ct, secret) {
		t.Fatal("ciphertext contains the plaintext")
	}
	pt, err := b.Open(ct, []byte("provider_key:1:7"))
	if err != nil || !bytes.Equal(pt, secret) {
		t.Fatalf("Open = %q, %v", pt, err)
	}
	ct2, _ := b.Seal(secret, []byte("provider_key:1:7"))
	if bytes.Equal(ct, ct2) {
		t.Fatal("two seals of the same plaintext are equal: nonce reuse")
	}
}

func TestOpenRejects(t *testing.T) {
	t.Parallel()
	b := newBox(t)
	ct, _ := b.Seal([]byte("secret"), []byte("row:1"))
	cases := map[string]struct {
		box *Box
		ct  []byte
		ad  string
	}{
		"other row":   {b, ct, "row:2"},
		"other key":   {newBox(t), ct, "row:1"},
		"truncated":   {b, ct[:10], "row:1"},
		"empty":       {b, nil, "row:1"},
		"bad version": {b, append([]byte{9}, ct[1:]...), "row:1"},
		"flipped bit": {b, func() []byte { c := bytes.Clone(ct); c[len(c)-1] ^= 1; return c }(), "row:1"},
	}
	for name, c := range cases {
		if pt, err := c.box.Open(c.ct, []byte(c.ad)); !errors.Is(err, ErrOpen) || pt != nil {
			t.Errorf("%s: Open = %q, %v; want ErrOpen", name, pt, err)
		}
	}
}

func TestParseKey(t *testing.T) {
	t.Parallel()
	raw := bytes.Repeat([]byte{0xfb}, 32)
	for _, s := range []string{base64.StdEncoding.EncodeToString(raw), base64.RawURLEncoding.EncodeToString(raw), " " + base64.StdEncoding.EncodeToString(raw) + "\n"} {
		k, err := ParseKey(s)
		if err != nil || !bytes.Equal(k, raw) {
			t.Errorf("ParseKey(%q) = %v", s, err)
		}
	}
	short := base64.StdEncoding.EncodeToString(raw[:16])
	for _, s := range []string{"", "not base64!!", short} {
		_, err := ParseKey(s)
		if err == nil {
			t.Errorf("ParseKey(%q) accepted", s)
			continue
		}
		if s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("error echoes the key: %v", err)
		}
	}
}
