package ddns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"

	"github.com/redund/redund/internal/dnsupdate"
	"github.com/redund/redund/internal/health"
	"github.com/redund/redund/internal/lifecycle"
	"github.com/redund/redund/internal/logging"
	"github.com/redund/redund/internal/witness"
)

// Options tune New. Zero values are fine.
type Options struct {
	Log *slog.Logger // default: discard
	// Provider builds a scheme's provider; default dnsupdate.New(cfg.Provider).
	// Tests and benchmarks use it to count or fake pushes.
	Provider func(scheme string, cfg *Config) (dnsupdate.Provider, error)
	// Witness is this node's witness, needed by schemes with witness =
	// true; Daemon.Run runs it (and only when such a scheme exists).
	Witness *witness.Witness
	// Propagation tunes the page's propagation view (default: the
	// schemes' resolvers, name servers on port 53, 2 s per query).
	Propagation PropagationOptions
}

// Daemon runs every ddns scheme of a config file. Its schemes belong to
// the loop of Run (which replaces them on a Reload); everything else reads
// the set it publishes.
type Daemon struct {
	log     *slog.Logger
	opts    Options
	wit     *witness.Witness // nil when no scheme uses the witness
	probes  *health.Probes   // every scheme's monitors; equal checks share a probe
	prop    *propView        // the page's propagation view
	reloads chan reloadReq   // to Run's loop
	live    *lifecycle.Loop  // Run's loop's answer to PingLoops (liveness.go)

	cfgs map[string]*Config // the running configs: New's, then Run's loop's

	mu  sync.Mutex
	set schemeSet // published by New and Run's loop
}

// schemeSet is the schemes the daemon runs; never changed once published.
type schemeSet struct {
	names   []string
	schemes map[string]*Scheme
}

// ErrNotFound is returned for an unknown scheme or server.
var ErrNotFound = errors.New("not found")

// New builds a scheme per table (validating each). It starts nothing and
// keeps cfgs' tables as they are.
func New(cfgs map[string]*Config, o Options) (*Daemon, error) {
	if o.Log == nil {
		o.Log = logging.Discard()
	}
	if o.Provider == nil {
		o.Provider = func(_ string, c *Config) (dnsupdate.Provider, error) { return dnsupdate.New(c.Provider) }
	}
	d := &Daemon{log: logging.Component(o.Log, "ddns", ""), opts: o, probes: health.NewProbes(),
		reloads: make(chan reloadReq), live: lifecycle.NewLoop("ddns daemon"), cfgs: maps.Clone(cfgs), prop: newPropView(o.Propagation)}
	set := schemeSet{names: slices.Sorted(maps.Keys(cfgs)), schemes: map[string]*Scheme{}}
	for _, name := range set.names { // in order, so that the probes start in order
		s, err := d.newScheme(name, cfgs[name])
		if err != nil {
			return nil, err
		}
		if s.wit != nil {
			d.wit = o.Witness
		}
		set.schemes[name] = s
	}
	if err := d.probes.CheckFDs(); err != nil {
		return nil, fmt.Errorf("ddns: %w", err)
	}
	d.set = set
	return d, nil
}

// newScheme validates c and builds its scheme, with its monitors in
// d.probes.
func (d *Daemon) newScheme(name string, c *Config) (*Scheme, error) {
	c = withDefaults(c) // a copy: the caller's config is left as it is
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("ddns: %s: %w", name, err)
	}
	p, err := d.opts.Provider(name, c)
	if err != nil {
		return nil, fmt.Errorf("ddns: %s: %w", name, err)
	}
	s, err := newScheme(name, c, p, logging.Component(d.opts.Log, "ddns", name), d.probes)
	if err != nil {
		return nil, fmt.Errorf("ddns: %s: %w", name, err)
	}
	if c.Witness {
		if d.opts.Witness == nil {
			s.detach(d.probes)
			return nil, fmt.Errorf("ddns: %s: witness = true needs a [witness] table", name)
		}
		if s.wit, err = newDecider(d.opts.Witness, name); err != nil {
			s.detach(d.probes)
			return nil, fmt.Errorf("ddns: %s: %w", name, err)
		}
	}
	return s, nil
}

