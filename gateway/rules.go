package gateway

import (
	"fmt"
	"time"
)

// evaluate applies the role rules (docs/gateway.md, Roles) to the state
// and returns when they must be looked at again (zero: on the next input).
//
//   - independent: always active;
//   - a takeover under way: nothing moves until it ends (inCaughtUp);
//   - active: the backup steps down when it finds the master active too (a
//     cut link healed; the state it wrote meanwhile is discarded, and an
//     event says how much); the master keeps control;
//   - starting or standby with the link up: the master becomes active unless
//     the backup is (then automatic recovery takes control back through a
//     handover, manual recovery stays standby); the backup becomes standby
//     once the master is active;
//   - a backup whose peer answers but refuses the link (linkAlive) never
//     becomes active: its master is alive;
//   - a master that refused the hello of an active backup (linkAlive, the
//     backup's role known from its authenticated hello) stays standby
//     while the backup keeps dialling (refusedGrace × failover_timeout
//     since its last hello): the backup keeps control, one node is active;
//   - starting, no peer: active once join_wait has passed;
//   - standby, no peer: active once the peer has been silent for
//     failover_timeout (a failover).
func evaluate(p params, s roleState, now time.Time) (roleState, []effect, time.Time) {
	var fx []effect
	s.Pending = ""
	switch {
	case p.Mode == ModeIndependent:
		s, fx = goActive(p, s, "independent node", now)
	case s.TakingOver:
	case s.AwaitLock != "":
		return awaitLock(p, s, now)
	case s.Role == RoleActive:
		s, fx = activeRules(p, s, now)
	case s.Link == linkUp:
		return connected(p, s, now)
	case s.Link == linkAlive && p.Mode == ModeBackup:
		return aliveBackup(s, now)
	case s.Link == linkAlive && s.Peer.Role == RoleActive && now.Before(s.LastHeard.Add(refusedGrace*p.FailoverTimeout)):
		return aliveActiveBackup(s, now, s.LastHeard.Add(refusedGrace*p.FailoverTimeout))
	case s.Role == RoleStarting:
		if now.Before(s.JoinUntil) {
			return s, nil, s.JoinUntil
		}
		s, fx = goActive(p, s, "the peer did not connect within join_wait", now)
	default: // standby without the peer
		due := s.LastHeard.Add(p.FailoverTimeout)
		if now.Before(due) {
			return s, nil, due
		}
		s, fx = goActive(p, s, fmt.Sprintf("no contact with the peer for failover_timeout (%v)", p.FailoverTimeout), now)
		if s.Role == RoleActive {
			s.Failovers, s.LastFailover = s.Failovers+1, now
		}
	}
	return s, fx, time.Time{}
}

// activeRules: the backup yields to an active master; the reason of an
// active node follows the link (it said "no contact" while linked again).
func activeRules(p params, s roleState, now time.Time) (roleState, []effect) {
	up := s.Link == linkUp
	switch {
	case up && p.Mode == ModeBackup && s.Peer.Role == RoleActive:
		s, fx := setRole(s, RoleStandby, "the master is active too (link restored); the master keeps control", now)
		return s, append(fx, effect{Kind: effDiscarded})
	case up && !s.ReasonLinked:
		s.Reason, s.ReasonLinked = linkedReason(p, s), true
	case !up && s.ReasonLinked:
		s.Reason, s.ReasonLinked = "the link to the peer is down ("+s.LinkReason+"): this node stays active", false
	}
	return s, nil
}

func linkedReason(p params, s roleState) string {
	if p.Mode == ModeMaster {
		return "linked with the backup " + s.Peer.NodeID + ": the master keeps control"
	}
	return "linked with the master " + s.Peer.NodeID + ": this node keeps control until it hands it over"
}

