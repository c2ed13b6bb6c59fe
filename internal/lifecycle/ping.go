package lifecycle

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"time"
)

// LoopPinger is implemented by a daemon whose loops can show that they
// still run. PingLoops asks every goroutine that owns the daemon's state (each main
// loop) for an answer that the loop gives itself, from its own select: a
// snapshot or a status report does not prove it, a loop blocked on a
// channel or in a hung side effect still has one. It returns nil when
// every loop answered before ctx ended, else a *NotAnswered naming the
// loops that did not. Before Run has started the loops none answers, so
// the first nil after Run began also says the daemon has started
// (systemd's READY=1 waits for it).
type LoopPinger interface {
	PingLoops(ctx context.Context) error
}

// Starter is implemented by a daemon that says itself when Run has
// started: Started is closed then, and never when Run fails first.
type Starter interface {
	Started() <-chan struct{}
}

// Loop is one state-owning goroutine's side of PingLoops. The loop selects
// on Pings and closes every request it receives:
//
//	case r := <-l.Pings():
//		close(r)
//
// A loop that does not select while it works (a sequential syncer) marks
// the call it is inside with Busy instead.
type Loop struct {
	name string
	q    chan chan struct{}
	busy atomic.Int64 // Busy's until in Unix ns; 0: not busy; -1: without a bound
}

// NewLoop returns the ping queue of the loop named name ("voter east
// tick loop"): the name PingLoops's errors use.
func NewLoop(name string) *Loop {
	// One request waits at most: the next Ask replaces one the loop has
	// not taken.
	return &Loop{name: name, q: make(chan chan struct{}, 1)}
}

// Name is the loop's name.
func (l *Loop) Name() string { return l.name }

// Pings is what the loop selects on; it closes each request it receives.
func (l *Loop) Pings() <-chan chan struct{} { return l.q }

// Busy marks the loop as inside a call it bounded itself: Ask counts
// it as answering until until (the call's context deadline), or for as
// long as it lasts when until is zero (work that cannot hang on its own
// and has no deadline, such as a scan; say so where it is used). The
// loop calls done when the call returns.
func (l *Loop) Busy(until time.Time) (done func()) {
	v := int64(-1)
	if !until.IsZero() {
		v = until.UnixNano()
	}
	l.busy.Store(v)
	return func() { l.busy.Store(0) }
}

// busyAt reports whether the loop is inside a Busy call whose bound has
// not passed at now.
func (l *Loop) busyAt(now time.Time) bool {
	v := l.busy.Load()
	return v == -1 || v > now.UnixNano()
}

// NotAnswered is PingLoops's error: the loops that did not answer in time.
type NotAnswered struct {
	Loops []string
}

func (e *NotAnswered) Error() string {
	if len(e.Loops) == 1 {
		return "loop " + e.Loops[0] + " did not answer"
	}
	return "loops " + strings.Join(e.Loops, ", ") + " did not answer"
}

// Unanswered returns the loops err (from PingLoops) names; nil when err is nil
// or names none.
func Unanswered(err error) []string {
	var na *NotAnswered
	if errors.As(err, &na) {
		return na.Loops
	}
	return nil
}

// Ask asks every loop at once and waits for their answers until
// ctx ends: nil when all answered, else a *NotAnswered naming those that
// did not, in the order given; a loop inside a Busy call within its
// bound counts as answering. A request the loop has not taken from
// an earlier Ask is replaced. It starts no goroutine.
func Ask(ctx context.Context, loops ...*Loop) error {
	reqs := make([]chan struct{}, len(loops))
	for i, l := range loops {
		r := make(chan struct{})
		for range 2 {
			select {
			case l.q <- r:
				reqs[i] = r
			default: // the last request still waits: this one replaces it
				select {
				case <-l.q:
					continue
				default:
					continue
				}
			}
			break
		}
	}
	var late []string
	for i, r := range reqs {
		if r == nil {
			if !loops[i].busyAt(time.Now()) {
				late = append(late, loops[i].name)
			}
			continue
		}
		select {
		case <-r:
		case <-ctx.Done():
			select {
			case <-r: // answered as ctx ended
			default:
				if !loops[i].busyAt(time.Now()) {
					late = append(late, loops[i].name)
				}
			}
		}
	}
	if late != nil {
		return &NotAnswered{Loops: late}
	}
	return nil
}
