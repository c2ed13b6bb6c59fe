package health

import (
	"context"
	"fmt"
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
// Add monitors, then call Run once.
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
}

// sharedProbe is one check on one schedule and the monitors it feeds.
type sharedProbe struct {
	checker Checker
	opts    MonitorOptions
	fds     float64 // sockets it holds on average when every probe runs to its timeout
	mons    []*Monitor
}

// NewProbes returns an empty Probes.
func NewProbes() *Probes { return &Probes{byKey: map[string]*sharedProbe{}, conns: newConnPool()} }

// Add returns a new monitor named name of check c (validated as by New).
// It shares its probe with every monitor added before with an equal c and
// the same Interval and Jitter (after defaults).
func (p *Probes) Add(name string, c Config, o MonitorOptions) (*Monitor, error) {
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

func (p *Probes) add(key string, c Checker, o MonitorOptions, fds float64) *sharedProbe {
	sp := &sharedProbe{checker: c, opts: o, fds: fds}
	p.mu.Lock()
	defer p.mu.Unlock()
	if key != "" {
		p.byKey[key] = sp
	}
	p.probes = append(p.probes, sp)
	return sp
}

func (p *Probes) attach(sp *sharedProbe, name string, o MonitorOptions) *Monitor {
	m := NewMonitor(name, sp.checker, o)
	m.shared = true
	p.mu.Lock()
	sp.mons = append(sp.mons, m)
	p.mu.Unlock()
	return m
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
func (p *Probes) Run(ctx context.Context) {
	p.mu.Lock()
	probes := p.probes
	p.mu.Unlock()
	var wg sync.WaitGroup
	for i, sp := range probes {
		delay := time.Duration(int64(sp.opts.Interval) * int64(i) / int64(len(probes)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			probeLoop(ctx, sp.checker, sp.opts, delay, sp.record, &p.stats)
		}()
	}
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
	for _, m := range sp.mons {
		m.record(r)
	}
}
