package gateway_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/core/gateway"
	"github.com/airouter/airouter/ports"
)

// nativeFake is a provider (its name starts with "nat") that serves
// embeddings and messages natively, scripted like fakeClient. A native
// answer echoes the body with the target model and its provider's name.
type nativeFake struct {
	*fakeClient
}

var _ ports.NativeClient = (*nativeFake)(nil)

func (c *nativeFake) Serves(op ports.Operation) bool {
	return op == ports.OpEmbeddings || op == ports.OpMessages
}

func (c *nativeFake) Call(ctx context.Context, t ports.Target, req *ports.NativeRequest) (*ports.NativeResponse, error) {
	if !c.Serves(req.Op) {
		return nil, &domain.Error{Code: domain.CodeInvalid, Msg: "not served"}
	}
	b := c.next()
	if b.err != nil {
		return nil, b.err
	}
	return &ports.NativeResponse{Body: []byte(c.name + " " + t.Model + " " + req.Beta + " " + string(req.Body)), ContentType: "application/json",
		Usage: &domain.Usage{PromptTokens: 7, TotalTokens: 7}}, nil
}

func (c *nativeFake) CallStream(ctx context.Context, t ports.Target, req *ports.NativeRequest) (ports.NativeStream, error) {
	b := c.next()
	if b.err != nil {
		return nil, b.err
	}
	st := &nativeFakeStream{end: io.EOF}
	if b.cutErr != nil {
		st.end = b.cutErr
	}
	st.events = append(st.events, ports.NativeEvent{Name: "message_start", Data: []byte(`{"served_by":"` + c.name + `"}`), Usage: &domain.Usage{PromptTokens: 4}})
	for _, s := range b.chunks {
		st.events = append(st.events, ports.NativeEvent{Name: "content_block_delta", Data: []byte(s), Content: true})
	}
	if b.cutErr == nil {
		st.events = append(st.events, ports.NativeEvent{Name: "message_delta", Data: []byte(`{}`), Usage: &domain.Usage{PromptTokens: 4, CompletionTokens: len(b.chunks)}},
			ports.NativeEvent{Name: "message_stop", Data: []byte(`{}`)})
	}
	c.fx.mu.Lock()
	c.fx.nativeStreams = append(c.fx.nativeStreams, st)
	c.fx.mu.Unlock()
	return st, nil
}

type nativeFakeStream struct {
	events []ports.NativeEvent
	cur    ports.NativeEvent
	end    error
	closed bool
}

func (s *nativeFakeStream) Next() (*ports.NativeEvent, error) {
	if len(s.events) == 0 {
		return nil, s.end
	}
	s.cur, s.events = s.events[0], s.events[1:]
	return &s.cur, nil
}
func (s *nativeFakeStream) Ready() bool  { return false }
func (s *nativeFakeStream) Close() error { s.closed = true; return nil }

// nativeCall is a NativeCall of op on model "m".
func nativeCall(op ports.Operation, body string, translate bool) *gateway.NativeCall {
	c := &gateway.NativeCall{Op: op, Body: []byte(body), Beta: "b1", Translate: translate}
	c.Req = &domain.ChatRequest{Model: "m", Raw: []byte(body)}
	c.RequestID, c.Start = "req-native", time.Now()
	if op == ports.OpEmbeddings {
		c.Needs = domain.CapEmbeddings
	} else {
		c.Needs = domain.CapChat
	}
	return c
}

// setCapabilities declares model m's capabilities.
func (fx *fixture) setCapabilities(t *testing.T, caps ...domain.Capability) {
	t.Helper()
	fx.store.mu.Lock()
	for i := range fx.store.cfg.Models {
		fx.store.cfg.Models[i].Capabilities = caps
	}
	fx.store.mu.Unlock()
	fx.reload(t)
}

