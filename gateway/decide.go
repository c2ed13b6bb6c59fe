package gateway

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// The role rules are a pure function: decide(params, state, input, now)
// returns the new state, the effects the role loop carries out in order
// (role_loop.go) and when to look again. Nothing here does I/O.

// yieldFor is how long a node that handed control over waits for the peer
// to become active before the normal rules apply again.
const yieldFor = 10 * time.Second

// params are the parts of the configuration the rules read.
type params struct {
	NodeID          string
	Mode            Mode
	Recovery        string
	FailoverTimeout time.Duration
	// Witness: active only while holding the witness lock (witness_rules.go);
	// LockWait bounds how long a handover waits for the lock.
	Witness  bool
	LockWait time.Duration
}

// linkState is the peer link as the rules see it.
type linkState int

const (
	linkDown linkState = iota // not connected (never, or the connection ended)
	linkUp                    // authenticated and compatible
	// linkAlive: the peer answers the handshake but the link is not
	// authenticated or not compatible. gateway/link.go maps peer.Refused
	// here today; peer.Mismatch (the secrets differ) belongs here too. A
	// backup treats the peer as alive: it stays standby.
	linkAlive
)

// peerView is what this node knows of its peer.
type peerView struct {
	NodeID, Version string
	Mode            Mode
	Role            Role   // from the hello, then from role messages
	URL             string // its client_url
}

// roleState is the role core's state. The role loop owns it; readers get a
// published copy (roleView).
type roleState struct {
	Role         Role
	Reason       string
	ReasonLinked bool // Reason was written while the link was up
	Since        time.Time
	Epoch        uint64
	Failovers    int
	LastFailover time.Time
	Link         linkState
	LinkReason   string // why the link is down or refused
	Peer         peerView
	LastHeard    time.Time // the last sign of life from the peer
	JoinUntil    time.Time // end of join_wait
	YieldUntil   time.Time // after a handover: wait for the peer to take control
	TakingOver   bool      // a handover to this node is catching up (inCaughtUp ends it)

	// The witness (params.Witness): see witness_rules.go.
	Lock          lockView  // the witness lock as its events tell
	LockWant      bool      // this node campaigns for the lock (else it resigned)
	Pending       string    // the rules want this node active: why (it waits for the lock)
	AwaitLock     string    // a handover caught up: active with this reason once the lock is held
	LockUntil     time.Time // end of the wait for AwaitLock
	PeerIdleSince time.Time // since when the linked peer is not active
}

// inputKind names what happened.
type inputKind int

const (
	inTick            inputKind = iota // a deadline passed (join_wait, failover_timeout, yield)
	inLinkUp                           // the link is up: Peer holds the peer's hello
	inLinkDown                         // the link ended or a dial failed: At is when the peer was last heard
	inLinkAlive                        // the peer answers but the link is refused (peer alive, not authenticated)
	inPeerRole                         // a role message: Peer.Role, Peer.URL
	inTakeOverAsked                    // the active peer asks this node to take over (forced failover there)
	inHandoverAsked                    // the peer asks this active node to step down (Reply gets the state position)
	inCaughtUp                         // this node's takeover caught up (Err nil) or failed
	inFailover                         // operator: redund gateway failover (also manual recovery)
	inResync                           // operator: redund gateway resync
	inWitnessAcquired                  // the witness: this node holds the lock (Fence: its revision)
	inWitnessLost                      // the witness: the lock is lost (Reason), reported before the lease can expire
)

// input is one thing that happened, for decide.
type input struct {
	Kind   inputKind
	Peer   peerView
	At     time.Time
	Reason string
	Err    error
	Reply  chan<- result // answered by an effect, never blocks (buffered)
	// inLinkAlive: Mismatch when the secrets or certificates differ (else an
	// authenticated peer refused compatibility, and Peer holds its hello
	// when this node refused it); Repeat for the later answers of one
	// Mismatch or refusal, which are signs of life and nothing more
	Mismatch, Repeat bool
	Fence            int64 // inWitnessAcquired: the fencing token
}

// result answers an operator command or a handover request.
type result struct {
	Msg  string
	Body []byte
	Err  error
}

// effectKind names what the loop must do.
type effectKind int

