package replica

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/goleak"

	"github.com/redund/redund/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// direct is a Requester that calls the leader's Serve in process.
type direct struct{ leader *Store }

func (d direct) Request(ctx context.Context, _ byte, body []byte) ([]byte, error) {
	return d.leader.Serve(ctx, body)
}

func open(t *testing.T, opts Options) *Store {
	t.Helper()
	if opts.Providers == nil {
		opts.Providers = []string{"config", "state"}
	}
	path := filepath.Join(t.TempDir(), "r.db")
	s, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		// whatever the test did, the file holds what was counted
		s, err := Open(path, Options{Providers: opts.Providers, Sealed: opts.Sealed})
		if err != nil {
			t.Errorf("reopen: %v", err)
			return
		}
		if n, last := s.Damage(); n != 0 {
			t.Errorf("reopen: %d damaged: %s", n, last)
		}
		s.Close()
	})
	return s
}

// follow runs Follow in the background until the test ends or the
// returned stop is called (stop waits for Follow to return).
func follow(t *testing.T, f, l *Store, p string) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = f.Follow(ctx, p, direct{l}, 0x40) }()
	stop = func() { cancel(); <-done }
	t.Cleanup(stop)
	return stop
}

func waitConverged(t *testing.T, f, l *Store, p string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		lp, _ := l.Position(p)
		fp, _ := f.Position(p)
		if fp.SrcLogID == lp.LogID && fp.Applied == lp.Last {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("follower at %+v, leader at %+v", fp, lp)
		}
		time.Sleep(5 * time.Millisecond) // sleep: poll interval (the failure prints both positions)
	}
	a, _ := l.List(p, "")
	b, _ := f.List(p, "")
	if !sameItems(a, b) {
		t.Fatalf("data differs: leader has %d documents, follower %d", len(a), len(b))
	}
}

func sameItems(a, b []Item) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Key != b[i].Key || a[i].Version != b[i].Version || !bytes.Equal(a[i].Value, b[i].Value) {
			return false
		}
	}
	return true
}

func TestPutGetListDeleteWithVersions(t *testing.T) {
	s := open(t, Options{})
	s1, _ := s.Put("config", "tags/a", []byte("1"))
	s2, _ := s.Put("config", "tags/b", []byte("2"))
	s3, _ := s.Put("config", "tags/a", []byte("3"))
	if s1 != 1 || s2 != 2 || s3 != 3 {
		t.Fatalf("seqs %d %d %d", s1, s2, s3)
	}
	it, ok, _ := s.Get("config", "tags/a")
	if !ok || string(it.Value) != "3" || it.Version != 3 {
		t.Fatalf("get: %+v %v", it, ok)
	}
	if _, err := s.Delete("config", "tags/b"); err != nil {
		t.Fatal(err)
	}
	items, _ := s.List("config", "tags/")
	if len(items) != 1 || items[0].Key != "tags/a" {
		t.Fatalf("list: %+v", items)
	}
	if _, err := s.Put("nope", "k", nil); err == nil {
		t.Fatal("unknown provider accepted")
	}
}

func TestFollowerFirstFullThenIncremental(t *testing.T) {
	l, f := open(t, Options{}), open(t, Options{})
	for i := range 50 {
		l.Put("config", fmt.Sprintf("k%02d", i), []byte("v"))
	}
	follow(t, f, l, "config")
	waitConverged(t, f, l, "config")
	var ev []Event
	testutil.Eventually(t, 5*time.Second, "two events (full_sync_done is recorded just after the swap)", func() bool {
		ev = f.Events()
		return len(ev) >= 2
	})
	if len(ev) < 2 || ev[0].Kind != "full_sync_needed" || !strings.Contains(ev[0].Message, "first") {
		t.Fatalf("events %+v", ev)
	}
	start := time.Now()
	l.Put("config", "k07", []byte("changed"))
	l.Delete("config", "k08")
	waitConverged(t, f, l, "config")
	if el := time.Since(start); el > 500*time.Millisecond {
		t.Fatalf("incremental change took %v (long poll not woken?)", el)
	}
	if st := f.Stats("config"); st.FullSyncs != 1 || st.FullSyncNeeded {
		t.Fatalf("stats %+v", st)
	}
}

