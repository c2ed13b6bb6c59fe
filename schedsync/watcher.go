package schedsync

import (
	"context"
	"io/fs"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Debounce of file-system events: a batch is processed once no event came
// for quietFor, or at the latest maxDelay after its first event.
const (
	quietFor = 15 * time.Millisecond
	maxDelay = 150 * time.Millisecond
)

// watcher turns fsnotify events and periodic full scans into batches of
// dirty paths (nil means "rescan everything").
type watcher struct {
	root     string
	match    *matcher
	interval time.Duration
	log      *slog.Logger
	fsw      *fsnotify.Watcher
}

func newWatcher(root string, m *matcher, interval time.Duration, log *slog.Logger) (*watcher, error) {
	fsw, err := fsnotify.NewBufferedWatcher(4096)
	if err != nil {
		return nil, err
	}
	w := &watcher{root: root, match: m, interval: interval, log: log, fsw: fsw}
	w.addTree(root)
	return w, nil
}

// addTree watches dir and every directory below it that is not excluded.
func (w *watcher) addTree(dir string) {
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if rel := w.rel(p); rel != "." && w.match.excluded(rel, true) {
			return filepath.SkipDir
		}
		if err := w.fsw.Add(p); err != nil {
			w.log.Warn("cannot watch directory; the periodic scan covers it", "dir", p, "err", err)
		}
		return nil
	})
}

func (w *watcher) rel(p string) string {
	r, err := filepath.Rel(w.root, p)
	if err != nil {
		return "."
	}
	return filepath.ToSlash(r)
}

// run sends batches of dirty paths until ctx ends. A nil batch asks for a
// full scan (periodic, or after the kernel queue overflowed).
func (w *watcher) run(ctx context.Context, out chan<- []string) {
	defer w.fsw.Close()
	tick := time.NewTicker(w.interval)
	defer tick.Stop()
	pending := map[string]bool{}
	var first time.Time
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			send(ctx, out, nil)
		case err, ok := <-w.fsw.Errors:
			if !ok {
				return
			}
			w.log.Warn("file watcher error; rescanning", "err", err)
			send(ctx, out, nil)
		case ev, ok := <-w.fsw.Events:
			if !ok {
				return
			}
			w.note(ev, pending)
			if first.IsZero() {
				first = time.Now()
			}
			timer.Reset(min(quietFor, time.Until(first.Add(maxDelay))))
		case <-timer.C:
			batch := make([]string, 0, len(pending))
			for p := range pending {
				batch = append(batch, p)
			}
			clear(pending)
			first = time.Time{}
			send(ctx, out, batch)
		}
	}
}

func (w *watcher) note(ev fsnotify.Event, pending map[string]bool) {
	rel := w.rel(ev.Name)
	if rel == "." || rel == ".." || len(rel) > 2 && rel[:3] == "../" {
		return
	}
	pending[rel] = true
	if ev.Has(fsnotify.Create) {
		w.addTree(ev.Name) // a new directory: watch it and everything already in it
	}
}

func send(ctx context.Context, out chan<- []string, batch []string) {
	select {
	case out <- batch:
	case <-ctx.Done():
	}
}
