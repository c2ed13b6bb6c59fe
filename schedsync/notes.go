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
