package schedsync

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/testutil"
)

func setLinkMTime(t *testing.T, p string, mt time.Time) {
	t.Helper()
	ts := unix.NsecToTimespec(mt.UnixNano())
	must(t, unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW))
}

func linkMTime(t *testing.T, p string) time.Time {
	t.Helper()
	fi, err := os.Lstat(p)
	must(t, err)
	return fi.ModTime()
}

// TestSymlinkMTimeKept: a symlink's own mtime reaches the secondary, when
// the link is created and when only its time changes (touch -h), as with
// rsync -a.
func TestSymlinkMTimeKept(t *testing.T) {
	first := time.Date(2001, 2, 3, 4, 5, 6, 7000, time.UTC)
	p, s := startPair(t, ModePrimary, ModeSecondaryCopy, func(a, b *Config) {
		writeFile(t, a.Dir, "target.txt", "t", 0o644)
		must(t, os.Symlink("target.txt", filepath.Join(a.Dir, "link")))
		setLinkMTime(t, filepath.Join(a.Dir, "link"), first)
	})
	waitSame(t, p, s, "initial copy")
	if got := linkMTime(t, filepath.Join(s.dir, "link")); !got.Equal(first) {
		t.Fatalf("symlink mtime on the secondary %v, want %v", got, first)
	}
	second := first.Add(time.Hour)
	setLinkMTime(t, filepath.Join(p.dir, "link"), second)
	writeFile(t, p.dir, "nudge", "an event for the watcher (touch -h makes none)", 0o644)
	testutil.Eventually(t, 15*time.Second, "the new symlink mtime", func() bool {
		return linkMTime(t, filepath.Join(s.dir, "link")).Equal(second)
	})
	testutil.Eventually(t, 10*time.Second, "Synced", func() bool { return s.state() == StateSynced })
}

// TestSkippedPathsWarnedOnce: a FIFO (never synced) is logged once, not at
// every full scan.
func TestSkippedPathsWarnedOnce(t *testing.T) {
	rec := &recLog{}
	a, b, lnA, lnB := pairConfigs(t, ModePrimary, ModeSecondaryCopy, func(a, b *Config) {
		a.ScanInterval = config.Duration(time.Second)
		must(t, syscall.Mkfifo(filepath.Join(a.Dir, "pipe"), 0o644))
		writeFile(t, a.Dir, "file", "f", 0o644)
	})
	p, s := startNodeLog(t, a, lnA, rec.logger()), startNode(t, b, lnB)
	testutil.Eventually(t, 10*time.Second, "Synced", func() bool { return s.state() == StateSynced })
	scans := metricValue(t, p.metrics.scans)
	testutil.Eventually(t, 10*time.Second, "three full scans", func() bool { return metricValue(t, p.metrics.scans) >= scans+3 })
	if n := rec.count("not synced", "pipe"); n != 1 {
		t.Fatalf("the FIFO was logged %d times, want once:\n%s", n, rec)
	}
	if _, err := os.Lstat(filepath.Join(s.dir, "pipe")); err == nil {
		t.Fatal("the FIFO was synced")
	}
	if got := p.Status()[0].Details["skipped"]; got != 1 {
		t.Fatalf("details.skipped = %v, want 1", got)
	}
}
