package logging

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"
)

// maxThrottleSources bounds the sources a Throttle tells apart in one
// interval; the rest are counted together as "others".
const maxThrottleSources = 8

// Throttle keeps a flood of one kind of warning (a stranger's requests, a
// scanner's connections) from flooding the log: the first event of an
// interval is logged at once with its detail, the others are counted by
// source, and once per interval (Run) one line says how many were dropped
// and from where. Callers count every event in a metric themselves.
type Throttle struct {
	log   *slog.Logger
	msg   string
	every time.Duration

	mu      sync.Mutex
	logged  bool           // a line was logged in this interval
	dropped int            // events not logged in this interval
	from    map[string]int // dropped events by source (bounded)
	others  int            // dropped events from sources beyond the bound
	detail  string         // the last dropped event's detail
}

// NewThrottle logs msg at warning level on log, at most one event and one
// summary per interval every.
func NewThrottle(log *slog.Logger, msg string, every time.Duration) *Throttle {
	return &Throttle{log: log, msg: msg, every: every, from: map[string]int{}}
}

// Event records one event from source (an address) with a detail (the
// reason; never text chosen by the source).
func (t *Throttle) Event(source, detail string) {
	t.mu.Lock()
	first := !t.logged
	if first {
		t.logged = true
	} else {
		t.dropped++
		t.detail = detail
		if _, ok := t.from[source]; ok || len(t.from) < maxThrottleSources {
			t.from[source]++
		} else {
			t.others++
		}
	}
	t.mu.Unlock()
	if first {
		t.log.Warn(t.msg, "from", source, "reason", detail)
	}
}

// Run writes the summary of each interval until ctx ends, and the last
// one then.
func (t *Throttle) Run(ctx context.Context) {
	tick := time.NewTicker(t.every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			t.Flush()
			return
		case <-tick.C:
			t.Flush()
		}
	}
}

// Flush ends the interval: it logs how many events were dropped in it, by
// source, if any were.
func (t *Throttle) Flush() {
	t.mu.Lock()
	n, from, others, detail := t.dropped, t.from, t.others, t.detail
	t.logged, t.dropped, t.others, t.detail = false, 0, 0, ""
	if n > 0 {
		t.from = map[string]int{}
	}
	t.mu.Unlock()
	if n == 0 {
		return
	}
	t.log.Warn(t.msg+" (more not logged)", "dropped", n, "from", sourceList(from, others),
		"last_reason", detail, "interval_s", t.every.Seconds())
}

// sourceList is "a (3), b (1), others (2)", the most frequent first.
func sourceList(from map[string]int, others int) string {
	keys := make([]string, 0, len(from))
	for k := range from {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if from[keys[i]] != from[keys[j]] {
			return from[keys[i]] > from[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, 0, len(keys)+1)
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s (%d)", k, from[k]))
	}
	if others > 0 {
		parts = append(parts, fmt.Sprintf("others (%d)", others))
	}
	return strings.Join(parts, ", ")
}

// Every lets one line of a repeated warning through per Period and counts
// the rest (a failing sync, a dropped connection, a peer whose secret
// differs): the warning stays in the log without flooding it, and the line
// that gets through says how many were held back. A line with another key
// than the last one logged (a new error) gets through at once. Unlike
// Throttle, which sums up a flood from many sources once per interval,
// Every needs no goroutine: what was held back is reported by the next
// line logged. The zero value logs every line; it is safe for concurrent
// use and must not be copied.
type Every struct {
	Period time.Duration

	mu     sync.Mutex
	last   time.Time // when a line was last let through; zero: never (or Reset)
	key    string    // that line's key
	held   int       // lines held back since
	logged bool
}

// Allow reports whether to log a line now and how many were held back
// since the last one logged.
func (e *Every) Allow(now time.Time) (bool, int) { return e.AllowKey(now, "") }

// AllowKey is Allow for a line with key: it gets through at once when key
// differs from the last logged line's.
func (e *Every) AllowKey(now time.Time, key string) (bool, int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.logged && key == e.key && now.Sub(e.last) < e.Period {
		e.held++
		return false, 0
	}
	held := e.held
	e.last, e.key, e.held, e.logged = now, key, 0, true
	return true, held
}

// Reset starts over (a run of failures ended): the next line gets through
// at once, and the count held back is dropped.
func (e *Every) Reset() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.last, e.key, e.held, e.logged = time.Time{}, "", 0, false
}
