package schedsync

import "time"

// The witness rules (docs/schedsync.md, "The witness"). With witness =
// true a node publishes changes only while it holds the lock "schedsync"
// in etcd:
//
//   - a primary campaigns for the lock all the time; it answers the
//     secondary's sync requests only while it holds the lock (checked at
//     each request), and it demotes itself on Lost, which the witness
//     reports before the lease can expire in etcd, so before the other
//     node can acquire the lock;
//   - a primary that does not get the lock within lockWait of becoming
//     primary (it started while the other node held it, or etcd is out of
//     its reach) demotes itself; at once when it has not held the lock
//     since it became primary and etcd shows another node holding it (a
//     restarted old primary must not wait in the lock's queue, where a
//     lapse of the holder's lease would hand the lock to its stale tree);
//   - a secondary that may take over (mode secondary-failover, or a node
//     configured primary that was demoted) campaigns once its primary has
//     not served it for failover_offset, or when the operator asked to
//     promote it, and withdraws when the primary serves it again; it
//     promotes itself only on Acquired, and resigns a lock it got when it
//     no longer wants it.

// witnessFacts is what the rules look at, gathered by the witness loop.
type witnessFacts struct {
	Role     Role
	Eligible bool          // the node may take over on its own (not secondary-copy)
	Held     bool          // the lock is held now (Lock.Held)
	Lost     bool          // a Lost event is being handled
	Wanted   bool          // this node campaigns now
	Forced   bool          // the operator asked to promote
	Unserved time.Duration // secondary: since the primary last served a sync exchange
	Offset   time.Duration // failover_offset
	Unheld   time.Duration // primary: since it became primary without holding the lock (0 when held)
	LockWait time.Duration // how long a primary may wait for the lock
	// OtherHolds: etcd has another node as the lock's holder (as the
	// witness last read it).
	OtherHolds bool
	// HeldInRole: primary: the lock was held since the node became primary.
	HeldInRole bool
}

// witnessAct is what the witness loop does next.
type witnessAct int

// The actions of the witness rules.
const (
	witNone witnessAct = iota
	witCampaign
	witResign
	witPromote // promote, then keep campaigning (the lock is held)
	witDemote  // demote, then resign
)

var witnessActNames = [...]string{"none", "campaign", "resign", "promote", "demote"}

func (a witnessAct) String() string { return witnessActNames[a] }

// witnessRule is the rules as a pure function of the facts.
func witnessRule(f witnessFacts) witnessAct {
	if f.Role == RolePrimary {
		switch {
		case f.Lost || (!f.Held && (f.Unheld >= f.LockWait || (f.OtherHolds && !f.HeldInRole))):
			return witDemote
		case !f.Wanted:
			return witCampaign
		}
		return witNone
	}
	want := f.Forced || (f.Eligible && f.Unserved >= f.Offset)
	switch {
	case f.Held && want:
		return witPromote
	case f.Held || (f.Wanted && !want):
		return witResign
	case want && !f.Wanted:
		return witCampaign
	}
	return witNone
}