func TestFollowerTooFarBehindGetsSnapshot(t *testing.T) {
	l, f := open(t, Options{CacheBytes: 2048}), open(t, Options{})
	l.Put("state", "a", []byte("1"))
	stop := follow(t, f, l, "state")
	waitConverged(t, f, l, "state")
	stop()
	for i := range 500 {
		l.Put("state", fmt.Sprintf("alarm/%03d", i%50), bytes.Repeat([]byte{'x'}, 40))
		if i == 400 {
			// the log keeps what the data does not hold yet: only after a
			// checkpoint can the next writes trim it
			if err := l.checkpoint(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if pos, _ := l.Position("state"); pos.First <= 2 {
		t.Fatalf("log was not trimmed: %+v", pos)
	}
	follow(t, f, l, "state")
	waitConverged(t, f, l, "state")
	found := false
	for _, e := range f.Events() {
		if e.Kind == "full_sync_needed" && strings.Contains(e.Message, "too far behind") {
			found = true
		}
	}
	if !found {
		t.Fatalf("no too-far-behind event: %+v", f.Events())
	}
}

func TestLeadStartsNewLogAndForceFullSync(t *testing.T) {
	a, b := open(t, Options{}), open(t, Options{})
	a.Put("state", "x", []byte("1"))
	stop := follow(t, b, a, "state")
	waitConverged(t, b, a, "state")
	stop()
	// b takes over and writes; a follows b and must take a full snapshot
	before, _ := b.Position("state")
	if err := b.Lead("state"); err != nil {
		t.Fatal(err)
	}
	after, _ := b.Position("state")
	if after.LogID == before.LogID || after.SrcLogID != "" {
		t.Fatalf("Lead kept the old log: %+v -> %+v", before, after)
	}
	b.Put("state", "y", []byte("2"))
	follow(t, a, b, "state")
	waitConverged(t, a, b, "state")
	if err := a.ForceFullSync("nosuch", "typo"); !errors.Is(err, ErrUnknownProvider) {
		t.Fatalf("ForceFullSync of an unknown provider: %v", err)
	}
	if err := a.ForceFullSync("state", "operator asked"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for a.Stats("state").FullSyncs < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("forced full sync did not happen: %+v", a.Events())
		}
		time.Sleep(5 * time.Millisecond) // sleep: poll interval (the failure lists the events)
	}
}

func TestWritesSurviveReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.db")
	s, err := Open(path, Options{Providers: []string{"config"}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Add(1)
		go func() { defer wg.Done(); s.Put("config", fmt.Sprintf("k%d", i), []byte("v")) }()
	}
	wg.Wait()
	s.Close()
	s, err = Open(path, Options{Providers: []string{"config"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	items, _ := s.List("config", "")
	pos, _ := s.Position("config")
	if len(items) != 100 || pos.Last != 100 {
		t.Fatalf("after reopen: %d items, position %+v", len(items), pos)
	}
}

func TestLargeDocumentsRefusedAndPullBatchesBounded(t *testing.T) {
	l, f := open(t, Options{NoSync: true}), open(t, Options{NoSync: true}) // about sizes, not durability
	if _, err := l.Put("config", "huge", make([]byte, MaxValue+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized document: %v", err)
	}
	big := make([]byte, 3<<20)
	for i := range 3 {
		if _, err := l.Put("config", fmt.Sprintf("big%d", i), big); err != nil {
			t.Fatal(err)
		}
	}
	follow(t, f, l, "config")
	waitConverged(t, f, l, "config")
	l.Put("config", "big0", big[:1<<20])
	l.Put("config", "big1", big[:2<<20])
	r, err := l.pull(pullReq{Provider: "config", LogID: mustPos(t, l).LogID, Applied: 3, Max: 100})
	if err != nil || len(r.Entries) != 2 {
		t.Fatalf("pull of 3 MB in entries: %d entries, %v", len(r.Entries), err)
	}
	r, _ = l.pull(pullReq{Provider: "config", LogID: mustPos(t, l).LogID, Applied: 0, Max: 100})
	if len(r.Entries) != 2 { // 3 MB + 3 MB reaches the 4 MB cap after the second
		t.Fatalf("byte cap: %d entries", len(r.Entries))
	}
	waitConverged(t, f, l, "config")
}

func mustPos(t *testing.T, s *Store) Position {
	p, err := s.Position("config")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestForceDuringFullSyncIsKept: an operator's request that arrives while a
// full sync is finishing must not be cleared by that sync.
func TestForceDuringFullSyncIsKept(t *testing.T) {
	st := &provStats{}
	st.force("first", false)
	why, gen, _ := st.takeForced()
	if why != "first" {
		t.Fatalf("takeForced = %q", why)
	}
	st.force("operator asked", true) // arrives while the first sync runs
	st.completeForced(gen)           // the first sync completes
	if why, _, _ := st.takeForced(); why != "operator asked" {
		t.Fatalf("the second request was lost: takeForced = %q", why)
	}
}

// Every decoder refuses an empty message and a message of another kind
// with an error (never a panic).
func TestDecodersRefuseWrongKind(t *testing.T) {
	for name, dec := range map[string]func([]byte) error{
		"pull request":      func(b []byte) error { _, err := decodePullReq(b); return err },
		"pull response":     func(b []byte) error { _, err := decodePullResp(b); return err },
		"snapshot request":  func(b []byte) error { _, err := decodeSnapReq(b); return err },
		"snapshot response": func(b []byte) error { _, err := decodeSnapResp(b); return err },
	} {
		t.Run(name, func(t *testing.T) {
			for _, b := range [][]byte{nil, {'x', 0}} {
				if err := dec(b); err == nil || !strings.Contains(err.Error(), "not a "+name) {
					t.Errorf("%s decoder on %q: err = %v, want \"not a %s\"", name, b, err, name)
				}
			}
		})
	}
}

// TestPulledEntriesOwnTheirValues: a pull answer must not point into the
// database's pages, which later commits free and reuse.
func TestPulledEntriesOwnTheirValues(t *testing.T) {
	l := open(t, Options{NoSync: true})
	want := bytes.Repeat([]byte("first value "), 20)
	if _, err := l.Put("config", "a", want); err != nil {
		t.Fatal(err)
	}
	r, err := l.pull(pullReq{Provider: "config", LogID: mustPos(t, l).LogID, Max: 10})
	if err != nil || len(r.Entries) != 1 {
		t.Fatalf("pull: %d entries, %v", len(r.Entries), err)
	}
	// each commit rewrites the log's last page and frees the old one; with
	// no reader left the next commits reuse it
	for i := range 200 {
		if _, err := l.Put("config", fmt.Sprintf("b%03d", i), bytes.Repeat([]byte{'x'}, 200)); err != nil {
			t.Fatal(err)
		}
	}
	if got := r.Entries[0].Value; !bytes.Equal(got, want) {
		t.Fatalf("pulled value changed under the caller: %q", got)
	}
}

// TestPendingChangesReadAndReplayed: a change is readable as soon as Put
// returns, before any checkpoint, and one that is only in the log (the
// process died before the checkpoint) is in the data after reopening.
func TestPendingChangesReadAndReplayed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.db")
	s, err := Open(path, Options{Providers: []string{"config"}})
	if err != nil {
		t.Fatal(err)
	}
	pauseCheckpoints(s)
	for i := range 50 {
		if _, err := s.Put("config", fmt.Sprintf("k%02d", i), []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Delete("config", "k07"); err != nil {
		t.Fatal(err)
	}
	check := func(s *Store, when string) {
		t.Helper()
		it, ok, err := s.Get("config", "k09")
		if err != nil || !ok || !bytes.Equal(it.Value, []byte{9}) || it.Version != 10 {
			t.Fatalf("%s: Get k09 = %+v %v %v", when, it, ok, err)
		}
		if _, ok, _ := s.Get("config", "k07"); ok {
			t.Fatalf("%s: deleted k07 still there", when)
		}
		items, _ := s.List("config", "k0")
		if len(items) != 9 || items[0].Key != "k00" || items[8].Key != "k09" {
			t.Fatalf("%s: List k0 = %d items %+v", when, len(items), items)
		}
	}
	check(s, "before a checkpoint")
	if n := dataCount(t, s, "config"); n != 0 {
		t.Fatalf("the data bucket has %d documents before any checkpoint", n)
	}
	s = crashAndReopen(t, s, path)
	if s.ov["config"].size() != 0 {
		t.Fatal("replay should go straight to the data")
	}
	check(s, "after replaying the log")
}

// TestFollowerInboxAppliedAndLeadFlushes: pulled entries are readable on
// the follower before its checkpoint, and Lead puts them in the data
// before it starts a new log.
func TestFollowerInboxAppliedAndLeadFlushes(t *testing.T) {
	l, f := open(t, Options{}), open(t, Options{})
	pauseCheckpoints(l) // else the follower's first snapshot may already hold some
	pauseCheckpoints(f)
	stop := follow(t, f, l, "state")
	for i := range 20 {
		if _, err := l.Put("state", fmt.Sprintf("s%02d", i), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	waitConverged(t, f, l, "state")
	stop()
	if n := dataCount(t, f, "state"); n != 0 {
		t.Fatalf("the follower's data bucket has %d documents before any checkpoint", n)
	}
	if err := f.Lead("state"); err != nil {
		t.Fatal(err)
	}
	if n := f.ov["state"].size(); n != 0 {
		t.Fatalf("overlay after Lead holds %d entries", n)
	}
	if n := dataCount(t, f, "state"); n != 20 {
		t.Fatalf("after Lead the data bucket has %d documents, want 20", n)
	}
	if _, err := f.Put("state", "new", []byte("n")); err != nil {
		t.Fatal(err)
	}
	if pos, _ := f.Position("state"); pos.Last != 1 || pos.SrcLogID != "" {
		t.Fatalf("new log position %+v", pos)
	}
}

// pauseCheckpoints stops s's checkpointer, so changes stay in the overlay.
func pauseCheckpoints(s *Store) { s.once.Do(func() { close(s.stop); <-s.cpDone }) }

// dataCount counts the documents in p's data bucket itself.
func dataCount(t *testing.T, s *Store, p string) int {
	t.Helper()
	n := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		b, err := s.buckets(tx, p)
		if err != nil {
			return err
		}
		n = b.data.Stats().KeyN
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestFollowerInboxReplayedAfterCrash: entries a follower committed to its
// inbox but never checkpointed are in its data after a restart.
func TestFollowerInboxReplayedAfterCrash(t *testing.T) {
	l := open(t, Options{})
	path := filepath.Join(t.TempDir(), "f.db")
	f, err := Open(path, Options{Providers: []string{"config"}})
	if err != nil {
		t.Fatal(err)
	}
	pauseCheckpoints(f)
	stop := follow(t, f, l, "config")
	waitConverged(t, f, l, "config") // the first (empty) snapshot
	for i := range 30 {
		if _, err := l.Put("config", fmt.Sprintf("c%02d", i), []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	waitConverged(t, f, l, "config")
	stop()
	if n := dataCount(t, f, "config"); n != 0 {
		t.Fatalf("follower data has %d documents before any checkpoint", n)
	}
	f = crashAndReopen(t, f, path)
	if n := dataCount(t, f, "config"); n != 30 {
		t.Fatalf("after reopening, the follower's data has %d documents, want 30", n)
	}
	waitConverged(t, f, l, "config")
}

// TestStalePruneAfterResetIgnored: a checkpoint that read the positions
// before a Lead or full sync reset the overlay must not prune with them
// afterwards (new writes would then be hidden from reads).
func TestStalePruneAfterResetIgnored(t *testing.T) {
	s := open(t, Options{})
	pauseCheckpoints(s)
	ov := s.ov["state"]
	oldGen := ov.gen.Load()
	ov.reset([2]uint64{}) // as Lead does after renumbering the log
	ov.prune([2]uint64{100, 0}, oldGen)
	if _, err := s.Put("state", "k", []byte("new")); err != nil {
		t.Fatal(err)
	}
	if it, ok, err := s.Get("state", "k"); err != nil || !ok || string(it.Value) != "new" {
		t.Fatalf("Get after a stale prune: %+v %v %v", it, ok, err)
	}
}

// TestListIgnoresOverlayCopyOlderThanData: List copies the overlay before
// it reads the data; a copied change that a checkpoint applied (and a later
// change overtook) in between must not mask the data.
func TestListIgnoresOverlayCopyOlderThanData(t *testing.T) {
	s := open(t, Options{})
	pauseCheckpoints(s)
	s.Put("config", "k", []byte("v1"))   // seq 1
	s.Delete("config", "k")              // seq 2
	s.Put("config", "a", []byte("keep")) // seq 3
	if err := s.checkpoint(); err != nil {
		t.Fatal(err)
	}
	// what List could have copied just before that checkpoint: k at seq 1
	ov := s.ov["config"]
	ov.mu.Lock()
	ov.m["k"] = ovEntry{x: Entry{Seq: 1, Op: OpPut, Key: "k", Value: []byte("v1")}, src: streamLog}
	ov.mu.Unlock()
	items, err := s.List("config", "")
	if err != nil || len(items) != 1 || items[0].Key != "a" {
		t.Fatalf("List = %+v, %v; want only a", items, err)
	}
}

// TestCheckpointSkipsEmptyCommits: an idle store does not commit (and
// fsync) every checkpoint interval.
func TestCheckpointSkipsEmptyCommits(t *testing.T) {
	s := open(t, Options{})
	pauseCheckpoints(s)
	s.Put("config", "k", []byte("v"))
	if err := s.checkpoint(); err != nil {
		t.Fatal(err)
	}
	writes := func() int64 { st := s.db.Stats(); return st.TxStats.GetWrite() }
	before := writes()
	s.ov["config"].dirty.Store(true) // a late overlay add after the checkpoint
	for range 3 {
		if err := s.checkpoint(); err != nil {
			t.Fatal(err)
		}
	}
	if after := writes(); after != before {
		t.Fatalf("idle checkpoints wrote %d pages", after-before)
	}
}

// TestSnapshotHoldsTheLog: while a follower copies a snapshot, the leader
// keeps the log after the snapshot's sequence even past disk_cache, so the
// follower can continue from it instead of starting another full sync.
func TestSnapshotHoldsTheLog(t *testing.T) {
	l := open(t, Options{CacheBytes: 1024})
	pauseCheckpoints(l)
	for i := range 20 {
		l.Put("state", fmt.Sprintf("k%02d", i), bytes.Repeat([]byte{'x'}, 40))
	}
	if err := l.checkpoint(); err != nil {
		t.Fatal(err)
	}
	page, err := l.snapshotPage(snapReq{Provider: "state", MaxBytes: 1 << 20})
	if err != nil || page.Seq != 20 {
		t.Fatalf("first page: seq %d, %v", page.Seq, err)
	}
	// many more writes, applied to the data, while the copy runs: without
	// the hold, 1 KB of log keeps only the last ~15 entries
	for i := range 200 {
		l.Put("state", fmt.Sprintf("k%02d", i%20), bytes.Repeat([]byte{'y'}, 40))
		if i%50 == 49 {
			if err := l.checkpoint(); err != nil {
				t.Fatal(err)
			}
		}
	}
	r, err := l.pull(pullReq{Provider: "state", LogID: page.LogID, Applied: page.Seq, Max: 1000})
	if err != nil || r.Full || len(r.Entries) != 200 || r.Entries[0].Seq != 21 {
		t.Fatalf("pull after the snapshot: full=%v (%s), %d entries, %v", r.Full, r.Reason, len(r.Entries), err)
	}
	// that pull released the hold: the log shrinks back to disk_cache
	if _, err := l.servePull(context.Background(), pullReq{Provider: "state", LogID: page.LogID, Applied: page.Seq, Max: 1}); err != nil {
		t.Fatal(err)
	}
	l.Put("state", "after", []byte("z"))
	if pos, _ := l.Position("state"); pos.First <= 21 {
		t.Fatalf("the log was not trimmed after the hold ended: %+v", pos)
	}
}

// TestReadYourWritesWhileCheckpointing: with checkpoints running all the
// time, every writer reads back what it was just acknowledged, through Get
// and through List, and a deleted key stays deleted.
func TestReadYourWritesWhileCheckpointing(t *testing.T) {
	s := open(t, Options{NoSync: true}) // about visibility, not durability
	stop := make(chan struct{})
	cpDone := make(chan struct{})
	go func() {
		defer close(cpDone)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := s.checkpoint(); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			prefix := fmt.Sprintf("w%d/", w)
			for i := range 300 {
				key := fmt.Sprintf("%sk%d", prefix, i%7)
				val := []byte(fmt.Sprint(i))
				seq, err := s.Put("config", key, val)
				if err != nil {
					t.Error(err)
					return
				}
				it, ok, err := s.Get("config", key)
				if err != nil || !ok || it.Version < seq || (it.Version == seq && !bytes.Equal(it.Value, val)) {
					t.Errorf("Get %s after Put seq %d: %+v %v %v", key, seq, it, ok, err)
					return
				}
				items, err := s.List("config", prefix)
				if err != nil {
					t.Error(err)
					return
				}
				found := false
				for _, it := range items {
					if it.Key == key {
						found = it.Version >= seq
					}
				}
				if !found {
					t.Errorf("List %s after Put seq %d misses %s: %+v", prefix, seq, key, items)
					return
				}
				if i%50 == 49 {
					if _, err := s.Delete("config", key); err != nil {
						t.Error(err)
						return
					}
					if _, ok, _ := s.Get("config", key); ok {
						t.Errorf("%s still readable after Delete", key)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-cpDone
}

// crashAndReopen closes s's database as kill -9 would leave it (no last
// checkpoint) and opens the store at path again.
func crashAndReopen(t *testing.T, s *Store, path string) *Store {
	t.Helper()
	pauseCheckpoints(s)
	s.stopWriter()
	s.db.Close()
	s, err := Open(path, Options{Providers: []string{"config"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
