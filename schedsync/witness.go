package schedsync

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redund/redund/internal/witness"
)

// LockName is the witness lock the primary of a pair holds. Give each pair
// that shares an etcd its own [witness] prefix.
const LockName = "schedsync"

// witnessTick is how often the witness loop looks at the facts besides
// the lock's events (the failover clock, a pending operator promotion).
const witnessTick = 100 * time.Millisecond

// witnessState is the node's part in the witness (witness = true); the
// fields are guarded by Node.mu. The witness loop alone campaigns,
// resigns, promotes and demotes on the witness's account.
type witnessState struct {
	w        *witness.Witness
	lock     *witness.Lock
	wanted   bool      // campaigning (or holding)
	forced   bool      // the operator asked to promote: campaign now
	fence    int64     // the token of the current (or last) holding
	heldAt   time.Time // when the lock was last held as primary
	servedAt time.Time // secondary: when the primary last served this node (a sync exchange, a data answer's bytes)
	// servedNote is servedAt in Unix nanoseconds, read without n.mu to
	// throttle noteServing.
	servedNote atomic.Int64
	roleAt     time.Time // when the current role began
	// stayDown: the operator demoted this node, so it does not campaign on
	// its own (even configured primary) until a primary serves it or the
	// operator promotes it: a demote sticks while the peer is down.
	stayDown bool
}

// newWitness sets up the witness and its lock when witness = true; it
// does not dial (Run runs it).
func (n *Node) newWitness() error {
	if !n.cfg.Witness {
		return nil
	}
	w, l, err := witness.Open(n.opt.Witness, LockName, n.log)
	if err != nil {
		return fmt.Errorf("schedsync: %w", err)
	}
	now := time.Now()
	n.wit = &witnessState{w: w, lock: l, servedAt: now, roleAt: now}
	return nil
}

// lockWait is how long a primary may go without the lock before it
// demotes itself: two TTLs (a lease left by a killed holder expires
// within one).
func (n *Node) lockWait() time.Duration { return 2 * n.wit.w.TTL() }

// mayPublish reports whether this node may answer the secondary's sync
// requests now: always without the witness; with it, only while it holds
// the lock (checked against the lease's deadline at the call).
func (n *Node) mayPublish() bool {
	if n.wit == nil {
		return true
	}
	_, ok := n.wit.lock.Held()
	return ok
}

// errNotPublishing answers a sync request while the lock is not held.
const errNotPublishing = "not publishing: this node does not hold the witness lock"

// runWitness runs the loop that applies the rules until ctx ends. Run
// runs the witness itself, until after the stop hook: then the lease is
// revoked (the other node takes over at once).
func (n *Node) runWitness(ctx context.Context) {
	t := time.NewTicker(witnessTick)
	defer t.Stop()
	events := n.wit.lock.Events()
	for {
		var ev witness.Event
		select {
		case <-ctx.Done():
			return
		case e, ok := <-events:
			if !ok {
				return
			}
			ev = e
			n.noteLockEvent(ev)
		case <-t.C:
		case r := <-n.pings.witness.Pings():
			close(r)
			continue // nothing happened
		}
		n.applyWitness(n.witnessFacts(ev.Kind == witness.Lost), ev)
		n.notePrimaryGauge()
		n.startHook() // a node that started as primary: once it holds the lock
	}
}

// notePrimaryGauge sets redund_schedsync_primary: 1 while this node is
// primary and may publish (with the witness: holds the lock), so that a
// primary by its saved role waiting for the lock is not counted as one.
func (n *Node) notePrimaryGauge() {
	n.mu.Lock()
	primary := n.role == RolePrimary && n.mayPublish()
	n.mu.Unlock()
	if primary {
		n.metrics.setRole(RolePrimary)
	} else {
		n.metrics.setRole(RoleSecondary)
	}
}

// noteLockEvent records an event of the lock.
func (n *Node) noteLockEvent(ev witness.Event) {
	n.mu.Lock()
	n.wit.fence = ev.Fence
	if ev.Kind == witness.Acquired && n.role == RolePrimary {
		n.wit.heldAt = ev.At
	}
	n.mu.Unlock()
	if ev.Kind == witness.Acquired {
		n.log.Info("witness: holds the lock", "lock", LockName, "fence", ev.Fence)
	} else {
		n.log.Warn("witness: lost the lock", "lock", LockName, "fence", ev.Fence, "reason", ev.Reason)
	}
}

// witnessFacts gathers what the rules look at.
func (n *Node) witnessFacts(lost bool) witnessFacts {
	fence, held := n.wit.lock.Held()
	holder, self := n.lockHolderName()
	n.mu.Lock()
	defer n.mu.Unlock()
	now := time.Now()
	f := witnessFacts{Role: n.role, Eligible: n.cfg.Mode != ModeSecondaryCopy && !n.wit.stayDown, Held: held, Lost: lost,
		Wanted: n.wit.wanted, Forced: n.wit.forced, Unserved: now.Sub(n.wit.servedAt),
		Offset: n.set().FailoverOffset.D(), LockWait: n.lockWait(), OtherHolds: holder != "" && holder != self}
	if held {
		n.wit.fence = fence
		if n.role == RolePrimary {
			n.wit.heldAt = now
		}
	} else if n.role == RolePrimary {
		f.Unheld = now.Sub(later(n.wit.roleAt, n.wit.heldAt))
	}
	f.HeldInRole = n.role == RolePrimary && !n.wit.heldAt.IsZero() && !n.wit.heldAt.Before(n.wit.roleAt)
	return f
}

