package gateway

import (
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/redund/redund/internal/peer"
	"github.com/redund/redund/internal/replica"
	"github.com/redund/redund/internal/status"
)

// Detail is the gateway's full status (GET /v1/gateway/status and the
// Details of its status document).
type Detail struct {
	NodeID        string          `json:"node_id"`
	Mode          Mode            `json:"mode"`
	Role          Role            `json:"role"`
	RoleReason    string          `json:"role_reason"`
	RoleSince     time.Time       `json:"role_since"`
	LeadError     string          `json:"lead_error,omitempty"` // active but not leading the state log
	Epoch         uint64          `json:"epoch"`
	Failovers     int             `json:"failovers"`
	LastFailover  time.Time       `json:"last_failover,omitempty"`
	PeerConnected bool            `json:"peer_connected"`
	PeerRole      Role            `json:"peer_role,omitempty"`
	PeerNode      string          `json:"peer_node,omitempty"`
	PeerVersion   string          `json:"peer_version,omitempty"`
	Link          *peer.Status    `json:"link,omitempty"`
	Settings      map[string]any  `json:"settings"`
	Providers     []replica.Stats `json:"providers"`
	History       HistoryStats    `json:"history"`
	App           supStatus       `json:"application"`
	Witness       *WitnessDetail  `json:"witness,omitempty"`
	Events        []SystemEvent   `json:"system_events"`
	Replica       []replica.Event `json:"replica_events"`
	// Damaged counts the values of replica.db refused since the node
	// started because their checksum did not match (or bbolt panicked on
	// a damaged page); DamageError names the last one's file, bucket and
	// key. The check at start reads every value, so a restart counts
	// again what is still damaged.
	Damaged     int    `json:"damaged,omitempty"`
	DamageError string `json:"damage_error,omitempty"`
}

// HistoryStats describe the history store and the backup's cache.
type HistoryStats struct {
	Mode   string `json:"mode"`
	Cached int    `json:"cached"`
	// OldestCached is when the first point still waiting in the cache was
	// taken: how far behind the master's history is (zero: none waits)
	OldestCached time.Time `json:"oldest_cached,omitempty"`
	Forwarded    int64     `json:"forwarded"`          // stored by the master, as its reply says
	Repeated     int64     `json:"repeated,omitempty"` // forwarded again; the master already had them
	Dropped      int64     `json:"dropped_duplicates"`
	LastForward  time.Time `json:"last_forward,omitempty"`
	LastError    string    `json:"last_error,omitempty"`
	// Quarantined counts cached entries set aside because they cannot be
	// forwarded (undecodable, misnumbered, or a point the master refuses);
	// they stay in replica.db, out of the cache.
	Quarantined int `json:"quarantined,omitempty"`
	// RefusedInRow counts the master's refusals of forwarded batches in a
	// row (its answer is in LastError): the batch is narrowed down to the
	// point it refuses, which is set aside once the master has refused it
	// alone 5 times over at least a minute.
	RefusedInRow int `json:"refused_in_row,omitempty"`
}

// Detail returns the full status.
func (g *Gateway) Detail() Detail {
	v := g.view()
	d := Detail{NodeID: g.cfg.NodeID, Mode: g.cfg.Mode, Role: v.Role, RoleReason: v.Reason, RoleSince: v.Since,
		Epoch: v.Epoch, Failovers: v.Failovers, LastFailover: v.LastFailover, PeerConnected: v.Link == linkUp,
		PeerRole: v.Peer.Role, PeerNode: v.Peer.NodeID, PeerVersion: v.Peer.Version, Settings: g.settings()}
	if g.node != nil {
		st := g.node.Status()
		d.Link = &st
	}
	for _, p := range []string{ProvConfig, ProvState} {
		d.Providers = append(d.Providers, g.store.Stats(p))
	}
	first, cached, _ := g.hist.cached(1)
	g.hist.mu.Lock()
	d.History = HistoryStats{Mode: g.cfg.History, Cached: cached, Forwarded: g.hist.forwarded, Repeated: g.hist.repeated, Dropped: g.hist.dropped,
		LastForward: g.hist.lastForward, LastError: g.hist.lastForwardErr, RefusedInRow: g.hist.refusedInRow}
	g.hist.mu.Unlock()
	d.History.Quarantined = g.hist.quarantined()
	if len(first) > 0 {
		d.History.OldestCached = time.UnixMilli(first[0].TSMS).UTC()
	}
	if e := g.leadErr.Load(); e != nil {
		d.LeadError = *e
	}
	d.App = g.sup.status()
	d.Witness = g.witnessDetail(v)
	g.evMu.Lock()
	d.Events = append([]SystemEvent(nil), g.sysEvents...)
	g.evMu.Unlock()
	d.Replica = g.store.Events()
	d.Damaged, d.DamageError = g.store.Damage()
	return d
}

