package ddns

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzStateFile feeds arbitrary bytes to the state file reader: it must
// either load them or say the file is damaged, never panic, and a loaded
// file must give back the values it holds.
func FuzzStateFile(f *testing.F) {
	for _, s := range []string{`{"maintenance":{"main":true}}`, `{}`, `{"maintenance":null}`, `[`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "ddns-cat.json"), b, 0o600); err != nil {
			t.Fatal(err)
		}
		st, err := openState(dir, "cat")
		if err != nil {
			return
		}
		for k, v := range st.maint {
			if st.maintenance(k, !v) != v {
				t.Fatalf("server %q: stored %v not returned", k, v)
			}
		}
		if err := st.setMaintenance("x", true, false); err != nil {
			t.Fatal(err)
		}
		again, err := openState(dir, "cat")
		if err != nil || !again.maintenance("x", false) {
			t.Fatalf("rewritten file: %v", err)
		}
	})
}
