package replica

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/redund/redund/internal/testutil"
)

// flipAll flips one byte in the middle of every copy of marker in the file
// at path (the data's and the log's, and any in freed pages) and returns
// how many it found.
func flipAll(t *testing.T, path string, marker []byte) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for off := 0; ; {
		i := bytes.Index(b[off:], marker)
		if i < 0 {
			break
		}
		b[off+i+len(marker)/2] ^= 0x55
		off += i + len(marker)
		n++
	}
	if n == 0 {
		t.Fatalf("%q is not in the file", marker)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return n
}

func openAt(t *testing.T, path string, opts Options) *Store {
	t.Helper()
	if opts.Providers == nil {
		opts.Providers = []string{"config", "state"}
	}
	s, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestDamagedValueRefused: bytes flipped inside a stored value (in the
// data and in the log) are refused with an error that names the file,
// the bucket and the key: Get, List, a pull and a snapshot page fail
// instead of returning the damaged bytes, and the damage is counted.
// Before the checksums, Get returned the flipped bytes as the document.
func TestDamagedValueRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.db")
	s := openAt(t, path, Options{})
	marker := []byte("precious-document-0123456789")
	if _, err := s.Put("config", "doc", marker); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put("config", "other", []byte("fine")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	flipAll(t, path, marker)

	s = openAt(t, path, Options{})
	it, ok, err := s.Get("config", "doc")
	if err == nil {
		t.Fatalf("Get of a damaged value: no error, got %q (found %v)", it.Value, ok)
	}
	for _, want := range []string{path, "p/config/data0", `"doc"`, "checksum"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not name %q: %v", want, err)
		}
	}
	if _, err := s.List("config", ""); err == nil {
		t.Error("List over a damaged value: no error")
	}
	if it, ok, err := s.Get("config", "other"); err != nil || !ok || string(it.Value) != "fine" {
		t.Errorf("an undamaged document: %q %v %v", it.Value, ok, err)
	}
	if _, err := s.Serve(context.Background(), pullReq{Provider: "config", LogID: mustPos(t, s).LogID, Max: 10}.encode()); err == nil ||
		!strings.Contains(err.Error(), "p/config/log") {
		t.Errorf("a pull over the damaged log entry: %v", err)
	}
	if _, err := s.Serve(context.Background(), snapReq{Provider: "config", MaxBytes: 1 << 20}.encode()); err == nil {
		t.Error("a snapshot page over the damaged value: no error")
	}
	if st := s.Stats("config"); st.Damaged == 0 || !strings.Contains(st.DamageError, "checksum") {
		t.Errorf("damage not counted: %d %q", st.Damaged, st.DamageError)
	}
}

// TestFollowerTakesAFullCopyOfItsDamagedData: a follower whose own copy
// of a document is damaged refuses it and copies the leader's data again,
// after which it serves the true document. Before, it served the damaged
// bytes and stayed in sync.
func TestFollowerTakesAFullCopyOfItsDamagedData(t *testing.T) {
	l := open(t, Options{})
	marker := []byte("replicated-document-abcdefgh")
	if _, err := l.Put("config", "doc", marker); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "f.db")
	f := openAt(t, path, Options{})
	stop := follow(t, f, l, "config")
	waitConverged(t, f, l, "config")
	stop()
	f.Close()
	flipAll(t, path, marker)

	f = openAt(t, path, Options{})
	if st := f.Stats("config"); st.Damaged == 0 || !st.FullSyncNeeded {
		t.Fatalf("the check at open: damaged %d, full sync needed %v", st.Damaged, st.FullSyncNeeded)
	}
	follow(t, f, l, "config")
	testutil.Eventually(t, 10*time.Second, "the follower's copy replaced by a full copy", func() bool {
		it, ok, err := f.Get("config", "doc")
		// the copy is counted just after it replaced the data
		return err == nil && ok && bytes.Equal(it.Value, marker) && f.Stats("config").FullSyncs > 0
	})
}

