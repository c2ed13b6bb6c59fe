package schedsync

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
)

// TestNothingWrittenThroughALink: a primary (lying, or buggy) that sends
// a symlink x -> . and then entries below x (x/.redund/..., x/f) must not
// make the secondary write, change or delete anything through the link:
// x/.redund/state.json is the secondary's own state (its role), x/f is
// the tree's f. Its own check of the tree refuses such entries and says
// Not synced naming them.
func TestNothingWrittenThroughALink(t *testing.T) {
	f := newFake(t)
	f.put(Entry{Path: "x", Kind: KindLink, Target: ".", Mode: 0o777}, nil)
	f.put(Entry{Path: "f", Kind: KindFile, Size: 4, Mode: 0o644, Hash: contentSum([]byte("good"))}, []byte("good"))
	rec := &recLog{}
	s := startSecondaryOf(t, f, rec)
	defer func() {
		if t.Failed() {
			t.Logf("status %+v\n%s", s.Status()[0], rec)
		}
	}()
	testutil.Eventually(t, 15*time.Second, "Synced with x and f", func() bool { return s.state() == StateSynced })
	if tg, err := os.Readlink(filepath.Join(s.dir, "x")); err != nil || tg != "." {
		t.Fatalf("x: %q %v", tg, err)
	}
	state := filepath.Join(s.dir, ".redund", "state.json")
	before, _ := os.ReadFile(state) // none yet: a secondary that never changed role saves none
	evil := []byte(`{"role":"primary","epoch":99,"mode":"secondary-copy"}`)
	f.put(Entry{Path: "x/.redund/state.json", Kind: KindFile, Size: int64(len(evil)), Mode: 0o644, Hash: contentSum(evil)}, evil)
	f.put(Entry{Path: "x/.redund/planted", Kind: KindFile, Size: 4, Mode: 0o644, Hash: contentSum([]byte("evil"))}, []byte("evil"))
	f.put(Entry{Path: "x/f", Kind: KindFile, Size: 4, Mode: 0o600, Hash: contentSum([]byte("evil"))}, []byte("evil"))
	testutil.Eventually(t, 15*time.Second, "Not synced naming an entry below x", func() bool {
		d := s.Status()[0]
		return State(d.State) == StateNotSynced && strings.Contains(d.Reason, "x/")
	})
	if _, err := os.Lstat(filepath.Join(s.dir, ".redund", "planted")); err == nil {
		t.Error(".redund/planted was written through the link x")
	}
	if now, _ := os.ReadFile(state); string(now) != string(before) {
		t.Errorf("state.json was rewritten through the link x: %s", now)
	}
	if b, _ := os.ReadFile(filepath.Join(s.dir, "f")); string(b) != "good" {
		t.Errorf("f was rewritten through the link x: %q", b)
	}
	// a deletion below the link must not delete through it either
	expected := filepath.Join(s.dir, ".redund", "expected.bin")
	testutil.Eventually(t, 15*time.Second, "expected.bin saved", func() bool { _, err := os.Stat(expected); return err == nil })
	f.put(Entry{Path: "x/f", Kind: KindFile, Deleted: true}, nil)
	f.put(Entry{Path: "x/.redund/expected.bin", Kind: KindFile, Deleted: true}, nil)
	f.put(Entry{Path: "g", Kind: KindFile, Size: 4, Mode: 0o644, Hash: contentSum([]byte("next"))}, []byte("next"))
	testutil.Eventually(t, 15*time.Second, "g synced after the deletions", func() bool {
		b, _ := os.ReadFile(filepath.Join(s.dir, "g"))
		return string(b) == "next"
	})
	if b, _ := os.ReadFile(filepath.Join(s.dir, "f")); string(b) != "good" {
		t.Errorf("f was deleted through the link x: %q", b)
	}
	if _, err := os.Stat(expected); err != nil {
		t.Errorf("expected.bin was deleted through the link x: %v", err)
	}
}

