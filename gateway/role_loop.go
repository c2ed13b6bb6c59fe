package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"
)

// The role loop is the one goroutine that owns the role state (modelled on
// HashiCorp raft's run loops): link events, peer messages, operator
// commands and deadlines arrive as inputs, decide says what follows, and
// the loop carries out the effects in order. Readers see published copies.

// roleView is a published copy of the role state; changed is closed when
// a newer copy replaces it.
type roleView struct {
	roleState
	changed chan struct{}
}

// view returns the current published role state.
func (g *Gateway) view() *roleView { return g.cur.Load() }

// publish makes s the current view (only New and the role loop call it).
func (g *Gateway) publish(s roleState) {
	if old := g.cur.Swap(&roleView{roleState: s, changed: make(chan struct{})}); old != nil {
		close(old.changed)
	}
}

// send hands an input to the role loop; false once Run is ending.
func (g *Gateway) send(in input) bool {
	select {
	case g.inputs <- in:
		return true
	case <-g.quit:
		return false
	}
}

// ask sends a command to the role loop and waits for its answer.
func (g *Gateway) ask(ctx context.Context, in input) result {
	reply := make(chan result, 1)
	in.Reply = reply
	select {
	case g.inputs <- in:
	case <-ctx.Done():
		return result{Err: ctx.Err()}
	case <-g.quit:
		return result{Err: errStopping}
	}
	select {
	case r := <-reply:
		return r
	case <-ctx.Done():
		return result{Err: ctx.Err()}
	case <-g.quit:
		return result{Err: errStopping}
	}
}

// roleLoop is the loop's own state, next to the role state itself.
type roleLoop struct {
	g          *Gateway
	s          roleState
	ctx        context.Context
	wg         sync.WaitGroup // followers and takeovers
	followers  map[string]*running
	takeover   context.CancelFunc
	draining   bool      // g.writeMu is held until the next publish
	activeFrom uint64    // the state log's position when this node became active
	leadAt     time.Time // when a failed lead is tried again
}

// running is a follower goroutine.
type running struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// runRoles runs the role loop until ctx ends; it waits for the followers
// and takeovers it started.
func (g *Gateway) runRoles(ctx context.Context) {
	l := &roleLoop{g: g, s: g.view().roleState, ctx: ctx, followers: map[string]*running{}}
	l.s.JoinUntil = time.Now().Add(g.cfg.JoinWait.D())
	defer l.stop()
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	wake := l.step(input{Kind: inTick})
	events := g.witnessEvents()
	for {
		d := time.Hour
		if !wake.IsZero() {
			d = max(time.Until(wake), 0)
		}
		t.Reset(d)
		select {
		case <-ctx.Done():
			return
		case in := <-g.inputs:
			wake = l.step(in)
		case r := <-g.reloads:
			l.reload(r)
			wake = l.step(input{Kind: inTick}) // the rules may now say otherwise
		case <-t.C:
			wake = l.step(input{Kind: inTick})
		case ev, ok := <-events:
			if !ok {
				events = nil // the witness stopped (Run is ending)
				continue
			}
			wake = l.step(witnessInput(ev))
		case r := <-g.pings.Pings():
			close(r)
		}
	}
}

// step applies one input: decide, the effects in order, then the
// followers the new state wants.
func (l *roleLoop) step(in input) time.Time {
	s, fx, wake := decide(l.g.params, l.s, in, time.Now())
	l.s = s
	for _, e := range fx {
		l.do(e)
	}
	l.publish()
	state, config := followWanted(l.g.params, l.s)
	l.setFollow(ProvState, state)
	l.setFollow(ProvConfig, config)
	return l.retryLead(wake)
}

// leadRetry is how often an active node that could not lead its state log
// tries again.
const leadRetry = time.Second

// lead makes this node the writer of the state log. A failure is shown in
// the status (leadErr) until a retry succeeds or the node is no longer active.
func (l *roleLoop) lead() {
	g := l.g
	lead := g.store.Lead
	if g.leadHook != nil {
		lead = g.leadHook
	}
	if err := lead(ProvState); err != nil {
		if g.leadErr.Load() == nil {
			g.log.Error("cannot lead the state provider", "err", err)
		}
		msg := "cannot lead the state log: " + err.Error()
		g.leadErr.Store(&msg)
		l.leadAt = time.Now().Add(leadRetry)
		return
	}
	if g.leadErr.Swap(nil) != nil {
		g.log.Info("leading the state provider")
	}
	pos, _ := g.store.Position(ProvState)
	l.activeFrom = pos.Last
}

// retryLead tries a failed lead again while the node is active (writers
// wait: Lead wants no write in flight) and clears the error once it is
// not; it returns when the loop must wake next.
func (l *roleLoop) retryLead(wake time.Time) time.Time {
	if l.g.leadErr.Load() == nil {
		return wake
	}
	if l.s.Role != RoleActive {
		l.g.leadErr.Store(nil)
		return wake
	}
	if !time.Now().Before(l.leadAt) {
		l.g.writeMu.Lock()
		l.lead()
		l.g.writeMu.Unlock()
	}
	if l.g.leadErr.Load() != nil && (wake.IsZero() || l.leadAt.Before(wake)) {
		return l.leadAt
	}
	return wake
}

// publish shows the loop's state to readers (if it changed) and ends a drain.
func (l *roleLoop) publish() {
	if l.s != l.g.view().roleState {
		l.g.publish(l.s)
	}
	if l.draining {
		l.draining = false
		l.g.writeMu.Unlock()
	}
}

