package replica

import (
	"sync"
	"time"
)

// meter is a 1-minute moving average of events per second.
type meter struct {
	mu      sync.Mutex
	buckets [60]int64
	last    int64 // unix second of the newest bucket
	start   time.Time
}

func (m *meter) add(n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now().Unix()
	m.advance(now)
	m.buckets[now%60] += int64(n)
}

func (m *meter) advance(now int64) {
	if now-m.last >= 60 {
		m.buckets = [60]int64{}
	} else {
		for s := m.last + 1; s <= now; s++ {
			m.buckets[s%60] = 0
		}
	}
	m.last = now
}

// rate returns events per second over the last minute (or since start).
func (m *meter) rate() float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now().Unix()
	m.advance(now)
	var sum int64
	for _, b := range m.buckets {
		sum += b
	}
	span := min(time.Since(m.start).Seconds(), 60)
	if span < 1 {
		span = 1
	}
	return float64(sum) / span
}

// provStats are one provider's replication statistics.
type provStats struct {
	queued, dispatched *meter

	mu             sync.Mutex
	pending        uint64
	lastPull       time.Time
	lastPullDur    time.Duration
	lastApplyDur   time.Duration
	fullSyncNeeded bool
	forceOperator  bool   // an operator asked for the pending full sync
	refusedEmpty   string // the log whose empty copy was last refused (KeepOnEmpty)
	forceGen       uint64 // bumped by every force, so a finishing sync cannot clear a newer request
	fullSyncReason string
	fullSyncs      int
	lagMS          float64
	damaged        int    // damaged values of this provider refused since Open
	lastDamage     string // the last one's error

	// the follower's side: whether its loop runs, whether its last pull
	// (in this run of Follow) found it at the leader's newest entry, and
	// the error that ended its last run ("" once a pull succeeds again)
	following bool
	caughtUp  bool
	followErr string

	// the leader's side: its follower's last pull
	served          time.Time     // when it arrived
	servedDur       time.Duration // how long it was held and answered
	followerLog     string        // the log the follower follows
	followerApplied uint64        // what it had applied when it pulled
}

func newProvStats() *provStats {
	now := time.Now()
	return &provStats{queued: &meter{start: now, last: now.Unix()}, dispatched: &meter{start: now, last: now.Unix()}}
}

// pulled records a follower's pull on the leader's side.
func (p *provStats) pulled(r pullReq, at time.Time) {
	p.mu.Lock()
	p.served, p.servedDur, p.followerLog, p.followerApplied = at, time.Since(at), r.LogID, r.Applied
	p.mu.Unlock()
}

// resetLeader forgets the follower of an earlier log.
func (p *provStats) resetLeader() {
	p.mu.Lock()
	p.served, p.servedDur, p.followerLog, p.followerApplied = time.Time{}, 0, "", 0
	p.followErr = ""
	p.mu.Unlock()
}

// Stats are a provider's replication statistics (Ignition's columns).
type Stats struct {
	Provider string `json:"provider"`
	// Pending is how many entries the follower has yet to apply.
	Pending uint64 `json:"pending"`
	// QueuedPerSec is the rate of local writes (leader), DispatchedPerSec
	// the rate of entries sent (leader) or applied (follower); 1-minute averages.
	QueuedPerSec     float64       `json:"queued_per_sec"`
	DispatchedPerSec float64       `json:"dispatched_per_sec"`
	LastPull         time.Time     `json:"last_pull"`
	LastPullDuration time.Duration `json:"last_pull_duration_ns"`
	LastApplyDur     time.Duration `json:"last_apply_duration_ns"`
	FullSyncNeeded   bool          `json:"full_sync_needed"`
	FullSyncReason   string        `json:"full_sync_reason,omitempty"`
	FullSyncs        int           `json:"full_syncs"`
	// LagMS is the age of the newest applied entry when it was applied.
	LagMS float64 `json:"lag_ms"`
	// InSync says the pair was last seen holding the same log: on a
	// follower, Follow runs and its last pull (answered by the leader)
	// left nothing to apply; on the leader, the follower's last pull, at
	// most staleFollower ago, was of this log and had everything in it.
	// Pending alone is not proof: it keeps its last value while no pull
	// succeeds, and is 0 before the first.
	InSync bool `json:"in_sync"`
	// FollowError is why the follower's last run ended (a pull or an
	// apply failed; it runs again); "" once a pull succeeds.
	FollowError string   `json:"follow_error,omitempty"`
	Position    Position `json:"position"`
	// CheckpointError is the last failure to bring the documents up to
	// date with the log ("" when the last try succeeded); writes are still
	// durable in the log meanwhile.
	CheckpointError string `json:"checkpoint_error,omitempty"`
	// Damaged counts the values of this provider refused since the store
	// was opened because their checksum did not match (or bbolt panicked
	// reading them); DamageError is the last one's error.
	Damaged     int    `json:"damaged,omitempty"`
	DamageError string `json:"damage_error,omitempty"`
	// Refused says why reads of this provider are refused (damage stopped
	// its pending changes from reaching the documents), "" when they are
	// not.
	Refused string `json:"refused,omitempty"`
}