// connected: starting or standby with the link up.
func connected(p params, s roleState, now time.Time) (roleState, []effect, time.Time) {
	var fx []effect
	peerActive := s.Peer.Role == RoleActive
	switch {
	case p.Mode == ModeBackup && p.Witness && !peerActive:
		return idleMaster(p, s, now)
	case p.Mode == ModeBackup:
		if peerActive && s.Role == RoleStarting {
			s, fx = setRole(s, RoleStandby, "the master is active", now)
		}
	case now.Before(s.YieldUntil) && !peerActive:
		return s, nil, s.YieldUntil
	case peerActive && s.Role == RoleStarting && p.Recovery == RecoveryAutomatic:
		s.TakingOver = true
		fx = []effect{{Kind: effTakeOver, Msg: "automatic recovery: the master takes control back"}}
	case peerActive && s.Role == RoleStarting:
		s, fx = setRole(s, RoleStandby, "the backup is active; manual recovery: run `redund gateway failover` to take control back", now)
	case !peerActive && s.Peer.Role != "":
		s, fx = goActive(p, s, "the backup is not active", now)
	}
	return s, fx, time.Time{}
}

// aliveBackup: the master answers but the link is refused. The backup
// stays standby (after join_wait when starting): the master is alive.
func aliveBackup(s roleState, now time.Time) (roleState, []effect, time.Time) {
	why := "the master answers but the link is refused (" + s.LinkReason + "): a backup stays standby while its master is alive"
	switch {
	case s.Role == RoleStarting && now.Before(s.JoinUntil):
		return s, nil, s.JoinUntil
	case s.Role == RoleStarting:
		s, fx := setRole(s, RoleStandby, why, now)
		return s, fx, time.Time{}
	}
	s.Reason, s.ReasonLinked = why, false
	return s, nil, time.Time{}
}

// refusedGrace: a refused backup's hellos come one redial apart (at most
// the peer's 500 ms backoff plus a handshake), not one per heartbeat as on
// a link; a slow machine stretches that. The master takes the backup for
// silent only after this many failover_timeouts without one: once it
// went active by mistake it would keep control, and both would be active.
const refusedGrace = 3

// aliveActiveBackup: this master refused the hello of its backup, which
// said it is active. The master does not take control (two active nodes)
// while the backup keeps dialling; it looks again at due, refusedGrace ×
// failover_timeout after the backup's last hello.
func aliveActiveBackup(s roleState, now, due time.Time) (roleState, []effect, time.Time) {
	why := "the backup " + s.Peer.NodeID + " is active and this node refused its link (" + s.LinkReason +
		"): the master stays standby while the backup keeps control; fix the mismatch and the master takes control back"
	if s.Role == RoleStarting {
		s, fx := setRole(s, RoleStandby, why, now)
		return s, fx, due
	}
	s.Reason, s.ReasonLinked = why, false
	return s, nil, due
}

// followWanted says which providers this node should pull from its peer:
// the state while it is not active and the peer is (or while a takeover
// catches up), the configuration whenever a backup is linked.
func followWanted(p params, s roleState) (state, config bool) {
	up := s.Link == linkUp
	state = s.Role != RoleActive && up && (s.Peer.Role == RoleActive || s.TakingOver)
	return state, p.Mode == ModeBackup && up
}

// setRole changes the role with the effects in the order that keeps the
// promise: a node leads the state log and persists its epoch before it
// shows as active, and drains its writers before it stops showing as
// active; the peer and the supervisor hear of it after.
func setRole(s roleState, role Role, why string, now time.Time) (roleState, []effect) {
	prev := s.Role
	if prev == role {
		return s, nil
	}
	var fx []effect
	switch {
	case role == RoleActive:
		s.Epoch++
		fx = append(fx, effect{Kind: effLead}, effect{Kind: effPersistEpoch, Epoch: s.Epoch})
	case prev == RoleActive:
		fx = append(fx, effect{Kind: effDrain})
	}
	s.Role, s.Reason, s.Since, s.ReasonLinked = role, why, now, s.Link == linkUp
	fx = append(fx, effect{Kind: effPublish})
	if s.Link == linkUp {
		fx = append(fx, effect{Kind: effSendRole})
	}
	var fence int64
	if role == RoleActive && s.Lock.Held {
		fence = s.Lock.Fence
	}
	return s, append(fx, effect{Kind: effSupervisor, Prev: prev, Role: role, Msg: why, Fence: fence},
		effect{Kind: effEvent, Arg: "role", Msg: fmt.Sprintf("%s → %s: %s", prev, role, why)})
}
