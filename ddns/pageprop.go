package ddns

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/redund/redund/internal/text"
)

// The page's propagation view: what `redund ddns propagation` reports,
// computed by the daemon in the background (never on a page request) when
// a page asks for it, at most every propagationEvery, and kept for the
// page. A slow or dead resolver delays the view, never the page.
const (
	propagationEvery   = 30 * time.Second // a page open refreshes the view this often
	propagationTimeout = 2 * time.Second  // per query
	propagationBudget  = 15 * time.Second // per scheme, every query included
)

// PropagationView is a scheme's last propagation report, as the page shows it.
type PropagationView struct {
	At     time.Time          // when it was computed
	Report *PropagationReport // nil when Error
	Error  string             // the report could not be made (no resolver, no zone, ...)
}

// propView holds the reports and the page's requests for new ones.
type propView struct {
	opts PropagationOptions
	want chan struct{} // a page asks for a refresh (coalesced)

	mu    sync.Mutex
	views map[string]PropagationView
}

func newPropView(o PropagationOptions) *propView {
	if o.Timeout <= 0 {
		o.Timeout = propagationTimeout
	}
	return &propView{opts: o, want: make(chan struct{}, 1), views: map[string]PropagationView{}}
}

// ask asks for a refresh; it never blocks.
func (p *propView) ask() {
	select {
	case p.want <- struct{}{}:
	default:
	}
}

// get returns the scheme's view (nil: none yet).
func (p *propView) get(scheme string) *PropagationView {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, ok := p.views[scheme]
	if !ok {
		return nil
	}
	return &v
}

// run refreshes the views when a page asks, at most every
// propagationEvery, until ctx ends. Daemon.Run owns it.
func (p *propView) run(ctx context.Context, d *Daemon) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.want:
		}
		set := d.current()
		for _, name := range set.names {
			v := p.compute(ctx, name, set.schemes[name])
			p.mu.Lock()
			p.views[name] = v
			p.mu.Unlock()
		}
		t := time.NewTimer(propagationEvery)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// errNotRead is the provider's value before the scheme has read it.
var errNotRead = errors.New("the provider has not been read yet")

// compute makes one scheme's report, comparing with the value the scheme
// last read from its provider (the provider is not asked again).
func (p *propView) compute(ctx context.Context, name string, s *Scheme) PropagationView {
	ctx, cancel := context.WithTimeout(ctx, propagationBudget)
	defer cancel()
	ss := s.Snapshot()
	o := p.opts
	o.Expected = func(context.Context) ([]string, error) {
		if ss.ProviderRead.IsZero() {
			return nil, errNotRead
		}
		return ss.ProviderValue, nil
	}
	rep, err := Propagation(ctx, name, s.cfg, o)
	v := PropagationView{At: time.Now(), Report: rep}
	if err != nil {
		v.Error = text.Clean(err.Error())
	}
	return v
}
