package gateway

import (
	"fmt"
	"time"
)

// The witness rules (docs/gateway.md, Witness). With `witness = true` a
// node is active only while it holds the gateway's lock in etcd:
//
//   - wherever the role rules would make a node active (join_wait passed,
//     failover_timeout passed, the master linked with a standby backup,
//     a handover caught up), it campaigns for the lock and becomes active
//     on Acquired (Pending, AwaitLock);
//   - an active node that gets Lost stands down at once: the witness
//     reports Lost before the lease can expire in etcd, so before any other
//     node can acquire the lock;
//   - a node campaigns only while the rules want it active (or it is, or a
//     handover to it is under way) and resigns otherwise, so with the link
//     up the master is preferred as without the witness: the backup does
//     not campaign while the master is active and linked, and a handover is
//     the active node resigning and the other campaigning;
//   - a backup linked with a master that has not been active for
//     failover_timeout (the master cannot get the lock: etcd is out of its
//     reach) campaigns too.

// lockView is the witness lock as this node's events tell it.
type lockView struct {
	Held  bool
	Fence int64 // the token of the current (or last) holding
}

// goActive makes the node active, with the witness only while it holds
// the lock (and has wanted it all along); else the node waits for it.
func goActive(p params, s roleState, why string, now time.Time) (roleState, []effect) {
	if p.Witness && !(s.Lock.Held && s.LockWant) {
		s.Pending = why
		if s.Role != RoleActive {
			s.Reason, s.ReasonLinked = "waiting for the witness lock to become active: "+why, s.Link == linkUp
		}
		return s, nil
	}
	return setRole(s, RoleActive, why, now)
}

// witnessFx records a witness event; Lost makes an active node stand down.
func witnessFx(p params, s roleState, in input, now time.Time) (roleState, []effect) {
	if !p.Witness {
		return s, nil
	}
	if in.Kind == inWitnessAcquired {
		s.Lock = lockView{Held: true, Fence: in.Fence}
		fx := []effect{{Kind: effEvent, Arg: "witness", Msg: fmt.Sprintf("holds the lock (fencing token %d)", in.Fence)}}
		if s.AwaitLock != "" && s.LockWant && s.Role != RoleActive {
			why := s.AwaitLock
			s.AwaitLock, s.LockUntil = "", time.Time{}
			s, more := setRole(s, RoleActive, why, now)
			return s, append(fx, more...)
		}
		return s, fx
	}
	s.Lock.Held = false
	fx := []effect{{Kind: effEvent, Arg: "witness", Msg: fmt.Sprintf("lost the lock (fencing token %d): %s", s.Lock.Fence, in.Reason)}}
	if s.Role == RoleActive {
		var more []effect
		s, more = setRole(s, RoleStandby, "lost the witness lock ("+in.Reason+"): standing down before anyone else can take it", now)
		fx = append(fx, more...)
	}
	return s, fx
}

// awaitLock: a handover to this node caught up and waits for the lock
// until LockUntil; then the normal rules apply again.
func awaitLock(p params, s roleState, now time.Time) (roleState, []effect, time.Time) {
	if now.Before(s.LockUntil) {
		return s, nil, s.LockUntil
	}
	s.AwaitLock, s.LockUntil = "", time.Time{}
	fx := []effect{{Kind: effEvent, Arg: "handover", Msg: fmt.Sprintf("failed: the witness lock did not come within %v", p.LockWait)}}
	if s.Role == RoleStarting {
		var more []effect
		s, more = setRole(s, RoleStandby, "handover failed: the witness lock did not come", now)
		fx = append(fx, more...)
	}
	s, more, wake := evaluate(p, s, now)
	return s, append(fx, more...), wake
}

// idleMaster: a backup linked with a master that is not active takes
// control (through the lock) once the master has been so for
// failover_timeout, and not while it yields after a handover.
func idleMaster(p params, s roleState, now time.Time) (roleState, []effect, time.Time) {
	due := s.PeerIdleSince.Add(p.FailoverTimeout)
	if s.YieldUntil.After(due) {
		due = s.YieldUntil
	}
	if s.Role == RoleActive || now.Before(due) {
		return s, nil, due
	}
	s, fx := goActive(p, s, fmt.Sprintf("the master is linked but has not been active for failover_timeout (%v): it cannot get the witness lock", p.FailoverTimeout), now)
	return s, fx, time.Time{}
}

// notePeerRole keeps PeerIdleSince: when the peer stopped being active.
func notePeerRole(s roleState, role Role, now time.Time) roleState {
	switch {
	case role == RoleActive:
		s.PeerIdleSince = time.Time{}
	case s.Peer.Role == RoleActive || s.PeerIdleSince.IsZero():
		s.PeerIdleSince = now
	}
	return s
}

// lockWish campaigns while the node is active, wants to be or is taking
// over, and resigns otherwise.
func lockWish(p params, s roleState) (roleState, []effect) {
	if !p.Witness {
		return s, nil
	}
	want := s.Role == RoleActive || s.Pending != "" || s.TakingOver || s.AwaitLock != ""
	if want == s.LockWant {
		return s, nil
	}
	s.LockWant = want
	if want {
		return s, []effect{{Kind: effCampaign}}
	}
	return s, []effect{{Kind: effResign}}
}