// current is the published set of schemes.
func (d *Daemon) current() schemeSet {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.set
}

// Listen binds nothing: ddns serves only on the admin address.
func (d *Daemon) Listen() error { return nil }

// Bound is empty (see Listen).
func (d *Daemon) Bound() []lifecycle.Bound { return nil }

// Run runs every scheme and probes every server until ctx ends; it returns
// nil then. Servers of different schemes with equal checks (the same
// kind, URL, address, options and timeout) at the same interval share one
// probe. The first probes are spread evenly over one interval (probe i of
// n starts after i/n of it) so that a thousand servers do not probe in one
// burst and stay in step. Run's loop applies Reloads.
func (d *Daemon) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	if d.wit != nil {
		wg.Go(func() {
			if err := d.wit.Run(ctx); err != nil {
				d.log.Error("witness stopped", "err", err)
			}
		})
	}
	running := map[string]*schemeRun{}
	set := d.current()
	for _, name := range set.names {
		running[name] = startScheme(ctx, set.schemes[name])
	}
	wg.Go(func() { d.probes.Run(ctx) })
	wg.Go(func() { d.prop.run(ctx, d) })
	for {
		select {
		case <-ctx.Done():
			for _, r := range running {
				<-r.done
			}
			wg.Wait()
			return nil
		case req := <-d.reloads:
			applied, err := d.apply(ctx, running, req)
			req.reply <- reloadResult{applied, err}
		case r := <-d.live.Pings():
			close(r)
		}
	}
}

// schemeRun is a scheme's Run in a goroutine of its own.
type schemeRun struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func startScheme(ctx context.Context, s *Scheme) *schemeRun {
	ctx, cancel := context.WithCancel(ctx)
	r := &schemeRun{cancel: cancel, done: make(chan struct{})}
	go func() { defer close(r.done); s.Run(ctx) }()
	return r
}

func (r *schemeRun) stop() {
	r.cancel()
	<-r.done
}

// Probes is the number of distinct probes the daemon runs every interval:
// the servers of all schemes, less those whose checks are shared.
func (d *Daemon) Probes() int { return d.probes.Len() }

// ProbeStats is how many probes started since Run began and how many of
// them late (see health.Probes.Stats); also exported as metrics.
func (d *Daemon) ProbeStats() (started, late uint64) { return d.probes.Stats() }

// ProbesReadLate is how many probes read their answer after their timeout
// and counted it, as it had arrived in time (health.Probes.ReadLate).
func (d *Daemon) ProbesReadLate() uint64 { return d.probes.ReadLate() }

// Scheme returns the named scheme, or nil.
func (d *Daemon) Scheme(name string) *Scheme { return d.current().schemes[name] }

// SetMaintenance turns maintenance of one server on or off, saves it in the
// scheme's state file (so that it survives a restart) and re-evaluates.
func (d *Daemon) SetMaintenance(scheme, server string, on bool) error {
	s := d.Scheme(scheme)
	if s == nil {
		return fmt.Errorf("ddns: scheme %q: %w", scheme, ErrNotFound)
	}
	return s.SetMaintenance(server, on)
}

// SetMaintenance turns maintenance of server on or off (see Daemon).
func (s *Scheme) SetMaintenance(server string, on bool) error {
	i := s.cfg.server(server)
	if i < 0 {
		return fmt.Errorf("ddns: %s: server %q: %w", s.name, server, ErrNotFound)
	}
	if err := s.state.setMaintenance(server, on, s.cfg.Servers[i].Maintenance); err != nil {
		return err
	}
	s.mons[i].SetMaintenance(on)
	s.log.Info("maintenance changed", "server", server, "on", on)
	s.Poke()
	return nil
}
