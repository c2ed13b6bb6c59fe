package gateway

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// at0 is t0 plus d.
func at0(d time.Duration) time.Time { return t0.Add(d) }

var (
	pMaster = params{NodeID: "gw-a", Mode: ModeMaster, Recovery: RecoveryAutomatic, FailoverTimeout: time.Second}
	pManual = params{NodeID: "gw-a", Mode: ModeMaster, Recovery: RecoveryManual, FailoverTimeout: time.Second}
	pBackup = params{NodeID: "gw-b", Mode: ModeBackup, Recovery: RecoveryAutomatic, FailoverTimeout: time.Second}
	pSolo   = params{NodeID: "solo", Mode: ModeIndependent, FailoverTimeout: time.Second}
)

// st is a state: role, link, the peer's role; join_wait ends at t0+30s,
// the peer was last heard at t0.
func st(role Role, link linkState, peerRole Role) roleState {
	return roleState{Role: role, Reason: "earlier", Since: t0.Add(-time.Hour), Epoch: 4, Link: link,
		Peer: peerView{NodeID: "peer", Role: peerRole}, LastHeard: t0, JoinUntil: at0(30 * time.Second)}
}

func with(s roleState, f func(*roleState)) roleState { f(&s); return s }

func up(role Role) input {
	return input{Kind: inLinkUp, At: t0, Peer: peerView{NodeID: "peer", Mode: ModeBackup, Role: role}}
}

var effNames = map[effectKind]string{effLead: "lead", effPersistEpoch: "epoch", effDrain: "drain", effPublish: "publish",
	effSendRole: "send-role", effSendTakeOver: "send-takeover", effSendResync: "send-resync", effForceResync: "force-resync",
	effTakeOver: "takeover", effCancelTakeOver: "cancel-takeover", effSupervisor: "supervisor", effFault: "fault",
	effEvent: "event", effDiscarded: "discarded", effReplyPosition: "reply-position", effReply: "reply",
	effCampaign: "campaign", effResign: "resign"}

func kinds(fx []effect) string {
	var out []string
	for _, e := range fx {
		out = append(out, effNames[e.Kind])
	}
	return strings.Join(out, " ")
}

// Effect lists of a role change (after the input's own effects).
const (
	toActive        = "lead epoch publish send-role supervisor event"
	toActiveAlone   = "lead epoch publish supervisor event"
	fromActive      = "drain publish send-role supervisor event"
	toStandbyLinked = "publish send-role supervisor event"
)

