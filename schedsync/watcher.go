package schedsync

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/prometheus/client_golang/prometheus"
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

	overflows prometheus.Counter // kernel queue overflows (each one rescans the tree); nil: not counted
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
//
// The loop never waits for its consumer while events arrive: a batch the
// consumer has not taken yet keeps absorbing newer paths (or becomes a full
// scan), so a consumer busy for seconds (the secondary's initial copy holds
// the applier) cannot stall the reading of events, which would let the
// kernel's queue overflow.
func (w *watcher) run(ctx context.Context, out chan<- []string) {
	defer w.fsw.Close()
	tick := time.NewTicker(w.interval)
	defer tick.Stop()
	pending := map[string]bool{} // paths still settling (debounce)
	var first time.Time
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var ready readyBatch // settled, waiting for the consumer
	for {
		var outCh chan<- []string
		if ready.has {
			outCh = out
		}
		select {
		case <-ctx.Done():
			return
		case outCh <- ready.batch:
			ready = readyBatch{}
		case <-tick.C:
			ready.full()
		case err, ok := <-w.fsw.Errors:
			if !ok {
				return
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				w.overflowed()
				w.log.Warn("file watcher queue overflowed; rescanning", "err", err)
			} else {
				w.log.Warn("file watcher error; rescanning", "err", err)
			}
			ready.full()
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
			ready.add(pending)
			clear(pending)
			first = time.Time{}
		}
	}
}

// overflowed counts a kernel queue overflow (then the tree is rescanned).
func (w *watcher) overflowed() {
	if w.overflows != nil {
		w.overflows.Inc()
	}
}

// readyBatch is what the watcher has for its consumer: paths, or a full
// scan (a nil batch, which covers any paths).
type readyBatch struct {
	has, all bool
	paths    map[string]bool
	batch    []string // the paths as sent
}

func (r *readyBatch) add(p map[string]bool) {
	if len(p) == 0 {
		return
	}
	r.has = true
	if r.all {
		return
	}
	if r.paths == nil {
		r.paths = map[string]bool{}
	}
	for k := range p {
		if !r.paths[k] {
			r.paths[k] = true
			r.batch = append(r.batch, k)
		}
	}
}

func (r *readyBatch) full() { *r = readyBatch{has: true, all: true} }

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
