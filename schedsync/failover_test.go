package schedsync

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
)

func TestFailoverPromotesAfterOffset(t *testing.T) {
	hook := filepath.Join(t.TempDir(), "promoted")
	p, s := startPair(t, ModePrimary, ModeSecondaryFailover, func(a, b *Config) {
		b.OnPromote = []string{"/bin/sh", "-c", `echo "$REDUND_SCHEDSYNC_EPOCH" > "$0"`, hook}
	})
	writeFile(t, p.dir, "x", "1", 0o644)
	waitSame(t, p, s, "initial copy")
	p.stop()
	testutil.Eventually(t, 10*time.Second, "Unavailable", func() bool { return s.state() == StateUnavailable })
	// The secondary counts failover_offset from its last exchange with the
	// primary, which can be well before p.stop() returned on a busy machine:
	// measure from the last contact the secondary itself reports.
	offset := s.cfg.FailoverOffset.D()
	notBefore := lastContact(t, s).Add(offset)
	testutil.Eventually(t, 10*time.Second, "promotion", func() bool {
		primary := s.Role() == RolePrimary
		// read after the role: a primary seen at now was promoted at or before now
		if now := time.Now(); primary && now.Before(notBefore) {
			t.Fatalf("promoted %s before failover_offset (%s) after the last contact had passed",
				notBefore.Sub(now), offset)
		}
		return primary
	})
	testutil.Eventually(t, 10*time.Second, "on_promote hook", func() bool {
		b, err := os.ReadFile(hook)
		return err == nil && strings.TrimSpace(string(b)) == "1"
	})
	if d := s.Status()[0]; State(d.State) != StateNoRedundancy && State(d.State) != StateUnavailable && State(d.State) != StateConnecting {
		t.Fatalf("promoted node state %q", d.State)
	}
}

// lastContact is when n last heard from its peer, from its status
// (last_contact_s). It errs early, never late: the clock is read before the
// status computes the age, and by 1 ms more for the float round trip.
func lastContact(t *testing.T, n *testNode) time.Time {
	t.Helper()
	before := time.Now()
	age, ok := n.Status()[0].Details["last_contact_s"].(float64)
	if !ok {
		t.Fatalf("no last_contact_s in the status: %v", n.Status()[0].Details)
	}
	return before.Add(-time.Duration(age*float64(time.Second)) - time.Millisecond)
}

func TestCopyNeverPromotes(t *testing.T) {
	p, s := startPair(t, ModePrimary, ModeSecondaryCopy, nil)
	testutil.Eventually(t, 10*time.Second, "Synced", func() bool { return s.state() == StateSynced })
	p.stop()
	testutil.Eventually(t, 10*time.Second, "Unavailable", func() bool { return s.state() == StateUnavailable })
	time.Sleep(3 * time.Second) // sleep: longer than failover_offset (2s): must stay secondary
	if s.Role() != RoleSecondary || s.state() != StateUnavailable {
		t.Fatalf("secondary-copy: role %s state %s", s.Role(), s.state())
	}
}

func TestSameModeIncompatible(t *testing.T) {
	for _, modes := range [][2]Mode{{ModePrimary, ModePrimary}, {ModeSecondaryCopy, ModeSecondaryFailover}} {
		t.Run(modes[0].String()+"+"+modes[1].String(), func(t *testing.T) {
			a, b := startPair(t, modes[0], modes[1], func(a, b *Config) { a.FailoverOffset, b.FailoverOffset = 0, 0 })
			testutil.Eventually(t, 10*time.Second, "Incompatible on both", func() bool {
				return a.state() == StateIncompatible && b.state() == StateIncompatible
			})
			if r := a.Status()[0].Reason; r == "" {
				t.Fatal("no reason")
			}
		})
	}
}

func TestVersionMismatchIncompatible(t *testing.T) {
	p, s := startPair(t, ModePrimary, ModeSecondaryCopy, func(a, b *Config) { b.NodeID = "other-version" })
	testutil.Eventually(t, 10*time.Second, "Incompatible on both", func() bool {
		return p.state() == StateIncompatible && s.state() == StateIncompatible
	})
	if r := s.Status()[0].Reason; !strings.Contains(r, "different versions") {
		t.Fatalf("reason %q", r)
	}
}

