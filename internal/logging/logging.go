// Package logging sets up log/slog from the global flags and keeps a ring of
// recent events that status pages show.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Event is one log record as the status document shows it.
type Event struct {
	Time      time.Time `json:"time"`
	Level     string    `json:"level"`
	Component string    `json:"component,omitempty"`
	Instance  string    `json:"instance,omitempty"`
	Message   string    `json:"message"`
}

// Ring keeps the most recent events at or above a level.
type Ring struct {
	mu     sync.Mutex
	events []Event
	next   int
	full   bool
}

// NewRing returns a ring holding up to n events (n < 1 means 200).
func NewRing(n int) *Ring {
	if n < 1 {
		n = 200
	}
	return &Ring{events: make([]Event, n)}
}

// Add stores an event, overwriting the oldest when full.
func (r *Ring) Add(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events[r.next] = e
	r.next = (r.next + 1) % len(r.events)
	if r.next == 0 {
		r.full = true
	}
}

// Events returns the stored events, oldest first.
func (r *Ring) Events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Event
	if r.full {
		out = append(out, r.events[r.next:]...)
	}
	return append(out, r.events[:r.next]...)
}

// ParseLevel accepts debug, info, warn and error.
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("log level %q: use debug, info, warn or error", s)
	}
	return l, nil
}

// New returns a logger writing text or json to w at level, whose records
// at info and above are also kept in ring (when ring is not nil). Values of
// type config.Secret never reach the output or the ring (see RedactAttr).
func New(w io.Writer, level, format string, ring *Ring) (*slog.Logger, error) {
	lvl, err := ParseLevel(level)
	if err != nil {
		return nil, err
	}
	opts := &slog.HandlerOptions{Level: lvl, ReplaceAttr: RedactAttr}
	var h slog.Handler
	switch strings.ToLower(format) {
	case "", "text":
		h = slog.NewTextHandler(w, opts)
	case "json":
		h = slog.NewJSONHandler(w, opts)
	default:
		return nil, fmt.Errorf("log format %q: use text or json", format)
	}
	if ring != nil {
		h = &ringHandler{next: h, ring: ring}
	}
	return slog.New(h), nil
}

// Component returns a logger for one component and instance.
func Component(l *slog.Logger, component, instance string) *slog.Logger {
	if instance == "" {
		return l.With("component", component)
	}
	return l.With("component", component, "instance", instance)
}

// Discard is a logger that drops everything, for tests and libraries.
func Discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
