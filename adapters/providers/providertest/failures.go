package providertest

import (
	"context"

	"io"
	"net"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/ports"
	"strings"
	"testing"
	"time"
)

func waitGone(t *testing.T, u *Upstream, what string) {
	t.Helper()
	select {
	case <-u.Gone():
	case <-time.After(time.Second):
		t.Fatalf("%s: the upstream connection was not closed within a second", what)
	}
}

func (s Subject) testStallBeforeHeaders(t *testing.T) {
	t.Parallel()
	e := s.setup(t, FastTimeouts)
	e.u.Respond(Behavior{StallBeforeHeaders: true})
	start := time.Now()
	_, err := e.c.Chat(context.Background(), e.tgt, parse(t, textRequest, false))
	// The request was written: the upstream may be processing (and
	// billing) it, so the timeout is ambiguous, never resent.
	wantAmbiguousTimeout(t, e.u, "chat", "first-byte timeout", err, start)
	start = time.Now()
	_, err = e.c.ChatStream(context.Background(), e.tgt, parse(t, textRequest, true))
	wantAmbiguousTimeout(t, e.u, "stream", "first-byte timeout", err, start)
}

func (s Subject) testStallBeforeFirstEvent(t *testing.T) {
	t.Parallel()
	e := s.setup(t, FastTimeouts)
	e.u.Respond(Behavior{StallAfter: -1})
	st, err := e.c.ChatStream(context.Background(), e.tgt, parse(t, textRequest, true))
	if err != nil {
		t.Fatalf("ChatStream: %v", err)
	}
	defer st.Close()
	start := time.Now()
	_, err = st.Next()
	wantAmbiguousTimeout(t, e.u, "first event", "first-event timeout", err, start)
}

func (s Subject) testStallMidStream(t *testing.T) {
	t.Parallel()
	e := s.setup(t, FastTimeouts)
	e.u.Respond(Behavior{Reply: textReply, StallAfter: 3})
	st, err := e.c.ChatStream(context.Background(), e.tgt, parse(t, textRequest, true))
	if err != nil {
		t.Fatalf("ChatStream: %v", err)
	}
	defer st.Close()
	start := time.Now()
	out := collect(t, st)
	if out.err == io.EOF || len(out.chunks) == 0 {
		t.Fatalf("stalled stream: %d chunks, err %v", len(out.chunks), out.err)
	}
	if ue := asUpstream(t, out.err); !ue.Timeout {
		t.Fatalf("stall: %+v", ue)
	}
	within(t, "idle timeout", 3*time.Second, start)
	waitGone(t, e.u, "idle timeout")
}

func (s Subject) testCutStreams(t *testing.T) {
	t.Parallel()
	e := s.setup(t, NormalTimeouts)
	for _, b := range []Behavior{{Reply: textReply, CutAfter: 3}, {Reply: textReply, AbortAfter: 3}, {Reply: textReply, EndAfter: 3}} {
		e.u.Respond(b)
		st, err := e.c.ChatStream(context.Background(), e.tgt, parse(t, textRequest, true))
		if err != nil {
			t.Fatalf("ChatStream: %v", err)
		}
		out := collect(t, st)
		st.Close()
		if out.err == io.EOF {
			t.Fatalf("%+v: a cut stream ended cleanly", b)
		}
		if ue := asUpstream(t, out.err); ue.Class != domain.ClassAmbiguous {
			t.Fatalf("%+v: %+v", b, ue)
		}
	}
}

