package schedsync

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// A consumer busy for a long time (the secondary's initial copy holds the
// applier) must not stall the reading of events: more files appear
// meanwhile than the kernel's queue (16384 by default) and fsnotify's
// buffer hold together, and the watcher must still hand over every path,
// with no overflow and no full rescan.
func TestWatcherBusyConsumerNoOverflow(t *testing.T) {
	const files = 24000
	root := t.TempDir()
	for d := range 24 {
		must(t, os.Mkdir(filepath.Join(root, fmt.Sprintf("d%02d", d)), 0o755))
	}
	w, err := newWatcher(root, newMatcher(nil), time.Hour, slog.New(slog.DiscardHandler))
	must(t, err)
	w.overflows = prometheus.NewCounter(prometheus.CounterOpts{Name: "overflows"})
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan []string) // nobody reads until every file exists
	done := make(chan struct{})
	go func() { w.run(ctx, out); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	for i := range files {
		f, err := os.Create(filepath.Join(root, fmt.Sprintf("d%02d/f%05d", i%24, i)))
		must(t, err)
		must(t, f.Close())
	}
	writeFile(t, root, "last", "x", 0o644)
	seen := map[string]bool{}
	deadline := time.After(60 * time.Second)
	for !seen["last"] {
		select {
		case b := <-out:
			if b == nil {
				t.Fatalf("the watcher asked for a full rescan (its queue overflowed); %d paths seen before", len(seen))
			}
			for _, p := range b {
				seen[p] = true
			}
		case <-deadline:
			t.Fatalf("no event for the last file; saw %d paths", len(seen))
		}
	}
	for i := range files {
		if p := fmt.Sprintf("d%02d/f%05d", i%24, i); !seen[p] {
			t.Fatalf("%s was never reported (%d paths seen)", p, len(seen))
		}
	}
	var m dto.Metric
	must(t, w.overflows.Write(&m))
	if n := m.GetCounter().GetValue(); n != 0 {
		t.Fatalf("overflows counted: %v", n)
	}
}
