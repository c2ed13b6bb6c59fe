package witness

import (
	"fmt"
	"time"
)

// EventKind says what happened to a lock.
type EventKind int

// The kinds of Event.
const (
	// Acquired: this node holds the lock; Fence is its fencing token.
	Acquired EventKind = iota + 1
	// Lost: this node no longer holds the lock (Reason says why). A lock
	// lost because etcd stopped answering is reported before the lease
	// can expire on etcd, so before any other node can acquire the lock.
	Lost
)

func (k EventKind) String() string {
	switch k {
	case Acquired:
		return "acquired"
	case Lost:
		return "lost"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is a change of a lock's state on this node.
type Event struct {
	Kind EventKind
	Lock string
	// Fence is the fencing token of the holding that began (Acquired) or
	// ended (Lost): the etcd revision at which this node's lock key was
	// created. Every later holding has a larger one.
	Fence  int64
	Reason string    // Lost: why
	At     time.Time // when the witness decided, on this process's clock (time.Now, not the suspend-aware clock of clock.go)
}

// eventBuffer is how many events a Lock keeps for a slow reader; past it
// the oldest are dropped, so the last event always tells the current state.
const eventBuffer = 64

// Lock is one named lock (one leader election) in etcd. Get it with
// Witness.Lock; Campaign to ask for it, Resign to give it up, and read the
// outcome from Events or Held.
type Lock struct {
	w      *Witness
	name   string
	events chan Event

	// guarded by w.mu
	want  bool
	held  bool
	fence int64
}

// Key is where the lock lives in etcd (<prefix>lock/<name>): nodes that
// campaign for locks with different Keys never exclude each other.
func (l *Lock) Key() string { return l.w.lockPrefix(l.name) }

// Name is the lock's name.
func (l *Lock) Name() string { return l.name }

// Campaign asks for the lock: the witness campaigns until this node holds
// it, and campaigns again after losing it, until Resign. It returns at
// once; Acquired on Events tells when the lock is held.
func (l *Lock) Campaign() { l.setWant(true) }

// Resign gives the lock up (Lost with reason "resigned" when it was held,
// and the key is deleted so that the next node takes over at once) or
// stops campaigning for it.
func (l *Lock) Resign() { l.setWant(false) }

func (l *Lock) setWant(v bool) {
	l.w.mu.Lock()
	l.want = v
	l.w.mu.Unlock()
	l.w.poke()
}

// Events delivers Acquired and Lost in order. It is closed when Run
// returns. A reader more than 64 events behind loses the oldest ones;
// the last event delivered always tells the current state.
func (l *Lock) Events() <-chan Event { return l.events }

// Held returns the fencing token and true while this node holds the lock.
// It compares the lease's local deadline with the clock at each call, so
// it turns false at the deadline even if the Lost event has not been read
// (or sent) yet: call it right before an action that needs the lock. The
// clock counts the time the host spent suspended (see clock.go): after a
// suspend past the deadline it is false at once.
func (l *Lock) Held() (fence int64, ok bool) {
	l.w.mu.Lock()
	defer l.w.mu.Unlock()
	if !l.held || !l.w.now().Before(l.w.deadline) {
		return 0, false
	}
	return l.fence, true
}

// HeldUntil is Held with the moment the holding lasts to, as it stands
// now: the lease's local deadline, which each keep-alive moves on. An
// action that needs the lock throughout can stop at that moment unless a
// new call says the lock is still held (and for longer). until is on the
// process's clock (time.Now, which timers use): the witness's own clock
// also counts time the host spent suspended (see clock.go).
func (l *Lock) HeldUntil() (fence int64, until time.Time, ok bool) {
	l.w.mu.Lock()
	defer l.w.mu.Unlock()
	now := l.w.now()
	if !l.held || !now.Before(l.w.deadline) {
		return 0, time.Time{}, false
	}
	return l.fence, time.Now().Add(l.w.deadline.Sub(now)), true
}

// deliver records ev and sends it without blocking the loop.
func (l *Lock) deliver(ev Event) {
	l.w.mu.Lock()
	l.held = ev.Kind == Acquired
	l.fence = ev.Fence
	l.w.mu.Unlock()
	select {
	case l.events <- ev:
		return
	default:
	}
	select { // full: drop the oldest, keep the newest
	case <-l.events:
	default:
	}
	select {
	case l.events <- ev:
	default:
	}
}