const (
	effLead           effectKind = iota // stop following the state, lead the state log
	effPersistEpoch                     // store Epoch
	effDrain                            // wait for writes accepted as active
	effPublish                          // make the state visible (status, writers, followers)
	effSendRole                         // outbox: this node's role
	effSendTakeOver                     // outbox: ask the peer to take over
	effSendResync                       // outbox: ask the peer to re-sync Provs
	effForceResync                      // copy full snapshots of Provs here
	effTakeOver                         // start a takeover (handover request, catch up); ends with inCaughtUp
	effCancelTakeOver                   // the link dropped: stop the takeover
	effSupervisor                       // role change: hooks, start/stop the application
	effFault                            // on_fault hook
	effEvent                            // system event Arg: Msg
	effDiscarded                        // event: state writes made while active, now discarded
	effReplyPosition                    // answer a handover request with the state log's position
	effReply                            // answer Reply with Msg or Err
	effCampaign                         // the witness: campaign for the lock
	effResign                           // the witness: give the lock up (or stop campaigning)
)

// effect is one step for the loop.
type effect struct {
	Kind       effectKind
	Arg, Msg   string
	Prev, Role Role
	Epoch      uint64
	Fence      int64 // effSupervisor: the fencing token of an active node (0: none)
	Provs      []string
	Err        error
	Reply      chan<- result
}

// decide applies one input and the role rules.
func decide(p params, s roleState, in input, now time.Time) (roleState, []effect, time.Time) {
	s, fx := absorb(p, s, in, now)
	s, more, wake := evaluate(p, s, now)
	fx = append(fx, more...)
	s, more = lockWish(p, s)
	fx = append(fx, more...)
	if len(more) > 0 && s.LockWant && s.Lock.Held {
		// campaigning again for a lock still held: the rules may use it now
		s, more, wake = evaluate(p, s, now)
		fx = append(fx, more...)
	}
	return s, fx, wake
}

// absorb records an input; commands may change the role directly.
func absorb(p params, s roleState, in input, now time.Time) (roleState, []effect) {
	switch in.Kind {
	case inLinkUp:
		return linkUpFx(s, in, now)
	case inLinkDown:
		return linkDownFx(p, s, in, now)
	case inLinkAlive:
		return linkAliveFx(p, s, in, now)
	case inPeerRole:
		s = notePeerRole(s, in.Peer.Role, now)
		s.Peer.Role, s.Peer.URL = in.Peer.Role, in.Peer.URL
	case inTakeOverAsked:
		if s.Link == linkUp && s.Role != RoleActive && !s.TakingOver {
			s.TakingOver = true
			return s, []effect{{Kind: effTakeOver, Msg: "the active node handed control over (forced failover)"}}
		}
	case inHandoverAsked:
		return handoverFx(s, in, now)
	case inCaughtUp:
		return caughtUpFx(p, s, in, now)
	case inFailover:
		return failoverFx(p, s, in)
	case inResync:
		return resyncFx(p, s, in)
	case inWitnessAcquired, inWitnessLost:
		return witnessFx(p, s, in, now)
	}
	return s, nil
}

func linkUpFx(s roleState, in input, now time.Time) (roleState, []effect) {
	s.PeerIdleSince = time.Time{} // a new link: the peer's role is the hello's
	s = notePeerRole(s, in.Peer.Role, now)
	s.Link, s.LinkReason, s.Peer, s.LastHeard = linkUp, "", in.Peer, at(in, now)
	msg := fmt.Sprintf("link up with %s (%s, role %s)", in.Peer.NodeID, in.Peer.Mode, in.Peer.Role)
	return s, []effect{{Kind: effEvent, Arg: "peer", Msg: msg}, {Kind: effSendRole}}
}

func linkDownFx(p params, s roleState, in input, now time.Time) (roleState, []effect) {
	var fx []effect
	switch {
	case s.Link == linkUp:
		s.LastHeard = at(in, now)
		fx = append(fx, effect{Kind: effEvent, Arg: "peer", Msg: "link down: " + in.Reason})
	case s.Link == linkAlive && p.Mode == ModeBackup:
		s.LastHeard = now // it answered until this dial failed
	}
	if s.TakingOver {
		fx = append(fx, effect{Kind: effCancelTakeOver})
	}
	s.Link, s.LinkReason = linkDown, in.Reason
	return s, fx
}

func linkAliveFx(p params, s roleState, in input, now time.Time) (roleState, []effect) {
	s.Link, s.LinkReason = linkAlive, in.Reason
	if p.Mode == ModeBackup {
		s.LastHeard = now
	}
	if in.Peer.NodeID != "" { // this node refused the peer's authenticated hello: its role is known
		s.Peer.NodeID, s.Peer.Mode, s.Peer.Version, s.Peer.Role = in.Peer.NodeID, in.Peer.Mode, in.Peer.Version, in.Peer.Role
		s.LastHeard = now
	}
	if in.Repeat {
		return s, nil
	}
	if in.Mismatch {
		return s, []effect{{Kind: effEvent, Arg: "peer", Msg: "link mismatch: " + in.Reason + " (the other node answers; give both nodes the same)"},
			{Kind: effFault, Msg: "peer link mismatch: " + in.Reason}}
	}
	return s, []effect{{Kind: effEvent, Arg: "peer", Msg: "link refused: " + in.Reason},
		{Kind: effFault, Msg: "peer link refused: " + in.Reason}}
}