// TestDecide has a row for every row of the role table in docs/gateway.md
// (the "doc:" names), and for the commands and inputs around them.
func TestDecide(t *testing.T) {
	cases := []decideCase{
		// doc: start — the node waits up to join_wait for its peer
		{name: "doc start: master waits join_wait", p: pMaster, s: st(RoleStarting, linkDown, ""), in: input{Kind: inTick},
			role: RoleStarting, reason: "earlier", wake: 30 * time.Second},
		{name: "doc start: backup waits join_wait", p: pBackup, s: st(RoleStarting, linkDown, ""), in: input{Kind: inTick},
			now: 10 * time.Second, role: RoleStarting, wake: 30 * time.Second},

		// doc: link up, nobody active — the master becomes active, the backup standby
		{name: "doc link up, nobody active: master active", p: pMaster, s: st(RoleStarting, linkDown, ""), in: up(RoleStarting),
			role: RoleActive, reason: "the backup is not active", fx: "event send-role " + toActive,
			check: func(t *testing.T, s roleState, fx []effect) {
				if s.Epoch != 5 || fx[3].Epoch != 5 {
					t.Errorf("epoch %d, persisted %d: want 5", s.Epoch, fx[3].Epoch)
				}
			}},
		{name: "doc link up, nobody active: backup waits for the master", p: pBackup, s: st(RoleStarting, linkDown, ""),
			in: up(RoleStarting), role: RoleStarting, fx: "event send-role"},
		{name: "doc link up: backup standby once the master is active", p: pBackup, s: st(RoleStarting, linkUp, RoleStarting),
			in: input{Kind: inPeerRole, Peer: peerView{Role: RoleActive}}, role: RoleStandby, reason: "the master is active", fx: toStandbyLinked},
		{name: "link up: master standby, backup standby: master active", p: pMaster, s: st(RoleStandby, linkUp, RoleStarting),
			in: input{Kind: inPeerRole, Peer: peerView{Role: RoleStandby}}, role: RoleActive, fx: toActive},
		{name: "link up, backup linked to an active master stays standby", p: pBackup, s: st(RoleStandby, linkUp, RoleActive),
			in: input{Kind: inTick}, now: time.Hour, role: RoleStandby, reason: "earlier"},

		// doc: link up, the backup is active — automatic: handover; manual: standby
		{name: "doc backup active, automatic recovery: master starts a handover", p: pMaster, s: st(RoleStarting, linkDown, ""),
			in: up(RoleActive), role: RoleStarting, fx: "event send-role takeover",
			check: func(t *testing.T, s roleState, fx []effect) {
				if !s.TakingOver || !strings.Contains(fx[2].Msg, "automatic recovery") {
					t.Errorf("taking over %v, why %q", s.TakingOver, fx[2].Msg)
				}
			}},
		{name: "doc backup active, manual recovery: master standby", p: pManual, s: st(RoleStarting, linkDown, ""),
			in: up(RoleActive), role: RoleStandby, reason: "manual recovery", fx: "event send-role " + toStandbyLinked},
		{name: "handover caught up: master active, backup standby", p: pMaster, s: with(st(RoleStarting, linkUp, RoleActive), func(s *roleState) { s.TakingOver = true }),
			in: input{Kind: inCaughtUp, Reason: "automatic recovery: the master takes control back"}, role: RoleActive,
			reason: "automatic recovery", fx: toActive + " reply",
			check: func(t *testing.T, s roleState, _ []effect) {
				if s.TakingOver || s.Peer.Role != RoleStandby {
					t.Errorf("taking over %v, peer %s", s.TakingOver, s.Peer.Role)
				}
			}},
		{name: "handover failed: starting master standby", p: pMaster, s: with(st(RoleStarting, linkUp, RoleActive), func(s *roleState) { s.TakingOver = true }),
			in: input{Kind: inCaughtUp, Err: errors.New("no answer")}, role: RoleStandby, reason: "handover failed: no answer",
			fx: "event " + toStandbyLinked + " reply"},
		{name: "handover asked: the active node steps down, drained, and answers its position", p: pBackup, s: st(RoleActive, linkUp, RoleStarting),
			in: input{Kind: inHandoverAsked}, now: time.Second, role: RoleStandby, reason: "handed control to peer", fx: fromActive + " reply-position",
			check: func(t *testing.T, s roleState, _ []effect) {
				if !s.YieldUntil.Equal(at0(time.Second + yieldFor)) {
					t.Errorf("yield until %v", s.YieldUntil)
				}
			}},
		{name: "handover asked of a standby node: refused", p: pBackup, s: st(RoleStandby, linkUp, RoleActive), in: input{Kind: inHandoverAsked},
			role: RoleStandby, fx: "reply", check: wantReplyErr("not active")},
		{name: "while a handover catches up nothing else moves", p: pMaster, s: with(st(RoleStarting, linkUp, RoleActive), func(s *roleState) { s.TakingOver = true }),
			in: input{Kind: inPeerRole, Peer: peerView{Role: RoleStandby}}, role: RoleStarting},
		{name: "the link drops during a handover: it is cancelled", p: pMaster, s: with(st(RoleStarting, linkUp, RoleActive), func(s *roleState) { s.TakingOver = true }),
			in: input{Kind: inLinkDown, At: t0, Reason: "eof"}, role: RoleStarting, fx: "event cancel-takeover"},
		{name: "after a handover the node waits yield for the peer", p: pMaster, s: with(st(RoleStandby, linkUp, RoleStandby), func(s *roleState) { s.YieldUntil = at0(10 * time.Second) }),
			in: input{Kind: inTick}, now: time.Second, role: RoleStandby, wake: 10 * time.Second},
		{name: "yield over, the peer did not take control: master active again", p: pMaster, s: with(st(RoleStandby, linkUp, RoleStandby), func(s *roleState) { s.YieldUntil = at0(10 * time.Second) }),
			in: input{Kind: inTick}, now: 10 * time.Second, role: RoleActive, fx: toActive},

		// doc: no peer within join_wait — the node becomes active (alone)
		{name: "doc no peer within join_wait: master active alone", p: pMaster, s: st(RoleStarting, linkDown, ""), in: input{Kind: inTick},
			now: 30 * time.Second, role: RoleActive, reason: "within join_wait", fx: toActiveAlone},
		{name: "doc no peer within join_wait: backup active alone", p: pBackup, s: st(RoleStarting, linkDown, ""), in: input{Kind: inTick},
			now: 31 * time.Second, role: RoleActive, reason: "within join_wait", fx: toActiveAlone},

		// doc: standby, peer silent for failover_timeout — a failover
		{name: "doc link drops: the standby waits failover_timeout from the last frame", p: pBackup, s: st(RoleStandby, linkUp, RoleActive),
			in: input{Kind: inLinkDown, At: at0(-200 * time.Millisecond), Reason: "read: EOF"}, role: RoleStandby, fx: "event", wake: 800 * time.Millisecond},
		{name: "doc standby, peer silent for failover_timeout: failover", p: pBackup, s: st(RoleStandby, linkDown, RoleActive), in: input{Kind: inTick},
			now: time.Second, role: RoleActive, reason: "no contact with the peer for failover_timeout (1s)", fx: toActiveAlone,
			check: func(t *testing.T, s roleState, _ []effect) {
				if s.Failovers != 1 || !s.LastFailover.Equal(at0(time.Second)) {
					t.Errorf("failovers %d at %v", s.Failovers, s.LastFailover)
				}
			}},
		{name: "doc standby master, backup silent: failover too", p: pManual, s: st(RoleStandby, linkDown, RoleActive), in: input{Kind: inTick},
			now: 2 * time.Second, role: RoleActive, reason: "no contact", fx: toActiveAlone},

		// doc: both active when a cut link heals — the backup steps down
		{name: "doc both active, link heals: the backup steps down, its state writes are counted as discarded", p: pBackup,
			s: st(RoleActive, linkDown, RoleActive), in: up(RoleActive), role: RoleStandby, reason: "the master keeps control",
			fx: "event send-role " + fromActive + " discarded"},
		{name: "doc both active, link heals: the master keeps control", p: pMaster, s: st(RoleActive, linkDown, RoleActive),
			in: up(RoleActive), role: RoleActive, reason: "linked with the backup peer: the master keeps control", fx: "event send-role"},

		// the peer answers but the link is refused (peer.Refused) or the
		// secrets differ (peer.Mismatch): a backup stays standby
		{name: "mismatch, backup after join_wait: standby, one event and fault", p: pBackup, s: st(RoleStarting, linkDown, ""),
			in: input{Kind: inLinkAlive, Reason: "secrets differ", Mismatch: true}, now: 31 * time.Second, role: RoleStandby,
			reason: "stays standby while its master is alive", fx: "event fault publish supervisor event"},
		{name: "mismatch answered again: a sign of life, no event, no fault", p: pBackup, s: st(RoleStandby, linkAlive, ""),
			in: input{Kind: inLinkAlive, Reason: "secrets differ", Mismatch: true, Repeat: true}, now: time.Hour, role: RoleStandby,
			reason: "the master answers but the link is refused"},
		{name: "refused link, backup after join_wait: standby, not active", p: pBackup, s: st(RoleStarting, linkDown, ""),
			in: input{Kind: inLinkAlive, Reason: "authentication failed"}, now: 31 * time.Second, role: RoleStandby,
			reason: "stays standby while its master is alive", fx: "event fault publish supervisor event"},
		{name: "refused link, backup within join_wait: waits", p: pBackup, s: st(RoleStarting, linkDown, ""),
			in: input{Kind: inLinkAlive, Reason: "authentication failed"}, now: time.Second, role: RoleStarting, fx: "event fault", wake: 30 * time.Second},
		{name: "refused link, standby backup past failover_timeout: stays standby", p: pBackup, s: st(RoleStandby, linkAlive, RoleActive),
			in: input{Kind: inTick}, now: time.Hour, role: RoleStandby, reason: "the master answers but the link is refused"},
		{name: "refused link, then the master stops answering: failover_timeout from then", p: pBackup, s: st(RoleStandby, linkAlive, RoleActive),
			in: input{Kind: inLinkDown, Reason: "dial: connection refused"}, now: time.Hour, role: RoleStandby, wake: time.Hour + time.Second},
		{name: "refused link, master after join_wait: active (the master is preferred)", p: pMaster, s: st(RoleStarting, linkDown, ""),
			in: input{Kind: inLinkAlive, Reason: "authentication failed"}, now: 30 * time.Second, role: RoleActive, fx: "event fault " + toActiveAlone},
		// the master refused the authenticated hello of an active backup
		// (another major version, another witness): the backup keeps control
		{name: "master refused an active backup's hello: standby at once, not active after join_wait", p: pMaster,
			s:   st(RoleStarting, linkDown, ""),
			in:  input{Kind: inLinkAlive, Reason: "incompatible versions", Peer: peerView{NodeID: "gw-b", Mode: ModeBackup, Role: RoleActive}},
			now: 30 * time.Second, role: RoleStandby, reason: "the backup gw-b is active and this node refused its link",
			fx: "event fault publish supervisor event", wake: 33 * time.Second},
		{name: "master refused an active backup: its next hello keeps the master standby", p: pMaster,
			s:   with(st(RoleStandby, linkAlive, RoleActive), func(s *roleState) { s.LinkReason = "incompatible versions" }),
			in:  input{Kind: inLinkAlive, Reason: "incompatible versions", Repeat: true, Peer: peerView{NodeID: "gw-b", Mode: ModeBackup, Role: RoleActive}},
			now: 10 * time.Second, role: RoleStandby, reason: "is active and this node refused its link", wake: 13 * time.Second},
		{name: "master refused an active backup, one failover_timeout without a hello: still standby", p: pMaster,
			s:  with(st(RoleStandby, linkAlive, RoleActive), func(s *roleState) { s.LinkReason = "incompatible versions" }),
			in: input{Kind: inTick}, now: 2 * time.Second, role: RoleStandby, reason: "is active and this node refused its link", wake: 3 * time.Second},
		{name: "master refused an active backup that then fell silent: active after three failover_timeouts", p: pMaster,
			s:  with(st(RoleStandby, linkAlive, RoleActive), func(s *roleState) { s.LinkReason = "incompatible versions" }),
			in: input{Kind: inTick}, now: 3 * time.Second, role: RoleActive, reason: "no contact", fx: toActiveAlone},
		{name: "master refused a standby backup's hello: active after join_wait as before", p: pMaster,
			s:   st(RoleStarting, linkDown, ""),
			in:  input{Kind: inLinkAlive, Reason: "incompatible versions", Peer: peerView{NodeID: "gw-b", Mode: ModeBackup, Role: RoleStarting}},
			now: 30 * time.Second, role: RoleActive, fx: "event fault " + toActiveAlone},
		{name: "active master refused an active backup's hello: keeps control", p: pMaster,
			s:   st(RoleActive, linkDown, ""),
			in:  input{Kind: inLinkAlive, Reason: "incompatible versions", Peer: peerView{NodeID: "gw-b", Mode: ModeBackup, Role: RoleActive}},
			now: 30 * time.Second, role: RoleActive, fx: "event fault"},
		// the witness rows are in TestDecideWitness (decide_witness_test.go)

		// the reason of an active node follows the link
		{name: "active master linked again: the reason says so", p: pMaster,
			s:  with(st(RoleActive, linkDown, ""), func(s *roleState) { s.Reason = "no contact with the peer for failover_timeout (1s)" }),
			in: up(RoleStarting), role: RoleActive, reason: "linked with the backup peer", fx: "event send-role"},
		{name: "active master, link down: the reason says so", p: pMaster, s: with(st(RoleActive, linkUp, RoleStandby), func(s *roleState) { s.ReasonLinked = true }),
			in: input{Kind: inLinkDown, At: t0, Reason: "read: EOF"}, role: RoleActive, reason: "link to the peer is down (read: EOF)", fx: "event"},

		// operator commands and the peer's requests
		{name: "failover on the active node asks the peer", p: pMaster, s: st(RoleActive, linkUp, RoleStandby), in: input{Kind: inFailover},
			role: RoleActive, fx: "send-takeover reply"},
		{name: "failover on the standby takes over", p: pManual, s: st(RoleStandby, linkUp, RoleActive), in: input{Kind: inFailover},
			role: RoleStandby, fx: "takeover"},
		{name: "failover without the peer is refused", p: pMaster, s: st(RoleActive, linkDown, ""), in: input{Kind: inFailover},
			role: RoleActive, fx: "reply", check: wantReplyErr("not connected")},
		{name: "failover on an independent node is refused", p: pSolo, s: st(RoleActive, linkDown, ""), in: input{Kind: inFailover},
			role: RoleActive, fx: "reply", check: wantReplyErr("independent")},
		{name: "failover with both standby is refused", p: pBackup, s: st(RoleStandby, linkUp, RoleStandby), in: input{Kind: inFailover},
			role: RoleStandby, fx: "reply", check: wantReplyErr("no failover possible")},
		{name: "the active peer hands over: the standby takes over", p: pBackup, s: st(RoleStandby, linkUp, RoleActive), in: input{Kind: inTakeOverAsked},
			role: RoleStandby, fx: "takeover"},
		{name: "resync on the active master asks the backup", p: pMaster, s: st(RoleActive, linkUp, RoleStandby), in: input{Kind: inResync},
			role: RoleActive, fx: "send-resync reply",
			check: func(t *testing.T, _ roleState, fx []effect) {
				if !slices.Equal(fx[0].Provs, []string{ProvState, ProvConfig}) {
					t.Errorf("providers %v", fx[0].Provs)
				}
			}},
		{name: "resync on the standby backup copies here", p: pBackup, s: st(RoleStandby, linkUp, RoleActive), in: input{Kind: inResync},
			role: RoleStandby, fx: "force-resync"},
		{name: "independent node: active at once", p: pSolo, s: st(RoleStarting, linkDown, ""), in: input{Kind: inTick},
			role: RoleActive, reason: "independent node", fx: toActiveAlone},
	}
	runDecide(t, cases)
}

