package gateway

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redund/redund/internal/peer"
)

// follow keeps provider p in sync with the peer until ctx ends. The role
// loop starts it while the rules want it (followWanted) and cancels it,
// waiting for it to return, when they no longer do: before this node
// leads the state log, no follower of it is running.
//
// A failure is logged as a warning when it differs from the one before
// (a follower that fails the same way every 100 ms logs it once); the
// status shows it (follow_error, state "Sync failing") until a pull succeeds.
func (g *Gateway) follow(ctx context.Context, p string) {
	g.store.ClearFollowError(p) // a new run of the follower: the last one's error is history
	last := ""
	for ctx.Err() == nil {
		err := g.store.Follow(ctx, p, g.node, reqReplica)
		if ctx.Err() != nil {
			return
		}
		switch msg := fmt.Sprint(err); {
		case errors.Is(err, peer.ErrNotConnected): // the link dropped: its own events say so
			g.log.Debug("follower stopped: the link is down", "provider", p, "err", err)
		case msg != last:
			last = msg
			g.log.Warn("follower stopped; it starts again", "provider", p, "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}
