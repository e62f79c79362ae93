package main

import (
	"context"

	"github.com/airouter/airouter/ports"
)

// clockKey carries a test clock into run: end-to-end tests of time windows
// (rate limits per minute) move it instead of waiting. Production never sets
// it and gets the system clock.
type clockKey struct{}

func withClock(ctx context.Context, c ports.Clock) context.Context {
	return context.WithValue(ctx, clockKey{}, c)
}

func clockFrom(ctx context.Context) ports.Clock {
	if c, ok := ctx.Value(clockKey{}).(ports.Clock); ok {
		return c
	}
	return ports.SystemClock{}
}
