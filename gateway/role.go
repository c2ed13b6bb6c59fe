package gateway

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// yieldFor is how long a node that handed control over waits for the peer
// to become active before the normal rules apply again.
const yieldFor = 10 * time.Second

// roleLoop re-evaluates the role whenever something changes or a deadline
// (join_wait, failover_timeout) passes.
func (g *Gateway) roleLoop(ctx context.Context) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		next := g.decide()
		if next <= 0 {
			next = time.Hour
		}
		t.Reset(next)
		select {
		case <-ctx.Done():
			return
		case <-g.kick:
		case <-t.C:
		}
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
	}
}

// decide applies the role rules once and returns when to look again.
//
//   - independent: always active;
//   - starting: with the peer connected, the master becomes active unless
//     the backup already is (then automatic recovery takes control back
//     through a handover, manual recovery stays standby); the backup becomes
//     standby once the master is active. Alone after join_wait: active;
//   - standby: active once the peer has been silent for failover_timeout;
//     the master also when the connected backup is not active;
//   - active: the backup steps down when it finds the master active too
//     (after a partition heals the master keeps control).
func (g *Gateway) decide() time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := time.Now()
	if g.cfg.Mode == ModeIndependent {
		if g.role != RoleActive {
			g.setRoleLocked(RoleActive, "independent node")
		}
		return 0
	}
	if g.handingOver {
		return 0
	}
	master := g.cfg.Mode == ModeMaster
	switch g.role {
	case RoleStarting:
		if g.peerUp {
			return g.decideConnected(master, now)
		}
		if now.Before(g.joinUntil) {
			return g.joinUntil.Sub(now)
		}
		g.setRoleLocked(RoleActive, "the peer did not connect within join_wait")
	case RoleStandby:
		if !g.peerUp {
			due := g.lastHeard.Add(g.cfg.FailoverTimeout.D())
			if now.Before(due) {
				return due.Sub(now)
			}
			g.failovers++
			g.lastFailAt = now
			g.setRoleLocked(RoleActive, fmt.Sprintf("no contact with the peer for failover_timeout (%v)", g.cfg.FailoverTimeout.D()))
			return 0
		}
		return g.decideConnected(master, now)
	case RoleActive:
		if g.peerUp && !master && g.peerRole == RoleActive {
			g.stepDownLocked("the master is active too (link restored); the master keeps control")
		}
	}
	return 0
}

// decideConnected handles starting/standby with the link up.
func (g *Gateway) decideConnected(master bool, now time.Time) time.Duration {
	if !master {
		if g.peerRole == RoleActive && g.role == RoleStarting {
			g.setRoleLocked(RoleStandby, "the master is active")
		}
		return 0
	}
	if now.Before(g.yieldUntil) && g.peerRole != RoleActive {
		return g.yieldUntil.Sub(now)
	}
	switch {
	case g.peerRole == RoleActive && g.role == RoleStarting && g.cfg.Recovery == RecoveryAutomatic:
		g.startHandoverLocked("automatic recovery: the master takes control back")
	case g.peerRole == RoleActive && g.role == RoleStarting:
		g.setRoleLocked(RoleStandby, "the backup is active; manual recovery: run `redund gateway failover` to take control back")
	case g.peerRole != RoleActive && g.peerRole != "":
		g.setRoleLocked(RoleActive, "the backup is not active")
	}
	return 0
}

// setRoleLocked changes the role and does what the new role needs
// (g.mu held).
func (g *Gateway) setRoleLocked(role, why string) {
	prev := g.role
	if prev == role {
		return
	}
	if role == RoleActive {
		g.becomeActiveLocked()
	}
	g.role, g.roleSince, g.roleReason = role, time.Now(), why
	g.log.Warn("role change", "from", prev, "to", role, "reason", why, "epoch", g.epoch)
	g.sysEvent("role", fmt.Sprintf("%s → %s: %s", prev, role, why))
	g.sendRoleLocked()
	g.sup.roleChanged(prev, role, why)
	g.notifyLocked()
}

// becomeActiveLocked stops the state follower and starts a new state log
// under a new epoch.
func (g *Gateway) becomeActiveLocked() {
	if f := g.followers[ProvState]; f != nil {
		f.stop()
	}
	if err := g.store.Lead(ProvState); err != nil {
		g.log.Error("cannot lead the state provider", "err", err)
	}
	g.epoch++
	g.saveEpoch(g.epoch)
}

// stepDownLocked leaves the active role; writers are drained first.
func (g *Gateway) stepDownLocked(why string) {
	g.mu.Unlock()
	g.writeMu.Lock()
	g.mu.Lock()
	defer g.writeMu.Unlock()
	if g.role == RoleActive {
		g.setRoleLocked(RoleStandby, why)
	}
}

var bucketGateway = []byte("gateway")

func (g *Gateway) loadEpoch() uint64 {
	var e uint64
	_ = g.store.DB().View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketGateway); b != nil {
			if v := b.Get([]byte("epoch")); len(v) == 8 {
				e = binary.BigEndian.Uint64(v)
			}
		}
		return nil
	})
	return e
}

func (g *Gateway) saveEpoch(e uint64) {
	err := g.store.DB().Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketGateway)
		if err != nil {
			return err
		}
		return b.Put([]byte("epoch"), binary.BigEndian.AppendUint64(nil, e))
	})
	if err != nil {
		g.log.Error("cannot save epoch", "err", err)
	}
}
