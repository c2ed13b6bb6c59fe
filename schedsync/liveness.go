package schedsync

import (
	"context"
	"time"

	"github.com/redund/redund/internal/lifecycle"
)

// nodePings are the ping queues of the node's loops.
type nodePings struct {
	role    *lifecycle.Loop // the role loop: the primary's scanner, the secondary's syncer
	persist *lifecycle.Loop // persistLoop: saves the expected tree and state.json
	witness *lifecycle.Loop // runWitness (with witness = true)
}

func newNodePings() nodePings {
	return nodePings{role: lifecycle.NewLoop("schedsync role loop"), persist: lifecycle.NewLoop("schedsync persist loop"),
		witness: lifecycle.NewLoop("schedsync witness loop")}
}

// PingLoops asks the role loop, the loop that persists the node's state
// and, with witness = true, the loop that applies the witness rules to
// answer. A primary answers from its select (a scan, a rescan or a
// rehash counts as an answer while it lasts). A secondary syncs in sequence: it answers between two
// polls and while it waits to retry; during a long poll it counts as
// answering until the poll's deadline (peer_timeout and the wait), and
// during a full comparison or a batch of transfers (their fetches are
// bounded by their own timeouts) for as long as they last. See
// lifecycle.LoopPinger.
func (n *Node) PingLoops(ctx context.Context) error {
	loops := []*lifecycle.Loop{n.pings.role, n.pings.persist}
	if n.wit != nil {
		loops = append(loops, n.pings.witness)
	}
	return lifecycle.Ask(ctx, loops...)
}

// answerRole answers a ping that waits for the role loop, if any (the
// secondary, between two syncs).
func (p nodePings) answerRole() {
	select {
	case r := <-p.role.Pings():
		close(r)
	default:
	}
}

// roleWait waits for ctx or until, answering pings meanwhile (the
// secondary's wait before it retries).
func (p nodePings) roleWait(ctx context.Context, until <-chan time.Time) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-until:
			return
		case r := <-p.role.Pings():
			close(r)
		}
	}
}

// scanning runs f, a scan or a rehash of the primary's role loop (they
// make progress on their own, however long they take), with the loop
// marked busy for as long as it lasts.
func (p nodePings) scanning(f func()) {
	done := p.role.Busy(time.Time{})
	defer done()
	f()
}

// roleBusy runs f with the role loop marked busy for as long as it lasts.
func (p nodePings) roleBusy(f func() error) error {
	done := p.role.Busy(time.Time{})
	defer done()
	return f()
}
