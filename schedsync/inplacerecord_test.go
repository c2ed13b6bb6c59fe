package schedsync

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
)

// TestInPlaceRecordedWhenTheBatchFails: a file updated in place is
// written, durably, before the rest of its batch; when another file of the
// batch then breaks the stream (a primary whose file shrank while sending),
// the in-place update must still count as written. It was forgotten: the
// secondary took its own write for a local edit, and when the primary
// changed the file again it moved the primary's previous version aside as
// a "locally changed" conflict.
func TestInPlaceRecordedWhenTheBatchFails(t *testing.T) {
	f := newFake(t)
	v1 := bigData(1<<20, 11)
	mt := time.Now().Add(-time.Hour).UnixNano()
	big := Entry{Path: "big.bin", Kind: KindFile, Size: int64(len(v1)), Mode: 0o644, MTime: mt, Hash: contentSum(v1)}
	f.put(big, v1)
	f.put(Entry{Path: "small.txt", Kind: KindFile, Size: 5, Mode: 0o644, MTime: mt, Hash: contentSum([]byte("small"))}, []byte("small"))
	rec := &recLog{}
	// one worker: the in-place update runs before the stream that breaks
	s := startSecondaryWith(t, f, rec, func(b *Config) { b.Workers = 1 })
	defer func() {
		if t.Failed() {
			t.Logf("status %+v\n%s", s.Status()[0], rec)
		}
	}()
	testutil.Eventually(t, 15*time.Second, "Synced", func() bool { return s.state() == StateSynced })

	v2 := bytes.Clone(v1)
	v2[500000] ^= 0xff
	small2 := []byte("small, changed")
	f.setCut("small.txt", true)
	f.putAll([]Entry{
		{Path: "big.bin", Kind: KindFile, Size: int64(len(v2)), Mode: 0o644, MTime: mt + 1e9, Hash: contentSum(v2)},
		{Path: "small.txt", Kind: KindFile, Size: int64(len(small2)), Mode: 0o644, MTime: mt + 1e9, Hash: contentSum(small2)},
	}, [][]byte{v2, small2})
	testutil.Eventually(t, 15*time.Second, "big.bin updated in place, the batch failing", func() bool {
		b, _ := os.ReadFile(filepath.Join(s.dir, "big.bin"))
		return bytes.Equal(b, v2) && strings.Contains(s.Status()[0].Reason, "sync failed")
	})

	v3 := bytes.Clone(v2)
	v3[700000] ^= 0xff
	f.setCut("small.txt", false)
	f.put(Entry{Path: "big.bin", Kind: KindFile, Size: int64(len(v3)), Mode: 0o644, MTime: mt + 2e9, Hash: contentSum(v3)}, v3)
	testutil.Eventually(t, 15*time.Second, "Synced with v3", func() bool {
		b, _ := os.ReadFile(filepath.Join(s.dir, "big.bin"))
		return bytes.Equal(b, v3) && s.state() == StateSynced
	})
	if n := fmt.Sprint(s.Status()[0].Details["conflicts_total"]); n != "0" {
		t.Errorf("%s conflicts: the primary's own version was moved aside as a local edit", n)
	}
}