func (l *roleLoop) do(e effect) {
	g := l.g
	switch e.Kind {
	case effLead:
		l.setFollow(ProvState, false)
		l.lead()
	case effPersistEpoch:
		g.saveEpoch(e.Epoch)
	case effDrain:
		g.writeMu.Lock() // writers accepted as active finish first
		l.draining = true
	case effPublish:
		l.publish()
	case effSupervisor:
		g.sup.roleChanged(e.Prev, e.Role, e.Msg, e.Fence)
	case effCampaign:
		g.lock.Campaign()
	case effResign:
		g.lock.Resign()
	case effFault:
		g.sup.fault(e.Msg)
	case effEvent:
		if e.Arg == "role" {
			g.log.Warn("role change", "change", e.Msg, "epoch", l.s.Epoch)
		}
		g.sysEvent(e.Arg, e.Msg)
	case effDiscarded:
		l.discarded()
	case effTakeOver:
		l.startTakeOver(e.Msg, e.Reply)
	case effCancelTakeOver:
		if l.takeover != nil {
			l.takeover()
		}
	default:
		l.doPeer(e)
	}
}

// doPeer carries out the effects that talk to the peer or answer a request.
func (l *roleLoop) doPeer(e effect) {
	g := l.g
	switch e.Kind {
	case effSendRole:
		b, _ := json.Marshal(roleMsg{Role: l.s.Role, Epoch: l.s.Epoch, ClientURL: g.cfg.ClientURL})
		g.out.push(msgRole, b)
	case effSendTakeOver:
		g.out.push(msgTakeOver, nil)
	case effSendResync:
		for _, p := range e.Provs {
			g.out.push(msgResync, []byte(p))
		}
	case effForceResync:
		var err error
		for _, p := range e.Provs {
			if err == nil {
				err = g.store.ForceFullSync(p, "forced by the operator (redund gateway resync)")
			}
		}
		reply(e.Reply, result{Msg: e.Msg, Err: err})
	case effReplyPosition:
		pos, err := g.store.Position(ProvState)
		var b []byte
		if err == nil {
			b, err = json.Marshal(handoverResp{StateLogID: pos.LogID, StateLast: pos.Last})
		}
		reply(e.Reply, result{Body: b, Err: err})
	case effReply:
		reply(e.Reply, result{Msg: e.Msg, Err: e.Err})
	}
}

// reply answers without blocking (reply channels have room for one).
func reply(ch chan<- result, r result) {
	if ch != nil {
		select {
		case ch <- r:
		default:
		}
	}
}

// discarded records how many state writes this node made while it was
// active, now that it steps down for a master that was active too: they
// are replaced by the master's state when it follows again.
func (l *roleLoop) discarded() {
	pos, err := l.g.store.Position(ProvState)
	if err != nil {
		return
	}
	n := pos.Last - min(pos.Last, l.activeFrom)
	msg := fmt.Sprintf("discarded %d state writes made on this node while the link was cut: the master was active too and its state replaces them", n)
	l.g.log.Warn("state discarded", "writes", n)
	l.g.sysEvent("state", msg)
}

// setFollow starts or stops provider p's follower.
func (l *roleLoop) setFollow(p string, want bool) {
	r := l.followers[p]
	switch {
	case want && r == nil:
		ctx, cancel := context.WithCancel(l.ctx)
		r = &running{cancel: cancel, done: make(chan struct{})}
		l.followers[p] = r
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			defer close(r.done)
			l.g.follow(ctx, p)
		}()
	case !want && r != nil:
		r.cancel()
		<-r.done
		delete(l.followers, p)
	}
}

// startTakeOver asks the active peer to step down and catches up on its
// state log in a goroutine of the loop; inCaughtUp reports the outcome.
func (l *roleLoop) startTakeOver(why string, rep chan<- result) {
	ctx, cancel := context.WithTimeout(l.ctx, 15*time.Second)
	l.takeover = cancel
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		defer cancel()
		err := l.g.catchUp(ctx)
		l.g.send(input{Kind: inCaughtUp, Reason: why, Err: err, Reply: rep})
	}()
}

// stop ends the followers and takeovers and waits for them.
func (l *roleLoop) stop() {
	if l.draining {
		l.g.writeMu.Unlock()
	}
	for _, r := range l.followers {
		r.cancel()
	}
	if l.takeover != nil {
		l.takeover()
	}
	l.wg.Wait()
}

// outbox sends the role loop's messages to the peer, in order, from one
// goroutine (a send may wait while the link's queue is full; the loop
// must not). A message the link cannot take is dropped: the loop sends
// its role again whenever the link comes up.
type outbox struct {
	mu   sync.Mutex
	q    []outMsg
	wake chan struct{}
}

type outMsg struct {
	typ  byte
	body []byte
}

func newOutbox() *outbox { return &outbox{wake: make(chan struct{}, 1)} }

func (o *outbox) push(typ byte, body []byte) {
	o.mu.Lock()
	o.q = append(o.q, outMsg{typ, body})
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

func (o *outbox) pop() (outMsg, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.q) == 0 {
		return outMsg{}, false
	}
	m := o.q[0]
	o.q = o.q[1:]
	return m, true
}

// run sends queued messages until ctx ends.
func (o *outbox) run(ctx context.Context, send func(byte, []byte) error) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-o.wake:
		}
		for m, ok := o.pop(); ok && ctx.Err() == nil; m, ok = o.pop() {
			_ = send(m.typ, m.body)
		}
	}
}