func (g *Gateway) settings() map[string]any {
	c := g.cfg
	return map[string]any{"mode": c.Mode, "peer": c.Peer, "peer_listen": c.PeerListen,
		"failover_timeout": c.FailoverTimeout.String(), "join_wait": c.JoinWait.String(), "recovery": g.live.Load().Recovery,
		"standby": c.Standby, "history": c.History, "disk_cache": int64(c.DiskCache), "client_listen": c.ClientListen,
		"app_url": c.AppURL, "auth": linkAuth(&c.Link), "witness": c.Witness}
}

func linkAuth(l *peer.Config) string {
	switch {
	case l.UsesTLS() && l.Secret != "":
		return "tls+secret"
	case l.UsesTLS():
		return "tls"
	case l.Secret != "":
		return "secret"
	case l.Plain:
		return "plain"
	}
	return "none"
}

// Status is the node's entry in `redund status`.
func (g *Gateway) Status() []status.Document {
	d := g.Detail()
	doc := status.Document{Instance: d.NodeID, Scheme: "gateway", Role: d.Mode.String() + "/" + d.Role.String(), State: stateWord(d),
		Reason: d.RoleReason, Since: d.RoleSince,
		Details: map[string]any{"epoch": d.Epoch, "failovers": d.Failovers, "providers": d.Providers, "history": d.History}}
	if d.LeadError != "" {
		doc.Reason = d.LeadError + " (state writes refused); " + doc.Reason
		doc.Health = append(doc.Health, status.Health{Name: "state log", State: "ERR", Reason: d.LeadError + " (state writes refused)"})
	}
	if len(d.Providers) > 0 && d.Providers[0].CheckpointError != "" { // one error for the whole store
		doc.Health = append(doc.Health, status.Health{Name: "replica checkpoint", State: "ERR",
			Reason: "the documents are not brought up to date with the log (writes stay durable in it): " + d.Providers[0].CheckpointError})
	}
	if h, ok := damageHealth(d); ok {
		doc.Health = append(doc.Health, h)
	}
	for _, p := range d.Providers {
		if p.FollowError != "" && d.PeerConnected { // with the link down, Peer down says it all
			doc.Health = append(doc.Health, status.Health{Name: p.Provider + " replication", State: "ERR", Reason: p.FollowError})
		}
	}
	if d.Witness != nil {
		doc.Details["witness"] = witnessSummary(d.Witness)
		doc.Health = append(doc.Health, witnessHealth(d.Witness))
	}
	if g.node != nil {
		doc.Peer = &status.Peer{Address: peerAddress(g.cfg, d.Link), Connected: d.PeerConnected, Since: d.Link.Since, Reason: d.Link.Reason}
	}
	return []status.Document{doc}
}

// damageHealth is the ERR entry for damaged data in replica.db, if any.
func damageHealth(d Detail) (status.Health, bool) {
	var refused []string
	for _, p := range d.Providers {
		if p.Refused != "" {
			refused = append(refused, p.Refused)
		}
	}
	if d.Damaged == 0 && len(refused) == 0 {
		return status.Health{}, false
	}
	why := fmt.Sprintf("%d damaged values refused since start (never served nor replicated); last: %s", d.Damaged, d.DamageError)
	if len(refused) > 0 {
		why += "; " + strings.Join(refused, "; ")
	}
	return status.Health{Name: "replica.db integrity", State: "ERR", Reason: why}, true
}

// peerAddress is the other node's address: the backup dials the master's;
// the master shows where the connected backup comes from (its own listen
// address is not the peer).
func peerAddress(c Config, l *peer.Status) string {
	if c.Mode == ModeBackup {
		return c.Peer
	}
	return l.RemoteAddr
}

// stateWord summarises the pair: Synced, Syncing, Full sync needed, Sync
// failing, Peer down, or Incompatible (the peer answers but refuses the
// pair, or this node refuses it: modes, versions, witness; the link's
// reason says why). Synced needs proof for every provider (InSync): on
// the side that follows it, a pull answered since the follower started
// that left nothing to apply; on the side that leads it, a recent pull of
// this log with nothing left to pull. Sync failing: a follower's last run
// ended in an error (the reason is in the provider's follow_error).
func stateWord(d Detail) string {
	switch {
	case d.Mode == ModeIndependent:
		return "Independent"
	case !d.PeerConnected && d.Link != nil && d.Link.State == peer.Refused:
		return "Incompatible"
	case !d.PeerConnected:
		return "Peer down"
	}
	for _, p := range d.Providers {
		if p.FollowError != "" {
			return "Sync failing"
		}
	}
	for _, p := range d.Providers {
		if p.FullSyncNeeded {
			return "Full sync needed"
		}
	}
	for _, p := range d.Providers {
		if p.Pending > 0 || !p.InSync {
			return "Syncing"
		}
	}
	return "Synced"
}

// metrics exposes the statistics to Prometheus at scrape time.
type metrics struct{ g *Gateway }

