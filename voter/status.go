package voter

import (
	"fmt"
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

// missedGap is the gap between two cycle starts that counts as a missed
// 20 ms cycle.
const missedGap = 30 * time.Millisecond

// cycleStats keeps the recent voting cycle durations and waits.
type cycleStats struct {
	n        uint64
	overruns uint64 // cycles that took longer than 20 ms
	missed   uint64 // gaps of more than 30 ms between cycle starts
	// missedArrival counts the missed cycles whose master packet itself
	// reached the socket more than 30 ms after the one before: the timing
	// source (or the network) was late, not this process.
	missedArrival uint64
	last, lastAt  time.Time
	ring          [4096]time.Duration // cycle durations
	waits         [4096]time.Duration // from the datagram's arrival to the cycle's start
}

// add records a cycle that started at start, took d, and was started by a
// datagram (or timer) that arrived at at.
func (s *cycleStats) add(start, at time.Time, d time.Duration) {
	if !s.last.IsZero() && start.Sub(s.last) > missedGap {
		s.missed++
		if at.Sub(s.lastAt) > missedGap {
			s.missedArrival++
		}
	}
	s.last, s.lastAt = start, at
	s.ring[s.n%uint64(len(s.ring))] = d
	s.waits[s.n%uint64(len(s.waits))] = max(start.Sub(at), 0)
	s.n++
	if d > cycleEvery {
		s.overruns++
	}
}

// CycleReport summarises recent voting cycles.
type CycleReport struct {
	Cycles   uint64 `json:"cycles"`
	Overruns uint64 `json:"overruns"`
	Missed   uint64 `json:"missed"`
	// MissedArrival: of Missed, the cycles whose master packet arrived
	// late (more than 30 ms after the one before, kernel receive time);
	// Missed - MissedArrival arrived in time and were started late here.
	MissedArrival uint64  `json:"missed_arrival"`
	P50MS         float64 `json:"p50_ms"`
	P99MS         float64 `json:"p99_ms"`
	MaxMS         float64 `json:"max_ms"`
	// WaitP99MS and WaitMaxMS: the time from a master packet's arrival at
	// the socket to the start of its cycle (read and queue delay).
	WaitP99MS float64 `json:"wait_p99_ms"`
	WaitMaxMS float64 `json:"wait_max_ms"`
}

func (s *cycleStats) report() CycleReport {
	n := min(s.n, uint64(len(s.ring)))
	r := CycleReport{Cycles: s.n, Overruns: s.overruns, Missed: s.missed, MissedArrival: s.missedArrival}
	if n == 0 {
		return r
	}
	ms := func(x time.Duration) float64 { return float64(x.Microseconds()) / 1000 }
	d := slices.Clone(s.ring[:n])
	slices.Sort(d)
	r.P50MS, r.P99MS, r.MaxMS = ms(d[n/2]), ms(d[n*99/100]), ms(d[n-1])
	w := slices.Clone(s.waits[:n])
	slices.Sort(w)
	r.WaitP99MS, r.WaitMaxMS = ms(w[n*99/100]), ms(w[n-1])
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
	GPSAt     time.Time `json:"gps_at,omitzero"` // when the client reported GPS
}

// TimingSource is the master timing source of an instance's socket in the
// status document: the one driving the cycle, or else the first one
// configured. It may belong to another instance on the same socket (a
// redundant instance's clients are timed by a master in an instance of its
// own).
type TimingSource struct {
	Name     string    `json:"name"`
	Instance string    `json:"instance"`
	Timing   bool      `json:"timing"` // its packets drive the voting cycle
	GPS      string    `json:"gps,omitempty"`
	GPSAt    time.Time `json:"gps_at,omitzero"`
}

// timingSource describes the socket's master (nil: none configured).
func (g *group) timingSource() *TimingSource {
	if !g.hasMaster() {
		return nil
	}
	m, timing := g.master, g.masterSec != 0
	if m == nil || !timing {
		m = g.masters[0]
	}
	return &TimingSource{Name: m.name, Instance: m.inst.name, Timing: timing, GPS: m.gps, GPSAt: m.gpsAt}
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
		"same_address":         st.SameAddress,
		"address_refused_live": st.MoveRefusedLive, "address_refused_stale": st.MoveRefusedStale,
		"unauthenticated": st.Unauthenticated, "late": st.Late, "unsupported": st.Unsupported,
		"bad_proxy": st.BadProxy, "forwarded": st.Forwarded, "relayed": st.Relayed, "proxied_in": st.ProxiedIn, "no_timing": st.NoTiming,
		"read_batches": st.ReadBatches, "auth_replies": st.AuthReplies, "auth_replies_limited": st.AuthLimited,
		"peer_unanswered": st.PeerUnanswered, "link_unverified": st.LinkUnverified,
	}
}

