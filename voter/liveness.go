package voter

import (
	"context"

	"github.com/redund/redund/internal/lifecycle"
)

// PingLoops asks the tick loop of every VOTER socket (the goroutine that runs
// the 20 ms cycle and applies reloads) to answer; it answers holding the
// group's lock, so a reader that keeps the lock (a handler stuck under
// it) fails it too. See lifecycle.LoopPinger.
func (s *Server) PingLoops(ctx context.Context) error {
	loops := make([]*lifecycle.Loop, len(s.groups))
	for i, g := range s.groups {
		loops[i] = g.live
	}
	return lifecycle.Ask(ctx, loops...)
}

// answerPing is the tick loop's answer: after taking the lock every
// packet is handled under.
func (g *group) answerPing(r chan struct{}) {
	g.mu.Lock()
	//lint:ignore SA2001 taking the lock is the question, nothing is done under it
	g.mu.Unlock()
	close(r)
}
