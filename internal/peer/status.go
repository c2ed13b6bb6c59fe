package peer

import "time"

// State is the link's state.
type State int

// Link states.
const (
	Connecting State = iota // dialing, or listening for the peer
	Up                      // authenticated and compatible
	Down                    // the connection ended (Reason says why)
	Refused                 // authentication or compatibility refused (Reason)
	// Mismatch: the other end answers as a redund node but its secret or
	// certificate differs from this node's (Reason "secrets differ" or
	// "certificates differ"; which side is wrong is not known).
	Mismatch
)

func (s State) String() string {
	switch s {
	case Connecting:
		return "Connecting"
	case Up:
		return "Up"
	case Down:
		return "Down"
	case Refused:
		return "Refused"
	case Mismatch:
		return "Mismatch"
	}
	return "Unknown"
}

// MarshalText writes the state's name.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a state's name (for clients of status documents).
func (s *State) UnmarshalText(b []byte) error {
	for _, c := range []State{Connecting, Up, Down, Refused, Mismatch} {
		if c.String() == string(b) {
			*s = c
			return nil
		}
	}
	return errString("unknown link state " + string(b))
}

// Event is one state change of the link.
type Event struct {
	State  State
	Reason string
	// Remote is the peer's Hello: on Up, on Down after Up, and on Refused
	// when this node refused the authenticated peer's Hello (empty NodeID
	// otherwise).
	Remote Hello
	Time   time.Time // when it happened
	// LastHeard is when the last frame arrived (Down after Up), or when
	// the mismatching node answered (Mismatch).
	LastHeard time.Time
	// Repeat is set on a Mismatch event that repeats the previous one (the
	// mismatching node answered again), and on a Refused event with the
	// peer's Hello that repeats the previous one: a sign of life only.
	Repeat bool
}

// Status summarises the link for status pages.
type Status struct {
	State     State         `json:"state"`
	Reason    string        `json:"reason,omitempty"`
	Since     time.Time     `json:"since"`
	Address   string        `json:"address,omitempty"`
	Remote    *Hello        `json:"remote,omitempty"`
	RTT       time.Duration `json:"rtt_ns,omitempty"`
	LastHeard time.Time     `json:"last_heard"`
	Connects  int           `json:"connects"` // links established
	// Dropped counts incoming connections dropped without a state change:
	// not a peer, failed before authentication, evicted from a handshake
	// slot, or refused while the link is up.
	Dropped int `json:"dropped"`

	// RemoteAddr is the connected peer's network address (while connected).
	RemoteAddr string `json:"remote_addr,omitempty"`
}

// Status returns the current link summary.
func (n *Node) Status() Status {
	n.mu.Lock()
	st := n.st
	c := n.cur
	n.mu.Unlock()
	if c != nil {
		r := c.remote
		st.Remote = &r
		st.RemoteAddr = c.nc.RemoteAddr().String()
		st.RTT = time.Duration(c.rtt.Load())
		st.LastHeard = time.Unix(0, c.lastRecv.Load())
	}
	return st
}

// LastHeard is when the last frame arrived from the peer (zero if never).
func (n *Node) LastHeard() time.Time {
	if c := n.current(); c != nil {
		return time.Unix(0, c.lastRecv.Load())
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.st.LastHeard
}

// emit records e in the status and calls OnEvent, in order.
func (n *Node) emit(e Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	n.evMu.Lock()
	defer n.evMu.Unlock()
	n.mu.Lock()
	if n.st.State == e.State && n.st.Reason == e.Reason && e.State != Up {
		if e.State != Mismatch && (e.State != Refused || e.Remote.NodeID == "") {
			n.mu.Unlock()
			return // a repeated failure (redial) is not news
		}
		// the mismatching node answered again, or the refused peer sent
		// its authenticated Hello again: a sign of life
		e.Repeat = true
	}
	if !e.Repeat {
		n.st.Since = e.Time
	}
	n.st.State, n.st.Reason = e.State, e.Reason
	if !e.LastHeard.IsZero() {
		n.st.LastHeard = e.LastHeard
	}
	n.mu.Unlock()
	if n.opts.OnEvent != nil {
		n.opts.OnEvent(e)
	}
	if n.opts.Events != nil {
		select {
		case n.opts.Events <- e:
		default:
		}
	}
}
