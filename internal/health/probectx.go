package health

import (
	"context"
	"time"
)

// probeCtx is the context of one HTTP probe, made only when needed: a
// probe that finds a kept connection idle and gets its answer in time
// needs nothing but its deadline (the connection's deadline enforces it,
// the pool's context ends it when the Probes stop), so it allocates no
// context and no timer. At 30,000 probes a second these were most of what
// a probe allocated, and the garbage collections they caused made probes
// late (issue 15). A dial, a wait in the pool or a probe on a connection
// of its own makes the context.
type probeCtx struct {
	parent   context.Context
	deadline time.Time // zero: none
	ctx      context.Context
	cancel   context.CancelFunc
}

// get returns the probe's context, making it on the first call.
func (pc *probeCtx) get() context.Context {
	if pc.ctx == nil {
		if pc.deadline.IsZero() {
			pc.ctx = pc.parent
		} else {
			pc.ctx, pc.cancel = context.WithDeadline(pc.parent, pc.deadline)
		}
	}
	return pc.ctx
}

// err is the probe context's Err, without making it. It reads the clock
// rather than wait for the context's timer, which may fire after the
// connection's deadline for the same time: the reason of a timeout is then
// always the context's.
func (pc *probeCtx) err() error {
	if err := pc.parent.Err(); err != nil {
		return err
	}
	if !pc.deadline.IsZero() && !time.Now().Before(pc.deadline) {
		return context.DeadlineExceeded
	}
	if pc.ctx != nil {
		return pc.ctx.Err()
	}
	return nil
}

// done releases the context if it was made.
func (pc *probeCtx) done() {
	if pc.cancel != nil {
		pc.cancel()
	}
}
