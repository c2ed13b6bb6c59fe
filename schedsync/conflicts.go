package schedsync

import (
	"cmp"
	"errors"
	"io/fs"
	"path"
	"slices"
	"strings"
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

// conflictLog remembers what was moved aside (the last 100, and a count)
// and keeps the conflicts directory within its bounds: at most keep
// entries (the <UTC time> directories, one per move) and maxBytes bytes of
// files in them, the oldest removed first; the newest entry is always kept.
type conflictLog struct {
	mu       sync.Mutex
	total    int
	last     []Conflict
	keep     int   // 0: DefaultConflictsKeep
	maxBytes int64 // 0: DefaultConflictsMaxBytes
	indexed  bool  // entries holds what is on disk
	entries  []conflictEntry
	bytes    int64 // of all entries
	rotated  int   // entries removed to stay within the bounds
}

// conflictEntry is one directory of conflictDir and the bytes it holds.
type conflictEntry struct {
	name  string
	bytes int64
}

// setLimits sets the bounds (conflicts_keep, conflicts_max_bytes).
func (c *conflictLog) setLimits(keep int, maxBytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.keep, c.maxBytes = keep, maxBytes
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

// rotatedCount is how many entries were removed to stay within the bounds.
func (c *conflictLog) rotatedCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rotated
}

// note records an entry that grew by n bytes (a new one, or the last one
// again when two moves share a time) and returns the oldest entries that
// must go to stay within the bounds, taking them off the index.
func (c *conflictLog) note(name string, n int64) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if k := len(c.entries); k > 0 && c.entries[k-1].name == name {
		c.entries[k-1].bytes += n
	} else {
		c.entries = append(c.entries, conflictEntry{name: name, bytes: n})
	}
	c.bytes += n
	return c.overLocked()
}

// overLocked takes the entries beyond the bounds off the index, oldest
// first, never the newest one, and returns their names (c.mu held).
func (c *conflictLog) overLocked() []string {
	keep, maxBytes := cmp.Or(c.keep, DefaultConflictsKeep), cmp.Or(c.maxBytes, DefaultConflictsMaxBytes)
	var gone []string
	for len(c.entries) > 1 && (len(c.entries) > keep || c.bytes > maxBytes) {
		e := c.entries[0]
		c.entries = c.entries[1:]
		c.bytes -= e.bytes
		c.rotated++
		gone = append(gone, e.name)
	}
	if len(gone) > 0 { // the status no longer lists what is gone
		c.last = slices.DeleteFunc(c.last, func(x Conflict) bool {
			entry, _, _ := strings.Cut(strings.TrimPrefix(x.Saved, conflictDir+"/"), "/")
			return slices.Contains(gone, entry)
		})
	}
	return gone
}

// moveAside renames rel into the conflicts directory and records it; the
// oldest entries are removed when the directory goes beyond its bounds.
func (w *writer) moveAside(rel, why string) error {
	// what earlier runs left is counted before this move adds to it; when
	// it cannot be read, the move goes on (saving comes first) uncounted
	indexed := w.indexConflicts() == nil
	now := time.Now().UTC()
	name := now.Format(conflictTimeFormat)
	dst := path.Join(conflictDir, name, rel)
	if err := w.root.MkdirAll(path.Dir(dst), 0o700); err != nil {
		return err
	}
	if err := w.bn.rename(rel, dst); err != nil { // rel's parents: no link followed
		return err
	}
	w.conflicts.add(Conflict{Path: rel, Saved: dst, Why: why, When: now})
	if indexed {
		w.removeConflicts(w.conflicts.note(name, w.treeBytes(dst)))
	}
	return nil
}

// conflictTimeFormat names the entries: sorted by name, oldest first.
const conflictTimeFormat = "20060102T150405.000000000Z"

// indexConflicts reads the conflicts directory once (what earlier runs
// left) and removes what is beyond the bounds.
func (w *writer) indexConflicts() error {
	w.conflicts.mu.Lock()
	done := w.conflicts.indexed
	w.conflicts.mu.Unlock()
	if done {
		return nil
	}
	ents, err := fs.ReadDir(w.root.FS(), conflictDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	var found []conflictEntry
	for _, e := range ents { // ReadDir sorts by name: oldest first
		if _, err := time.Parse(conflictTimeFormat, e.Name()); err == nil && e.IsDir() {
			found = append(found, conflictEntry{name: e.Name(), bytes: w.treeBytes(path.Join(conflictDir, e.Name()))})
		}
	}
	c := &w.conflicts
	c.mu.Lock()
	if c.indexed { // indexed meanwhile
		c.mu.Unlock()
		return nil
	}
	c.indexed = true
	c.entries = append(found, c.entries...)
	for _, e := range found {
		c.bytes += e.bytes
	}
	gone := c.overLocked()
	c.mu.Unlock()
	w.removeConflicts(gone)
	return nil
}

// removeConflicts removes entries of the conflicts directory.
func (w *writer) removeConflicts(names []string) {
	for _, name := range names {
		_ = w.root.RemoveAll(path.Join(conflictDir, name))
	}
}

// treeBytes is the size of the regular files at or under rel.
func (w *writer) treeBytes(rel string) int64 {
	var n int64
	_ = fs.WalkDir(w.root.FS(), rel, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
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