// decideCase is one row of a decide table.
type decideCase struct {
	name   string
	p      params
	s      roleState
	in     input
	now    time.Duration // after t0
	role   Role
	reason string // substring
	fx     string // effect kinds, in order
	wake   time.Duration
	check  func(t *testing.T, s roleState, fx []effect)
}

func runDecide(t *testing.T, cases []decideCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, fx, wake := decide(c.p, c.s, c.in, at0(c.now))
			if s.Role != c.role || !strings.Contains(s.Reason, c.reason) {
				t.Errorf("role %s (%q), want %s (%q)", s.Role, s.Reason, c.role, c.reason)
			}
			if got := kinds(fx); got != c.fx {
				t.Errorf("effects\n got: %s\nwant: %s", got, c.fx)
			}
			if c.wake != 0 {
				if !wake.Equal(at0(c.wake)) {
					t.Errorf("wake %v, want %v", wake, at0(c.wake))
				}
			} else if !wake.IsZero() {
				t.Errorf("wake %v, want none", wake)
			}
			checkOrder(t, c.s, s, fx)
			if c.check != nil {
				c.check(t, s, fx)
			}
		})
	}
}

// checkOrder holds for every transition: a node leads the state log and
// persists a higher epoch before it shows as active, and drains its
// writers before it stops showing as active.
func checkOrder(t *testing.T, from, to roleState, fx []effect) {
	t.Helper()
	pub := slices.IndexFunc(fx, func(e effect) bool { return e.Kind == effPublish })
	idx := func(k effectKind) int { return slices.IndexFunc(fx, func(e effect) bool { return e.Kind == k }) }
	switch {
	case to.Role == RoleActive && from.Role != RoleActive:
		if idx(effLead) < 0 || idx(effPersistEpoch) < idx(effLead) || pub < idx(effPersistEpoch) || to.Epoch != from.Epoch+1 {
			t.Errorf("becoming active: %s (epoch %d → %d)", kinds(fx), from.Epoch, to.Epoch)
		}
	case from.Role == RoleActive && to.Role != RoleActive:
		if idx(effDrain) < 0 || pub < idx(effDrain) {
			t.Errorf("leaving active: %s", kinds(fx))
		}
	}
	if from.Role != to.Role && !to.Since.After(from.Since) {
		t.Errorf("role changed, since not updated")
	}
}

