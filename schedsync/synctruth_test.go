package schedsync

import (
	"testing"
	"time"
)

// TestPrimarySyncedOnlyInItsOwnLog: the primary calls its secondary
// Synced only when the secondary reports a position in the primary's
// current change log. A sequence number of another log (the one before
// a restart or a rescan, whose numbers start again at 1) says nothing:
// the primary said Synced as soon as a new log began, because the old
// position was the larger number.
func TestPrimarySyncedOnlyInItsOwnLog(t *testing.T) {
	a, _, _, _ := pairConfigs(t, ModePrimary, ModeSecondaryCopy, nil)
	n, err := New(a, Options{Version: "test"})
	must(t, err)
	t.Cleanup(func() { _ = n.w.close() })
	cl := newChangeLog(nil)
	cl.apply([]Entry{{Path: "a", Kind: KindFile}, {Path: "b", Kind: KindFile}})
	id, seq := cl.current()
	for _, tc := range []struct {
		name      string
		logID     string
		seq       uint64
		wantState State
	}{
		{"same log, every change", id, seq, StateSynced},
		{"same log, behind", id, seq - 1, StateSyncing},
		{"another log, larger number", "0123456789abcdef", seq + 100, StateSyncing},
		{"no log yet", "", seq + 100, StateSyncing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n.mu.Lock()
			defer n.mu.Unlock()
			n.clog = cl
			n.peer = peerView{seen: true, connected: true, last: time.Now(),
				info: nodeInfo{Node: "b", Role: RoleSecondary, State: StateSynced, LogID: tc.logID, Seq: tc.seq}}
			if st, why := n.primaryStateLocked(); st != tc.wantState {
				t.Fatalf("state %s (%s), want %s", st, why, tc.wantState)
			}
		})
	}
}
