package demo

import (
	"fmt"
	"sync"
	"time"
)

// Event is one line of the demo's story: what was injected, what failed
// over, and how long it took.
type Event struct {
	At      time.Duration // since the demo started
	Scheme  string
	Message string
	Took    time.Duration // 0 when not a measured failover
	Limit   time.Duration // what Took was checked against
	OK      bool          // false: the promise was not kept in time
}

func (e Event) String() string {
	s := fmt.Sprintf("%6.1fs  %-9s %s", e.At.Seconds(), e.Scheme, e.Message)
	if e.Took > 0 {
		s += fmt.Sprintf(" (took %.2fs, limit %.2gs)", e.Took.Seconds(), e.Limit.Seconds())
	}
	if !e.OK {
		s += "  [NOT WITHIN LIMIT]"
	}
	return s
}

// Log collects events; Emit also calls the optional sink (printing).
type Log struct {
	mu     sync.Mutex
	start  time.Time
	events []Event
	Sink   func(Event)
}

// NewLog starts the clock.
func NewLog() *Log { return &Log{start: time.Now()} }

// Emit records an event that is not a measured failover.
func (l *Log) Emit(scheme, msg string, ok bool) { l.EmitTimed(scheme, msg, 0, 0, ok) }

// EmitTimed records a measured failover: it took took, against limit.
func (l *Log) EmitTimed(scheme, msg string, took, limit time.Duration, ok bool) {
	l.mu.Lock()
	e := Event{At: time.Since(l.start), Scheme: scheme, Message: msg, Took: took, Limit: limit, OK: ok}
	l.events = append(l.events, e)
	sink := l.Sink
	l.mu.Unlock()
	if sink != nil {
		sink(e)
	}
}

// Events returns a copy of every event so far.
func (l *Log) Events() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Event(nil), l.events...)
}