// TestNothingWrittenThroughALinkOnDisk: in a full comparison the links
// that count are the ones on disk. A manifest that drops the link x and
// names x/sub/f must not write through the x still on disk; the entry is
// refused and named. (Before the screen, the install order saved this
// case: deletions come before installs, and making the parents moves a
// link in the way aside; the screen makes it a refusal, not a conflict.)
func TestNothingWrittenThroughALinkOnDisk(t *testing.T) {
	f := newFake(t)
	f.put(Entry{Path: "x", Kind: KindLink, Target: ".", Mode: 0o777}, nil)
	rec := &recLog{}
	s := startSecondaryOf(t, f, rec)
	defer func() {
		if t.Failed() {
			t.Logf("status %+v\n%s", s.Status()[0], rec)
		}
	}()
	testutil.Eventually(t, 15*time.Second, "Synced with x", func() bool { return s.state() == StateSynced })
	f.mu.Lock()
	delete(f.tree, "x")
	f.tree["x/sub/f"] = Entry{Path: "x/sub/f", Kind: KindFile, Size: 4, Mode: 0o644, Hash: contentSum([]byte("evil"))}
	f.content["x/sub/f"] = []byte("evil")
	f.mu.Unlock()
	s.requestResync()
	testutil.Eventually(t, 15*time.Second, "Not synced naming x/sub/f", func() bool {
		d := s.Status()[0]
		return State(d.State) == StateNotSynced && strings.Contains(d.Reason, "x/sub/f")
	})
	if _, err := os.Lstat(filepath.Join(s.dir, "sub")); err == nil {
		t.Error("sub was made through the link x on disk")
	}
}

// TestNothingWrittenThroughALocalLink: someone who may write in part of the
// secondary's directory (pub/) replaces the synced directory pub/uploads
// with a link to ../.redund; the primary then sends pub/uploads/state.json
// (a name an uploader on the primary may choose). The secondary must not
// write its own state through that link.
func TestNothingWrittenThroughALocalLink(t *testing.T) {
	f := newFake(t)
	f.put(Entry{Path: "pub", Kind: KindDir, Mode: 0o755}, nil)
	f.put(Entry{Path: "pub/uploads", Kind: KindDir, Mode: 0o755}, nil)
	f.put(Entry{Path: "pub/uploads/a", Kind: KindFile, Size: 1, Mode: 0o644, Hash: contentSum([]byte("a"))}, []byte("a"))
	s, _ := startSyncedSecondary(t, f)
	up := filepath.Join(s.dir, "pub", "uploads")
	must(t, os.Rename(up, filepath.Join(s.dir, "pub", "old")))
	must(t, os.Symlink("../.redund", up))
	evil := []byte(`{"role":"primary","epoch":99,"mode":"secondary-copy"}`)
	f.put(Entry{Path: "pub/uploads/state.json", Kind: KindFile, Size: int64(len(evil)), Mode: 0o644, Hash: contentSum(evil)}, evil)
	testutil.Eventually(t, 15*time.Second, "the change applied", func() bool {
		return fmt.Sprint(s.Status()[0].Details["seq"]) == "4"
	})
	if b, err := os.ReadFile(filepath.Join(s.dir, ".redund", "state.json")); err == nil && strings.Contains(string(b), "99") {
		t.Fatalf("state.json was written through the local link: %s", b)
	}
	testutil.Eventually(t, 15*time.Second, "Not synced naming pub/uploads/state.json", func() bool {
		d := s.Status()[0]
		return State(d.State) == StateNotSynced && strings.Contains(d.Reason, "pub/uploads/state.json")
	})
}

// TestNoWriteThroughALinkSwappedAfterTheCheck: the checks before a batch
// (screen) find pub/uploads a directory; between them and the write,
// someone who may write in pub/ swaps it for a link to ../.redund. The
// write must not follow the link (the os.Root did: it stays inside the
// tree, so the primary's pub/uploads/state.json became the node's own
// state.json); it is refused and the node says Not synced naming it.
func TestNoWriteThroughALinkSwappedAfterTheCheck(t *testing.T) {
	f := newFake(t)
	f.put(Entry{Path: "pub", Kind: KindDir, Mode: 0o755}, nil)
	f.put(Entry{Path: "pub/uploads", Kind: KindDir, Mode: 0o755}, nil)
	f.put(Entry{Path: "pub/uploads/a", Kind: KindFile, Size: 1, Mode: 0o644, Hash: contentSum([]byte("a"))}, []byte("a"))
	s, _ := startSyncedSecondary(t, f)
	if s.Status()[0].Details["symlink_safe"] != true {
		t.Skip("openat2 is refused here: the fallback does not close this window (documented)")
	}
	up := filepath.Join(s.dir, "pub", "uploads")
	swapped := make(chan struct{})
	hook := func(targets []Entry) {
		for _, e := range targets {
			if e.Path == "pub/uploads/state.json" {
				select {
				case <-swapped:
				default: // once, between the check and the write
					must(t, os.Rename(up, filepath.Join(s.dir, "pub", "old")))
					must(t, os.Symlink("../.redund", up))
					close(swapped)
				}
			}
		}
	}
	s.testBeforeApply.Store(&hook)
	evil := []byte(`{"role":"primary","epoch":99,"mode":"secondary-copy"}`)
	f.put(Entry{Path: "pub/uploads/state.json", Kind: KindFile, Size: int64(len(evil)), Mode: 0o644, Hash: contentSum(evil)}, evil)
	testutil.Eventually(t, 15*time.Second, "the batch applied", func() bool {
		select {
		case <-swapped:
			return fmt.Sprint(s.Status()[0].Details["seq"]) == "4"
		default:
			return false
		}
	})
	if b, err := os.ReadFile(filepath.Join(s.dir, ".redund", "state.json")); err == nil && strings.Contains(string(b), "99") {
		t.Fatalf("state.json was written through the link swapped in: %s", b)
	}
	testutil.Eventually(t, 15*time.Second, "Not synced naming pub/uploads/state.json", func() bool {
		d := s.Status()[0]
		return State(d.State) == StateNotSynced && strings.Contains(d.Reason, "pub/uploads/state.json")
	})
	if tg, err := os.Readlink(up); err != nil || tg != "../.redund" {
		t.Errorf("pub/uploads is no longer the link (%q, %v): moved, not refused", tg, err)
	}
}

