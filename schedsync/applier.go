package schedsync

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"sync"
)

// syncfsThreshold: batches with at least this many files are made durable
// with two syncfs(2) calls instead of one fsync per file and directory.
const syncfsThreshold = 16

// applier is the secondary's half: it turns the primary's entries into
// files on disk and remembers what it wrote (the expected tree), which is
// how local edits are told apart from synced content.
type applier struct {
	n *Node
	w *writer

	mu   sync.Mutex // one apply or local check at a time
	sigs sigCache   // signatures of large files written, for the next delta

	emu      sync.Mutex
	expected Tree
	logID    string
	seq      uint64
	dirty    bool
}

func newApplier(n *Node) *applier {
	return &applier{n: n, w: n.w, expected: Tree{}}
}

func (a *applier) restore(b Batch) {
	a.emu.Lock()
	defer a.emu.Unlock()
	a.logID, a.seq = b.LogID, b.Seq
	for _, e := range b.Entries {
		a.expected[e.Path] = e
	}
}

// takeDirty returns the expected tree when it changed since the last call.
func (a *applier) takeDirty() (Batch, bool) {
	a.emu.Lock()
	defer a.emu.Unlock()
	if !a.dirty {
		return Batch{}, false
	}
	a.dirty = false
	return Batch{LogID: a.logID, Seq: a.seq, Entries: a.expected.sorted()}, true
}

func (a *applier) markDirty() { a.emu.Lock(); a.dirty = true; a.emu.Unlock() }

func (a *applier) position() (string, uint64) {
	a.emu.Lock()
	defer a.emu.Unlock()
	return a.logID, a.seq
}

func (a *applier) setPosition(id string, seq uint64) {
	a.emu.Lock()
	defer a.emu.Unlock()
	if a.logID != id || a.seq != seq {
		a.logID, a.seq, a.dirty = id, seq, true
	}
}

// forget drops the expected tree: every local file that differs from the
// primary is then moved aside before it is replaced (used on demotion).
func (a *applier) forget() {
	a.emu.Lock()
	defer a.emu.Unlock()
	a.expected, a.logID, a.seq, a.dirty = Tree{}, "", 0, true
}

func (a *applier) size() int {
	a.emu.Lock()
	defer a.emu.Unlock()
	return len(a.expected)
}

func (a *applier) expectedCopy() Tree {
	a.emu.Lock()
	defer a.emu.Unlock()
	t := make(Tree, len(a.expected))
	for k, v := range a.expected {
		t[k] = v
	}
	return t
}

func (a *applier) record(done []Entry) {
	a.emu.Lock()
	defer a.emu.Unlock()
	for _, e := range done {
		if e.Deleted {
			delete(a.expected, e.Path)
		} else {
			a.expected[e.Path] = e
		}
	}
	a.dirty = true
}

// plan is one batch sorted into the order it is applied in.
type plan struct {
	dirs, files, links, meta, deletes []Entry
	actual, expected                  Tree
	edited                            map[string]bool // local content that must be moved aside, not lost
	named                             map[string]int  // how often each path is in files (inplace.go)
}

// newPlan compares targets with what is on disk (actual) and expected.
func newPlan(targets []Entry, actual, expected Tree) *plan {
	p := &plan{actual: actual, expected: expected, edited: map[string]bool{}}
	for _, t := range targets {
		loc, has := actual[t.Path]
		if has {
			exp, ok := expected[t.Path]
			p.edited[t.Path] = !ok || !sameForEdits(exp, loc)
		}
		switch {
		case t.Deleted:
			if has {
				p.deletes = append(p.deletes, t)
			} else {
				p.meta = append(p.meta, t) // already gone: just forget it
			}
		case t.Kind == KindDir:
			p.dirs = append(p.dirs, t)
		case t.Kind == KindLink:
			if has && loc.Kind == KindLink && loc.Target == t.Target {
				p.meta = append(p.meta, t)
			} else {
				p.links = append(p.links, t)
			}
		case has && loc.Kind == KindFile && loc.sameContent(t):
			p.meta = append(p.meta, t)
		default:
			p.files = append(p.files, t)
		}
	}
	sort.Slice(p.dirs, func(i, j int) bool { return p.dirs[i].Path < p.dirs[j].Path })
	sort.Slice(p.deletes, func(i, j int) bool { return p.deletes[i].Path > p.deletes[j].Path })
	return p
}

