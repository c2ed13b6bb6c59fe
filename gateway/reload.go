package gateway

import (
	"context"
	"fmt"

	"github.com/redund/redund/internal/lifecycle"
)

// liveKeys are the [gateway] keys a Reload applies while the node runs;
// every other key needs a restart (sockets, stores, the mode, the peer
// link, the supervised command).
var liveKeys = []string{"gateway.recovery", "gateway.on_active", "gateway.on_standby", "gateway.on_fault"}

// liveSettings are the settings a Reload changes. The role loop owns them
// and publishes a copy (Gateway.live) for the supervisor and the status.
type liveSettings struct {
	Recovery                     string
	OnActive, OnStandby, OnFault []string
}

func liveOf(c Config) *liveSettings {
	return &liveSettings{Recovery: c.Recovery, OnActive: c.OnActive, OnStandby: c.OnStandby, OnFault: c.OnFault}
}

// reloadReq hands new live settings to the role loop.
type reloadReq struct {
	live *liveSettings
	done chan struct{}
}

// Reload applies cfg's recovery and role hooks (on_active, on_standby,
// on_fault) live: the next role change runs the new hooks, and the role
// rules follow the new recovery at once. It returns the keys of changed
// among those; the others need a restart.
func (g *Gateway) Reload(ctx context.Context, cfg *Config, changed []string) ([]string, error) {
	c := *cfg // defaulted as New does, the caller's left as it is
	c.SetDefaults()
	cfg = &c
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	applied := lifecycle.KeysUnder(changed, liveKeys...)
	if len(applied) == 0 {
		return nil, nil
	}
	req := reloadReq{live: liveOf(*cfg), done: make(chan struct{})}
	select {
	case g.reloads <- req:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-g.quit:
		return nil, errStopping
	}
	<-req.done // the loop only stores it
	return applied, nil
}

// reload is the role loop's part of a Reload.
func (l *roleLoop) reload(r reloadReq) {
	l.g.params.Recovery = r.live.Recovery
	l.g.live.Store(r.live)
	close(r.done)
}