// TestDamagedPageStructureIsAnError: a damaged page header makes bbolt
// panic; the store turns it into an error naming the file instead of
// ending the process.
func TestDamagedPageStructureIsAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.db")
	s := openAt(t, path, Options{})
	marker := []byte("document-on-a-page-to-damage")
	if _, err := s.Put("config", "doc", marker); err != nil {
		t.Fatal(err)
	}
	pageSize := s.DB().Info().PageSize
	s.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// every leaf page holding the document gets a page type bbolt does
	// not know (the flags after the page id)
	for off := 0; ; {
		i := bytes.Index(b[off:], marker)
		if i < 0 {
			break
		}
		page := (off + i) / pageSize * pageSize
		binary.NativeEndian.PutUint16(b[page+8:], 0x7f00)
		off += i + len(marker)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path, Options{Providers: []string{"config", "state"}})
	if err == nil {
		defer s.Close()
		_, _, err = s.Get("config", "doc")
	}
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("a damaged page: %v", err)
	}
	t.Log(err)
}

// TestFormat1FileMigrated: a file written before the checksums (made by
// the version before them: testdata/format1.db, providers config and
// state, three config documents of which doc/2 was deleted, one state
// document, two points in a caller's bucket history_cache) opens with
// every document readable and its log still served, and says format 2
// afterwards; opening it again does not seal the values twice.
func TestFormat1FileMigrated(t *testing.T) {
	src, err := os.ReadFile("testdata/format1.db")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "r.db")
	if err := os.WriteFile(path, src, 0o600); err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		s := openAt(t, path, Options{Sealed: []string{"history_cache"}})
		items, err := s.List("config", "")
		if err != nil || len(items) != 2 || items[0].Key != "doc/1" || string(items[0].Value) != `{"n":1}` ||
			items[1].Key != "doc/3" || items[1].Version != 3 {
			t.Fatalf("round %d: config documents %+v, %v", round, items, err)
		}
		if it, ok, err := s.Get("state", "tag/a"); err != nil || !ok || string(it.Value) != "42" {
			t.Fatalf("round %d: state document %q %v %v", round, it.Value, ok, err)
		}
		body, err := s.Serve(context.Background(), pullReq{Provider: "config", LogID: mustPos(t, s).LogID, Max: 10}.encode())
		if err != nil {
			t.Fatal(err)
		}
		r, err := decodePullResp(body)
		if err != nil || len(r.Entries) != 4 || r.Entries[1].Key != "doc/2" || r.Entries[3].Op != OpDelete {
			t.Fatalf("round %d: the log %+v, %v", round, r.Entries, err)
		}
		n := 0
		err = s.View(func(tx *bolt.Tx) error {
			if v := tx.Bucket(bucketFormat).Get(keyVersion); binary.BigEndian.Uint64(v) != 2 {
				t.Errorf("format %x", v)
			}
			return tx.Bucket([]byte("history_cache")).ForEach(func(k, v []byte) error {
				p, err := s.Unseal("history_cache", k, v)
				if err == nil && bytes.HasPrefix(p, []byte(`{"seq":`)) {
					n++
				}
				return err
			})
		})
		if err != nil || n != 2 {
			t.Fatalf("round %d: the caller's bucket: %d points, %v", round, n, err)
		}
		if c, last := s.Damage(); c != 0 {
			t.Fatalf("round %d: damage after the migration: %d %s", round, c, last)
		}
		s.Close()
	}
}

// TestHiddenDocumentsFound: a document that disappears from the data
// without a change that deleted it (as a damaged branch page hides a
// subtree: every value left still has a good checksum) is found by the
// check at open, which compares the documents with the count the store
// keeps, and a follower copies its leader's data again. Before the count,
// the document was silently gone.
func TestHiddenDocumentsFound(t *testing.T) {
	l := open(t, Options{})
	for _, k := range []string{"a", "b", "c"} {
		if _, err := l.Put("config", k, []byte("v-"+k)); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "f.db")
	f := openAt(t, path, Options{})
	stop := follow(t, f, l, "config")
	waitConverged(t, f, l, "config")
	stop()
	f.Close()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketName("config", "meta"))
		return tx.Bucket(dataName("config", meta)).Delete([]byte("b"))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}

	f = openAt(t, path, Options{})
	st := f.Stats("config")
	if st.Damaged == 0 || !strings.Contains(st.DamageError, "holds 2 documents where 3 were written") || !st.FullSyncNeeded {
		t.Fatalf("the check at open: damaged %d (%s), full sync needed %v", st.Damaged, st.DamageError, st.FullSyncNeeded)
	}
	follow(t, f, l, "config")
	testutil.Eventually(t, 10*time.Second, "the hidden document copied again", func() bool {
		it, ok, err := f.Get("config", "b")
		return err == nil && ok && string(it.Value) == "v-b"
	})
}