func (in *instance) document() status.Document {
	g := in.g
	d := status.Document{Instance: in.name, Scheme: "voter", Role: in.role().String(), State: StateServing.String(), Since: g.started}
	winner := ""
	if in.winner != nil {
		winner = in.winner.name
	}
	clients := make([]ClientStatus, 0, len(in.clients))
	for _, c := range in.clients {
		clients = append(clients, c.status())
		h := status.Health{Name: c.name, State: "ERR", Reason: "not connected", Since: c.lastSeen}
		if c.heard {
			h.State, h.Reason = "OK", ""
		}
		d.Health = append(d.Health, h)
	}
	if ts := g.timingSource(); ts != nil {
		// With a master configured only its packets run the vote: every
		// client may be connected while nothing is voted.
		h := status.Health{Name: "master timing", State: "OK", Since: g.timingSince}
		if !ts.Timing {
			h.State, h.Reason = "ERR", "master timing source "+ts.Name+" not timing: nothing is voted"
			if h.Since.IsZero() {
				h.Since = g.started
			}
		}
		d.Health = append(d.Health, h)
	}
	if in.rtp.failingNow(time.Now()) {
		// The voted audio is the instance's output: clients that are all
		// connected do not make it OK while nothing leaves.
		d.Health = append(d.Health, status.Health{Name: "rtp_out", State: "ERR",
			Reason: "voted audio not sent: " + in.rtp.failing, Since: in.rtp.failingSince})
	}
	listen := g.addr
	if g.conn != nil {
		listen = g.conn.LocalAddr().String()
	}
	d.Details = map[string]any{
		"listen": listen, "master_timing": g.masterSec != 0 && g.hasMaster(), "timing_source": g.timingSource(),
		"winner": winner, "keyed": in.keyed,
		"auth_failures": g.stats.UnknownDigest + g.stats.AuthRejected,
		"counters":      g.counters(), "clients": clients, "cycle": g.cycles.report(),
		"rtp_out": in.cfg.RTPOut, "rtp_sent": in.rtp.sent, "rtp_send_errors": in.rtp.errs, "rtp_in": in.cfg.RTPIn,
		"tx_packets": in.txStats.Packets, "rtp_in_refused": in.txStats.Refused,
	}
	if in.link != nil {
		in.link.describe(&d, time.Now())
	}
	return d
}

func (c *client) status() ClientStatus {
	s := ClientStatus{Name: c.name, Connected: c.heard, Mix: c.mix, Master: c.cfg.Master,
		LastRSSI: c.lastRSSI, Packets: c.packets, Drops: c.drops, LastSeen: c.lastSeen, GPS: c.gps, GPSAt: c.gpsAt}
	if c.addr.IsValid() {
		s.Address = c.addr.String()
	}
	if c.proxied {
		s.Address, s.Via = c.realAddr.String(), c.addr.String()
	}
	return s
}

// describe puts the link into an instance's document: proxying only while
// the link is up, which needs a verified reply within linkLost, and the
// age of the last verified reply either way.
func (l *link) describe(d *status.Document, now time.Time) {
	d.Peer = &status.Peer{Address: l.addr.String(), Connected: l.up, Since: l.since}
	age := l.replyAge(now)
	ago := "no verified reply yet"
	if age >= 0 {
		ago = fmt.Sprintf("last verified reply %.1f s ago", age)
	}
	if l.up {
		d.State, d.Reason, d.Since = StateProxying.String(), "clients forwarded to the primary; "+ago, l.since
	} else {
		d.Reason, d.Since = "link to primary down: "+l.lastDown+"; "+ago, l.since
		d.Peer.Reason = l.lastDown
	}
	if age >= 0 {
		d.Details["peer_reply_age_s"] = age
	}
}
