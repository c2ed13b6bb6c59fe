package voter

import (
	"slices"
	"time"

	"github.com/redund/redund/internal/status"
)

// State is what an instance does with its clients' audio; its text
// ("proxying") is what the status shows.
type State string

// The states.
const (
	StateServing  State = "serving"  // votes its own clients (no link, or the link to the primary is down)
	StateProxying State = "proxying" // a secondary whose link is up: clients forwarded to the primary
)

// String returns the state's name.
func (s State) String() string { return string(s) }

// cycleStats keeps the recent voting cycle durations.
type cycleStats struct {
	n        uint64
	overruns uint64 // cycles that took longer than 20 ms
	missed   uint64 // gaps of more than 30 ms between cycle starts
	last     time.Time
	ring     [4096]time.Duration
}

func (s *cycleStats) add(start time.Time, d time.Duration) {
	if !s.last.IsZero() && start.Sub(s.last) > 30*time.Millisecond {
		s.missed++
	}
	s.last = start
	s.ring[s.n%uint64(len(s.ring))] = d
	s.n++
	if d > cycleEvery {
		s.overruns++
	}
}

// CycleReport summarises recent voting cycles.
type CycleReport struct {
	Cycles   uint64  `json:"cycles"`
	Overruns uint64  `json:"overruns"`
	Missed   uint64  `json:"missed"`
	P50MS    float64 `json:"p50_ms"`
	P99MS    float64 `json:"p99_ms"`
	MaxMS    float64 `json:"max_ms"`
}

func (s *cycleStats) report() CycleReport {
	n := min(s.n, uint64(len(s.ring)))
	r := CycleReport{Cycles: s.n, Overruns: s.overruns, Missed: s.missed}
	if n == 0 {
		return r
	}
	d := slices.Clone(s.ring[:n])
	slices.Sort(d)
	ms := func(x time.Duration) float64 { return float64(x.Microseconds()) / 1000 }
	r.P50MS, r.P99MS, r.MaxMS = ms(d[n/2]), ms(d[n*99/100]), ms(d[n-1])
	return r
}

// ClientStatus is one client in the status document.
type ClientStatus struct {
	Name      string    `json:"name"`
	Connected bool      `json:"connected"`
	Address   string    `json:"address,omitempty"`
	Via       string    `json:"via,omitempty"` // secondary that proxies it (primary side)
	Mix       bool      `json:"mix,omitempty"`
	Master    bool      `json:"master,omitempty"`
	LastRSSI  int       `json:"last_rssi"`
	Packets   uint64    `json:"packets"`
	Drops     uint64    `json:"drops"`
	LastSeen  time.Time `json:"last_seen,omitzero"`
	GPS       string    `json:"gps,omitempty"`
}

// Status describes every instance (status.Source).
func (s *Server) Status() []status.Document {
	var docs []status.Document
	for _, g := range s.groups {
		g.mu.Lock()
		for _, in := range g.insts {
			docs = append(docs, in.document())
		}
		g.mu.Unlock()
	}
	return docs
}

// Stats returns the counters of an instance's socket.
func (s *Server) Stats(instance string) map[string]uint64 {
	in := s.insts[instance]
	if in == nil {
		return nil
	}
	in.g.mu.Lock()
	defer in.g.mu.Unlock()
	return in.g.counters()
}

// counters are the socket's counters with the send queues' (mu held).
func (g *group) counters() map[string]uint64 {
	m := g.stats.m()
	if g.rq != nil {
		m["sent"] = g.rq.sent.Load() + g.tq.sent.Load()
		m["send_errors"] = g.rq.errs.Load() + g.tq.errs.Load()
		m["write_batches"] = g.rq.batches.Load() + g.tq.batches.Load()
	}
	return m
}

func (st *groupStats) m() map[string]uint64 {
	return map[string]uint64{
		"received":  st.Received,
		"bad_short": st.BadShort, "bad_size": st.BadSize, "bad_type": st.BadType, "bad_oversized": st.BadLarge,
		"unknown_digest": st.UnknownDigest, "auth_rejected": st.AuthRejected, "address_changes": st.AddrChanges,
		"same_address":    st.SameAddress,
		"unauthenticated": st.Unauthenticated, "late": st.Late, "unsupported": st.Unsupported,
		"bad_proxy": st.BadProxy, "forwarded": st.Forwarded, "relayed": st.Relayed, "proxied_in": st.ProxiedIn, "no_timing": st.NoTiming,
		"read_batches": st.ReadBatches, "auth_replies": st.AuthReplies, "auth_replies_limited": st.AuthLimited,
		"peer_unanswered": st.PeerUnanswered,
	}
}

func (in *instance) document() status.Document {
	g := in.g
	d := status.Document{Instance: in.name, Scheme: "voter", Role: in.role().String(), State: StateServing.String(), Since: g.started}
	if in.link != nil {
		d.Peer = &status.Peer{Address: in.link.addr.String(), Connected: in.link.up, Since: in.link.since}
		if in.link.up {
			d.State, d.Reason, d.Since = StateProxying.String(), "clients forwarded to the primary", in.link.since
		} else {
			d.Reason, d.Since = "link to primary down: "+in.link.lastDown, in.link.since
			d.Peer.Reason = in.link.lastDown
		}
	}
	winner := ""
	if in.winner != nil {
		winner = in.winner.name
	}
	clients := make([]ClientStatus, 0, len(in.clients))
	for _, c := range in.clients {
		clients = append(clients, c.status())
		h := status.Health{Name: c.name, State: "ERR", Reason: "not connected", Since: c.lastHeard}
		if c.heard {
			h.State, h.Reason = "OK", ""
		}
		d.Health = append(d.Health, h)
	}
	listen := g.addr
	if g.conn != nil {
		listen = g.conn.LocalAddr().String()
	}
	d.Details = map[string]any{
		"listen": listen, "master_timing": g.masterSec != 0 && g.hasMaster(),
		"winner": winner, "keyed": in.keyed,
		"auth_failures": g.stats.UnknownDigest + g.stats.AuthRejected,
		"counters":      g.counters(), "clients": clients, "cycle": g.cycles.report(),
		"rtp_out": in.cfg.RTPOut, "rtp_sent": in.rtp.sent, "rtp_in": in.cfg.RTPIn,
		"tx_packets": in.txStats.Packets, "rtp_in_refused": in.txStats.Refused,
	}
	return d
}

func (c *client) status() ClientStatus {
	s := ClientStatus{Name: c.name, Connected: c.heard, Mix: c.mix, Master: c.cfg.Master,
		LastRSSI: c.lastRSSI, Packets: c.packets, Drops: c.drops, LastSeen: c.lastHeard, GPS: c.gps}
	if c.addr.IsValid() {
		s.Address = c.addr.String()
	}
	if c.proxied {
		s.Address, s.Via = c.realAddr.String(), c.addr.String()
	}
	return s
}