func TestLocalEditNotSyncedThenResync(t *testing.T) {
	p, s := startPair(t, ModePrimary, ModeSecondaryCopy, nil)
	writeFile(t, p.dir, "doc.txt", "primary", 0o644)
	waitSame(t, p, s, "initial copy")
	testutil.Eventually(t, 10*time.Second, "Synced", func() bool { return s.state() == StateSynced })
	writeFile(t, s.dir, "doc.txt", "edited on the secondary", 0o644)
	testutil.Eventually(t, 10*time.Second, "Not synced", func() bool { return s.state() == StateNotSynced })
	if !strings.Contains(s.Status()[0].Reason, "doc.txt") {
		t.Fatalf("reason %q does not name the file", s.Status()[0].Reason)
	}
	must(t, s.Resync(context.Background()))
	waitSame(t, p, s, "after resync")
	testutil.Eventually(t, 10*time.Second, "Synced after resync", func() bool { return s.state() == StateSynced })
	assertSaved(t, s, "doc.txt", "edited on the secondary")
}

// assertSaved checks that content was moved into .redund/conflicts.
func assertSaved(t *testing.T, n *testNode, path, content string) {
	t.Helper()
	_, last := n.w.conflicts.snapshot()
	for _, c := range last {
		if c.Path == path {
			b, err := os.ReadFile(filepath.Join(n.dir, c.Saved))
			if err == nil && string(b) == content {
				return
			}
		}
	}
	t.Fatalf("%s (%q) was not saved in the conflicts directory: %+v", path, content, last)
}

// TestTwoPrimariesResyncKeepsNewerEpoch: the secondary takes over, the old
// primary comes back; both are primary (Incompatible) until resync demotes
// the older epoch, and nothing written on the old primary is lost.
func TestTwoPrimariesResyncKeepsNewerEpoch(t *testing.T) {
	p, s := startPair(t, ModePrimary, ModeSecondaryFailover, nil)
	writeFile(t, p.dir, "shared.txt", "v1", 0o644)
	waitSame(t, p, s, "initial copy")
	p.stop()
	testutil.Eventually(t, 10*time.Second, "promotion", func() bool { return s.Role() == RolePrimary })
	writeFile(t, s.dir, "shared.txt", "v2 written on the promoted node", 0o644)
	writeFile(t, p.dir, "shared.txt", "v1b written on the old primary while cut off", 0o644)
	p2 := startNode(t, p.cfg, nil)
	testutil.Eventually(t, 10*time.Second, "Incompatible on both", func() bool {
		return p2.state() == StateIncompatible && s.state() == StateIncompatible
	})
	if b, _ := os.ReadFile(filepath.Join(s.dir, "shared.txt")); !strings.HasPrefix(string(b), "v2") {
		t.Fatalf("the promoted node's file was overwritten: %q", b)
	}
	must(t, p2.Resync(context.Background())) // older epoch: demotes itself
	testutil.Eventually(t, 10*time.Second, "old primary demoted", func() bool { return p2.Role() == RoleSecondary })
	waitSame(t, s, p2, "after resync")
	assertSaved(t, p2, "shared.txt", "v1b written on the old primary while cut off")
	testutil.Eventually(t, 10*time.Second, "Synced", func() bool { return p2.state() == StateSynced && s.state() == StateSynced })
}

// TestLocalEditKeptWhenItCannotBeSaved: a resync replaces a locally edited
// file only once the edit is saved in .redund/conflicts; when it cannot be
// (here .redund/conflicts is a file, so nothing can be moved into it), the
// edit stays in place, untouched, and the node says why instead of losing it.
func TestLocalEditKeptWhenItCannotBeSaved(t *testing.T) {
	p, s := startPair(t, ModePrimary, ModeSecondaryCopy, nil)
	writeFile(t, p.dir, "doc.txt", "primary", 0o644)
	waitSame(t, p, s, "initial copy")
	testutil.Eventually(t, 10*time.Second, "Synced", func() bool { return s.state() == StateSynced })
	must(t, os.RemoveAll(filepath.Join(s.dir, filepath.FromSlash(conflictDir))))
	must(t, os.WriteFile(filepath.Join(s.dir, filepath.FromSlash(conflictDir)), []byte("in the way"), 0o644))
	writeFile(t, s.dir, "doc.txt", "edited on the secondary", 0o644)
	testutil.Eventually(t, 10*time.Second, "Not synced", func() bool { return s.state() == StateNotSynced })
	_ = s.Resync(context.Background())
	testutil.Eventually(t, 10*time.Second, "the reason says the edit could not be saved", func() bool {
		r := s.Status()[0].Reason
		return strings.Contains(r, "doc.txt") && strings.Contains(r, ".redund/conflicts")
	})
	if b, _ := os.ReadFile(filepath.Join(s.dir, "doc.txt")); string(b) != "edited on the secondary" {
		t.Fatalf("the local edit was overwritten without being saved: doc.txt holds %q", b)
	}
}
