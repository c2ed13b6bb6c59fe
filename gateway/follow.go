package gateway

import (
	"context"
	"time"
)

// follow keeps provider p in sync with the peer until ctx ends. The role
// loop starts it while the rules want it (followWanted) and cancels it,
// waiting for it to return, when they no longer do: before this node
// leads the state log, no follower of it is running.
func (g *Gateway) follow(ctx context.Context, p string) {
	for ctx.Err() == nil {
		err := g.store.Follow(ctx, p, g.node, reqReplica)
		if ctx.Err() != nil {
			return
		}
		g.log.Debug("follower stopped", "provider", p, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}
