package gateway

import (
	"context"
	"sync"
	"time"
)

// follower runs one provider's replica.Follow while its condition holds.
type follower struct {
	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// stop cancels a running Follow and waits for it to return.
func (f *follower) stop() {
	f.mu.Lock()
	c, d := f.cancel, f.done
	f.mu.Unlock()
	if c != nil {
		c()
		<-d
	}
}

// shouldFollowState: a node that is not active follows the active peer.
func (g *Gateway) shouldFollowState() bool {
	return g.role != RoleActive && g.peerUp && (g.peerRole == RoleActive || g.takingOver)
}

// shouldFollowConfig: the backup follows the master whenever connected.
func (g *Gateway) shouldFollowConfig() bool { return g.cfg.Mode == ModeBackup && g.peerUp }

// follow keeps provider p in sync while cond holds (cond is evaluated with
// g.mu held, and a Follow starts only under g.mu, so becoming active can
// stop it without a race).
func (g *Gateway) follow(ctx context.Context, p string, cond func() bool) {
	f := &follower{}
	g.mu.Lock()
	g.followers[p] = f
	g.mu.Unlock()
	for ctx.Err() == nil {
		g.mu.Lock()
		ok, ch := cond(), g.changed
		var fctx context.Context
		var cancel context.CancelFunc
		var done chan struct{}
		if ok {
			fctx, cancel = context.WithCancel(ctx)
			done = make(chan struct{})
			f.mu.Lock()
			f.cancel, f.done = cancel, done
			f.mu.Unlock()
		}
		g.mu.Unlock()
		if !ok {
			select {
			case <-ctx.Done():
			case <-ch:
			}
			continue
		}
		go g.watchCond(fctx, cancel, cond)
		err := g.store.Follow(fctx, p, g.node, reqReplica)
		cancel()
		f.mu.Lock()
		f.cancel = nil
		f.mu.Unlock()
		close(done)
		if err != nil && fctx.Err() == nil {
			g.log.Debug("follower stopped", "provider", p, "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
}

// watchCond cancels the follower when its condition stops holding.
func (g *Gateway) watchCond(fctx context.Context, cancel context.CancelFunc, cond func() bool) {
	for {
		g.mu.Lock()
		ok, ch := cond(), g.changed
		g.mu.Unlock()
		if !ok {
			cancel()
			return
		}
		select {
		case <-fctx.Done():
			return
		case <-ch:
		}
	}
}
