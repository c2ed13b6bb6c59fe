package voter

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/redund/redund/internal/lifecycle"
)

// clientReload hands an instance's new clients to its group's tick loop.
type clientReload struct {
	clients map[string]map[string]*ClientConfig // instance → client name → config
	done    chan struct{}
}

// Reload applies the served instances' clients live: a client added is
// accepted at its first authentication, one removed is refused from its
// next packet on (its digest is unknown), one whose password changed must
// authenticate again, and one whose flags (transmit, master, prio, adpcm,
// ...) changed keeps its session and follows them at once. Every other key
// of an instance needs a restart. The new clients are checked as New
// checks them (a client's digest under the running challenge must be
// unique): on an error nothing changes. It returns the keys of changed
// under voter.<instance>.clients.
func (s *Server) Reload(ctx context.Context, cfgs map[string]*Config, changed []string) ([]string, error) {
	var applied []string
	cfgs = withDefaults(cfgs) // as New does
	byGroup := map[*group]map[string]map[string]*ClientConfig{}
	for _, name := range s.names {
		c, in := cfgs[name], s.insts[name]
		keys := lifecycle.KeysUnder(changed, "voter."+name+".clients")
		if c == nil || len(keys) == 0 {
			continue
		}
		if err := c.Validate(); err != nil {
			return nil, fmt.Errorf("voter: %s: %w", name, err)
		}
		if byGroup[in.g] == nil {
			byGroup[in.g] = map[string]map[string]*ClientConfig{}
		}
		byGroup[in.g][name] = c.Clients
		applied = append(applied, keys...)
	}
	for g, next := range byGroup {
		if err := g.checkClients(next); err != nil {
			return nil, err
		}
	}
	for g, next := range byGroup {
		r := clientReload{clients: next, done: make(chan struct{})}
		select {
		case g.reloadq <- r:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		<-r.done
	}
	return applied, nil
}

// checkClients checks a group's clients after a reload that replaces
// next's instances' clients: no password twice, no digest of 0 or twice
// under the group's challenge (set in New, never changed).
func (g *group) checkClients(next map[string]map[string]*ClientConfig) error {
	owner := map[uint32]string{}
	for _, in := range g.insts { // g.insts and their names do not change after New
		clients := next[in.name]
		if clients == nil {
			clients = in.cfg.Clients
		}
		for _, cn := range slices.Sorted(maps.Keys(clients)) {
			d := DigestBytes(g.chalB, []byte(clients[cn].Password.Reveal()))
			key := in.name + ".clients." + cn
			if o, dup := owner[d]; dup || d == 0 {
				return fmt.Errorf("voter: %s: its password gives the same digest as %s under the running challenge; restart to apply it", key, o)
			}
			owner[d] = key
		}
	}
	return nil
}

// setClients applies a clientReload in the tick loop (g.mu held): a pure
// change of the group's tables.
func (g *group) setClients(next map[string]map[string]*ClientConfig) {
	for _, in := range g.insts {
		clients, ok := next[in.name]
		if !ok {
			continue
		}
		old := map[string]*client{}
		for _, c := range in.clients {
			old[c.name] = c
		}
		var list []*client
		for _, cn := range slices.Sorted(maps.Keys(clients)) {
			cc := clients[cn]
			if c := old[cn]; c != nil && string(c.pw) == cc.Password.Reveal() {
				c.cfg = *cc // flags: followed at once, the session kept
				list = append(list, c)
				continue
			}
			list = append(list, newClient(cn, in, cc, g.chalB, in.cfg.BufBytes()))
		}
		in.clients = list
		if !slices.Contains(list, in.winner) {
			in.winner = nil
		}
		if !slices.Contains(list, in.lastWon) {
			in.lastWon = nil
		}
		in.adpcmTx = in.hasADPCMTx()
		in.log.Info("clients reloaded", "clients", len(list))
	}
	g.clients, g.byDigest, g.masters = nil, map[uint32]*client{}, nil
	for _, in := range g.insts {
		for _, c := range in.clients {
			g.clients = append(g.clients, c)
			g.byDigest[c.digest] = c
			if c.cfg.Master {
				g.masters = append(g.masters, c)
			}
		}
	}
	if g.master != nil && !slices.Contains(g.masters, g.master) {
		g.master = nil
	}
}
