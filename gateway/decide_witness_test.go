package gateway

import (
	"strings"
	"testing"
	"time"
)

var (
	pMasterW = params{NodeID: "gw-a", Mode: ModeMaster, Recovery: RecoveryAutomatic, FailoverTimeout: time.Second, Witness: true, LockWait: 7 * time.Second}
	pBackupW = params{NodeID: "gw-b", Mode: ModeBackup, Recovery: RecoveryAutomatic, FailoverTimeout: time.Second, Witness: true, LockWait: 7 * time.Second}
	pSoloW   = params{NodeID: "solo", Mode: ModeIndependent, FailoverTimeout: time.Second, Witness: true, LockWait: 7 * time.Second}
)

// held: the node holds the lock with token 7 and campaigns for it.
func held(s roleState) roleState {
	s.Lock, s.LockWant = lockView{Held: true, Fence: 7}, true
	return s
}

// wanting: the node campaigns for the lock (not held yet).
func wanting(s roleState) roleState { s.LockWant = true; return s }

func acquired(fence int64) input { return input{Kind: inWitnessAcquired, Fence: fence} }

var lost = input{Kind: inWitnessLost, Reason: "etcd did not answer"}

// wantFence checks the token the supervisor gets (REDUND_FENCE).
func wantFence(f int64) func(*testing.T, roleState, []effect) {
	return func(t *testing.T, s roleState, fx []effect) {
		t.Helper()
		for _, e := range fx {
			if e.Kind == effSupervisor && e.Fence != f {
				t.Errorf("supervisor fence %d, want %d", e.Fence, f)
			}
		}
		if s.Role == RoleActive && s.Lock.Fence != f {
			t.Errorf("state fence %d, want %d", s.Lock.Fence, f)
		}
	}
}

