package schedsync

import (
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
)

// writeAtomic replaces a file on the primary the way a careful application
// does (temp + rename), so every state of the primary is a complete file.
func writeAtomic(t *testing.T, dir, rel string, data []byte) {
	t.Helper()
	tmp := filepath.Join(dir, ".app-tmp")
	must(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, rel)), 0o755))
	must(t, os.WriteFile(tmp, data, 0o644))
	must(t, os.Rename(tmp, filepath.Join(dir, rel)))
}

// TestProcessKill9DuringTransfer kills the secondary with SIGKILL at random
// moments while large files are being transferred (50 times, or as many as
// fit in 60 s but at least 20, however slow the machine): every file in its directory is always a complete version
// the primary had, and after a restart it converges.
func TestProcessKill9DuringTransfer(t *testing.T) {
	needBinary(t)
	p, s := procPair(t, ModePrimary, ModeSecondaryCopy, "exclude = [\".app-tmp\"]")
	versions := map[string]map[[32]byte]bool{}
	put := func(rel string, data []byte) {
		writeAtomic(t, p.dir, rel, data)
		if versions[rel] == nil {
			versions[rel] = map[[32]byte]bool{}
		}
		versions[rel][contentSum(data)] = true
	}
	put("big-a.bin", bigData(16<<20, 0))
	put("big-b.bin", bigData(16<<20, 100))
	for i := range 20 {
		put(filepath.Join("small", string(rune('a'+i))), bigData(1000+i*500, byte(i)))
	}
	p.start()
	rng := rand.New(rand.NewPCG(7, 7))
	start := time.Now()
	iterations, midTransfer := 0, 0
	for i := 1; i <= 50 && (i <= 20 || time.Since(start) < 60*time.Second); i++ {
		put("big-a.bin", bigData(16<<20, byte(i)))
		if i%2 == 0 {
			put("big-b.bin", bigData(16<<20, byte(100+i)))
		}
		put("small/a", []byte(strings.Repeat("x", i)))
		s.start()
		time.Sleep(time.Duration(rng.IntN(250)) * time.Millisecond) // sleep: a random moment to kill, mid-transfer or not
		s.kill9()
		if checkNoPartial(t, s.dir, versions) > 0 {
			midTransfer++
		}
		iterations++
	}
	t.Logf("%d kill -9 iterations in %s, %d of them with a transfer in flight", iterations,
		time.Since(start).Round(time.Millisecond), midTransfer)
	s.start()
	waitSameDirs(t, p.dir, s.dir, 30*time.Second, "after the last restart")
	testutil.Eventually(t, 10*time.Second, "Synced", func() bool { return s.state() == StateSynced })
	// Synced does not mean idle: the expected tree may be being saved
	// (through .redund/tmp); a leaked temporary file stays, that one goes.
	waitNoTemps(t, s.dir, "after the last restart")
}

// checkNoPartial: every synced file is a complete version of the
// primary's; it returns the number of unfinished temporary files (in
// .redund/tmp, never under a synced name).
func checkNoPartial(t *testing.T, dir string, versions map[string]map[[32]byte]bool) (temps int) {
	t.Helper()
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			if d != nil && d.Name() == stateDirName {
				return filepath.SkipDir
			}
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		h, err := hashFile(p)
		must(t, err)
		if !versions[filepath.ToSlash(rel)][h] {
			t.Fatalf("%s on the secondary is not a complete version from the primary", rel)
		}
		return nil
	})
	ents, _ := os.ReadDir(filepath.Join(dir, filepath.FromSlash(tempDir)))
	return len(ents)
}

// TestProcessKill9DuringInPlaceUpdate kills the secondary with SIGKILL at
// random moments while a large file is updated in place (a few bytes at
// several offsets changed on the primary while the secondary is down).
// After each kill the secondary, restarted while its primary is down (it
// replays its journals first and can sync nothing), holds a complete
// version of the primary's, and at the end it converges, with no journal
// left.
func TestProcessKill9DuringInPlaceUpdate(t *testing.T) {
	needBinary(t)
	p, s := procPair(t, ModePrimary, ModeSecondaryCopy, "delta_min_size = 65536")
	const size = 8 << 20
	data := bigData(size, 0)
	versions := map[string]map[[32]byte]bool{"big.bin": {contentSum(data): true}}
	must(t, os.WriteFile(filepath.Join(p.dir, "big.bin"), data, 0o644))
	p.start()
	s.start()
	waitSameDirs(t, p.dir, s.dir, 30*time.Second, "initial copy")
	s.kill9()
	rng := rand.New(rand.NewPCG(9, 9))
	start := time.Now()
	for i := 1; i <= 30 && (i <= 10 || time.Since(start) < 30*time.Second); i++ {
		f, err := os.OpenFile(filepath.Join(p.dir, "big.bin"), os.O_RDWR, 0)
		must(t, err)
		for k := range 3 { // each pwrite stays inside one page: every state of the primary is a version
			off := rng.Int64N(size/4096)*4096 + 100
			copy(data[off:off+64], bigData(64, byte(i*3+k)))
			_, err := f.WriteAt(data[off:off+64], off)
			must(t, err)
			versions["big.bin"][contentSum(data)] = true
		}
		must(t, f.Close())
		s.start()
		time.Sleep(time.Duration(rng.IntN(400)) * time.Millisecond) // sleep: a random moment to kill, mid-update or not
		s.kill9()
		// restarted without its primary, the secondary replays its journals
		// and writes nothing else: what it holds then is checked
		p.kill9()
		s.start()
		checkNoPartial(t, s.dir, versions)
		s.kill9()
		p.start()
	}
	s.start()
	waitSameDirs(t, p.dir, s.dir, 30*time.Second, "after the last restart")
	testutil.Eventually(t, 10*time.Second, "Synced", func() bool { return s.state() == StateSynced })
	if ents, _ := os.ReadDir(filepath.Join(s.dir, filepath.FromSlash(journalDir))); len(ents) != 0 {
		t.Fatalf("%d journals left", len(ents))
	}
}
