package schedsync

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
)

// setidBits are the POSIX setuid and setgid bits of a manifest mode.
const setidBits = 0o6000

// screen is the secondary's own judgement of the entries the primary
// sends; it never relies on the primary's. Unless preserve_setid is set,
// setuid and setgid bits are dropped (noted once per path, counted).
// Symlinks are judged by where they lead (screenLinks). full says targets
// is the whole tree (a full comparison), not changes to the expected tree;
// actual is then what the directory holds (nil otherwise). Entries below
// a symlink are refused first (screenParents).
func (n *Node) screen(targets []Entry, actual Tree) []Entry {
	full := actual != nil
	if full { // the whole tree is judged again: earlier refusals are void
		n.mu.Lock()
		clear(n.refused)
		n.mu.Unlock()
	}
	targets = n.screenParents(targets, actual)
	for i, e := range targets {
		if e.Deleted || e.Mode&setidBits == 0 || n.set().PreserveSetid {
			n.setid.forget(e.Path)
			continue
		}
		targets[i].Mode &^= setidBits
		if n.setid.note(e.Path, "dropped") {
			n.metrics.setidDropped.Inc()
			n.log.Warn("setuid/setgid bit not replicated (preserve_setid = false)",
				"path", e.Path, "mode", fmt.Sprintf("%04o", e.Mode), "applied", fmt.Sprintf("%04o", targets[i].Mode))
		}
	}
	return n.screenLinks(targets, full)
}

// screenParents refuses the entries that would be written, changed or
// deleted through a symlink: an entry below a path that is a link on disk
// now (in the expected tree or on disk; the actual tree in a full
// comparison) and that
// the batch does not make a directory (directories are made first), or
// below a path the batch makes a link. A primary never sends such entries
// (its scan does not descend into links), yet one that did (lying, or
// buggy) made the secondary write through the link with the os.Root's
// blessing, the link leading inside: x -> . and x/.redund/state.json
// rewrote this node's own saved role. An entry to write or change is
// refused (not applied, Not synced naming it until the primary sends
// something else for it); a deletion is dropped (nothing of this node's
// tree is below a link: there is nothing to delete).
func (n *Node) screenParents(targets []Entry, actual Tree) []Entry {
	batch := map[string]Entry{} // the batch's directories and links, deleted or not
	for _, t := range targets {
		if t.Kind == KindDir || t.Kind == KindLink {
			batch[t.Path] = t
		}
	}
	expLink := map[string]bool{} // incremental batches: each ancestor, a link in the expected tree?
	if actual == nil {
		a := n.app
		a.emu.Lock()
		for _, t := range targets {
			for d := path.Dir(t.Path); d != "."; d = path.Dir(d) {
				if _, seen := expLink[d]; !seen {
					expLink[d] = a.expected[d].Kind == KindLink
				}
			}
		}
		a.emu.Unlock()
	}
	onDisk := map[string]bool{} // incremental batches: ancestors found to be links on disk
	linkNow := func(p string) bool {
		if actual != nil {
			return actual[p].Kind == KindLink // the scan does not descend into links
		}
		if expLink[p] {
			return true
		}
		// a link made here since (an operator, or whoever else may write
		// in the directory): what the stat of a target sees through it
		// is not what the path names
		l, ok := onDisk[p]
		if !ok {
			fi, err := n.w.root.Lstat(p)
			l = err == nil && fi.Mode()&fs.ModeSymlink != 0
			onDisk[p] = l
		}
		return l
	}
	// why returns, for an entry at p, the ancestor that makes it unsafe
	why := func(p string, deleted bool) string {
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			b, inBatch := batch[d]
			madeDir := inBatch && !b.Deleted && b.Kind == KindDir
			if linkNow(d) && !madeDir {
				return d + " is a symlink here"
			}
			if !deleted && inBatch && !b.Deleted && b.Kind == KindLink {
				return d + " is a symlink in the primary's tree"
			}
		}
		return ""
	}
	out := targets[:0]
	var refused []Entry
	var whys []string
	for _, t := range targets {
		w := why(t.Path, t.Deleted)
		switch {
		case w == "":
			out = append(out, t)
		case !t.Deleted:
			refused, whys = append(refused, t), append(whys, w)
		}
	}
	for i, t := range refused {
		n.refuse(t.Path, fmt.Sprintf("%s below a symlink (%s): not written through it", t.Path, whys[i]))
	}
	return out
}

// screenLinks refuses the symlinks that, resolved through the tree this
// node will hold after the batch, lead out of the directory or loop: they
// are not created, and one already on disk that the batch makes unsafe is
// removed. Each refusal is logged once and keeps the node Not synced until
// the primary sends something else for that path.
func (n *Node) screenLinks(targets []Entry, full bool) []Entry {
	a := n.app
	var future Tree
	if full {
		future = Tree{}
	} else {
		if !a.touchesLinks(targets) {
			n.clearRefused(targets)
			return targets
		}
		future = a.expectedCopy()
	}
	inBatch := make(map[string]bool, len(targets))
	for _, t := range targets {
		inBatch[t.Path] = true
		if t.Deleted {
			delete(future, t.Path)
		} else {
			future[t.Path] = t
		}
	}
	unsafe := unsafeLinks(future)
	n.clearRefused(targets)
	for i, t := range targets {
		if why, bad := unsafe[t.Path]; bad && !t.Deleted {
			targets[i] = Entry{Path: t.Path, Kind: KindLink, Deleted: true}
			n.refuse(t.Path, why)
		}
	}
	extra := make([]string, 0, len(unsafe))
	for p := range unsafe {
		if !inBatch[p] { // on disk already, unsafe now that another link changed
			extra = append(extra, p)
		}
	}
	sort.Strings(extra)
	for _, p := range extra {
		targets = append(targets, Entry{Path: p, Kind: KindLink, Deleted: true})
		n.refuse(p, unsafe[p])
	}
	return targets
}

// clearRefused forgets earlier refusals of the paths the batch brings.
func (n *Node) clearRefused(targets []Entry) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.refused) == 0 {
		return
	}
	for _, t := range targets {
		delete(n.refused, t.Path)
	}
}

func (n *Node) refuse(p, why string) {
	n.mu.Lock()
	_, had := n.refused[p]
	n.refused[p] = why
	n.mu.Unlock()
	if !had {
		n.log.Warn("refused an entry from the primary", "path", p, "why", why)
	}
}

// touchesLinks reports whether targets add, change or remove a symlink
// of the expected tree.
func (a *applier) touchesLinks(targets []Entry) bool {
	a.emu.Lock()
	defer a.emu.Unlock()
	return touchesLinks(a.expected, targets)
}