// sameForEdits compares what a local edit would change (a directory's
// mtime moves whenever a synced file is written into it, so it is not).
func sameForEdits(exp, act Entry) bool {
	if exp.Kind == KindDir && act.Kind == KindDir {
		return exp.Mode == act.Mode
	}
	if exp.Kind == KindLink && act.Kind == KindLink {
		return exp.Target == act.Target // touching a link (touch -h) is no edit
	}
	return exp.Kind == act.Kind && exp.Size == act.Size && exp.Hash == act.Hash &&
		exp.Target == act.Target && exp.Mode == act.Mode && exp.MTime == act.MTime
}

// apply brings the directory to targets. It returns the paths it could
// not install and why (the caller retries them), and an error when the
// batch as a whole failed (nothing of it counts as applied).
func (a *applier) apply(ctx context.Context, targets []Entry, actual Tree) (map[string]failure, error) {
	p := newPlan(targets, actual, a.expectedCopy())
	if len(p.files) > 0 {
		a.n.prog.Store(newProgress(p.files))
		defer a.n.prog.Store(nil)
	}
	probs := map[string]failure{}
	var done []Entry
	fail := func(e Entry, err error) { probs[e.Path] = failure{why: err.Error(), local: true} }
	ready := map[string]bool{".": true} // directories a file of the batch needs no walk to check
	for _, d := range p.dirs {
		if err := a.prepareDir(p, d); err != nil {
			fail(d, err)
			continue
		}
		ready[d.Path] = true
	}
	durable := len(p.files) < syncfsThreshold
	got, err := a.fetchAll(ctx, p, durable, ready)
	if err != nil {
		return probs, err
	}
	defer got.cleanup() // whatever was not installed
	for path, f := range got.failed {
		probs[path] = f
	}
	if len(got.mismatched) > 0 {
		a.n.askRehash(ctx, got.mismatched)
	}
	if !durable && len(got.temps) > 0 {
		if err := a.w.syncAll(); err != nil {
			return probs, fmt.Errorf("schedsync: syncfs: %w", err)
		}
	}
	done = append(done, a.deleteAll(p, fail)...)
	done = append(done, a.installAll(p, got, durable, fail)...)
	done = append(done, got.inPlace...)
	done = append(done, a.finishRest(p, durable, fail)...)
	err = a.syncRest(p, durable)
	a.record(done)
	a.n.metrics.applied.Add(float64(len(done)))
	if err != nil {
		return probs, fmt.Errorf("schedsync: making the batch durable: %w", err)
	}
	return probs, nil
}

// prepareDir creates directory d, replacing a file or symlink in the way
// (moved aside when it was edited locally).
func (a *applier) prepareDir(p *plan, d Entry) error {
	if loc, ok := p.actual[d.Path]; ok && loc.Kind != KindDir {
		if err := a.clear(p, d.Path, "replaced by a directory from the primary"); err != nil {
			return err
		}
	}
	return a.w.mkdir(d)
}

// clear removes path, or moves it aside when it holds local edits.
func (a *applier) clear(p *plan, path, why string) error {
	if p.edited[path] {
		a.n.metrics.conflicts.Inc()
		a.n.log.Warn("moving a locally changed path aside", "path", path, "why", why)
		return a.w.moveAside(path, why)
	}
	return a.w.remove(path)
}

func (a *applier) deleteAll(p *plan, fail func(Entry, error)) []Entry {
	var done []Entry
	for _, d := range p.deletes {
		if err := a.clear(p, d.Path, "deleted on the primary"); err != nil {
			fail(d, err)
			continue
		}
		done = append(done, d)
	}
	return done
}

