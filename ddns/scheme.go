package ddns

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/redund/redund/internal/dnsupdate"
	"github.com/redund/redund/internal/health"
	"github.com/redund/redund/internal/lifecycle"
	"github.com/redund/redund/internal/witness"
)

// Scheme runs one [ddns.<name>] table: a monitor per server, a decision on
// every change, and pushes to the provider when the decision differs from
// what the provider has.
type Scheme struct {
	name  string
	cfg   *Config
	prov  dnsupdate.Provider
	log   *slog.Logger
	mons  []*health.Monitor
	state *stateFile
	poke  chan struct{} // re-evaluate soon (coalesced)
	wit   *decider      // nil without witness = true

	live *lifecycle.Loop // the run loop's answer to PingLoops (liveness.go)

	mu sync.Mutex
	st runState
}

// runState is what the run loop knows; guarded by Scheme.mu.
type runState struct {
	decision   Decision
	decisions  []TimedDecision // the last maxDecisions changes of where the name points, oldest first
	word       SchemeState
	since      time.Time
	known      []string // the provider's values
	knownValid bool
	knownAt    time.Time
	lastPush   Push
	lastErr    string
	retry      Retry
	pushes     uint64
	failures   uint64
	backoff    dnsupdate.Backoff
	// unseen spaces re-posts of a value that was pushed without error but
	// that a read does not show yet (HE's value read through a resolver
	// that still caches the old one); reset when a read shows it
	unseen    dnsupdate.Backoff
	unseenDue time.Time // when the current unseen push may be re-posted
}

// TimedDecision is a decision and when the scheme took it.
type TimedDecision struct {
	Time time.Time `json:"time"`
	Decision
}

// maxDecisions bounds the recent decisions a scheme keeps for its status.
const maxDecisions = 20

// Push is the last attempt to change the record.
type Push struct {
	Time  time.Time `json:"time"`
	Value string    `json:"value"`
	Reply string    `json:"reply,omitempty"`
	Error string    `json:"error,omitempty"`
	Fence int64     `json:"fence,omitempty"` // the witness lock's fencing token of the pusher
}

// Retry is a pending retry after a failed read or push.
type Retry struct {
	Pending bool      `json:"pending"`
	Attempt int       `json:"attempt,omitempty"`
	Next    time.Time `json:"next,omitzero"`
	Value   string    `json:"value,omitempty"`
	Error   string    `json:"error,omitempty"`
}

// newScheme builds the monitors of cfg in probes (which runs them: a check
// equal to another scheme's shares its probe); it does not start anything.
func newScheme(name string, cfg *Config, prov dnsupdate.Provider, log *slog.Logger, probes *health.Probes) (*Scheme, error) {
	s := &Scheme{name: name, cfg: cfg, prov: prov, log: log, poke: make(chan struct{}, 1),
		live: lifecycle.NewLoop("ddns " + name)}
	s.st.word, s.st.since = StateWaiting, time.Now()
	s.st.backoff = dnsupdate.Backoff{Min: cfg.RetryMin.D(), Max: cfg.RetryMax.D(), Jitter: 0.1}
	s.st.unseen = s.st.backoff
	st, err := openState(cfg.StateDir, name)
	if err != nil {
		return nil, err
	}
	s.state = st
	for i, srv := range cfg.Servers {
		var m *health.Monitor
		if srv.Check == nil {
			m = probes.AddChecker(srv.Name, noCheck, cfg.monitorOptions(i))
		} else if m, err = probes.Add(srv.Name, *srv.Check, cfg.monitorOptions(i)); err != nil {
			return nil, err
		}
		m.SetMaintenance(st.maintenance(srv.Name, srv.Maintenance))
		s.mons = append(s.mons, m)
		m.Notify(s.poke) // every state change of a server pokes the run loop
	}
	return s, nil
}

// noCheck is the checker of a server without a check (only the sorry
// server may have none): always OK.
var noCheck = health.CheckerFunc(func(context.Context) health.Result {
	return health.Result{OK: true, Reason: "no check configured", Time: time.Now()}
})

// checker returns the server's health checker; a server without a check
// (only the sorry server may have none) is always OK.
func checker(srv Server) (health.Checker, error) {
	if srv.Check == nil {
		return noCheck, nil
	}
	return health.New(*srv.Check)
}

// Run reconciles until ctx ends; the daemon's Probes probe the servers. A
// scheme on the witness also campaigns for its lock and follows the other
// deciders' views.
func (s *Scheme) Run(ctx context.Context) {
	var wg sync.WaitGroup
	if s.wit != nil {
		s.wit.lock.Campaign()
		wg.Go(func() { s.follow(ctx) })
	}
	s.loop(ctx)
	wg.Wait()
	if s.wit != nil {
		s.endTerm()
	}
}

// Poke asks the run loop to evaluate again.
func (s *Scheme) Poke() {
	select {
	case s.poke <- struct{}{}:
	default:
	}
}

func (s *Scheme) loop(ctx context.Context) {
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	recheck := time.NewTicker(s.cfg.Recheck.D())
	defer recheck.Stop()
	var events <-chan witness.Event
	if s.wit != nil {
		events = s.wit.lock.Events()
	}
	for {
		fromTimer := false
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				events = nil // the witness stopped
				continue
			}
			s.onLock(ev)
		case <-s.poke:
		case <-retry.C:
			fromTimer = true
		case <-recheck.C:
			s.mu.Lock()
			s.st.knownValid = false // read the provider again: someone may have changed it
			s.mu.Unlock()
		case r := <-s.live.Pings():
			close(r)
			continue // nothing to evaluate
		}
		if d, ok := s.step(ctx, fromTimer); ok {
			retry.Reset(d)
		} else {
			retry.Stop()
		}
	}
}

// candidates is the servers as Decide sees them now.
func (s *Scheme) candidates() []Candidate {
	out := make([]Candidate, len(s.mons))
	for i, m := range s.mons {
		snap := m.Snapshot()
		srv := s.cfg.Servers[i]
		out[i] = Candidate{Name: srv.Name, Address: srv.Address, Priority: srv.Priority,
			State: snap.State, Maintenance: snap.Maintenance, Reason: snap.Reason}
	}
	return out
}

// step evaluates once and pushes when needed. It returns the delay of a
// retry to schedule (ok true) or ok false for none.
func (s *Scheme) step(ctx context.Context, fromTimer bool) (time.Duration, bool) {
	cands := s.candidates()
	if s.wit != nil {
		cands = s.quorumCandidates(cands)
	}
	d := Decide(cands, s.cfg.PolicyName(), s.cfg.Sorry)
	if s.wit != nil {
		d = withQuorum(d, cands)
	}
	s.noteDecision(d)
	if !s.leading() {
		s.standBy()
		return 0, false
	}
	if s.word() == StateStandby { // just became leader
		s.setWord(map[string]SchemeState{ActionPoint: StatePushing, ActionKeep: StateUnavailable, ActionWait: StateWaiting}[d.Action])
	}
	s.mu.Lock()
	r := s.st.retry
	s.mu.Unlock()
	if d.Action != ActionPoint {
		s.clearRetry()
		return 0, false
	}
	if r.Pending && !fromTimer && r.Value == d.Address {
		if wait := time.Until(r.Next); wait > 0 {
			return wait, true // same value, its retry is already scheduled
		}
	}
	return s.reconcile(ctx, d)
}