func (s *Store) statsFor(p string) *provStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.stats[p]
	if !ok {
		st = newProvStats()
		s.stats[p] = st
	}
	return st
}

// Stats returns provider p's statistics. On a leader (a provider that
// follows no other log and runs no Follow) the pull figures are its follower's last pull and
// Pending what that follower has yet to pull; the figures of an earlier
// time as a follower are not shown.
func (s *Store) Stats(p string) Stats {
	st := s.statsFor(p)
	pos, _ := s.Position(p)
	s.mu.Lock()
	cpErr := s.cpErr
	s.mu.Unlock()
	refused := ""
	if err := s.brokenErr(p); err != nil {
		refused = err.Error()
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	out := Stats{Provider: p, Pending: st.pending, QueuedPerSec: st.queued.rate(), DispatchedPerSec: st.dispatched.rate(),
		LastPull: st.lastPull, LastPullDuration: st.lastPullDur, LastApplyDur: st.lastApplyDur,
		FullSyncNeeded: st.fullSyncNeeded, FullSyncReason: st.fullSyncReason, FullSyncs: st.fullSyncs,
		LagMS: st.lagMS, Position: pos, CheckpointError: cpErr, FollowError: st.followErr,
		InSync:  st.following && st.caughtUp && st.followErr == "" && !st.fullSyncNeeded && refused == "",
		Damaged: st.damaged, DamageError: st.lastDamage, Refused: refused}
	if pos.SrcLogID == "" && !st.following {
		out.LastPull, out.LastPullDuration, out.LastApplyDur, out.LagMS, out.Pending = st.served, st.servedDur, 0, 0, 0
		// a follower of another log (or none yet) has everything to copy
		out.Pending = pos.Last
		if st.followerLog == pos.LogID {
			out.Pending = pos.Last - min(pos.Last, st.followerApplied)
		}
		out.InSync = st.followerLog == pos.LogID && out.Pending == 0 && time.Since(st.served) < staleFollower
	}
	return out
}

// staleFollower is how long after its last pull a follower still counts
// as in sync on the leader's side: a follower that is caught up pulls
// again as soon as its held pull (at most 10 s) is answered.
const staleFollower = 15 * time.Second

// followRun records the start (true) or the end (false, with the error
// that ended it) of a run of Follow.
func (p *provStats) followRun(running bool, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.following, p.caughtUp = running, false
	if err != nil {
		p.followErr = err.Error()
	}
}

// ClearFollowError forgets why provider p's follower last failed: the
// caller starts following anew (the link came up again), and an error of
// the old link would otherwise show until the first pull is answered.
func (s *Store) ClearFollowError(p string) {
	st := s.statsFor(p)
	st.mu.Lock()
	st.followErr = ""
	st.mu.Unlock()
}

// pullDone records a pull the leader answered and the follower applied:
// caught up says nothing was left to apply.
func (p *provStats) pullDone(caughtUp bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.caughtUp, p.followErr = caughtUp, ""
}

// Event is a recorded system event (why a full sync happened, ...).
type Event struct {
	Time     time.Time `json:"time"`
	Provider string    `json:"provider"`
	Kind     string    `json:"kind"` // full_sync_needed, full_sync_done, ...
	Message  string    `json:"message"`
}

const maxEvents = 200

// record stores and reports a system event.
func (s *Store) record(p, kind, msg string) {
	e := Event{Time: time.Now(), Provider: p, Kind: kind, Message: msg}
	s.mu.Lock()
	s.events = append(s.events, e)
	if len(s.events) > maxEvents {
		s.events = s.events[len(s.events)-maxEvents:]
	}
	s.mu.Unlock()
	s.log.Info("replica event", "provider", p, "kind", kind, "message", msg)
	if s.opts.OnEvent != nil {
		s.opts.OnEvent(e)
	}
}

// Events returns the recorded system events, oldest first.
func (s *Store) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.events...)
}