// installAll renames the fetched files into place; a temporary file it
// does not install stays owned by got, whose cleanup removes it.
func (a *applier) installAll(p *plan, got *fetchState, durable bool, fail func(Entry, error)) []Entry {
	var done []Entry
	dh := a.w.handles()
	defer dh.close()
	for _, f := range p.files {
		t, ok := got.temps[f.Path]
		if !ok {
			continue
		}
		delete(got.temps, f.Path) // a duplicate path is installed once
		loc, had := p.actual[f.Path]
		if !p.edited[f.Path] && a.w.changedSince(dh, f.Path, loc, had) {
			// edited here while its new version was on the way: saved as
			// one edited before the plan is (the rename would lose it)
			p.edited[f.Path], p.actual[f.Path] = true, Entry{Path: f.Path, Kind: KindFile}
		}
		if p.edited[f.Path] {
			if loc, ok := p.actual[f.Path]; ok && loc.Kind != KindDir {
				a.n.metrics.conflicts.Inc()
				if err := a.w.moveAside(f.Path, "changed locally, replaced by the primary's version"); err != nil {
					// the local edit could not be saved: it is not
					// overwritten (the temp is removed by cleanup)
					fail(f, fmt.Errorf("the local edit could not be saved aside, so it is kept: %w", err))
					continue
				}
			}
		}
		if err := a.w.installVia(dh, t.rel, f.Path, durable); err != nil {
			fail(f, err)
			continue
		}
		got.installed(t)
		done = append(done, f)
	}
	return done
}

// finishRest creates symlinks, fixes metadata and applies directory modes
// and times (deepest first, after their contents were written). In a
// durable (small) batch a mode or mtime change is synced before it counts
// as applied, like a file's content: else a power loss could revert it
// while the node said Synced. A big batch's syncfs covers it.
func (a *applier) finishRest(p *plan, durable bool, fail func(Entry, error)) []Entry {
	var done []Entry
	for _, l := range p.links {
		if loc, ok := p.actual[l.Path]; ok && loc.Kind != KindDir && p.edited[l.Path] {
			if err := a.clear(p, l.Path, "replaced by a symlink from the primary"); err != nil {
				fail(l, fmt.Errorf("the local edit could not be saved aside, so it is kept: %w", err))
				continue
			}
		}
		if err := a.w.symlink(l); err != nil {
			fail(l, err)
			continue
		}
		done = append(done, l)
	}
	for _, m := range p.meta {
		var err error
		changed := false
		switch {
		case !m.Deleted && m.Kind == KindFile:
			err = a.w.setMeta(m)
			loc := p.actual[m.Path]
			changed = posixBits(loc.Mode) != posixBits(m.Mode) || loc.MTime != m.MTime
		case !m.Deleted && m.Kind == KindLink && p.actual[m.Path].MTime != m.MTime:
			err = a.w.setLinkTime(m.Path, m.MTime)
			changed = true
		}
		if err == nil && changed && durable {
			if err = a.w.syncMeta(m.Path, m.Kind); err != nil {
				err = fmt.Errorf("making its mode and mtime durable: %w", err)
			}
		}
		if err != nil {
			fail(m, err)
			continue
		}
		done = append(done, m)
	}
	for i := len(p.dirs) - 1; i >= 0; i-- {
		if err := a.w.setDirTime(p.dirs[i]); err != nil {
			fail(p.dirs[i], err)
			continue
		}
		done = append(done, p.dirs[i])
	}
	return done
}

// syncRest makes deletions, new directories and symlinks durable: one
// syncfs for big batches, else an fsync of each directory they touched
// (files were synced one by one as they were installed).
func (a *applier) syncRest(p *plan, durable bool) error {
	if !durable {
		return a.w.syncAll()
	}
	dirs := map[string]bool{}
	for _, list := range [][]Entry{p.deletes, p.dirs, p.links} {
		for _, e := range list {
			dirs[path.Dir(e.Path)] = true
		}
	}
	for d := range dirs {
		if err := a.w.syncDir(d); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}
