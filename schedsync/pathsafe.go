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
	case strings.ContainsAny(p, "\x00\\"):
		return bad("NUL or backslash")
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
	if p == stateDirName || strings.HasPrefix(p, stateDirName+"/") {
		return bad("reserved state directory")
	}
	return nil
}

// checkLinkTarget accepts a symlink at p only when its target is relative
// and resolves inside the directory.
func checkLinkTarget(p, target string) error {
	bad := func(why string) error {
		return fmt.Errorf("%w: symlink %q -> %q %s", errUnsafePath, p, target, why)
	}
	switch {
	case target == "":
		return bad("is empty")
	case strings.HasPrefix(target, "/"):
		return bad("is absolute")
	case strings.ContainsRune(target, 0) || len(target) > maxPathLen:
		return bad("is malformed")
	}
	j := path.Join(path.Dir(p), target)
	if j == ".." || strings.HasPrefix(j, "../") {
		return bad("points out of the directory")
	}
	if j == stateDirName || strings.HasPrefix(j, stateDirName+"/") {
		return bad("points into redund's state")
	}
	return nil
}
