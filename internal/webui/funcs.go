package webui

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
)

// When prints a time in local time ("never" for the zero time).
func When(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

// Ago prints how long ago t was ("never" for the zero time).
func Ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return time.Since(t).Round(100*time.Millisecond).String() + " ago"
}

// MS prints milliseconds to 0.01 ms.
func MS(f float64) string { return strconv.FormatFloat(math.Round(f*100)/100, 'f', -1, 64) + " ms" }

// Class is the CSS class (ok, busy, warn, bad, idle) of a state word that
// the daemons use: health states, sync states, roles, link states.
func Class(state string) string {
	switch strings.ToLower(state) {
	case "ok", "synced", "serving", "proxying", "connected", "up", "leader", "active", "primary", "held", "holding":
		return "ok"
	case "syncing", "connecting", "starting", "waiting", "pending", "campaigning", "follower", "pushing", "standby":
		return "busy"
	case "maint", "maintenance", "degraded", "retrying", "not synced", "unknown", "fallback":
		return "warn"
	case "err", "error", "down", "unavailable", "incompatible", "failed", "disconnected":
		return "bad"
	}
	return "idle"
}

// Details reads a status document's details (as a daemon builds them in
// process, or as JSON decoded them) into v, a struct with the fields'
// JSON tags: the page reads the document the daemon serves, nothing else.
func Details(details map[string]any, v any) error {
	b, err := json.Marshal(details)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
