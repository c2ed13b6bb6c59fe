package schedsync

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// The one reserved name inside the data directory: .redund at its top
// holds the node's own state and the atomic writer's temporary files
// (.redund/tmp). It is never synced; every other name is the user's.
const (
	stateDirName = ".redund"
	tempDir      = stateDirName + "/tmp"
	maxPathLen   = 4096
	maxNameLen   = 255
)

// errUnsafePath is returned for any path that could leave the directory.
var errUnsafePath = errors.New("unsafe path")

// checkRelPath accepts only clean, relative, slash-separated paths that stay
// inside the directory and do not name redund's own files.
func checkRelPath(p string) error {
	bad := func(why string) error { return fmt.Errorf("%w %q: %s", errUnsafePath, p, why) }
	switch {
	case p == "" || p == ".":
		return bad("empty")
	case len(p) > maxPathLen:
		return bad("too long")
	case strings.HasPrefix(p, "/"):
		return bad("absolute")
	case strings.ContainsRune(p, 0):
		return bad("NUL")
	case path.Clean(p) != p:
		return bad("not clean")
	}
	for _, part := range strings.Split(p, "/") {
		switch {
		case part == "..":
			return bad("climbs out with ..")
		case len(part) > maxNameLen:
			return bad("name too long")
		}
	}
	if inStateDir(p) {
		return bad("reserved state directory")
	}
	return nil
}

// inStateDir reports whether p is .redund or below it, in any case: on a
// case-insensitive file system (a casefolded ext4 directory, exFAT, SMB)
// .REDUND/state.json is this node's own state.json.
func inStateDir(p string) bool {
	top, _, _ := strings.Cut(p, "/")
	return strings.EqualFold(top, stateDirName)
}

// checkLinkTarget accepts a symlink at p only when its target, read as
// text, is relative and stays inside the directory. (Resolution through
// the tree is stricter: see linkVerdict.)
func checkLinkTarget(p, target string) error {
	if why := linkTextVerdict(p, target); why != "" {
		return fmt.Errorf("%w: symlink %q -> %q %s", errUnsafePath, p, target, why)
	}
	return nil
}

// linkTextVerdict says why target, read as text, is refused ("" if not).
func linkTextVerdict(p, target string) string {
	switch {
	case target == "":
		return "is empty"
	case strings.HasPrefix(target, "/"):
		return "is absolute"
	case strings.ContainsRune(target, 0) || len(target) > maxPathLen:
		return "is malformed"
	}
	j := path.Join(path.Dir(p), target)
	if j == ".." || strings.HasPrefix(j, "../") {
		return "points out of the directory"
	}
	if inStateDir(j) {
		return "points into redund's state"
	}
	return ""
}