func wantReplyErr(sub string) func(*testing.T, roleState, []effect) {
	return func(t *testing.T, _ roleState, fx []effect) {
		t.Helper()
		e := fx[len(fx)-1]
		if e.Kind != effReply || e.Err == nil || !strings.Contains(e.Err.Error(), sub) {
			t.Errorf("reply %+v, want an error with %q", e, sub)
		}
	}
}

func TestFollowWanted(t *testing.T) {
	cases := []struct {
		p             params
		s             roleState
		state, config bool
	}{
		{pBackup, st(RoleStandby, linkUp, RoleActive), true, true},
		{pBackup, st(RoleActive, linkUp, RoleStandby), false, true},
		{pBackup, st(RoleStandby, linkDown, RoleActive), false, false},
		{pBackup, st(RoleStandby, linkAlive, RoleActive), false, false},
		{pMaster, st(RoleStandby, linkUp, RoleActive), true, false},
		{pMaster, st(RoleStarting, linkUp, RoleStandby), false, false},
		{pMaster, with(st(RoleStarting, linkUp, RoleStandby), func(s *roleState) { s.TakingOver = true }), true, false},
		{pMaster, st(RoleActive, linkUp, RoleStandby), false, false},
	}
	for i, c := range cases {
		t.Run(fmt.Sprintf("%d %s %s link=%d peer=%s", i, c.p.Mode, c.s.Role, c.s.Link, c.s.Peer.Role), func(t *testing.T) {
			if s, cf := followWanted(c.p, c.s); s != c.state || cf != c.config {
				t.Errorf("%d: %s %s link %d peer %s: follow state %v config %v, want %v %v", i, c.p.Mode, c.s.Role, c.s.Link, c.s.Peer.Role, s, cf, c.state, c.config)
			}
		})
	}
}
