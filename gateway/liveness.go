package gateway

import (
	"context"

	"github.com/redund/redund/internal/lifecycle"
)

// PingLoops asks the role loop (which owns the role state and runs its
// effects: leading the state log, the witness) and the supervisor's loop
// (which runs the hooks and the application) to answer; one stuck in an
// effect does not. A hook counts as an answer until its 30 s timeout,
// not after: one that outlives it does not. See lifecycle.LoopPinger.
func (g *Gateway) PingLoops(ctx context.Context) error {
	return lifecycle.Ask(ctx, g.pings, g.sup.pings)
}