// at is the input's time, or now when it has none.
func at(in input, now time.Time) time.Time {
	if in.At.IsZero() {
		return now
	}
	return in.At
}

// handoverFx: the peer takes control; this active node steps down and
// answers with the state log's position (read after the drain).
func handoverFx(s roleState, in input, now time.Time) (roleState, []effect) {
	if s.Role != RoleActive {
		return s, []effect{{Kind: effReply, Reply: in.Reply, Err: fmt.Errorf("this node is %s, not active", s.Role)}}
	}
	s.YieldUntil = now.Add(yieldFor)
	s, fx := setRole(s, RoleStandby, "handed control to "+s.Peer.NodeID, now)
	return s, append(fx, effect{Kind: effReplyPosition, Reply: in.Reply})
}

func caughtUpFx(p params, s roleState, in input, now time.Time) (roleState, []effect) {
	s.TakingOver = false
	if in.Err != nil {
		fx := []effect{{Kind: effEvent, Arg: "handover", Msg: "failed: " + in.Err.Error()}}
		if s.Role == RoleStarting {
			var more []effect
			s, more = setRole(s, RoleStandby, "handover failed: "+in.Err.Error(), now)
			fx = append(fx, more...)
		}
		return s, append(fx, effect{Kind: effReply, Reply: in.Reply, Err: in.Err})
	}
	s = notePeerRole(s, RoleStandby, now)
	s.Peer.Role = RoleStandby // it stepped down to answer the handover
	if p.Witness && !(s.Lock.Held && s.LockWant) {
		s.AwaitLock, s.LockUntil = in.Reason, now.Add(p.LockWait)
		return s, []effect{{Kind: effReply, Reply: in.Reply, Msg: p.NodeID + " caught up; it becomes active once it holds the witness lock"}}
	}
	s, fx := setRole(s, RoleActive, in.Reason, now)
	return s, append(fx, effect{Kind: effReply, Reply: in.Reply, Msg: p.NodeID + " is now active"})
}

func failoverFx(p params, s roleState, in input) (roleState, []effect) {
	fail := func(msg string) (roleState, []effect) {
		return s, []effect{{Kind: effReply, Reply: in.Reply, Err: errors.New(msg)}}
	}
	switch {
	case p.Mode == ModeIndependent:
		return fail("an independent node has no peer to fail over to")
	case s.Link != linkUp:
		return fail("the peer is not connected; a forced failover needs both nodes")
	case s.TakingOver:
		return fail("a handover to this node is already under way")
	case s.Role == RoleActive && s.Peer.Role != RoleActive:
		return s, []effect{{Kind: effSendTakeOver}, {Kind: effReply, Reply: in.Reply, Msg: "asked " + s.Peer.NodeID + " to take over"}}
	case s.Role != RoleActive && s.Peer.Role == RoleActive:
		s.TakingOver = true
		return s, []effect{{Kind: effTakeOver, Msg: "forced failover (operator)", Reply: in.Reply}}
	}
	return fail(fmt.Sprintf("no failover possible: this node is %s, the peer is %s", s.Role, s.Peer.Role))
}

// resyncFx: a standby copies full snapshots of what it follows; the
// active node asks the standby to.
func resyncFx(p params, s roleState, in input) (roleState, []effect) {
	fail := func(msg string) (roleState, []effect) {
		return s, []effect{{Kind: effReply, Reply: in.Reply, Err: errors.New(msg)}}
	}
	if p.Mode == ModeIndependent {
		return fail("an independent node has nothing to re-sync")
	}
	provs := []string{ProvState}
	if s.Role == RoleActive {
		if p.Mode == ModeMaster {
			provs = append(provs, ProvConfig)
		}
		if s.Link != linkUp {
			return fail("the peer is not connected")
		}
		return s, []effect{{Kind: effSendResync, Provs: provs},
			{Kind: effReply, Reply: in.Reply, Msg: "asked " + s.Peer.NodeID + " to re-sync " + strings.Join(provs, ", ")}}
	}
	if p.Mode == ModeBackup {
		provs = append(provs, ProvConfig)
	}
	return s, []effect{{Kind: effForceResync, Provs: provs, Reply: in.Reply,
		Msg: "full re-sync of " + strings.Join(provs, ", ") + " scheduled"}}
}
