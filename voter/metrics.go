package voter

import (
	"sort"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	descPackets = prometheus.NewDesc("redund_voter_socket_packets_total",
		"Packets seen on a VOTER socket by outcome.", []string{"listen", "outcome"}, nil)
	descLink = prometheus.NewDesc("redund_voter_proxy_link_up",
		"1 when a secondary's link to its primary is up.", []string{"instance"}, nil)
	descClientUp = prometheus.NewDesc("redund_voter_client_connected",
		"1 when the client is connected.", []string{"instance", "client"}, nil)
	descClientPackets = prometheus.NewDesc("redund_voter_client_packets_total",
		"Packets received from the client.", []string{"instance", "client"}, nil)
	descClientDrops = prometheus.NewDesc("redund_voter_client_drops_total",
		"Packets of the client that were dropped (late, no timing, unsupported, bad proxy, from another address that did not move it).", []string{"instance", "client"}, nil)
	descClientRSSI = prometheus.NewDesc("redund_voter_client_rssi",
		"Mean RSSI of the client's last frame.", []string{"instance", "client"}, nil)
	descRTP = prometheus.NewDesc("redund_voter_rtp_sent_total",
		"Voted RTP packets sent.", []string{"instance"}, nil)
	descRTPErrors = prometheus.NewDesc("redund_voter_rtp_send_errors_total",
		"Voted RTP packets the socket refused to send (no route, a firewall, a broadcast address).", []string{"instance"}, nil)
	descCycles = prometheus.NewDesc("redund_voter_cycles_total",
		"Voting cycles run.", []string{"listen"}, nil)
	descCycleP99 = prometheus.NewDesc("redund_voter_cycle_p99_seconds",
		"99th percentile of recent voting cycle durations.", []string{"listen"}, nil)
	descOverruns = prometheus.NewDesc("redund_voter_cycle_overruns_total",
		"Voting cycles that took longer than 20 ms.", []string{"listen"}, nil)
	descMissed = prometheus.NewDesc("redund_voter_cycle_missed_total",
		"Voting cycles missed: more than 30 ms between two cycle starts (each master packet, or the 20 ms timer, starts one).", []string{"listen"}, nil)
	descMissedArrival = prometheus.NewDesc("redund_voter_cycle_missed_arrival_total",
		"Missed voting cycles whose master packet itself reached the socket more than 30 ms after the one before (kernel receive time): the timing source or the network was late, not the server.", []string{"listen"}, nil)
	descUnknownDigest = prometheus.NewDesc("redund_voter_unknown_digest_total",
		"Packets on the instance's VOTER socket whose digest matches no client (wrong password, stale challenge, or forgery attempts); the count is the socket's, shared by the instances on it.",
		[]string{"instance", "listen"}, nil)
	descMoveRefused = prometheus.NewDesc("redund_voter_address_change_refused_total",
		"Packets with a client's valid digest from an address other than the client's that were dropped and did not move it: reason current_address_live (the client's address sent within the last 2 s) or stale_from_new_address (its time stamp is not newer than the client's last).",
		[]string{"listen", "reason"}, nil)
	descRTPInRefused = prometheus.NewDesc("redund_voter_rtp_in_refused_total",
		"Packets on rtp_in from a source that rtp_in_from does not list (dropped).", []string{"instance"}, nil)
)

// collector exports the server's counters to prometheus.
type collector struct{ s *Server }

// Describe sends every metric description.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPackets, descLink, descClientUp, descClientPackets,
		descClientDrops, descClientRSSI, descRTP, descRTPErrors, descCycles, descCycleP99, descOverruns, descMissed, descMissedArrival,
		descUnknownDigest, descMoveRefused, descRTPInRefused} {
		ch <- d
	}
}

// Collect reads each socket's counters under its lock, then sends them.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	for _, g := range c.s.groups {
		g.mu.Lock()
		ms := g.metrics()
		g.mu.Unlock()
		for _, m := range ms {
			ch <- m
		}
	}
}

// metricSet accumulates const metrics.
type metricSet []prometheus.Metric

func (s *metricSet) counter(d *prometheus.Desc, v uint64, l ...string) {
	*s = append(*s, prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), l...))
}

func (s *metricSet) gauge(d *prometheus.Desc, v float64, l ...string) {
	*s = append(*s, prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, l...))
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// metrics are the socket's and its instances' metrics (g.mu held).
func (g *group) metrics() metricSet {
	var s metricSet
	m := g.counters()
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		s.counter(descPackets, m[k], g.addr, k)
	}
	r := g.cycles.report()
	s.counter(descCycles, r.Cycles, g.addr)
	s.counter(descOverruns, r.Overruns, g.addr)
	s.counter(descMissed, r.Missed, g.addr)
	s.counter(descMissedArrival, r.MissedArrival, g.addr)
	s.gauge(descCycleP99, r.P99MS/1000, g.addr)
	s.counter(descMoveRefused, g.stats.MoveRefusedLive, g.addr, refusedLive)
	s.counter(descMoveRefused, g.stats.MoveRefusedStale, g.addr, refusedStale)
	for _, in := range g.insts {
		in.metrics(&s)
	}
	return s
}

// metrics adds the instance's metrics (g.mu held).
func (in *instance) metrics(s *metricSet) {
	if in.link != nil {
		s.gauge(descLink, b2f(in.link.up), in.name)
	}
	s.counter(descRTP, in.rtp.sent, in.name)
	s.counter(descRTPErrors, in.rtp.errs, in.name)
	s.counter(descUnknownDigest, in.g.stats.UnknownDigest, in.name, in.g.addr)
	if in.rtpIn != nil {
		s.counter(descRTPInRefused, in.txStats.Refused, in.name)
	}
	for _, cl := range in.clients {
		s.gauge(descClientUp, b2f(cl.heard), in.name, cl.name)
		s.counter(descClientPackets, cl.packets, in.name, cl.name)
		s.counter(descClientDrops, cl.drops, in.name, cl.name)
		s.gauge(descClientRSSI, float64(cl.lastRSSI), in.name, cl.name)
	}
}
