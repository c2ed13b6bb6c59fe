package schedsync

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/redund/redund/internal/testutil"
)

// TestDeltaStaleHashNotRecorded: the primary's manifest keeps a stale hash
// for a file edited without a size or mtime change. A secondary that gets
// that file as a delta (it holds an older copy) used to install it on the
// primary's word that it was the manifest's version (the trailer repeated
// the manifest's hash when size and mtime matched) and to record the stale
// hash as the hash of what it wrote; nobody ever noticed. The trailer now
// carries the hash of the bytes the primary read, so the mismatch is seen
// and the primary repairs its entry, as for a whole-file fetch.
func TestDeltaStaleHashNotRecorded(t *testing.T) {
	const size = 256 << 10
	rec := &recLog{}
	a, b, lnA, lnB := pairConfigs(t, ModePrimary, ModeSecondaryCopy, func(a, b *Config) {
		must(t, os.WriteFile(filepath.Join(a.Dir, "f.bin"), bigData(size, 1), 0o644))
		// the secondary holds an older, mostly equal copy: it asks for a delta
		old := bigData(size, 1)
		copy(old[1000:], "older copy")
		must(t, os.WriteFile(filepath.Join(b.Dir, "f.bin"), old, 0o644))
	})
	p := startNodeLog(t, a, lnA, rec.logger())
	testutil.Eventually(t, 10*time.Second, "the primary's first scan", func() bool {
		cl := p.currentLog()
		return cl != nil && func() bool { _, ok := cl.entry("f.bin"); return ok }()
	})
	fi, err := os.Stat(filepath.Join(a.Dir, "f.bin"))
	must(t, err)
	edited := bigData(size, 1)
	copy(edited[size/2:], "edited, same size, mtime restored")
	must(t, os.WriteFile(filepath.Join(a.Dir, "f.bin"), edited, 0o644))
	must(t, os.Chtimes(filepath.Join(a.Dir, "f.bin"), fi.ModTime(), fi.ModTime()))
	writeFile(t, a.Dir, "marker", "after the edit", 0o644)
	testutil.Eventually(t, 10*time.Second, "the edit's events processed", func() bool {
		_, ok := p.currentLog().entry("marker")
		return ok
	})
	if e, _ := p.currentLog().entry("f.bin"); e.Hash != contentSum(bigData(size, 1)) {
		t.Fatal("precondition: the manifest was expected to keep the stale hash")
	}
	s := startNode(t, b, lnB)
	want := contentSum(edited)
	testutil.Eventually(t, 15*time.Second, "the edited content on the secondary, Synced, with its own hash", func() bool {
		got, err := os.ReadFile(filepath.Join(s.dir, "f.bin"))
		e, ok := s.app.expectedCopy()["f.bin"]
		return err == nil && string(got) == string(edited) && s.state() == StateSynced && ok && e.Hash == want
	})
	if e, _ := p.currentLog().entry("f.bin"); e.Hash != want {
		t.Fatal("the primary's manifest still has the stale hash")
	}
	var m dto.Metric
	must(t, s.metrics.bytes.WithLabelValues("delta").Write(&m))
	if m.GetCounter().GetValue() == 0 {
		t.Fatal("precondition: the file was expected to come as a delta")
	}
}
