package health

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
)

// probeStats counts the probes of a Probes.
type probeStats struct {
	started, late atomic.Uint64
	readLate      atomic.Uint64 // answers that came in time, read after the timeout
}

// count records one probe's result in s (nil: none kept).
func (s *probeStats) count(r Result) {
	if s != nil && r.ReadLate {
		s.readLate.Add(1)
	}
}

// Probes runs the probes of many monitors. Monitors added with equal check
// configs and equal intervals and jitters share one probe: one schedule,
// one connection per probe, and every result is recorded by each of them.
// Each monitor keeps its own name, rise and fall, state, maintenance and
// subscribers. Many ddns names that name the same server's status page
// then cost one probe per interval instead of one per name.
//
// Add monitors, then call Run once. Monitors may also be added and removed
// while Run runs (a config reload): new probes start at once (many spread
// over their interval), and a probe stops when its last monitor is removed.
//
// Keepalive HTTP checks of one Probes share their idle connections by
// host:port (and TLS name): checks that differ only in their path hold as
// many connections to a server as they have probes in flight at once.
type Probes struct {
	conns *connPool
	stats probeStats
	added chan struct{} // signals probes in pending to a running loop
	limit int           // when > 0, replaces maxInFlight (tests)

	mu      sync.Mutex
	byKey   map[string]*sharedProbe
	probes  []*sharedProbe
	running bool           // Run has taken the probes added before it
	pending []*sharedProbe // added while Run runs, not yet taken by its loop
}

// sharedProbe is one check on one schedule and the monitors it feeds.
type sharedProbe struct {
	p       *Probes
	key     string
	checker Checker
	opts    MonitorOptions
	fds     float64    // sockets it holds on average when every probe runs to its timeout
	mons    []*Monitor // replaced, never changed in place (guarded by p.mu)
	removed atomic.Bool
	sched   schedule // owned by the scheduler's loop, or the worker running it

	// set by the loop when it takes the probe (guarded by p.mu)
	ctx  context.Context
	stop context.CancelFunc
}

// NewProbes returns an empty Probes.
func NewProbes() *Probes {
	stampEarly()
	return &Probes{byKey: map[string]*sharedProbe{}, conns: newConnPool(), added: make(chan struct{}, 1)}
}

// Add returns a new monitor named name of check c (validated as by New).
// It shares its probe with every monitor added before with an equal c and
// the same Interval and Jitter (after defaults).
func (p *Probes) Add(name string, c Config, o MonitorOptions) (*Monitor, error) {
	c.SetDefaults() // c is a copy; a check written with its defaults shares the probe
	o = o.withDefaults()
	key := fmt.Sprintf("%#v|%d|%d", c, o.Interval, o.Jitter)
	p.mu.Lock()
	sp := p.byKey[key]
	p.mu.Unlock()
	if sp == nil {
		ck, err := newChecker(c, p.conns)
		if err != nil {
			return nil, err
		}
		sp = p.add(key, ck, o, socketShare(c, o))
	}
	return p.attach(sp, name, o), nil
}

// AddChecker returns a new monitor named name of c, with a probe of its own.
func (p *Probes) AddChecker(name string, c Checker, o MonitorOptions) *Monitor {
	o = o.withDefaults()
	return p.attach(p.add("", c, o, 0), name, o)
}

// add returns the probe of key (a new one when key is "" or unknown).
func (p *Probes) add(key string, c Checker, o MonitorOptions, fds float64) *sharedProbe {
	p.mu.Lock()
	defer p.mu.Unlock()
	if sp := p.byKey[key]; key != "" && sp != nil { // added meanwhile
		return sp
	}
	sp := &sharedProbe{p: p, key: key, checker: c, opts: o, fds: fds}
	if key != "" {
		p.byKey[key] = sp
	}
	p.probes = append(p.probes, sp)
	if p.running {
		p.pending = append(p.pending, sp)
		select { // the loop takes every pending probe when it sees the signal
		case p.added <- struct{}{}:
		default:
		}
	}
	return sp
}

// takeAdded returns the probes added since the loop last took them.
func (p *Probes) takeAdded() []*sharedProbe {
	p.mu.Lock()
	defer p.mu.Unlock()
	sps := p.pending
	p.pending = nil
	return sps
}

// bind gives sp the context its probes run in (cancelled by Remove);
// false when sp was removed before the loop took it.
func (p *Probes) bind(ctx context.Context, sp *sharedProbe) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if sp.removed.Load() {
		return false
	}
	sp.ctx, sp.stop = context.WithCancel(ctx)
	return true
}

func (p *Probes) attach(sp *sharedProbe, name string, o MonitorOptions) *Monitor {
	m := NewMonitor(name, sp.checker, o)
	m.shared = true
	p.mu.Lock()
	sp.mons = append(slices.Clip(sp.mons), m)
	p.mu.Unlock()
	return m
}

// Remove detaches m from its probe; the probe stops when m was its last
// monitor. m keeps its last state and is probed no more.
func (p *Probes) Remove(m *Monitor) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, sp := range p.probes {
		j := slices.Index(sp.mons, m)
		if j < 0 {
			continue
		}
		sp.mons = slices.Delete(slices.Clone(sp.mons), j, j+1)
		if len(sp.mons) == 0 {
			p.probes = slices.Delete(p.probes, i, i+1)
			if p.byKey[sp.key] == sp {
				delete(p.byKey, sp.key)
			}
			sp.removed.Store(true)
			if sp.stop != nil {
				sp.stop()
			}
		}
		return
	}
}

// Len is the number of distinct probes: what Run runs every interval.
func (p *Probes) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.probes)
}

// Run probes until ctx ends and returns when every probe has stopped and
// every kept connection is closed. One goroutine (Run's own) with one
// timer schedules every probe and hands the due ones to a pool of workers
// (see scheduler.go): at most one probe of a check is in flight, and at
// most maxInFlight in all. Probes added together (before Run, or by one
// reload while it runs) start spread over their interval (probe i of n
// after i/n of it), so that thousands of targets do not start in one
// burst; a single probe added while Run runs starts at once. After its
// first probe each follows its own schedule as a Monitor's Run does.
func (p *Probes) Run(ctx context.Context) {
	p.mu.Lock()
	p.running = true
	first := slices.Clone(p.probes)
	p.mu.Unlock()
	p.conns.setContext(ctx)
	newScheduler(ctx, p).run(first)
	p.mu.Lock()
	p.running, p.pending = false, nil
	p.mu.Unlock()
	p.conns.close()
}

// Stats returns how many probes started since Run began and how many of
// them started late: more than a tenth of their interval (and at least two
// ticks of the wake grid) after they were due, because the process could
// not keep up (every worker busy, or the loop or the Go scheduler behind)
// or the previous probe of the same check outlasted the interval.
func (p *Probes) Stats() (started, late uint64) {
	return p.stats.started.Load(), p.stats.late.Load()
}

// ReadLate returns how many probes read their answer only after their
// timeout (the process was short of CPU) and counted it because it had
// arrived in time (Result.ReadLate).
func (p *Probes) ReadLate() uint64 { return p.stats.readLate.Load() }

// record hands one result to every monitor of the probe.
func (sp *sharedProbe) record(r Result) {
	sp.p.mu.Lock()
	mons := sp.mons
	sp.p.mu.Unlock()
	for _, m := range mons {
		m.record(r)
	}
}
