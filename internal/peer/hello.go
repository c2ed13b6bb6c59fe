package peer

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redund/redund/internal/text"
)

// Hello is what each node tells the other during the handshake.
type Hello struct {
	NodeID  string `json:"node_id"`
	Mode    string `json:"mode"`    // scheme words: master, backup, primary, ...
	Version string `json:"version"` // the software version
	Epoch   uint64 `json:"epoch"`   // scheme-defined generation counter
	// UptimeMS is how long the node's process has been running.
	UptimeMS int64 `json:"uptime_ms"`
	// App carries scheme fields (role, last applied sequence, ...).
	App map[string]string `json:"app,omitempty"`
}

// Uptime returns UptimeMS as a duration.
func (h Hello) Uptime() time.Duration { return time.Duration(h.UptimeMS) * time.Millisecond }

// CompatFunc decides whether a remote node may pair with the local one; a
// non-nil error refuses the link and its text is the reason both sides see.
type CompatFunc func(local, remote Hello) error

// maxHello bounds a Hello's encoded size: a Hello frame (type, payload,
// MAC) fits the handshake's frame limit.
const maxHello = preAuthMaxFrame - 1 - macLen

// ParseHello decodes and checks a Hello frame payload. Its strings come
// from the other node: control characters are removed (text.Clean).
func ParseHello(b []byte) (Hello, error) {
	var h Hello
	if len(b) > maxHello {
		return h, errors.New("peer: hello too large")
	}
	if err := json.Unmarshal(b, &h); err != nil {
		return h, fmt.Errorf("peer: bad hello: %w", err)
	}
	if len(h.NodeID) > 256 || len(h.Mode) > 64 || len(h.Version) > 128 || len(h.App) > 64 {
		return h, errors.New("peer: bad hello: field too long")
	}
	if h.UptimeMS < 0 {
		return h, errors.New("peer: bad hello: negative uptime")
	}
	h.NodeID, h.Mode, h.Version = text.Clean(h.NodeID), text.Clean(h.Mode), text.Clean(h.Version)
	if h.NodeID == "" {
		return h, errors.New("peer: bad hello: empty node_id")
	}
	if len(h.App) > 0 {
		app := make(map[string]string, len(h.App))
		for k, v := range h.App {
			app[text.Clean(k)] = text.Clean(v)
		}
		h.App = app
	}
	return h, nil
}

func encodeHello(h Hello) []byte {
	b, _ := json.Marshal(h)
	return b
}

// DefaultCompat refuses a pair whose ends share a node id or a mode; a
// scheme's CompatFunc usually calls it first.
func DefaultCompat(local, remote Hello) error {
	if local.NodeID == remote.NodeID {
		return fmt.Errorf("both nodes have node id %q", local.NodeID)
	}
	if local.Mode != "" && local.Mode == remote.Mode {
		return fmt.Errorf("both nodes are in mode %q", local.Mode)
	}
	return nil
}
