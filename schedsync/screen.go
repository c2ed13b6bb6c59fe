package schedsync

import (
	"fmt"
	"sort"
)

// setidBits are the POSIX setuid and setgid bits of a manifest mode.
const setidBits = 0o6000

// screen is the secondary's own judgement of the entries the primary
// sends; it never relies on the primary's. Unless preserve_setid is set,
// setuid and setgid bits are dropped (noted once per path, counted).
// Symlinks are judged by where they lead (screenLinks). full says targets
// is the whole tree (a full comparison), not changes to the expected tree.
func (n *Node) screen(targets []Entry, full bool) []Entry {
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
	if full {
		n.mu.Lock()
		clear(n.refused)
		n.mu.Unlock()
	}
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
		n.log.Warn("refused a symlink from the primary", "path", p, "why", why)
	}
}

// touchesLinks reports whether targets add, change or remove a symlink
// of the expected tree.
func (a *applier) touchesLinks(targets []Entry) bool {
	a.emu.Lock()
	defer a.emu.Unlock()
	return touchesLinks(a.expected, targets)
}
