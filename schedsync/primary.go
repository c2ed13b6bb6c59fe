package schedsync

import (
	"context"
	"fmt"
	"time"
)

// primaryLoop is the state the primary's loop owns: the tree as it is on
// disk (raw) and the symlinks held back from the manifest because they
// lead out of the directory or loop (unsafe).
type primaryLoop struct {
	n      *Node
	s      *scanner
	cl     *changeLog
	raw    Tree
	unsafe map[string]string
}

// runPrimary scans the directory, then keeps the manifest and change log
// current from file-system events and periodic full scans.
func (n *Node) runPrimary(ctx context.Context) error {
	s := &scanner{root: n.cfg.Dir, match: n.match, kept: &n.hashes}
	w, err := newWatcher(n.cfg.Dir, n.match, n.cfg.ScanInterval.D(), n.log)
	if err != nil {
		return fmt.Errorf("schedsync: watch: %w", err)
	}
	w.overflows = n.metrics.overflows
	batches := make(chan []string, 16)
	go w.run(ctx, batches) // started before the scan: nothing written meanwhile is missed
	var raw Tree
	n.pings.scanning(func() { raw, err = s.scan(n.app.expectedCopy()) })
	if err != nil {
		return fmt.Errorf("schedsync: scan: %w", err)
	}
	pl := &primaryLoop{n: n, s: s, raw: raw}
	pl.cl = newChangeLog(pl.publishable())
	pl.noteSkips(true)
	n.mu.Lock()
	n.clog = pl.cl
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		n.clog = nil
		n.mu.Unlock()
	}()
	n.metrics.files.Set(float64(len(raw) - len(pl.unsafe)))
	n.refreshState()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case dirty := <-batches:
			n.pings.scanning(func() { pl.update(dirty) })
		case req := <-n.rehashCh:
			n.pings.scanning(func() { pl.rehash(req) })
		case r := <-n.pings.role.Pings():
			close(r)
		}
	}
}

// update rescans the dirty paths (all of them when dirty is nil) and logs
// what changed.
func (pl *primaryLoop) update(dirty []string) {
	n := pl.n
	var changes []Entry
	if dirty == nil {
		t, err := pl.s.scan(pl.raw)
		if err != nil {
			n.log.Warn("full scan failed", "err", err)
			return
		}
		n.metrics.scans.Inc()
		changes = diff(pl.raw, t)
	} else {
		changes = pl.s.rescan(pl.raw, dirty)
	}
	pl.publish(changes)
	pl.noteSkips(dirty == nil)
}

// publish applies changes to the on-disk tree and logs what the
// secondary must see of them.
func (pl *primaryLoop) publish(changes []Entry) {
	if len(changes) == 0 {
		return
	}
	linky := touchesLinks(pl.raw, changes)
	for _, c := range changes {
		if c.Deleted {
			delete(pl.raw, c.Path)
		} else {
			pl.raw[c.Path] = c
		}
	}
	if linky {
		changes = pl.linkChanges(changes)
	}
	if len(changes) == 0 {
		return
	}
	pl.cl.apply(changes)
	pl.n.metrics.changes.Add(float64(len(changes)))
	pl.n.metrics.files.Set(float64(len(pl.raw) - len(pl.unsafe)))
	pl.n.refreshState()
}

// publishable is the raw tree without the symlinks that must not be synced.
func (pl *primaryLoop) publishable() Tree {
	pl.unsafe = unsafeLinks(pl.raw)
	t := make(Tree, len(pl.raw))
	for p, e := range pl.raw {
		if _, bad := pl.unsafe[p]; !bad {
			t[p] = e
		}
	}
	return t
}

// linkChanges judges every symlink again after changes touched one: a
// link's verdict depends on the links it resolves through. It returns
// the changes to publish: unsafe links held back (withdrawn if they were
// published), links that became safe published.
func (pl *primaryLoop) linkChanges(changes []Entry) []Entry {
	pl.unsafe = unsafeLinks(pl.raw)
	var out []Entry
	for _, c := range changes {
		if c.Deleted || c.Kind != KindLink {
			out = append(out, c)
		}
	}
	for p, e := range pl.raw {
		if e.Kind != KindLink {
			continue
		}
		pub, published := pl.cl.entry(p)
		if _, bad := pl.unsafe[p]; bad {
			if published {
				out = append(out, Entry{Path: p, Kind: KindLink, Deleted: true})
			}
			continue
		}
		pl.n.skipped.forget(p)
		if !published || !pub.same(e) {
			out = append(out, e)
		}
	}
	return out
}

// noteSkips logs each path that is not synced once (not at every scan);
// after a full scan it forgets the paths that are no longer skipped.
func (pl *primaryLoop) noteSkips(full bool) {
	for p, why := range pl.s.skips {
		if pl.n.skipped.note(p, why) {
			pl.n.log.Warn("not synced", "path", p, "why", why)
		}
	}
	for p, why := range pl.unsafe {
		if pl.n.skipped.note(p, why) {
			pl.n.log.Warn("not synced", "path", p, "why", why)
		}
	}
	if full {
		pl.n.skipped.retain(func(p string) bool {
			_, a := pl.s.skips[p]
			_, b := pl.unsafe[p]
			return a || b
		})
	}
}

// refreshState recomputes the status from the peer view: a primary mirrors
// its secondary; a secondary only learns from the hello loop that the pair
// became (or stopped being) incompatible.
//
// On a secondary it also gives the failover rule's facts (judge true): the
// hello loop judges the rule too, and a secondary whose primary stopped
// answering hellos is Unavailable even while a transfer of the sync loop
// hangs on the cut link (no request fails there for minutes, and the
// status said Syncing, or Synced, meanwhile).
func (n *Node) refreshState() (ff failoverFacts, judge bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.role == RolePrimary {
		n.setStateLocked(n.primaryStateLocked())
		return ff, false
	}
	switch {
	case n.peer.refused != "" && n.peer.connected:
		n.setStateLocked(StateIncompatible, n.peer.refused)
	case n.mismatchLocked():
		n.setStateLocked(StateIncompatible, n.peer.mismatchWhy)
	case n.st.Name == StateIncompatible && n.st.Reason == n.peer.mismatchWhy && !n.peer.connected:
		// the primary stopped answering (failoverRule counts from its last answer)
		n.setStateLocked(StateUnavailable, "primary unreachable: "+orDefault(n.peer.lastErr, "no answer"))
	case n.st.Name == StateIncompatible:
		n.setStateLocked(StateConnecting, "peer compatible again")
	case !n.peer.connected && n.peer.seen && !n.mismatchLocked() && n.st.Name != StateIncompatible &&
		n.st.Name != StateConnecting && n.st.Name != StateUnavailable:
		n.setStateLocked(StateUnavailable, "primary unreachable: "+orDefault(n.peer.lastErr, "no answer"))
	case n.peer.connected && n.st.Name == StateUnavailable:
		// answering hellos again: the sync loop's next exchange says more
		n.setStateLocked(StateSyncing, "primary reachable again")
	}
	return n.failoverFactsLocked(), true
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
