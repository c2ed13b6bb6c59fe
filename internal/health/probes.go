package health

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// probeStats counts the probes of a Probes.
type probeStats struct {
	started, late atomic.Uint64
}

// Probes runs the probes of many monitors. Monitors added with equal check
// configs and equal intervals and jitters share one probe: one schedule,
// one connection per probe, and every result is recorded by each of them.
// Each monitor keeps its own name, rise and fall, state, maintenance and
// subscribers. Many ddns names that name the same server's status page
// then cost one probe per interval instead of one per name.
//
// Add monitors, then call Run once. Monitors may also be added and removed
// while Run runs (a config reload): a new probe starts at once, and a
// probe stops when its last monitor is removed.
//
// Keepalive HTTP checks of one Probes share their idle connections by
// host:port (and TLS name): checks that differ only in their path hold as
// many connections to a server as they have probes in flight at once.
type Probes struct {
	conns *connPool
	stats probeStats

	mu     sync.Mutex
	byKey  map[string]*sharedProbe
	probes []*sharedProbe
	run    *probesRun // set while Run runs
}

// probesRun is what Run gives the probes added while it runs.
type probesRun struct {
	ctx context.Context
	wg  *sync.WaitGroup
}

// sharedProbe is one check on one schedule and the monitors it feeds.
type sharedProbe struct {
	p       *Probes
	key     string
	checker Checker
	opts    MonitorOptions
	fds     float64            // sockets it holds on average when every probe runs to its timeout
	mons    []*Monitor         // replaced, never changed in place (guarded by p.mu)
	stop    context.CancelFunc // set once its loop runs (guarded by p.mu)
}

// NewProbes returns an empty Probes.
func NewProbes() *Probes { return &Probes{byKey: map[string]*sharedProbe{}, conns: newConnPool()} }

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
	if p.run != nil {
		p.start(sp, 0)
	}
	return sp
}

// start runs sp's loop after delay (p.mu held, p.run set).
func (p *Probes) start(sp *sharedProbe, delay time.Duration) {
	ctx, cancel := context.WithCancel(p.run.ctx)
	sp.stop = cancel
	p.run.wg.Go(func() { probeLoop(ctx, sp.checker, sp.opts, delay, sp.record, &p.stats) })
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

// Run probes until ctx ends and returns when every probe has stopped.
// The first probes are spread over one interval (probe i of n starts after
// i/n of its interval) so that thousands of targets do not start in one
// burst; after that each follows its own schedule as a Monitor's Run does.
// A probe added while Run runs starts at once.
func (p *Probes) Run(ctx context.Context) {
	var wg sync.WaitGroup
	p.mu.Lock()
	p.run = &probesRun{ctx: ctx, wg: &wg}
	for i, sp := range p.probes {
		p.start(sp, time.Duration(int64(sp.opts.Interval)*int64(i)/int64(len(p.probes))))
	}
	p.mu.Unlock()
	<-ctx.Done()
	p.mu.Lock()
	p.run = nil
	p.mu.Unlock()
	wg.Wait()
	p.conns.close()
}

// Stats returns how many probes started since Run began and how many of
// them started late: more than a tenth of their interval (and at least two
// ticks of the wake grid) after they were due, because the process could
// not keep up or the previous probe of the same check outlasted the
// interval.
func (p *Probes) Stats() (started, late uint64) {
	return p.stats.started.Load(), p.stats.late.Load()
}

// record hands one result to every monitor of the probe.
func (sp *sharedProbe) record(r Result) {
	sp.p.mu.Lock()
	mons := sp.mons
	sp.p.mu.Unlock()
	for _, m := range mons {
		m.record(r)
	}
}
