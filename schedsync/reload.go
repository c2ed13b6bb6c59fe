package schedsync

import (
	"context"
	"fmt"
	"time"

	"github.com/redund/redund/internal/lifecycle"
)

// liveKeys are the [schedsync] keys a Reload applies while the node runs.
// Every other key needs a restart: the socket and the peer link (listen,
// peer, secret, TLS), the mode, the directory, node_id, the witness, and
// what the watcher was built with (exclude, scan_interval).
var liveKeys = []string{"schedsync.failover_offset", "schedsync.peer_timeout", "schedsync.workers",
	"schedsync.delta_min_size", "schedsync.in_place", "schedsync.on_promote", "schedsync.on_demote", "schedsync.preserve_setid"}

// set is the config with the live settings in force (n.cfg is the one the
// node started with, which holds every other key).
func (n *Node) set() *Config { return n.live.Load() }

// peerTimeout is peer_timeout in force.
func (n *Node) peerTimeout() time.Duration { return n.set().PeerTimeout.D() }

// Reload applies cfg's live keys (liveKeys) at once: the next hello, poll,
// failover decision, transfer or hook uses them. It returns the keys of
// changed among them; a config that does not validate changes nothing.
func (n *Node) Reload(_ context.Context, cfg *Config, changed []string) ([]string, error) {
	c := *cfg // defaulted as New does, the caller's left as it is
	c.SetDefaults()
	cfg = &c
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("schedsync: %w", err)
	}
	applied := lifecycle.KeysUnder(changed, liveKeys...)
	if len(applied) == 0 {
		return nil, nil
	}
	for {
		cur := n.set()
		next := *cur
		next.FailoverOffset, next.PeerTimeout, next.Workers, next.DeltaMinSize = cfg.FailoverOffset, cfg.PeerTimeout, cfg.Workers, cfg.DeltaMinSize
		next.OnPromote, next.OnDemote, next.PreserveSetid = cfg.OnPromote, cfg.OnDemote, cfg.PreserveSetid
		next.InPlace = cfg.InPlace
		if n.live.CompareAndSwap(cur, &next) {
			break
		}
	}
	n.log.Info("settings reloaded", "keys", applied)
	return applied, nil
}
