package health

import (
	"fmt"
	"time"
)

// State is what a Monitor concluded from its recent probes.
type State int

// The states; a Monitor starts in Unknown.
const (
	Unknown State = iota
	OK
	Err
)

var stateNames = [...]string{Unknown: "UNKNOWN", OK: "OK", Err: "ERR"}

// String returns "UNKNOWN", "OK" or "ERR".
func (s State) String() string {
	if s < 0 || int(s) >= len(stateNames) {
		return fmt.Sprintf("State(%d)", int(s))
	}
	return stateNames[s]
}

// MarshalText writes the state's name (for JSON and TOML).
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a name written by MarshalText.
func (s *State) UnmarshalText(b []byte) error {
	for i, n := range stateNames {
		if n == string(b) {
			*s = State(i)
			return nil
		}
	}
	return fmt.Errorf("health: unknown state %q", b)
}

// Snapshot is a Monitor's view of its target at one moment.
type Snapshot struct {
	Name        string        `json:"name"`
	State       State         `json:"state"`
	Maintenance bool          `json:"maintenance"`
	Reason      string        `json:"reason"`     // reason of the last probe
	Latency     time.Duration `json:"latency_ns"` // latency of the last probe
	Since       time.Time     `json:"since"`      // last state change (or the monitor's creation)
	LastCheck   time.Time     `json:"last_check"` // start of the last probe; zero before the first
	Checks      uint64        `json:"checks"`     // probes done so far
}

// Selectable reports whether the target may be chosen: OK and not in maintenance.
func (s Snapshot) Selectable() bool { return s.State == OK && !s.Maintenance }

// Label is the state as a status page shows it: "OK", "ERR", "UNKNOWN", or
// "MAINT" while in maintenance (the State field of status.Health).
func (s Snapshot) Label() string {
	if s.Maintenance {
		return "MAINT"
	}
	return s.State.String()
}

// Change is sent to subscribers when the state or the maintenance flag changes.
type Change struct {
	Name     string
	From, To State
	Snapshot Snapshot // the monitor just after the change
}