// waitLog waits for n request-log entries of model "m".
func (fx *fixture) waitLog(t *testing.T, n int) []domain.RequestLog {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		if logs := fx.logs.stored("m"); len(logs) >= n {
			return logs
		}
		if time.Now().After(deadline) {
			t.Fatalf("request log has %d entries, want %d", len(fx.logs.stored("m")), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCallNativeServesNativelyAndFailsOver(t *testing.T) {
	fx := fallbackFixture(t, 2, "nat-a", "nat-b")
	fx.setCapabilities(t, domain.CapEmbeddings)
	fx.scripts["nat-a"] = []behaviour{{err: &domain.UpstreamError{Class: domain.ClassRetryable, Status: 503, Message: "down"}}}
	served, res, err := fx.svc.CallNative(context.Background(), nativeCall(ports.OpEmbeddings, `{"input":"x","model":"m"}`, false))
	if err != nil {
		t.Fatal(err)
	}
	res.Finish()
	if served.Native == nil || served.Chat != nil {
		t.Fatalf("served %+v", served)
	}
	if got, want := string(served.Native.Body), `nat-b up-nat-b b1 {"input":"x","model":"m"}`; got != want {
		t.Fatalf("body %q, want %q", got, want)
	}
	if res.Attempts != 2 || res.Provider != "nat-b" {
		t.Fatalf("result %+v", res)
	}
	logs := fx.waitLog(t, 1)
	if l := logs[0]; l.Status != 200 || l.PromptTokens != 7 || l.Provider != "nat-b" || l.Attempts != 2 {
		t.Fatalf("log %+v", l)
	}
}

func TestCallNativeTranslatesOrSkipsRoutesWithoutTheOperation(t *testing.T) {
	fx := fallbackFixture(t, 2, "plain", "nat-b")
	// Translate: the first route serves the chat request.
	served, res, err := fx.svc.CallNative(context.Background(), nativeCall(ports.OpMessages, `{"messages":[]}`, true))
	if err != nil {
		t.Fatal(err)
	}
	res.Finish()
	if served.Chat == nil || served.Native != nil || res.Provider != "plain" {
		t.Fatalf("served %+v by %s", served, res.Provider)
	}
	// No translation: the route without the operation is skipped, not tried.
	served, res, err = fx.svc.CallNative(context.Background(), nativeCall(ports.OpMessages, `{"messages":[]}`, false))
	if err != nil {
		t.Fatal(err)
	}
	res.Finish()
	if served.Native == nil || res.Provider != "nat-b" || res.Attempts != 1 {
		t.Fatalf("served %+v by %s after %d attempts", served, res.Provider, res.Attempts)
	}
	if !fx.svc.ServesNatively("m", ports.OpMessages) || fx.svc.ServesNatively("m", ports.OpImages) || fx.svc.ServesNatively("nope", ports.OpMessages) {
		t.Fatal("ServesNatively")
	}
}

func TestCallNativeRefusesWhatNoRouteServes(t *testing.T) {
	fx := fallbackFixture(t, 2, "plain")
	_, _, err := fx.svc.CallNative(context.Background(), nativeCall(ports.OpMessages, `{}`, false))
	var de *domain.Error
	if !errors.As(err, &de) || de.Code != domain.CodeInvalid || !strings.Contains(de.Msg, "no route whose provider serves messages") {
		t.Fatalf("err %v", err)
	}
	if n := fx.clients["plain"].calls.Load(); n != 0 {
		t.Fatalf("%d upstream calls", n)
	}
	// A model that does not declare the capability is refused before
	// routing.
	fx2 := fallbackFixture(t, 2, "nat-a")
	_, _, err = fx2.svc.CallNative(context.Background(), nativeCall(ports.OpEmbeddings, `{}`, false))
	if !errors.As(err, &de) || de.Code != domain.CodeInvalid || !strings.Contains(de.Msg, "does not serve embeddings") {
		t.Fatalf("err %v", err)
	}
	// And a model that serves embeddings only is refused for chat.
	fx2.setCapabilities(t, domain.CapEmbeddings)
	_, _, err = fx2.svc.Complete(context.Background(), &gateway.Call{Req: &domain.ChatRequest{Model: "m", Raw: []byte(`{}`)}, Start: time.Now()})
	if !errors.As(err, &de) || !strings.Contains(de.Msg, "does not serve chat") {
		t.Fatalf("err %v", err)
	}
	if n := fx2.clients["nat-a"].calls.Load(); n != 0 {
		t.Fatalf("%d upstream calls", n)
	}
}

func TestStreamNativeRecordsEventsAndFailsOverBeforeTheFirst(t *testing.T) {
	fx := fallbackFixture(t, 2, "nat-a", "nat-b")
	fx.scripts["nat-a"] = []behaviour{{err: &domain.UpstreamError{Class: domain.ClassRateLimited, Status: 429, Message: "slow down"}}}
	fx.scripts["nat-b"] = []behaviour{{chunks: []string{"he", "llo"}}}
	st, res, err := fx.svc.StreamNative(context.Background(), nativeCall(ports.OpMessages, `{"stream":true}`, true))
	if err != nil {
		t.Fatal(err)
	}
	if st.Native == nil || st.Chat != nil || res.Provider != "nat-b" {
		t.Fatalf("streamed %+v by %s", st, res.Provider)
	}
	var names []string
	for {
		ev, err := st.Native.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, ev.Name)
	}
	st.Native.Close()
	if got := strings.Join(names, ","); got != "message_start,content_block_delta,content_block_delta,message_delta,message_stop" {
		t.Fatalf("events %s", got)
	}
	l := fx.waitLog(t, 1)[0]
	if l.Status != 200 || !l.Stream || l.PromptTokens != 4 || l.CompletionTokens != 2 || l.TTFT <= 0 || l.Attempts != 2 {
		t.Fatalf("log %+v", l)
	}
	fx.mu.Lock()
	closed := fx.nativeStreams[0].closed
	fx.mu.Unlock()
	if !closed {
		t.Fatal("upstream stream not closed")
	}
}

func TestStreamNativeCutShortIsAFailureAndTranslationStreamsChat(t *testing.T) {
	fx := fallbackFixture(t, 2, "nat-a")
	cut := &domain.UpstreamError{Class: domain.ClassRetryable, Message: "cut short"}
	fx.scripts["nat-a"] = []behaviour{{chunks: []string{"x"}, cutErr: cut}}
	st, _, err := fx.svc.StreamNative(context.Background(), nativeCall(ports.OpMessages, `{}`, false))
	if err != nil {
		t.Fatal(err)
	}
	var last error
	for last == nil {
		_, last = st.Native.Next()
	}
	st.Native.Close()
	if !errors.Is(last, cut) {
		t.Fatalf("stream ended with %v", last)
	}
	if l := fx.waitLog(t, 1)[0]; l.Status < 500 {
		t.Fatalf("log %+v", l)
	}

	fx2 := fallbackFixture(t, 2, "plain")
	st, res, err := fx2.svc.StreamNative(context.Background(), nativeCall(ports.OpMessages, `{}`, true))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Chat.Close()
	if st.Chat == nil || st.Native != nil || res.Provider != "plain" {
		t.Fatalf("streamed %+v", st)
	}
	if ch, err := st.Chat.Next(); err != nil || ch.Choices[0].Delta.Content == nil {
		t.Fatalf("chunk %+v, %v", ch, err)
	}
}

// TestEmbeddingsReservePromptOnly: an embeddings request generates no
// tokens, so a tokens-per-minute limit reserves its prompt only, where a
// chat request without max_tokens reserves a whole completion.
func TestEmbeddingsReservePromptOnly(t *testing.T) {
	fx := fallbackFixture(t, 0, "nat-a")
	fx.setCapabilities(t, domain.CapEmbeddings, domain.CapChat)
	k := domain.ClientKey{ID: 11, Name: "small", Limits: domain.Limits{TPM: 100}}
	for i := range 5 {
		c := nativeCall(ports.OpEmbeddings, `{"model":"m","input":"short text"}`, false)
		c.Client = &k
		_, res, err := fx.svc.CallNative(context.Background(), c)
		if err != nil {
			t.Fatalf("embeddings request %d: %v", i, err)
		}
		res.Finish()
	}
	c := &gateway.Call{Req: &domain.ChatRequest{Model: "m", Raw: []byte(`{}`)}, Client: &k, Start: time.Now()}
	if _, _, err := fx.svc.Complete(context.Background(), c); domain.ErrorCode(err) != domain.CodeRateLimited {
		t.Fatalf("a chat request reserving 4096 tokens under tpm 100: %v", err)
	}
}