// TestNoChangeThroughALinkSwappedAfterTheCheck: each kind of change the
// secondary makes below pub/uploads, with pub/uploads swapped for a link
// to ../victim (a synced directory holding the same names) between the
// batch's checks and its writes. None may reach victim: the write, mode
// change, deletion or new directory is refused, and the node is Not synced
// naming the path (a deletion is then dropped, as the check drops one below
// a link: Not synced for the local link).
func TestNoChangeThroughALinkSwappedAfterTheCheck(t *testing.T) {
	file := func(p, body string, mode uint32) (Entry, []byte) {
		return Entry{Path: p, Kind: KindFile, Size: int64(len(body)), Mode: mode, MTime: 1e18, Hash: contentSum([]byte(body))}, []byte(body)
	}
	for _, tc := range []struct {
		name   string
		change func() (Entry, []byte)
		path   string
		named  bool // Not synced names path (a deletion below a link is dropped, as the check drops it)
	}{
		{"new file", func() (Entry, []byte) { return file("pub/uploads/new", "evil", 0o644) }, "pub/uploads/new", true},
		{"changed file", func() (Entry, []byte) { return file("pub/uploads/a", "evil", 0o644) }, "pub/uploads/a", true},
		{"mode and mtime", func() (Entry, []byte) {
			e, b := file("pub/uploads/a", "a", 0o600)
			e.MTime = 2e18
			return e, b
		}, "pub/uploads/a", true},
		{"deletion", func() (Entry, []byte) { return Entry{Path: "pub/uploads/a", Kind: KindFile, Deleted: true}, nil }, "pub/uploads/a", false},
		{"new directory", func() (Entry, []byte) {
			return Entry{Path: "pub/uploads/d", Kind: KindDir, Mode: 0o755, MTime: 1e18}, nil
		}, "pub/uploads/d", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			f.put(Entry{Path: "pub", Kind: KindDir, Mode: 0o755}, nil)
			f.put(Entry{Path: "pub/uploads", Kind: KindDir, Mode: 0o755}, nil)
			f.put(Entry{Path: "victim", Kind: KindDir, Mode: 0o755}, nil)
			f.put(file("pub/uploads/a", "a", 0o644))
			f.put(file("victim/a", "a", 0o644))
			s, _ := startSyncedSecondary(t, f)
			if s.Status()[0].Details["symlink_safe"] != true {
				t.Skip("openat2 is refused here: the fallback does not close this window (documented)")
			}
			victim := filepath.Join(s.dir, "victim")
			before := digest(t, victim)
			up := filepath.Join(s.dir, "pub", "uploads")
			swapped := make(chan struct{})
			hook := func(targets []Entry) {
				for _, e := range targets {
					if e.Path == tc.path {
						select {
						case <-swapped:
						default: // once, between the check and the write
							must(t, os.Rename(up, filepath.Join(s.dir, "pub", "old")))
							must(t, os.Symlink("../victim", up))
							close(swapped)
						}
					}
				}
			}
			s.testBeforeApply.Store(&hook)
			f.put(tc.change())
			testutil.Eventually(t, 15*time.Second, "the change applied", func() bool {
				select {
				case <-swapped:
					return fmt.Sprint(s.Status()[0].Details["seq"]) == "6"
				default:
					return false
				}
			})
			if now := digest(t, victim); fmt.Sprint(now) != fmt.Sprint(before) {
				t.Errorf("victim changed through the link pub/uploads:\nbefore %v\nnow    %v", before, now)
			}
			testutil.Eventually(t, 15*time.Second, "Not synced naming "+tc.path, func() bool {
				d := s.Status()[0]
				return State(d.State) == StateNotSynced && (!tc.named || strings.Contains(fmt.Sprint(d.Reason, d.Details["sync_errors"]), tc.path))
			})
		})
	}
}
