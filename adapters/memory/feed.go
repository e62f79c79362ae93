package memory

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/airouter/airouter/ports"
)

// feed fans changes out to listeners. A listener that falls more than its
// buffer behind loses changes and gets a "resync" instead.
type feed struct {
	mu        sync.Mutex
	listeners map[*listener]struct{}
}

type listener struct {
	ch     chan ports.Change
	missed atomic.Bool
}

const listenerBuffer = 256

func (f *feed) publish(c ports.Change) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for l := range f.listeners {
		select {
		case l.ch <- c:
		default:
			l.missed.Store(true)
		}
	}
}

// notify tells listeners that tables of these kinds changed, as the
// database triggers do (without ids).
func (s *Store) notify(kinds ...string) {
	for _, k := range kinds {
		s.feed.publish(ports.Change{Kind: k})
	}
}

// Listen calls fn, from this goroutine, for every change published from now
// until ctx ends; it then returns nil.
func (s *Store) Listen(ctx context.Context, fn func(ports.Change)) error {
	if fn == nil {
		return errors.New("memory: Listen: nil callback")
	}
	l := &listener{ch: make(chan ports.Change, listenerBuffer)}
	s.feed.mu.Lock()
	s.feed.listeners[l] = struct{}{}
	s.feed.mu.Unlock()
	defer func() {
		s.feed.mu.Lock()
		delete(s.feed.listeners, l)
		s.feed.mu.Unlock()
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case c := <-l.ch:
			fn(c)
			if l.missed.Swap(false) {
				fn(ports.Change{Kind: "resync"})
			}
		}
	}
}
