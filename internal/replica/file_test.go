package replica

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTruncatedFileRefused: a store file cut short (a full disk, a partial
// copy or restore) is refused by Open with an error that says so; bbolt
// itself faulted on it (SIGSEGV: the whole process died, in a loop under a
// service manager). A whole file still opens, and so does a missing one.
func TestTruncatedFileRefused(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "r.db")
	s, err := Open(path, Options{Providers: []string{"config"}, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		if _, err := s.Put("config", fmt.Sprintf("k%04d", i), make([]byte, 5000)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	whole, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		size int
	}{{"half", len(whole) / 2}, {"four pages", 4 * os.Getpagesize()}, {"one page", os.Getpagesize()}} {
		t.Run(c.name, func(t *testing.T) {
			cut := filepath.Join(dir, c.name+".db")
			if err := os.WriteFile(cut, whole[:c.size], 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := Open(cut, Options{Providers: []string{"config"}})
			if err == nil {
				s.Close()
				t.Fatalf("a file of %d of %d bytes opened", c.size, len(whole))
			}
			if !strings.Contains(err.Error(), "truncated") {
				t.Fatalf("error %v", err)
			}
		})
	}
	s, err = Open(path, Options{Providers: []string{"config"}})
	if err != nil {
		t.Fatalf("the whole file: %v", err)
	}
	if items, _ := s.List("config", ""); len(items) != 200 {
		t.Fatalf("%d documents", len(items))
	}
	s.Close()
}
