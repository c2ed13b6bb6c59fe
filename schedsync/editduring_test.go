package schedsync

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
)

// TestLocalEditDuringTransferSaved: the plan decides which files hold
// local edits before the transfer; a file edited on the secondary while
// its new version is on the way was then renamed over, the edit lost
// without a trace. The install checks the file again and moves an edit
// made meanwhile aside, as it does one made before.
func TestLocalEditDuringTransferSaved(t *testing.T) {
	f := newFake(t)
	mt := time.Now().Add(-time.Hour).UnixNano()
	v1 := []byte("version one of the document")
	f.put(Entry{Path: "doc.txt", Kind: KindFile, Size: int64(len(v1)), Mode: 0o644, MTime: mt, Hash: contentSum(v1)}, v1)
	s, _ := startSyncedSecondary(t, f)
	v2 := []byte("version two of the document, from the primary")
	f.setTrickle("doc.txt", 100*time.Millisecond) // about a second on the way
	before := f.count(f.fetched, "doc.txt")
	f.put(Entry{Path: "doc.txt", Kind: KindFile, Size: int64(len(v2)), Mode: 0o644, MTime: mt + 1e9, Hash: contentSum(v2)}, v2)
	testutil.Eventually(t, 15*time.Second, "the transfer started", func() bool { return f.count(f.fetched, "doc.txt") > before })
	writeFile(t, s.dir, "doc.txt", "edited on the secondary meanwhile", 0o644)
	testutil.Eventually(t, 15*time.Second, "v2 installed", func() bool {
		b, _ := os.ReadFile(filepath.Join(s.dir, "doc.txt"))
		return string(b) == string(v2)
	})
	assertSaved(t, s, "doc.txt", "edited on the secondary meanwhile")
}
