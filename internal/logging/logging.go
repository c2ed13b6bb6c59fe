// Package logging sets up log/slog from the global flags and keeps a ring of
// recent events that status pages show.
package logging

import (
	"context"
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

type ringHandler struct {
	next      slog.Handler
	ring      *Ring
	component string
	instance  string
}

func (h *ringHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *ringHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelInfo {
		msg := r.Message
		var extra []string
		r.Attrs(func(a slog.Attr) bool {
			extra = append(extra, a.Key+"="+redactValue(a.Value).String())
			return true
		})
		if len(extra) > 0 {
			msg += " " + strings.Join(extra, " ")
		}
		h.ring.Add(Event{Time: r.Time, Level: r.Level.String(), Component: h.component,
			Instance: h.instance, Message: msg})
	}
	return h.next.Handle(ctx, r)
}

func (h *ringHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.next = h.next.WithAttrs(attrs)
	for _, a := range attrs {
		switch a.Key {
		case "component":
			c.component = a.Value.String()
		case "instance":
			c.instance = a.Value.String()
		}
	}
	return &c
}

func (h *ringHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.next = h.next.WithGroup(name)
	return &c
}
