package schedsync

import "sync"

// pathNotes remembers what was said about which path, so a condition that
// lasts (a FIFO in the tree, a setuid bit dropped at every sync) is logged
// once per path, not at every scan.
type pathNotes struct {
	mu   sync.Mutex
	said map[string]string // path → what was said
}

// note returns true the first time why is said about p (or when what is
// said about p changed).
func (s *pathNotes) note(p, why string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.said == nil {
		s.said = map[string]string{}
	}
	if s.said[p] == why {
		return false
	}
	s.said[p] = why
	return true
}

// forget drops what was said about p: if the condition comes back, it is
// noted again.
func (s *pathNotes) forget(p string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.said, p)
}

// retain forgets every path for which keep is false.
func (s *pathNotes) retain(keep func(p string) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for p := range s.said {
		if !keep(p) {
			delete(s.said, p)
		}
	}
}

// count is the number of paths noted now.
func (s *pathNotes) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.said)
}

// maxFailPaths: a reason that fails more paths than this in one batch is
// logged as one line (a full disk failed all 10,000 files of an initial
// copy at once: 10,000 lines in the same millisecond).
const maxFailPaths = 3

// failGroup is one log line about files that could not be synced: the
// paths (the first maxFailPaths of them when there are more), their
// count and the reason they share.
type failGroup struct {
	why   string
	paths []string
	count int
}

// groupFailures groups the failures of one batch (path → reason, in the
// batch's order) by reason, in the order each reason first came; a
// reason with at most maxFailPaths paths gives one group per path.
func groupFailures(paths []string, why map[string]string) []failGroup {
	var order []string
	by := map[string][]string{}
	for _, p := range paths {
		w := why[p]
		if _, ok := by[w]; !ok {
			order = append(order, w)
		}
		by[w] = append(by[w], p)
	}
	var out []failGroup
	for _, w := range order {
		ps := by[w]
		if len(ps) <= maxFailPaths {
			for _, p := range ps {
				out = append(out, failGroup{why: w, paths: []string{p}, count: 1})
			}
			continue
		}
		out = append(out, failGroup{why: w, paths: ps[:maxFailPaths], count: len(ps)})
	}
	return out
}
