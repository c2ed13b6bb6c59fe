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

	"go.uber.org/goleak"
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
	s, err := Open(filepath.Join(t.TempDir(), "r.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// follow runs Follow in the background until the test ends.
func follow(t *testing.T, f, l *Store, p string) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = f.Follow(ctx, p, direct{l}, 0x40) }()
	t.Cleanup(func() { cancel(); <-done })
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
		time.Sleep(5 * time.Millisecond)
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
	for deadline := time.Now().Add(5 * time.Second); len(ev) < 2 && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		ev = f.Events() // full_sync_done is recorded just after the swap
	}
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
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = f.Follow(ctx, "state", direct{l}, 0x40) }()
	waitConverged(t, f, l, "state")
	cancel()
	<-done
	for i := range 500 {
		l.Put("state", fmt.Sprintf("alarm/%03d", i%50), bytes.Repeat([]byte{'x'}, 40))
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
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = b.Follow(ctx, "state", direct{a}, 0x40) }()
	waitConverged(t, b, a, "state")
	cancel()
	<-done
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
	a.ForceFullSync("state", "operator asked")
	deadline := time.Now().Add(5 * time.Second)
	for a.Stats("state").FullSyncs < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("forced full sync did not happen: %+v", a.Events())
		}
		time.Sleep(5 * time.Millisecond)
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
	st.force("first")
	why, gen := st.takeForced()
	if why != "first" {
		t.Fatalf("takeForced = %q", why)
	}
	st.force("operator asked") // arrives while the first sync runs
	st.completeForced(gen)     // the first sync completes
	if why, _ := st.takeForced(); why != "operator asked" {
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
		for _, b := range [][]byte{nil, {'x', 0}} {
			if err := dec(b); err == nil || !strings.Contains(err.Error(), "not a "+name) {
				t.Errorf("%s decoder on %q: err = %v, want \"not a %s\"", name, b, err, name)
			}
		}
	}
}
