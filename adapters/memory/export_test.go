package memory

import (
	"context"

	"github.com/airouter/airouter/ports"
)

// Publish tells every listener about a change, as another replica's write
// would; the contract suite uses it to see that a listener is up.
func (s *Store) Publish(ctx context.Context, c ports.Change) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.feed.publish(c)
	return nil
}
