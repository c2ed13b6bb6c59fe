package ddns

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"

	"github.com/redund/redund/internal/health"
	"github.com/redund/redund/internal/lifecycle"
)

// reloadReq is a Reload handed to Run's loop.
type reloadReq struct {
	cfgs    map[string]*Config
	changed []string
	reply   chan reloadResult
}

type reloadResult struct {
	applied []string
	err     error
}

// Reload applies a re-read config while Run runs: schemes added, removed
// or changed (their servers, priorities, checks, intervals, provider,
// policy) are started, stopped or rebuilt; a changed scheme starts afresh
// (its servers UNKNOWN until probed, the provider read again) while the
// others run on untouched. A scheme with witness = true, before or after,
// is left as it runs: its keys need a restart. It returns the keys of
// changed ("ddns.<scheme>...") it applied. On an error (a check or a
// provider that cannot be set up) nothing is applied.
func (d *Daemon) Reload(ctx context.Context, cfgs map[string]*Config, changed []string) ([]string, error) {
	req := reloadReq{cfgs: cfgs, changed: changed, reply: make(chan reloadResult, 1)}
	select {
	case d.reloads <- req:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case r := <-req.reply:
		return r.applied, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// apply carries out a reload in Run's loop, which owns running.
func (d *Daemon) apply(ctx context.Context, running map[string]*schemeRun, req reloadReq) ([]string, error) {
	cfgs := maps.Clone(d.cfgs)
	var build, drop, applied []string
	for _, name := range slices.Sorted(maps.Keys(union(d.cfgs, req.cfgs))) {
		o, n := d.cfgs[name], req.cfgs[name]
		if reflect.DeepEqual(o, n) || (o != nil && o.Witness) || (n != nil && n.Witness) {
			continue // the same, or on the witness (its lock lives as long as the daemon)
		}
		if n != nil {
			build = append(build, name)
			cfgs[name] = n
		} else {
			delete(cfgs, name)
		}
		if o != nil {
			drop = append(drop, name)
		}
		applied = append(applied, lifecycle.KeysUnder(req.changed, "ddns."+name)...)
	}
	old := d.current()
	built := map[string]*Scheme{}
	for _, name := range build {
		s, err := d.newScheme(name, cfgs[name])
		if err != nil {
			for _, b := range built {
				b.detach(d.probes)
			}
			return nil, err
		}
		built[name] = s
	}
	// The new probes must fit the open-file limit, as at start. The schemes
	// being replaced still count here, so a reload near the limit may be
	// refused though a restart would fit: the safe side.
	if err := d.probes.CheckFDs(); err != nil {
		for _, b := range built {
			b.detach(d.probes)
		}
		return nil, fmt.Errorf("ddns: %w", err)
	}
	for _, name := range drop {
		running[name].stop()
		delete(running, name)
		old.schemes[name].detach(d.probes)
		d.log.Info("scheme stopped for the new config", "scheme", name)
	}
	set := schemeSet{names: slices.Sorted(maps.Keys(cfgs)), schemes: maps.Clone(old.schemes)}
	for _, name := range drop {
		delete(set.schemes, name)
	}
	for _, name := range build {
		set.schemes[name] = built[name]
		running[name] = startScheme(ctx, built[name])
		d.log.Info("scheme started on the new config", "scheme", name, "servers", len(cfgs[name].Servers))
	}
	d.cfgs = cfgs
	d.mu.Lock()
	d.set = set
	d.mu.Unlock()
	return applied, nil
}

func union(a, b map[string]*Config) map[string]*Config {
	out := maps.Clone(a)
	maps.Copy(out, b)
	return out
}

// detach removes the scheme's monitors from probes (it is stopped or was
// never started).
func (s *Scheme) detach(probes *health.Probes) {
	for _, m := range s.mons {
		m.Unnotify(s.poke)
		probes.Remove(m)
	}
}
