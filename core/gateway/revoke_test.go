package gateway_test

import (
	"context"
	"io"
	"testing"

	"github.com/airouter/airouter/core/domain"
)

// TestRegressionDisabledKeyEndsStream: disabling a client key left its open
// streams running. The reload that sees the key disabled ends them with an
// unauthorized error; streams of other keys go on.
func TestRegressionDisabledKeyEndsStream(t *testing.T) {
	t.Parallel()
	fx := fallbackFixture(t, 0, "a")
	fx.script("a", behaviour{chunks: []string{"one", "two", "three", "four"}})
	ctx := context.Background()
	open := func(name string) (int64, interface {
		Next() (*domain.ChatChunk, error)
		Close()
	}) {
		ck, tok := fx.clientKey(t, name)
		client, err := fx.svc.Authenticate(tok)
		if err != nil {
			t.Fatal(err)
		}
		c := fx.call("m", `{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
		c.Client = client
		st, _, err := fx.svc.Stream(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Next(); err != nil {
			t.Fatal(err)
		}
		return ck.ID, st
	}
	id, doomed := open("doomed")
	defer doomed.Close()
	_, kept := open("kept")
	defer kept.Close()
	fx.setClientKeyEnabled(t, id, false)
	if _, err := doomed.Next(); domain.ErrorCode(err) != domain.CodeUnauthorized {
		t.Fatalf("the disabled key's stream went on: %v", err)
	}
	n := 0
	for {
		_, err := kept.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the other key's stream: %v", err)
		}
		n++
	}
	if n < 3 {
		t.Fatalf("the other key's stream had %d more chunks", n)
	}
}
