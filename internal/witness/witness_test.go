package witness

import (
	"context"
	"testing"
	"time"

	"github.com/redund/redund/internal/witness/etcdtest"
)

const ttl = 2 * time.Second

// One node holds, a second waits; a clean Close hands over at once (not
// after the TTL), Resign does too, and every new holding has a larger
// fencing token.
func TestHandoverAndFence(t *testing.T) {
	// a longer TTL sets a handover at once (revoke) well apart from one
	// after the lease expired (at least 5/6 TTL after the last keep-alive)
	const ttl, atOnce = 4 * time.Second, 2 * time.Second
	c := etcdtest.Start(t, 3)
	a := start(t, "a", c.Endpoints(), ttl)
	b := start(t, "b", c.Endpoints(), ttl)
	la, lb := lock(t, a, "gw"), lock(t, b, "gw")
	la.Campaign()
	acqA := next(t, la, Acquired, 5*time.Second)
	if f, ok := la.Held(); !ok || f != acqA.Fence || f <= 0 {
		t.Fatalf("Held() = %d, %v after Acquired fence %d", f, ok, acqA.Fence)
	}
	lb.Campaign()
	h, ok, err := b.Holder(context.Background(), "gw")
	if err != nil || !ok || h.Node != "a" || h.Fence != acqA.Fence {
		t.Fatalf("Holder = %+v, %v, %v; want a with fence %d", h, ok, err, acqA.Fence)
	}
	quiet(t, lb, 500*time.Millisecond)

	a.Close()
	lostA := next(t, la, Lost, time.Second)
	acqB := next(t, lb, Acquired, atOnce) // revoked, not expired
	if lostA.Reason != "stopped" || !lostA.At.Before(acqB.At) {
		t.Errorf("a lost (%q) at %v, b acquired at %v", lostA.Reason, lostA.At, acqB.At)
	}
	if acqB.Fence <= acqA.Fence {
		t.Errorf("fence went from %d to %d", acqA.Fence, acqB.Fence)
	}
	if _, ok := la.Held(); ok {
		t.Error("a still holds after Close")
	}

	a2 := start(t, "a", c.Endpoints(), ttl)
	la2 := lock(t, a2, "gw")
	la2.Campaign()
	quiet(t, la2, 500*time.Millisecond)
	lb.Resign()
	if ev := next(t, lb, Lost, time.Second); ev.Reason != "resigned" {
		t.Errorf("resign reported %q", ev.Reason)
	}
	acqA2 := next(t, la2, Acquired, atOnce)
	if acqA2.Fence <= acqB.Fence {
		t.Errorf("fence went from %d to %d", acqB.Fence, acqA2.Fence)
	}
}

// A holder cut off from etcd (its traffic goes through relays that go
// silent) reports Lost while etcd still has its lease, and the waiting node
// acquires only after that.
func TestCutHolderLosesBeforeOthersAcquire(t *testing.T) {
	c := etcdtest.Start(t, 3)
	relays := c.Relayed(t)
	viaRelay := relays.URLs()
	a := start(t, "a", viaRelay, ttl)
	b := start(t, "b", c.Endpoints(), ttl)
	la, lb := lock(t, a, "gw"), lock(t, b, "gw")
	la.Campaign()
	acqA := next(t, la, Acquired, 5*time.Second)
	lb.Campaign()
	quiet(t, lb, ttl/2)
	deleted := watchDelete(t, direct(t, c.Endpoints()), a.lockKey("gw", leaseOf(t, a)))

	cut := time.Now()
	relays.Cut()
	lostA := next(t, la, Lost, 2*ttl) // within 3/4 TTL; a later one must fail below
	if _, ok := la.Held(); ok {
		t.Error("Held() true after Lost")
	}
	acqB := next(t, lb, Acquired, 2*ttl)
	var expired time.Time
	select {
	case expired = <-deleted:
	case <-time.After(ttl):
		t.Fatal("b acquired, but no deletion of a's key was seen")
	}
	// etcd deletes a's key when a's lease expires there: a gave up before
	if !lostA.At.Before(expired) {
		t.Fatalf("a's lease expired on etcd %v after the cut, a reported Lost only %v after", expired.Sub(cut), lostA.At.Sub(cut))
	}
	if !lostA.At.Before(acqB.At) {
		t.Fatalf("b acquired at %v, before a lost at %v", acqB.At, lostA.At)
	}
	if acqB.Fence <= acqA.Fence {
		t.Errorf("fence went from %d to %d", acqA.Fence, acqB.Fence)
	}
	t.Logf("after the cut: a lost %v, etcd expired a's lease %v, b acquired %v",
		lostA.At.Sub(cut), expired.Sub(cut), acqB.At.Sub(cut))
}

