package schedsync

import (
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

// cleanTemps removes temporary files left by a crash.
func (w *writer) cleanTemps() (int, error) {
	n := 0
	err := fs.WalkDir(w.root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if p == conflictDir {
			return fs.SkipDir // kept for the operator, whatever the names
		}
		if len(d.Name()) > len(tempPrefix) && d.Name()[:len(tempPrefix)] == tempPrefix {
			if err := w.root.RemoveAll(p); err == nil {
				n++
			}
			if d.IsDir() {
				return fs.SkipDir
			}
		}
		return nil
	})
	return n, err
}
