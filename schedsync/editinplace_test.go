package schedsync

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
)

// TestLocalEditDuringInPlaceUpdateSaved: a file updated in place is read
// (its unchanged blocks, for the delta's checksum) before it is written;
// an edit made on the secondary after that reading was kept in the file
// under the primary's new mtime and recorded as the primary's version: a
// mix, hidden (size and mtime say synced). The update is now given up
// when the file changed since it was opened, and the edit is then moved
// aside like any other.
func TestLocalEditDuringInPlaceUpdateSaved(t *testing.T) {
	f := newFake(t)
	mt := time.Now().Add(-time.Hour).UnixNano()
	v1 := bigData(1<<20, 13)
	f.put(Entry{Path: "big.bin", Kind: KindFile, Size: int64(len(v1)), Mode: 0o644, MTime: mt, Hash: contentSum(v1)}, v1)
	s, _ := startSyncedSecondary(t, f)
	v2 := bytes.Clone(v1)
	v2[500000] ^= 0xff
	release := f.holdDeltaEnd("big.bin")
	defer release()
	f.put(Entry{Path: "big.bin", Kind: KindFile, Size: int64(len(v2)), Mode: 0o644, MTime: mt + 1e9, Hash: contentSum(v2)}, v2)
	testutil.Eventually(t, 15*time.Second, "the delta on its way", func() bool { return s.state() == StateSyncing })
	// the secondary reads the held delta's copies (and the blocks they
	// name) within this; nothing it does then can be waited on
	// sleep: time for the secondary to read what it was sent, not a readiness wait
	time.Sleep(300 * time.Millisecond)
	edit := filepath.Join(s.dir, "big.bin")
	g, err := os.OpenFile(edit, os.O_WRONLY, 0)
	must(t, err)
	_, err = g.WriteAt([]byte("EDITED ON THE SECONDARY"), 100)
	must(t, err)
	must(t, g.Close())
	edited, err := os.ReadFile(edit)
	must(t, err)
	release()
	testutil.Eventually(t, 15*time.Second, "the batch applied", func() bool {
		return fmt.Sprint(s.Status()[0].Details["seq"]) == "2"
	})
	testutil.Eventually(t, 15*time.Second, "v2 installed, not a mix of v2 and the edit", func() bool {
		b, _ := os.ReadFile(edit)
		return bytes.Equal(b, v2) && s.state() == StateSynced
	})
	_, last := s.w.conflicts.snapshot()
	for _, c := range last {
		if b, err := os.ReadFile(filepath.Join(s.dir, c.Saved)); err == nil && bytes.Equal(b, edited) {
			return
		}
	}
	t.Fatalf("the edit was not saved: %+v", last)
}
