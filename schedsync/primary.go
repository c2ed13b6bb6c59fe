package schedsync

import (
	"context"
	"fmt"
	"time"
)

// runPrimary scans the directory, then keeps the manifest and change log
// current from file-system events and periodic full scans.
func (n *Node) runPrimary(ctx context.Context) error {
	s := &scanner{root: n.cfg.Dir, match: n.match}
	w, err := newWatcher(n.cfg.Dir, n.match, n.cfg.ScanInterval.Or(DefaultScanInterval), n.log)
	if err != nil {
		return fmt.Errorf("schedsync: watch: %w", err)
	}
	batches := make(chan []string, 16)
	go w.run(ctx, batches) // started before the scan: nothing written meanwhile is missed
	tree, err := s.scan(n.app.expectedCopy())
	if err != nil {
		return fmt.Errorf("schedsync: scan: %w", err)
	}
	n.logSkips(s)
	cl := newChangeLog(tree)
	n.mu.Lock()
	n.clog = cl
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		n.clog = nil
		n.mu.Unlock()
	}()
	n.metrics.files.Set(float64(len(tree)))
	n.refreshState()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case dirty := <-batches:
			n.primaryUpdate(s, cl, dirty)
		}
	}
}

// primaryUpdate rescans the dirty paths (all of them when dirty is nil).
func (n *Node) primaryUpdate(s *scanner, cl *changeLog, dirty []string) {
	cur, _ := cl.snapshot()
	var changes []Entry
	if dirty == nil {
		t, err := s.scan(cur)
		if err != nil {
			n.log.Warn("full scan failed", "err", err)
			return
		}
		n.metrics.scans.Inc()
		n.logSkips(s)
		changes = diff(cur, t)
	} else {
		changes = s.rescan(cur, dirty)
	}
	if len(changes) == 0 {
		return
	}
	cl.apply(changes)
	n.metrics.changes.Add(float64(len(changes)))
	t, _ := cl.snapshot()
	n.metrics.files.Set(float64(len(t)))
	n.refreshState()
}

func (n *Node) logSkips(s *scanner) {
	for _, sk := range s.skips {
		n.log.Warn("not synced", "why", sk)
	}
}

// refreshState recomputes the status from the peer view: a primary mirrors
// its secondary; a secondary only learns from the hello loop that the pair
// became (or stopped being) incompatible.
func (n *Node) refreshState() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.role == RolePrimary {
		n.setStateLocked(n.primaryStateLocked())
		return
	}
	if n.peer.refused != "" && n.peer.connected {
		n.setStateLocked(StateIncompatible, n.peer.refused)
	} else if n.st.Name == StateIncompatible {
		n.setStateLocked(StateConnecting, "peer compatible again")
	}
}

// adoptEpoch makes a secondary carry the epoch of the primary it follows,
// so its own promotion yields a newer epoch than the old primary's.
func (n *Node) adoptEpoch() {
	n.mu.Lock()
	changed := n.peer.info.Epoch > n.epoch
	if changed {
		n.epoch = n.peer.info.Epoch
		n.metrics.epoch.Set(float64(n.epoch))
	}
	n.mu.Unlock()
	if changed {
		if err := n.saveState(); err != nil {
			n.log.Warn("cannot save state", "err", err)
		}
	}
}

// requestResync asks the secondary loop for a full comparison with rehash.
func (n *Node) requestResync() {
	n.mu.Lock()
	n.resync = true
	n.mu.Unlock()
}

// since is a helper for status details.
func since(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return time.Since(t).Seconds()
}
