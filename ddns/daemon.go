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
}

// Daemon runs every ddns scheme of a config file.
type Daemon struct {
	schemes map[string]*Scheme
	names   []string
	log     *slog.Logger
	wit     *witness.Witness // nil when no scheme uses the witness
	probes  *health.Probes   // every scheme's monitors; equal checks share a probe
}

// ErrNotFound is returned for an unknown scheme or server.
var ErrNotFound = errors.New("not found")

// New builds a scheme per table (validating each).
func New(cfgs map[string]*Config, o Options) (*Daemon, error) {
	if o.Log == nil {
		o.Log = logging.Discard()
	}
	if o.Provider == nil {
		o.Provider = func(_ string, c *Config) (dnsupdate.Provider, error) { return dnsupdate.New(c.Provider) }
	}
	d := &Daemon{schemes: map[string]*Scheme{}, log: o.Log, probes: health.NewProbes(), names: slices.Sorted(maps.Keys(cfgs))}
	for _, name := range d.names { // in order, so that the probes start in order
		c := withDefaults(cfgs[name])
		if err := c.Validate(); err != nil {
			return nil, fmt.Errorf("ddns: %s: %w", name, err)
		}
		p, err := o.Provider(name, c)
		if err != nil {
			return nil, fmt.Errorf("ddns: %s: %w", name, err)
		}
		s, err := newScheme(name, c, p, logging.Component(o.Log, "ddns", name), d.probes)
		if err != nil {
			return nil, fmt.Errorf("ddns: %s: %w", name, err)
		}
		if c.Witness {
			if o.Witness == nil {
				return nil, fmt.Errorf("ddns: %s: witness = true needs a [witness] table", name)
			}
			if s.wit, err = newDecider(o.Witness, name); err != nil {
				return nil, fmt.Errorf("ddns: %s: %w", name, err)
			}
			d.wit = o.Witness
		}
		d.schemes[name] = s
	}
	return d, nil
}

// Run runs every scheme and probes every server until ctx ends; it returns
// ctx's error. Servers of different schemes with equal checks (the same
// kind, URL, address, options and timeout) at the same interval share one
// probe. The first probes are spread evenly over one interval (probe i of
// n starts after i/n of it) so that a thousand servers do not probe in one
// burst and stay in step.
func (d *Daemon) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	if d.wit != nil {
		wg.Go(func() {
			if err := d.wit.Run(ctx); err != nil {
				d.log.Error("witness stopped", "err", err)
			}
		})
	}
	for _, name := range d.names {
		s := d.schemes[name]
		wg.Add(1)
		go func() { defer wg.Done(); s.Run(ctx) }()
	}
	wg.Add(1)
	go func() { defer wg.Done(); d.probes.Run(ctx) }()
	<-ctx.Done()
	wg.Wait()
	return ctx.Err()
}

// Probes is the number of distinct probes the daemon runs every interval:
// the servers of all schemes, less those whose checks are shared.
func (d *Daemon) Probes() int { return d.probes.Len() }

// Scheme returns the named scheme, or nil.
func (d *Daemon) Scheme(name string) *Scheme { return d.schemes[name] }

// SetMaintenance turns maintenance of one server on or off, saves it in the
// scheme's state file (so that it survives a restart) and re-evaluates.
func (d *Daemon) SetMaintenance(scheme, server string, on bool) error {
	s := d.schemes[scheme]
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
