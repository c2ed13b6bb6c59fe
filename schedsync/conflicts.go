package schedsync

import (
	"errors"
	"io/fs"
	"path"
	"sync"
	"time"
)

// conflictDir is where files that would otherwise be overwritten or deleted
// are moved: .redund/conflicts/<UTC time>/<original path>.
const conflictDir = stateDirName + "/conflicts"

// Conflict is one file or directory moved aside instead of being lost.
type Conflict struct {
	Path  string    `json:"path"`  // original path
	Saved string    `json:"saved"` // where it is now, relative to the directory
	Why   string    `json:"why"`
	When  time.Time `json:"when"`
}

// conflictLog remembers what was moved aside (the last 100, and a count).
type conflictLog struct {
	mu    sync.Mutex
	total int
	last  []Conflict
}

func (c *conflictLog) add(x Conflict) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total++
	c.last = append(c.last, x)
	if len(c.last) > 100 {
		c.last = c.last[1:]
	}
}

func (c *conflictLog) snapshot() (int, []Conflict) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total, append([]Conflict(nil), c.last...)
}

// moveAside renames rel into the conflicts directory and records it.
func (w *writer) moveAside(rel, why string) error {
	now := time.Now().UTC()
	dst := path.Join(conflictDir, now.Format("20060102T150405.000000000Z"), rel)
	if err := w.root.MkdirAll(path.Dir(dst), 0o700); err != nil {
		return err
	}
	if err := w.root.Rename(rel, dst); err != nil {
		return err
	}
	w.conflicts.add(Conflict{Path: rel, Saved: dst, Why: why, When: now})
	return nil
}

// cleanTemps removes the temporary files a crash left in .redund/tmp,
// the only place they are ever written: nothing else is touched.
func (w *writer) cleanTemps() (int, error) {
	ents, err := fs.ReadDir(w.root.FS(), tempDir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range ents {
		if err := w.root.RemoveAll(path.Join(tempDir, e.Name())); err == nil {
			n++
		}
	}
	return n, nil
}