// The holder keeps the lock when one member of three (the raft leader,
// the worst one) is killed, and the status shows two members reachable.
func TestOneMemberDownHolderKeeps(t *testing.T) {
	const ttl = 3 * time.Second // leave room for a raft election
	c := etcdtest.Start(t, 3)
	a := start(t, "a", c.Endpoints(), ttl)
	la := lock(t, a, "gw")
	la.Campaign()
	acq := next(t, la, Acquired, 5*time.Second)
	leader := c.Leader()
	if leader < 0 {
		t.Fatal("no etcd leader")
	}
	c.Kill(leader)
	deadline := time.Now().Add(ttl + time.Second) // past any deadline set before the kill
	for time.Now().Before(deadline) {
		if f, ok := la.Held(); !ok || f != acq.Fence {
			t.Fatalf("lock not held (%d, %v) after killing one member of three", f, ok)
		}
		select {
		case ev := <-la.Events():
			t.Fatalf("unexpected %s: %s", ev.Kind, ev.Reason)
		case <-time.After(100 * time.Millisecond):
		}
	}
	var st Status
	for deadline := time.Now().Add(2 * ttl); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) { // sleep: poll interval (the failure prints the last status)
		st = a.Status()
		if reachable(st) == 2 && len(st.Locks) == 1 && st.Locks[0].State == "holding" &&
			st.Locks[0].Holder == "a" && st.Locks[0].HolderFence == acq.Fence && st.LeaseRemainingS > 0 {
			return
		}
	}
	t.Errorf("status = %+v, want 2 reachable members and a holding with fence %d", st, acq.Fence)
}

func reachable(st Status) int {
	n := 0
	for _, m := range st.Members {
		if m.Reachable {
			n++
		}
	}
	return n
}

// With two members of three killed etcd has no majority: the holder
// reports Lost within the TTL, and holds the lock again once they are back.
func TestTwoMembersDownHolderLoses(t *testing.T) {
	c := etcdtest.Start(t, 3)
	a := start(t, "a", c.Endpoints(), ttl)
	la := lock(t, a, "gw")
	la.Campaign()
	next(t, la, Acquired, 5*time.Second)
	leader := c.Leader()
	if leader < 0 {
		t.Fatal("no etcd leader")
	}
	// keep a follower: a leader cut off from the majority goes on renewing
	// leases by itself until it steps down an election timeout later
	killed := time.Now()
	c.Kill(leader)
	c.Kill((leader + 1) % 3)
	lost := next(t, la, Lost, 2*ttl)
	if d := lost.At.Sub(killed); d > ttl {
		t.Errorf("Lost %v after the majority died, want within the TTL (%v)", d, ttl)
	}
	// the majority back: a new lease, the lock again, a larger token
	c.Restart(t, leader)
	c.Restart(t, (leader+1)%3)
	if again := next(t, la, Acquired, 4*ttl); again.Fence <= lost.Fence {
		t.Errorf("fence went from %d to %d", lost.Fence, again.Fence)
	}
}

// TestKeyDeletedHolderLoses: when the holder's key is deleted in etcd by
// someone else (etcdctl del, a clean-up under the prefix) while its lease
// lives, the next node in line holds the lock at once: the old holder must
// report Lost too, not go on holding while its keep-alives still answer.
// Before, it held (Held true, no Lost) until its lease ended.
func TestKeyDeletedHolderLoses(t *testing.T) {
	c := etcdtest.Start(t, 3)
	a := start(t, "a", c.Endpoints(), ttl)
	b := start(t, "b", c.Endpoints(), ttl)
	la, lb := lock(t, a, "gw"), lock(t, b, "gw")
	la.Campaign()
	acqA := next(t, la, Acquired, 5*time.Second)
	lb.Campaign()
	quiet(t, lb, 300*time.Millisecond)

	cli := direct(t, c.Endpoints())
	if _, err := cli.Delete(context.Background(), a.lockKey("gw", leaseOf(t, a))); err != nil {
		t.Fatal(err)
	}
	acqB := next(t, lb, Acquired, 5*time.Second)
	lost := next(t, la, Lost, 2*ttl) // without the guard: none while the lease lives
	if lost.Reason != reasonKeyGone || lost.Fence != acqA.Fence {
		t.Errorf("lost %+v", lost)
	}
	if _, ok := la.Held(); ok {
		t.Error("a still holds after its key was deleted")
	}
	if acqB.Fence <= acqA.Fence {
		t.Errorf("fence went from %d to %d", acqA.Fence, acqB.Fence)
	}
	// a campaigns again, behind b
	quiet(t, la, 500*time.Millisecond)
	if h, ok, err := a.Holder(context.Background(), "gw"); err != nil || !ok || h.Node != "b" {
		t.Fatalf("holder %+v, %v, %v; want b", h, ok, err)
	}
	lb.Resign()
	next(t, lb, Lost, time.Second)
	if again := next(t, la, Acquired, 5*time.Second); again.Fence <= acqB.Fence {
		t.Errorf("fence went from %d to %d", acqB.Fence, again.Fence)
	}
}
