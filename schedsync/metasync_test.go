package schedsync

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A mode- or mtime-only change applied in a small (per-file durable) batch
// is synced before it counts as applied: the file itself, or a symlink's
// directory. A crash cannot be simulated here, so the sync call is pinned.
func TestMetaOnlyChangeIsSynced(t *testing.T) {
	later := time.Date(2021, 5, 6, 7, 8, 9, 0, time.UTC).UnixNano()
	cases := []struct {
		name   string
		path   string
		change func(e Entry) Entry
		synced string // "" when nothing changes, so nothing is synced
	}{
		{"chmod", "d/f", func(e Entry) Entry { e.Mode = 0o600; return e }, "d/f"},
		{"chtimes", "d/f", func(e Entry) Entry { e.MTime = later; return e }, "d/f"},
		{"link times", "d/l", func(e Entry) Entry { e.MTime = later; return e }, "d"},
		{"unchanged", "d/f", func(e Entry) Entry { return e }, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "d/f", "content", 0o644)
			must(t, os.Symlink("f", filepath.Join(dir, "d/l")))
			w, err := openWriter(dir)
			must(t, err)
			t.Cleanup(func() { _ = w.close() })
			var synced []string
			w.testSynced = func(name string) { synced = append(synced, name) }
			n := &Node{log: slog.New(slog.NewTextHandler(io.Discard, nil)), w: w, metrics: newMetrics()}
			cfg := &Config{Workers: DefaultWorkers}
			n.live.Store(cfg)
			a := newApplier(n)

			var st unix.Stat_t
			must(t, unix.Lstat(filepath.Join(dir, c.path), &st))
			loc := Entry{Path: c.path, Kind: KindFile, Size: st.Size, Mode: st.Mode & 0o7777, MTime: st.Mtim.Nano()}
			if c.path == "d/l" {
				loc.Kind, loc.Target = KindLink, "f"
			}
			target := c.change(loc)
			probs, err := a.apply(context.Background(), []Entry{target}, Tree{c.path: loc})
			must(t, err)
			if len(probs) != 0 {
				t.Fatalf("problems: %v", probs)
			}
			if a.size() != 1 {
				t.Fatalf("the change was not recorded as applied")
			}
			must(t, unix.Lstat(filepath.Join(dir, c.path), &st))
			if st.Mode&0o7777 != target.Mode && target.Kind == KindFile || st.Mtim.Nano() != target.MTime {
				t.Fatalf("on disk mode %o mtime %d, want %o %d", st.Mode&0o7777, st.Mtim.Nano(), target.Mode, target.MTime)
			}
			switch {
			case c.synced == "" && len(synced) != 0:
				t.Errorf("synced %v for a batch that changed nothing", synced)
			case c.synced != "" && (len(synced) != 1 || synced[0] != c.synced):
				t.Errorf("synced %v, want [%s] (the change could revert after a power loss)", synced, c.synced)
			}
		})
	}
}
