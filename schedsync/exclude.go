package schedsync

import (
	"fmt"
	"path"
	"strings"
)

// matcher decides which paths are not synced. Patterns without a slash
// match a name at any depth ("*.tmp"); a trailing slash restricts them to
// directories ("cache/"); a slash elsewhere anchors them at the root
// ("logs/*.log"). An excluded directory excludes everything below it.
type matcher struct {
	names   []string // match the base name
	dirs    []string // match the base name of directories
	anchors []string // match the whole relative path
}

func checkPattern(p string) error {
	if p == "" || p == "/" {
		return fmt.Errorf("empty pattern")
	}
	if _, err := path.Match(strings.TrimSuffix(p, "/"), ""); err != nil {
		return fmt.Errorf("pattern %q: %v", p, err)
	}
	return nil
}

func newMatcher(patterns []string) *matcher {
	m := &matcher{}
	for _, p := range patterns {
		p = strings.TrimPrefix(p, "/")
		switch {
		case strings.HasSuffix(p, "/") && !strings.Contains(strings.TrimSuffix(p, "/"), "/"):
			m.dirs = append(m.dirs, strings.TrimSuffix(p, "/"))
		case strings.Contains(strings.TrimSuffix(p, "/"), "/"):
			m.anchors = append(m.anchors, strings.TrimSuffix(p, "/"))
		default:
			m.names = append(m.names, p)
		}
	}
	return m
}

// excluded reports whether rel (a clean relative path) is not synced.
func (m *matcher) excluded(rel string, isDir bool) bool {
	if inStateDir(rel) {
		return true
	}
	base := path.Base(rel)
	for _, p := range m.names {
		if ok, _ := path.Match(p, base); ok {
			return true
		}
	}
	if isDir {
		for _, p := range m.dirs {
			if ok, _ := path.Match(p, base); ok {
				return true
			}
		}
	}
	for _, p := range m.anchors {
		if ok, _ := path.Match(p, rel); ok {
			return true
		}
	}
	return false
}

// excludedUnder reports whether rel or one of its parent directories is
// excluded.
func (m *matcher) excludedUnder(rel string) bool {
	parts := strings.Split(rel, "/")
	for i := 1; i < len(parts); i++ {
		if m.excluded(strings.Join(parts[:i], "/"), true) {
			return true
		}
	}
	return m.excluded(rel, false)
}
