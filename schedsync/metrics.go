package schedsync

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the node's Prometheus series (documented in docs/schedsync.md).
type metrics struct {
	state         *prometheus.GaugeVec
	primary       prometheus.Gauge
	epoch         prometheus.Gauge
	files         prometheus.Gauge
	changes       prometheus.Counter
	applied       prometheus.Counter
	bytes         *prometheus.CounterVec
	sent          prometheus.Counter
	conflicts     prometheus.Counter
	localEdits    prometheus.Gauge
	peerConnected prometheus.Gauge
	promotions    prometheus.Counter
	scans         prometheus.Counter
	setidDropped  prometheus.Counter
	refused       prometheus.Counter
	badAnswers    prometheus.Counter
	overflows     prometheus.Counter
	bigSigs       prometheus.Counter
}

func newMetrics() *metrics {
	const ns, sub = "redund", "schedsync"
	g := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help})
	}
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help})
	}
	m := &metrics{
		state: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "state",
			Help: "1 for the current status (No redundancy, Connecting, Syncing, Synced, Not synced, Unavailable, Incompatible)."},
			[]string{"state"}),
		primary: g("primary", "1 when this node is primary."),
		epoch:   g("epoch", "Failover epoch (incremented at every promotion)."),
		files:   g("files", "Paths in the manifest (primary) or synced tree (secondary)."),
		changes: c("changes_total", "Change records logged by the primary."),
		applied: c("applied_total", "Changes applied by the secondary."),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "received_bytes_total",
			Help: "Content bytes received by the secondary, by transfer kind (whole, delta, local)."}, []string{"kind"}),
		sent:          c("sent_bytes_total", "Content and delta bytes sent by the primary."),
		conflicts:     c("conflicts_total", "Files moved aside into .redund/conflicts instead of being overwritten or deleted."),
		localEdits:    g("local_edits", "Paths changed locally on the secondary (Not synced until a resync)."),
		peerConnected: g("peer_connected", "1 while the peer answers."),
		promotions:    c("promotions_total", "Times this node became primary."),
		scans:         c("full_scans_total", "Full scans of the directory."),
		setidDropped:  c("setid_dropped_total", "Paths whose setuid/setgid bits the secondary did not replicate (preserve_setid = false), counted once per path."),
		refused:       c("refused_requests_total", "Requests to the peer port refused before authentication (bad or missing MAC, clock, replay, protocol)."),
		badAnswers:    c("unauthenticated_answers_total", "Answers from the peer refused: no valid proof, a body or trailer that does not match it, or a redirect."),
		overflows:     c("watch_overflows_total", "Times the kernel's file-event queue overflowed (each one is followed by a full scan)."),
		bigSigs:       c("refused_signatures_total", "Delta signatures refused by the primary: a basis more than 4 times the file's size, or a block size not the protocol's for it."),
	}
	return m
}

// register adds the metrics to reg; an error (a name taken) is returned.
func (m *metrics) register(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.state, m.primary, m.epoch, m.files, m.changes, m.applied, m.bytes, m.sent,
		m.conflicts, m.localEdits, m.peerConnected, m.promotions, m.scans, m.setidDropped, m.refused, m.badAnswers, m.overflows, m.bigSigs} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("schedsync: metrics: %w", err)
		}
	}
	return nil
}

func (m *metrics) setState(name State) {
	for _, s := range States {
		v := 0.0
		if s == name {
			v = 1
		}
		m.state.WithLabelValues(s.String()).Set(v)
	}
}

func (m *metrics) setRole(role Role) {
	if role == RolePrimary {
		m.primary.Set(1)
	} else {
		m.primary.Set(0)
	}
}