// lockHolderName is the lock's holder as the witness last read it from
// etcd ("" when none is known) and this node's name in the witness.
func (n *Node) lockHolderName() (holder, self string) {
	st := n.wit.w.Status()
	for _, l := range st.Locks {
		if l.Name == LockName {
			holder = l.Holder
		}
	}
	return holder, st.Node
}

// applyWitness does what the rules say.
func (n *Node) applyWitness(f witnessFacts, ev witness.Event) {
	switch witnessRule(f) {
	case witCampaign:
		n.setWanted(true)
	case witResign:
		n.setWanted(false)
	case witPromote:
		n.mu.Lock()
		n.wit.forced = false
		n.mu.Unlock()
		n.promote("holds the witness lock and " + n.takeoverWhy(f))
	case witDemote:
		why := fmt.Sprintf("did not get the witness lock within %v", f.LockWait)
		if f.OtherHolds && !f.HeldInRole && f.Unheld < f.LockWait {
			why = "another node (" + n.lockHolder() + ") holds the witness lock: this node, primary without it, steps down at once"
		}
		if f.Lost {
			why = "lost the witness lock (" + ev.Reason + "): stopped publishing before the other node can take it"
		}
		n.setWanted(false)
		n.demote(why)
	}
}

func (n *Node) takeoverWhy(f witnessFacts) string {
	if f.Forced {
		return "the operator asked to promote"
	}
	return fmt.Sprintf("the primary has not served this node for %s (failover_offset)", f.Unserved.Round(time.Second))
}

func (n *Node) setWanted(v bool) {
	n.mu.Lock()
	n.wit.wanted = v
	n.mu.Unlock()
	if v {
		n.wit.lock.Campaign()
	} else {
		n.wit.lock.Resign()
	}
}

// noteServed records that the primary served this node: a sync exchange
// succeeded, or a data answer came (its head, and each read of its body).
func (n *Node) noteServed() {
	if n.wit == nil {
		return
	}
	now := time.Now()
	n.wit.servedNote.Store(now.UnixNano())
	n.mu.Lock()
	n.wit.servedAt = now
	n.wit.stayDown = false // a primary serves it: the usual rules again
	n.mu.Unlock()
}

// noteServing is noteServed for the reads of a data answer's body: at
// most once per witnessTick, so that a transfer does not take n.mu at
// every read.
func (n *Node) noteServing() {
	if n.wit == nil || time.Now().UnixNano()-n.wit.servedNote.Load() < int64(witnessTick) {
		return
	}
	n.noteServed()
}

// noteRoleStart records when the current role began (n.mu held).
func (n *Node) noteRoleStartLocked() {
	if n.wit == nil {
		return
	}
	now := time.Now()
	n.wit.roleAt, n.wit.servedAt = now, now
}

// promoteWithWitness is the operator's promote with the witness: it asks
// for the lock and waits up to lockWait for the loop to promote the node.
func (n *Node) promoteWithWitness(ctx context.Context) error {
	n.mu.Lock()
	n.wit.forced, n.wit.stayDown = true, false
	n.mu.Unlock()
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, n.lockWait())
	defer cancel()
	for n.Role() != RolePrimary {
		select {
		case <-ctx.Done():
			n.mu.Lock()
			n.wit.forced = false
			n.mu.Unlock()
			// the caller's deadline (the admin action's 30 s) may come first
			return fmt.Errorf("%w: the witness lock did not come within %v (held by %s)", ErrRefused,
				time.Since(start).Round(100*time.Millisecond), n.lockHolder())
		case <-time.After(witnessTick):
		}
	}
	return nil
}

// lockHolder is the holder etcd has, as the witness last read it.
func (n *Node) lockHolder() string {
	for _, l := range n.wit.w.Status().Locks {
		if l.Name == LockName && l.Holder != "" {
			return l.Holder
		}
	}
	return "no one known"
}

// fenceEnv is REDUND_FENCE for a hook: the token of the holding that began
// (promote) or ended (demote), 0 when the node has held none since it
// started; nothing without the witness.
func (n *Node) fenceEnv() []string {
	if n.wit == nil {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return []string{"REDUND_FENCE=" + strconv.FormatInt(n.wit.fence, 10)}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// witnessDetailLocked is the witness in the status document's details
// (n.mu held): whether this node holds the lock and its fencing token
// (the last one when it no longer holds it), whether it campaigns, the
// holder etcd has, the members that answered and the lease.
func (n *Node) witnessDetailLocked() map[string]any {
	st := n.wit.w.Status()
	_, held := n.wit.lock.Held()
	reachable := 0
	for _, m := range st.Members {
		if m.Reachable {
			reachable++
		}
	}
	d := map[string]any{"lock": LockName, "held": held, "campaigning": n.wit.wanted, "stays_secondary": n.wit.stayDown,
		"reachable": fmt.Sprintf("%d/%d", reachable, len(st.Members)), "lease": st.Lease,
		"lease_remaining_s": st.LeaseRemainingS}
	if n.wit.fence > 0 {
		d["fence"] = n.wit.fence
	}
	for _, l := range st.Locks {
		if l.Name == LockName {
			d["lock_state"], d["holder"], d["holder_fence"] = l.State, l.Holder, l.HolderFence
		}
	}
	if held { // this node knows before the next probe of etcd
		d["holder"], d["holder_fence"] = st.Node, n.wit.fence
	}
	if st.Error != "" {
		d["error"] = st.Error
	}
	return d
}
