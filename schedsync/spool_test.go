package schedsync

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/redund/redund/internal/peer"
	"github.com/redund/redund/internal/testutil"
)

// TestForgedManifestCostsItsSize: the head proof covers the head only, so
// an on-path host can replace a manifest's body; the proof at its end then
// fails. What the secondary spends on it before that must be about what it
// costs to send: it used to decode as it read, and a body of 2,000,000
// entries of 7 bytes (14 MB) became 2,000,000 Entries (200 MB and more)
// before the proof was checked.
func TestForgedManifestCostsItsSize(t *testing.T) {
	f := newFake(t)
	f.put(Entry{Path: "a", Kind: KindFile, Size: 1, Mode: 0o644, Hash: contentSum([]byte("a"))}, []byte("a"))
	s := startSecondaryOf(t, f, &recLog{})
	testutil.Eventually(t, 15*time.Second, "Synced", func() bool { return s.state() == StateSynced })
	s.stop() // its loop fetches nothing more: the allocations measured are the call's
	const entries = 2_000_000
	var b bytes.Buffer
	b.WriteString(manifestMagic + "\x08fake-log\x01")
	b.Write([]byte{0x80, 0xa1, 0x7a}) // uvarint 2,000,000
	for range entries {
		b.Write([]byte{0x80 | byte(KindDir), 1, 'a', 0, 0, 0, 0}) // a deleted entry: 7 bytes
	}
	f.mu.Lock()
	f.forged = b.Bytes()
	f.mu.Unlock()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := s.client.manifest(context.Background())
	runtime.ReadMemStats(&after)
	if !errors.Is(err, peer.ErrAuth) {
		t.Fatalf("err %v, want an authentication error", err)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("%d bytes sent, %d allocated", b.Len(), alloc)
	// spooled: the body and a buffer or two (34 MB; 67 MB under -race,
	// with what other goroutines allocate meanwhile); decoded as it
	// came: 1.4 GB
	if alloc > 10*uint64(b.Len()) {
		t.Errorf("a forged body of %d bytes made the secondary allocate %d before its proof failed", b.Len(), alloc)
	}
}

// TestSpoolLarge: a body larger than what is held in memory comes back
// whole from the temporary file, which leaves nothing in .redund/tmp.
func TestSpoolLarge(t *testing.T) {
	for _, size := range []int{0, 1000, spoolMem, spoolMem + 1, spoolMem + 5000} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			dir := t.TempDir()
			w, err := openWriter(dir)
			must(t, err)
			defer w.close()
			want := bigData(size, 7)
			r, err := w.spool(bytes.NewReader(want))
			must(t, err)
			got, err := io.ReadAll(r)
			must(t, err)
			must(t, r.Close())
			if !bytes.Equal(got, want) {
				t.Fatalf("spooled %d bytes, got %d back (or different)", len(want), len(got))
			}
			if ents, _ := os.ReadDir(filepath.Join(dir, filepath.FromSlash(tempDir))); len(ents) != 0 {
				t.Fatalf("%d files left in the temporary directory", len(ents))
			}
		})
	}
}
