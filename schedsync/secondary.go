package schedsync

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

func (n *Node) deltaMin() int64 { return n.set().DeltaMinSize }

// inPlace is in_place in force (true unless set to false).
func (n *Node) inPlace() bool {
	v := n.set().InPlace
	return v == nil || *v
}

func (n *Node) workers() int { return n.set().Workers }

// touchPeer records a successful authenticated exchange.
func (n *Node) touchPeer() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.peer.connected {
		n.peer.upSince = time.Now()
		n.peer.connected = true
		n.metrics.peerConnected.Set(1)
	}
	n.peer.seen, n.peer.last, n.peer.mismatchAt, n.peer.mismatchWhy = true, time.Now(), time.Time{}, ""
}

// runSecondary follows the primary: a full comparison first, then the
// change log (long polls that double as heartbeats). It watches its own
// directory for local edits, and a secondary-failover node promotes
// itself after failover_offset without its primary.
func (n *Node) runSecondary(ctx context.Context) error {
	n.setState(StateConnecting, "connecting to "+n.cfg.Peer)
	w, err := newWatcher(n.cfg.Dir, n.match, n.cfg.ScanInterval.D(), n.log)
	if err != nil {
		return fmt.Errorf("schedsync: watch: %w", err)
	}
	w.overflows = n.metrics.overflows
	batches := make(chan []string, 16)
	go w.run(ctx, batches)
	go func() {
		for b := range chanUntil(ctx, batches) {
			n.checkLocal(b)
		}
	}()
	id, _ := n.app.position()
	full := id == ""
	backoff := 200 * time.Millisecond
	for ctx.Err() == nil {
		n.pings.answerRole()
		start := time.Now()
		err := n.syncOnce(ctx, &full)
		if err == nil {
			backoff = 200 * time.Millisecond
			continue
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if n.onSyncError(err, start) {
			return nil // promoted: the role loop restarts as primary
		}
		n.pings.roleWait(ctx, time.After(backoff))
		backoff = min(backoff*2, 2*time.Second)
	}
	return ctx.Err()
}

// chanUntil ends the range when ctx ends.
func chanUntil[T any](ctx context.Context, ch <-chan T) <-chan T {
	out := make(chan T)
	go func() {
		defer close(out)
		for {
			select {
			case <-ctx.Done():
				return
			case v := <-ch:
				select {
				case out <- v:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out
}

// syncOnce does one full comparison or one change-log poll.
func (n *Node) syncOnce(ctx context.Context, full *bool) error {
	n.mu.Lock()
	resync := n.resync
	n.resync = false
	n.mu.Unlock()
	if resync {
		n.mu.Lock()
		n.guard = ""
		clear(n.failed) // the operator asks for a fresh start: every file is tried again
		n.mu.Unlock()
	}
	if resync || *full {
		if err := n.pings.roleBusy(func() error { return n.fullSync(ctx, resync) }); err != nil {
			if resync {
				n.requestResync()
			}
			return err
		}
		*full = false
		return nil
	}
	id, seq := n.app.position()
	wait := n.pollWait()
	if due, next := n.dueFailed(); len(due) > 0 {
		wait = 0 // a failed file is due: just collect what changed meanwhile
	} else if next > 0 {
		wait = min(wait, next)
	}
	pctx, cancel := context.WithTimeout(ctx, n.peerTimeout()+wait)
	deadline, _ := pctx.Deadline()
	polled := n.pings.role.Busy(deadline)
	b, err := n.client.changes(pctx, id, seq, wait)
	polled()
	cancel()
	var se *statusError
	if errors.As(err, &se) && se.code == 410 {
		*full = true
		return nil
	}
	if err != nil {
		return err
	}
	if len(b.Entries) > 0 {
		n.setState(StateSyncing, fmt.Sprintf("%d changes", len(b.Entries)))
		if err := n.pings.roleBusy(func() error { return n.applyBatch(ctx, b.Entries, nil) }); err != nil {
			return err
		}
	}
	n.app.setPosition(b.LogID, b.Seq)
	n.adoptEpoch()
	// what the batch did not supersede is tried again once due
	if due, _ := n.dueFailed(); len(due) > 0 {
		if err := n.pings.roleBusy(func() error { return n.applyBatch(ctx, due, nil) }); err != nil {
			return err
		}
	}
	n.syncSucceeded()
	return nil
}

func (n *Node) pollWait() time.Duration { return max(n.peerTimeout()/2, 100*time.Millisecond) }

// fullSync fetches the manifest and repairs everything that differs;
// rehash re-reads every local file instead of trusting size and mtime.
func (n *Node) fullSync(ctx context.Context, rehash bool) error {
	n.noteComparing()
	mctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	b, err := n.client.manifest(mctx)
	cancel()
	if err != nil {
		return err
	}
	n.adoptEpoch()
	n.app.mu.Lock()
	s := &scanner{root: n.cfg.Dir, match: n.match}
	prev := n.app.expectedCopy()
	if rehash {
		prev = nil
	}
	actual, err := s.scan(prev)
	n.app.mu.Unlock()
	if err != nil {
		return fmt.Errorf("schedsync: scan: %w", err)
	}
	n.metrics.scans.Inc()
	if len(b.Entries) == 0 && len(actual) > 0 && !rehash {
		return n.refuseEmpty(b, len(actual))
	}
	targets := append([]Entry(nil), b.Entries...)
	in := make(map[string]bool, len(targets))
	for _, e := range targets {
		in[e.Path] = true
	}
	for p, e := range actual {
		if !in[p] {
			targets = append(targets, Entry{Path: p, Kind: e.Kind, Deleted: true})
		}
	}
	if err := n.applyBatch(ctx, targets, actual); err != nil {
		return err
	}
	n.app.setPosition(b.LogID, b.Seq)
	n.mu.Lock()
	clear(n.edits)
	n.mu.Unlock()
	n.syncSucceeded()
	return nil
}

// refuseEmpty guards against a primary whose directory is suddenly empty
// (an unmounted disk, a wrong path): the secondary keeps its files and
// reports Not synced until the operator confirms with a resync.
func (n *Node) refuseEmpty(b Batch, have int) error {
	n.log.Warn("the primary's directory is empty; keeping this copy until resync", "files", have)
	n.mu.Lock()
	n.guard = fmt.Sprintf("the primary's directory is empty: %d paths kept here; run resync to mirror the empty directory", have)
	n.mu.Unlock()
	n.app.setPosition(b.LogID, b.Seq)
	n.syncSucceeded()
	return nil
}

// noteComparing shows a full comparison starting: Connecting until the
// first full sync is done, else Syncing. While the primary answers with
// secrets differing or in another protocol the node stays Incompatible (no
// flapping at every attempt).
func (n *Node) noteComparing() {
	const why = "comparing with the primary's manifest"
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case n.st.Name == StateIncompatible && n.mismatchLocked():
	case n.st.Name == StateConnecting:
		n.setStateLocked(StateConnecting, why)
	default:
		n.setStateLocked(StateSyncing, why)
	}
}

// applyBatch applies targets; actual nil means "stat the paths now".
func (n *Node) applyBatch(ctx context.Context, targets []Entry, actual Tree) error {
	a := n.app
	a.mu.Lock()
	defer a.mu.Unlock()
	targets = n.screen(targets, actual) // a full comparison comes with the actual tree
	if actual == nil {
		s := &scanner{root: n.cfg.Dir, match: n.match}
		s.begin() // each directory opened once for the batch
		exp := a.expectedCopy()
		actual = Tree{}
		for _, t := range targets {
			if e, ok, _ := s.stat(t.Path, exp); ok {
				actual[t.Path] = e
			}
		}
		s.end()
	}
	if h := n.testBeforeApply.Load(); h != nil {
		(*h)(targets)
	}
	probs, err := a.apply(ctx, targets, actual)
	n.mu.Lock()
	n.noteFailuresLocked(targets, probs, actual != nil, err == nil)
	for _, t := range targets {
		delete(n.edits, t.Path)
	}
	n.mu.Unlock()
	var noted []string
	whys := map[string]string{}
	for _, t := range targets {
		if pr, bad := probs[t.Path]; !bad && err == nil {
			n.failNotes.forget(t.Path)
		} else if bad && n.failNotes.note(t.Path, pr.why) {
			noted = append(noted, t.Path)
			whys[t.Path] = pr.why
		}
	}
	for _, g := range groupFailures(noted, whys) {
		if g.count == 1 {
			n.log.Warn("could not sync a file; trying again", "path", g.paths[0], "why", g.why)
			continue
		}
		n.log.Warn("could not sync files; trying again", "files", g.count, "first", strings.Join(g.paths, ", "), "why", g.why)
	}
	return err
}

// checkLocal compares the paths that changed on disk with what the
// secondary wrote; differences are local edits (Not synced).
func (n *Node) checkLocal(dirty []string) {
	a := n.app
	a.mu.Lock()
	exp := a.expectedCopy()
	s := &scanner{root: n.cfg.Dir, match: n.match}
	var changes []Entry
	if dirty == nil {
		actual, err := s.scan(exp)
		if err != nil {
			a.mu.Unlock()
			return
		}
		changes = diff(exp, actual)
	} else {
		changes = s.rescan(exp, dirty)
	}
	a.mu.Unlock()
	n.mu.Lock()
	if dirty == nil {
		clear(n.edits)
	}
	for _, d := range dirty {
		for p := range n.edits {
			if p == d || strings.HasPrefix(p, d+"/") {
				delete(n.edits, p)
			}
		}
	}
	for _, c := range changes {
		old, had := exp[c.Path]
		switch {
		case c.Deleted:
			n.edits[c.Path] = "deleted"
		case !had:
			n.edits[c.Path] = "added"
		case !sameForEdits(old, c):
			n.edits[c.Path] = "modified"
		default:
			delete(n.edits, c.Path)
		}
	}
	st := n.st.Name
	n.mu.Unlock()
	if st == StateSynced || st == StateNotSynced {
		n.afterSync()
	}
}