var (
	mRole       = prometheus.NewDesc("redund_gateway_active", "1 when this node is active.", nil, nil)
	mPeer       = prometheus.NewDesc("redund_gateway_peer_connected", "1 when the peer link is up.", nil, nil)
	mFailovers  = prometheus.NewDesc("redund_gateway_failovers_total", "Failovers to this node since start.", nil, nil)
	mEpoch      = prometheus.NewDesc("redund_gateway_epoch", "Times this node became active (persisted).", nil, nil)
	mPending    = prometheus.NewDesc("redund_gateway_pending_updates", "Updates not yet applied by the follower.", []string{"provider"}, nil)
	mQueued     = prometheus.NewDesc("redund_gateway_queued_updates_per_second", "Local writes per second (1-minute average).", []string{"provider"}, nil)
	mDispatched = prometheus.NewDesc("redund_gateway_dispatched_updates_per_second", "Updates sent or applied per second (1-minute average).", []string{"provider"}, nil)
	mPullDur    = prometheus.NewDesc("redund_gateway_last_pull_duration_seconds", "Duration of the last pull.", []string{"provider"}, nil)
	mApplyDur   = prometheus.NewDesc("redund_gateway_last_apply_duration_seconds", "Duration of the last apply.", []string{"provider"}, nil)
	mFullNeed   = prometheus.NewDesc("redund_gateway_full_sync_needed", "1 while a full sync is needed.", []string{"provider"}, nil)
	mInSync     = prometheus.NewDesc("redund_gateway_in_sync", "1 while the provider was last seen in sync with the peer (in_sync).", []string{"provider"}, nil)
	mFullSyncs  = prometheus.NewDesc("redund_gateway_full_syncs_total", "Full syncs completed.", []string{"provider"}, nil)
	mLag        = prometheus.NewDesc("redund_gateway_replication_lag_seconds", "Age of the newest applied update when applied.", []string{"provider"}, nil)
	mCached     = prometheus.NewDesc("redund_gateway_history_cached_points", "History points cached for the master.", nil, nil)
	mForwarded  = prometheus.NewDesc("redund_gateway_history_forwarded_total", "Forwarded history points the master says it stored.", nil, nil)
	mDropped    = prometheus.NewDesc("redund_gateway_history_dropped_total", "Cached points dropped as recorded by the master.", nil, nil)
	mDamaged    = prometheus.NewDesc("redund_gateway_damaged_values_total", "Values of replica.db refused because their checksum did not match (or bbolt panicked on a damaged page).", nil, nil)
	mBad        = prometheus.NewDesc("redund_gateway_history_quarantined_points", "Cached entries set aside because they cannot be forwarded.", nil, nil)
	mOldest     = prometheus.NewDesc("redund_gateway_history_oldest_cached_timestamp_seconds",
		"When the oldest point waiting in the cache was taken (unix seconds; 0 when none waits).", nil, nil)
)

func (m metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{mRole, mPeer, mFailovers, mEpoch, mPending, mQueued, mDispatched, mPullDur, mApplyDur, mFullNeed, mInSync, mFullSyncs, mLag, mCached, mForwarded, mDropped, mBad, mOldest, mDamaged} {
		ch <- d
	}
}

func (m metrics) Collect(ch chan<- prometheus.Metric) {
	d := m.g.Detail()
	gauge := func(desc *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, l...)
	}
	counter := func(desc *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, v, l...)
	}
	gauge(mRole, b2f(d.Role == RoleActive))
	gauge(mPeer, b2f(d.PeerConnected))
	counter(mFailovers, float64(d.Failovers))
	gauge(mEpoch, float64(d.Epoch))
	for _, p := range d.Providers {
		gauge(mPending, float64(p.Pending), p.Provider)
		gauge(mQueued, p.QueuedPerSec, p.Provider)
		gauge(mDispatched, p.DispatchedPerSec, p.Provider)
		gauge(mPullDur, p.LastPullDuration.Seconds(), p.Provider)
		gauge(mApplyDur, p.LastApplyDur.Seconds(), p.Provider)
		gauge(mFullNeed, b2f(p.FullSyncNeeded), p.Provider)
		gauge(mInSync, b2f(p.InSync), p.Provider)
		counter(mFullSyncs, float64(p.FullSyncs), p.Provider)
		gauge(mLag, p.LagMS/1000, p.Provider)
	}
	gauge(mCached, float64(d.History.Cached))
	counter(mForwarded, float64(d.History.Forwarded))
	counter(mDropped, float64(d.History.Dropped))
	gauge(mBad, float64(d.History.Quarantined))
	counter(mDamaged, float64(d.Damaged))
	oldest := 0.0
	if !d.History.OldestCached.IsZero() {
		oldest = float64(d.History.OldestCached.UnixMilli()) / 1000
	}
	gauge(mOldest, oldest)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
