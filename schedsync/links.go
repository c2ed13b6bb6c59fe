package schedsync

import (
	"fmt"
	"path"
	"strings"
)

// maxLinkHops bounds the symlinks followed to resolve one link (the
// kernel's limit is 40 too); more is treated as a loop.
const maxLinkHops = 40

// linkVerdict says why the symlink at a path must not be synced ("" when
// it may): it is resolved component by component through the tree, the way
// the kernel resolves it on disk, following the links the tree holds. A
// link whose text stays inside ("l1 -> l0/..") can still lead out once l0
// is itself a link; only the resolution tells.
func linkVerdict(t Tree, p string) string {
	e := t[p]
	if why := linkTextVerdict(p, e.Target); why != "" {
		return why // by its text alone, as the secondary's decoder judges it
	}
	cur := splitPath(path.Dir(p))
	queue := splitPath(e.Target)
	hops := 0
	for len(queue) > 0 {
		c := queue[0]
		queue = queue[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(cur) == 0 {
				return "leads out of the directory"
			}
			cur = cur[:len(cur)-1]
			continue
		}
		next := append(cur[:len(cur):len(cur)], c)
		np := strings.Join(next, "/")
		if inStateDir(np) {
			return "leads into redund's state"
		}
		l, ok := t[np]
		if !ok || l.Kind != KindLink || l.Deleted {
			cur = next // a directory, a file or nothing: plain text from here
			continue
		}
		if hops++; hops > maxLinkHops {
			return fmt.Sprintf("loops (more than %d links followed)", maxLinkHops)
		}
		if strings.HasPrefix(l.Target, "/") {
			return "leads to an absolute link (" + np + ")"
		}
		queue = append(splitPath(l.Target), queue...) // relative to the link's directory: cur
	}
	return ""
}

func splitPath(p string) []string {
	if p == "." || p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// unsafeLinks returns every link of t that must not be synced, with why.
func unsafeLinks(t Tree) map[string]string {
	out := map[string]string{}
	for p, e := range t {
		if e.Kind == KindLink && !e.Deleted {
			if why := linkVerdict(t, p); why != "" {
				out[p] = fmt.Sprintf("symlink %s -> %s %s", p, e.Target, why)
			}
		}
	}
	return out
}

// touchesLinks reports whether changes add, change or remove a symlink
// of old (only then can the verdict on any link change).
func touchesLinks(old Tree, changes []Entry) bool {
	for _, c := range changes {
		if c.Kind == KindLink {
			return true
		}
		if o, ok := old[c.Path]; ok && o.Kind == KindLink {
			return true
		}
	}
	return false
}