// stalledStream opens a stream on ctx whose upstream stalls after its
// second event and reads the first chunk, for the tests that end a stream
// while the upstream still holds it open. The stream is closed at cleanup
// (Close is idempotent), before the client.
func (s Subject) stalledStream(t *testing.T, ctx context.Context) (*env, ports.ChatStream) {
	t.Helper()
	e := s.setup(t, NormalTimeouts)
	e.u.Respond(Behavior{Reply: textReply, StallAfter: 2})
	st, err := e.c.ChatStream(ctx, e.tgt, parse(t, textRequest, true))
	if err != nil {
		t.Fatalf("ChatStream: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Next(); err != nil {
		t.Fatalf("first chunk: %v", err)
	}
	return e, st
}

func (s Subject) testCancelStream(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e, st := s.stalledStream(t, ctx)
	time.AfterFunc(100*time.Millisecond, cancel)
	out := collect(t, st)
	if ue := asUpstream(t, out.err); ue.Class != domain.ClassCanceled {
		t.Fatalf("canceled stream: %+v", ue)
	}
	waitGone(t, e.u, "client cancellation")
}

func (s Subject) testCancelChat(t *testing.T) {
	t.Parallel()
	e := s.setup(t, NormalTimeouts)
	e.u.Respond(Behavior{StallBeforeHeaders: true})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err := e.c.Chat(ctx, e.tgt, parse(t, textRequest, false))
	if ue := asUpstream(t, err); ue.Class != domain.ClassCanceled {
		t.Fatalf("canceled chat: %+v", ue)
	}
	waitGone(t, e.u, "client cancellation")
}

func (s Subject) testCloseStream(t *testing.T) {
	t.Parallel()
	e, st := s.stalledStream(t, context.Background())
	st.Close()
	st.Close()
	waitGone(t, e.u, "Close")
	if _, err := st.Next(); err == nil || err == io.EOF {
		t.Fatalf("Next after Close: %v", err)
	}
}

// testCloseWhileReading closes a stream from another goroutine while Next
// waits for a stalled upstream, as a handler does when its client leaves.
func (s Subject) testCloseWhileReading(t *testing.T) {
	t.Parallel()
	e, st := s.stalledStream(t, context.Background())
	time.AfterFunc(100*time.Millisecond, func() { st.Close() })
	start := time.Now()
	out := collect(t, st)
	if out.err == nil || out.err == io.EOF {
		t.Fatalf("Next after a concurrent Close: %v", out.err)
	}
	within(t, "Next after Close", 2*time.Second, start)
	waitGone(t, e.u, "concurrent Close")
}

func (s Subject) testConnectionRefused(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c, err := s.New(domain.Provider{Name: "down", Kind: s.Kind, BaseURL: "http://" + addr + "/v1", Timeouts: FastTimeouts})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Chat(context.Background(), ports.Target{Model: UpstreamModel, Key: TestKey}, parse(t, textRequest, false))
	if ue := asUpstream(t, err); ue.Class != domain.ClassRetryable || ue.Status != 0 {
		t.Fatalf("refused: %+v", ue)
	}
	if strings.Contains(err.Error(), TestKey) {
		t.Fatal("key in error")
	}
}

// testHangUp: the connection breaks after the request was sent and before
// any response: the upstream may have processed it, so it is ambiguous.
func (s Subject) testHangUp(t *testing.T) {
	t.Parallel()
	e := s.setup(t, NormalTimeouts)
	e.u.Respond(Behavior{HangUp: true})
	_, err := e.c.Chat(context.Background(), e.tgt, parse(t, textRequest, false))
	if ue := asUpstream(t, err); ue.Class != domain.ClassAmbiguous || ue.Status != 0 {
		t.Fatalf("chat: %+v", ue)
	}
	_, err = e.c.ChatStream(context.Background(), e.tgt, parse(t, textRequest, true))
	if ue := asUpstream(t, err); ue.Class != domain.ClassAmbiguous {
		t.Fatalf("stream: %+v", ue)
	}
}

// wantAmbiguousTimeout checks that what (a call) failed with the timeout
// of a request already written, ambiguous and so never resent, within 3 s
// of start, and that the upstream connection was closed.
func wantAmbiguousTimeout(t *testing.T, u *Upstream, what, timeout string, err error, start time.Time) {
	t.Helper()
	if ue := asUpstream(t, err); !ue.Timeout || ue.Class != domain.ClassAmbiguous {
		t.Fatalf("%s: %+v", what, ue)
	}
	within(t, timeout, 3*time.Second, start)
	waitGone(t, u, what+" "+timeout)
}

func within(t *testing.T, what string, d time.Duration, start time.Time) {
	t.Helper()
	if el := time.Since(start); el > d {
		t.Fatalf("%s took %v, want under %v", what, el, d)
	}
}