// TestDecideWitness has a row for every witness rule (docs/gateway.md,
// Witness): a node the rules would make active campaigns and becomes
// active only on Acquired; an active node that gets Lost stands down at
// once; with the link up the master is preferred.
func TestDecideWitness(t *testing.T) {
	runDecide(t, []decideCase{
		// wherever the rules would make a node active, it campaigns first
		{name: "master linked with a standby backup: campaigns, not active yet", p: pMasterW, s: st(RoleStarting, linkDown, ""),
			in: up(RoleStandby), role: RoleStarting, reason: "waiting for the witness lock to become active: the backup is not active",
			fx: "event send-role campaign"},
		{name: "join_wait passed: campaigns, not active", p: pMasterW, s: st(RoleStarting, linkDown, ""), in: input{Kind: inTick},
			now: 30 * time.Second, role: RoleStarting, reason: "waiting for the witness lock", fx: "campaign"},
		{name: "failover_timeout passed: campaigns, no failover counted yet", p: pBackupW, s: st(RoleStandby, linkDown, RoleActive),
			in: input{Kind: inTick}, now: time.Second, role: RoleStandby, reason: "waiting for the witness lock", fx: "campaign",
			check: func(t *testing.T, s roleState, _ []effect) {
				if s.Failovers != 0 || !s.LockWant {
					t.Errorf("failovers %d, campaigning %v", s.Failovers, s.LockWant)
				}
			}},
		{name: "independent node: campaigns", p: pSoloW, s: st(RoleStarting, linkDown, ""), in: input{Kind: inTick},
			role: RoleStarting, reason: "waiting for the witness lock", fx: "campaign"},

		// Acquired: the node becomes active with the token
		{name: "Acquired: the linked master becomes active with the token", p: pMasterW, s: wanting(st(RoleStarting, linkUp, RoleStandby)),
			in: acquired(7), role: RoleActive, reason: "the backup is not active", fx: "event " + toActive, check: wantFence(7)},
		{name: "Acquired after failover_timeout: active, a failover", p: pBackupW, s: wanting(st(RoleStandby, linkDown, RoleActive)),
			in: acquired(9), now: 2 * time.Second, role: RoleActive, reason: "no contact", fx: "event " + toActiveAlone,
			check: func(t *testing.T, s roleState, fx []effect) {
				wantFence(9)(t, s, fx)
				if s.Failovers != 1 {
					t.Errorf("failovers %d", s.Failovers)
				}
			}},
		{name: "Acquired within join_wait: held, but not active before the rules say so", p: pMasterW, s: wanting(st(RoleStarting, linkDown, "")),
			in: acquired(7), now: time.Second, role: RoleStarting, fx: "event resign", wake: 30 * time.Second},
		{name: "Acquired for a lock no longer wanted (resigned meanwhile): not active", p: pBackupW, s: st(RoleStandby, linkUp, RoleActive),
			in: acquired(7), role: RoleStandby, reason: "earlier", fx: "event"},
		{name: "held and wanted again: active at once", p: pMasterW,
			s:  with(st(RoleStandby, linkUp, RoleStandby), func(s *roleState) { s.Lock = lockView{Held: true, Fence: 7} }),
			in: input{Kind: inTick}, role: RoleActive, fx: "campaign " + toActive, check: wantFence(7)},

		// Lost: an active node stands down at once
		{name: "Lost, active master linked: standby at once, campaigns on", p: pMasterW, s: held(st(RoleActive, linkUp, RoleStandby)),
			in: lost, role: RoleStandby, reason: "waiting for the witness lock", fx: "event " + fromActive,
			check: func(t *testing.T, s roleState, fx []effect) {
				if s.Lock.Held || !s.LockWant || !strings.Contains(fx[len(fx)-1].Msg, "lost the witness lock (etcd did not answer)") {
					t.Errorf("held %v, campaigning %v, event %q", s.Lock.Held, s.LockWant, fx[len(fx)-1].Msg)
				}
			}},
		{name: "Lost, active node alone: standby at once, resigns until the rules want it again", p: pBackupW,
			s: held(st(RoleActive, linkDown, RoleActive)), in: lost, role: RoleStandby, reason: "lost the witness lock",
			fx: "event drain publish supervisor event resign", wake: time.Second},
		{name: "Lost while standby: recorded only", p: pBackupW, s: held(st(RoleStandby, linkUp, RoleActive)), in: lost,
			role: RoleStandby, reason: "earlier", fx: "event resign"},
		{name: "witness events without the witness: ignored", p: pMaster, s: st(RoleActive, linkDown, ""), in: lost, role: RoleActive},

		// with the link up, the master is preferred
		{name: "backup linked with an active master: does not campaign", p: pBackupW, s: st(RoleStarting, linkDown, ""),
			in: up(RoleActive), now: time.Hour, role: RoleStandby, reason: "the master is active", fx: "event send-role " + toStandbyLinked},
		{name: "backup campaigning sees the master active: resigns", p: pBackupW, s: wanting(st(RoleStandby, linkDown, RoleActive)),
			in: up(RoleActive), now: time.Hour, role: RoleStandby, fx: "event send-role resign"},
		{name: "backup linked with a master not active: waits failover_timeout", p: pBackupW, s: st(RoleStandby, linkDown, ""),
			in: up(RoleStandby), role: RoleStandby, fx: "event send-role", wake: time.Second},
		{name: "backup linked with a master not active for failover_timeout: campaigns", p: pBackupW,
			s:  with(st(RoleStandby, linkUp, RoleStandby), func(s *roleState) { s.PeerIdleSince = t0 }),
			in: input{Kind: inTick}, now: time.Second, role: RoleStandby, reason: "has not been active for failover_timeout", fx: "campaign"},
		{name: "the master stops being active: the backup counts from then", p: pBackupW, s: st(RoleStandby, linkUp, RoleActive),
			in: input{Kind: inPeerRole, Peer: peerView{Role: RoleStandby}}, now: 5 * time.Second, role: RoleStandby, wake: 6 * time.Second},
		{name: "backup after a handover: waits the yield before campaigning", p: pBackupW,
			s:  with(st(RoleStandby, linkUp, RoleStarting), func(s *roleState) { s.PeerIdleSince, s.YieldUntil = t0, at0(10*time.Second) }),
			in: input{Kind: inTick}, now: 2 * time.Second, role: RoleStandby, wake: 10 * time.Second},
		{name: "active master linked: keeps the lock", p: pMasterW, s: held(st(RoleActive, linkUp, RoleStandby)), in: input{Kind: inTick},
			now: time.Hour, role: RoleActive},

		// a handover: the active node resigns, the other campaigns
		{name: "handover asked: the active node steps down and resigns", p: pBackupW, s: held(st(RoleActive, linkUp, RoleStarting)),
			in: input{Kind: inHandoverAsked}, role: RoleStandby, fx: fromActive + " reply-position resign", wake: yieldFor},
		{name: "takeover asked: the standby campaigns while it catches up", p: pBackupW, s: st(RoleStandby, linkUp, RoleActive),
			in: input{Kind: inTakeOverAsked}, role: RoleStandby, fx: "takeover campaign"},
		{name: "automatic recovery: the master campaigns while it catches up", p: pMasterW, s: st(RoleStarting, linkDown, ""),
			in: up(RoleActive), role: RoleStarting, fx: "event send-role takeover campaign"},
		{name: "caught up, lock not yet held: waits for it", p: pMasterW,
			s:  wanting(with(st(RoleStarting, linkUp, RoleActive), func(s *roleState) { s.TakingOver = true })),
			in: input{Kind: inCaughtUp, Reason: "automatic recovery"}, role: RoleStarting, fx: "reply", wake: 7 * time.Second,
			check: func(t *testing.T, s roleState, _ []effect) {
				if s.AwaitLock != "automatic recovery" || !s.LockWant {
					t.Errorf("await %q, campaigning %v", s.AwaitLock, s.LockWant)
				}
			}},
		{name: "caught up, lock held: active", p: pMasterW,
			s:  held(with(st(RoleStarting, linkUp, RoleActive), func(s *roleState) { s.TakingOver = true })),
			in: input{Kind: inCaughtUp, Reason: "automatic recovery"}, role: RoleActive, fx: toActive + " reply", check: wantFence(7)},
		{name: "awaiting the lock, Acquired: active", p: pMasterW,
			s: wanting(with(st(RoleStarting, linkUp, RoleStandby), func(s *roleState) {
				s.AwaitLock, s.LockUntil = "automatic recovery", at0(7*time.Second)
			})),
			in: acquired(12), now: time.Second, role: RoleActive, reason: "automatic recovery", fx: "event " + toActive, check: wantFence(12)},
		{name: "awaiting the lock, it does not come: handover failed, the rules apply again", p: pMasterW,
			s: wanting(with(st(RoleStarting, linkUp, RoleStandby), func(s *roleState) {
				s.AwaitLock, s.LockUntil = "automatic recovery", at0(7*time.Second)
			})),
			in: input{Kind: inTick}, now: 7 * time.Second, role: RoleStandby, reason: "waiting for the witness lock",
			fx: "event " + toStandbyLinked},
	})
}
