package ddns

import (
	"context"

	"github.com/redund/redund/internal/lifecycle"
)

// PingLoops asks Run's loop (which applies reloads) and the run loop of
// every running scheme (which decides and pushes to the provider) to
// answer; a scheme stuck in a provider call that never returns does not.
// See lifecycle.LoopPinger.
func (d *Daemon) PingLoops(ctx context.Context) error {
	set := d.current()
	loops := []*lifecycle.Loop{d.live}
	for _, name := range set.names {
		loops = append(loops, set.schemes[name].live)
	}
	return lifecycle.Ask(ctx, loops...)
}
