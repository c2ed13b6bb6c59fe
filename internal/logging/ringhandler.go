package logging

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
)

// ringHandler copies records at info and above into a Ring, as one line of
// message and key=value attributes (redacted like the log output).
type ringHandler struct {
	next      slog.Handler
	ring      *Ring
	component string
	instance  string
	prefix    string   // open groups, "g1.g2."
	fixed     []string // key=value of the attributes added with With
}

func (h *ringHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *ringHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelInfo {
		parts := append([]string{r.Message}, h.fixed...)
		r.Attrs(func(a slog.Attr) bool {
			parts = appendAttr(parts, h.prefix, a)
			return true
		})
		h.ring.Add(Event{Time: r.Time, Level: r.Level.String(), Component: h.component,
			Instance: h.instance, Message: strings.Join(parts, " ")})
	}
	return h.next.Handle(ctx, r)
}

func (h *ringHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.next = h.next.WithAttrs(attrs)
	c.fixed = append([]string(nil), h.fixed...)
	for _, a := range attrs {
		switch {
		case h.prefix == "" && a.Key == "component":
			c.component = a.Value.Resolve().String()
		case h.prefix == "" && a.Key == "instance":
			c.instance = a.Value.Resolve().String()
		default:
			c.fixed = appendAttr(c.fixed, h.prefix, a)
		}
	}
	return &c
}

func (h *ringHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.next = h.next.WithGroup(name)
	if name != "" {
		c.prefix = h.prefix + name + "."
	}
	return &c
}

// appendAttr adds a (flattened if a group, redacted) as key=value.
func appendAttr(parts []string, prefix string, a slog.Attr) []string {
	v := redactValue(a.Value)
	if v.Kind() == slog.KindGroup {
		if a.Key != "" {
			prefix += a.Key + "."
		}
		for _, g := range v.Group() {
			parts = appendAttr(parts, prefix, g)
		}
		return parts
	}
	if a.Key == "" {
		return parts
	}
	return append(parts, prefix+a.Key+"="+quote(v.String()))
}

// quote quotes s when it would not read as one value.
func quote(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\n\r\"=") || !strconv.CanBackquote(s) {
		return strconv.Quote(s)
	}
	return s
}
