package ddns

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sync"
)

// stateFile keeps a scheme's runtime maintenance settings across
// restarts: <state_dir>/ddns-<scheme>.json, written atomically (temp file,
// fsync, rename, fsync of the directory). It holds only the servers whose
// runtime setting differs from the config.
type stateFile struct {
	path string

	mu    sync.Mutex
	maint map[string]bool
}

type stateDoc struct {
	Maintenance map[string]bool `json:"maintenance"`
}

// openState reads the state file of scheme in dir (state_dir). A missing
// file is an empty state; a damaged one is an error.
func openState(dir, scheme string) (*stateFile, error) {
	st := &stateFile{path: filepath.Join(dir, "ddns-"+scheme+".json"), maint: map[string]bool{}}
	b, err := os.ReadFile(st.path)
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ddns: state: %w", err)
	}
	var doc stateDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("ddns: state file %s is damaged (%v); move it away to start afresh", st.path, err)
	}
	maps.Copy(st.maint, doc.Maintenance)
	return st, nil
}

// maintenance returns the runtime setting of server, or def (the config's).
func (s *stateFile) maintenance(server string, def bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.maint[server]; ok {
		return v
	}
	return def
}

// overridden reports whether server has a runtime setting.
func (s *stateFile) overridden(server string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.maint[server]
	return ok
}

// setMaintenance records on for server (forgetting it when it equals the
// config's value def) and writes the file; on error nothing changes.
func (s *stateFile) setMaintenance(server string, on, def bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := maps.Clone(s.maint) // s.maint is never nil
	if on == def {
		delete(next, server)
	} else {
		next[server] = on
	}
	if err := writeAtomic(s.path, stateDoc{Maintenance: next}); err != nil {
		return fmt.Errorf("ddns: saving maintenance: %w", err)
	}
	s.maint = next
	return nil
}

// writeAtomic writes v as JSON to path so that a crash leaves either the
// old or the new file.
func writeAtomic(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
