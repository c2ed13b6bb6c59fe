package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type exposedConfig struct {
	Admin struct {
		Token Secret `toml:"token"`
	} `toml:"admin"`
	Peers []struct {
		Name string `toml:"name"`
		Key  Secret `toml:"key"`
	} `toml:"peers"`
}

// A secret readable by every user is named (file, line, key, the mode),
// never shown: written in a config file others may read, or in a K_file
// others may read. Modes that keep others out give nothing.
func TestExposed(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "peer.key")
	if err := os.WriteFile(keyFile, []byte("KEYVALUE\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := "[admin]\ntoken = \"TOKENVALUE\"\n\n[[peers]]\nname = \"a\"\nkey_file = \"" + keyFile + "\"\n"
	path := filepath.Join(dir, "redund.toml")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name             string
		cfgMode, keyMode os.FileMode
		want             []string
	}{
		{"both private", 0o600, 0o600, nil},
		{"group may read", 0o640, 0o640, nil},
		{"config open", 0o644, 0o600, []string{path + ":2: admin.token: a secret is written in the file and every user may read it (mode 0644)"}},
		{"key file open", 0o640, 0o604, []string{path + ":6: peers[0].key_file: secret file " + keyFile + ": every user may read it (mode 0604)"}},
		{"others may write", 0o602, 0o600, []string{path + ":2: admin.token: a secret is written in the file and every user may read it (mode 0602)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.Chmod(path, tc.cfgMode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(keyFile, tc.keyMode); err != nil {
				t.Fatal(err)
			}
			got := Exposed(path, &exposedConfig{})
			if len(got) != len(tc.want) {
				t.Fatalf("Exposed = %v, want %d problem(s)", got, len(tc.want))
			}
			for i, w := range tc.want {
				if s := got[i].Error(); !strings.HasPrefix(s, w) || strings.Contains(s, "VALUE") {
					t.Errorf("problem %d = %q, want it to start with %q (no value)", i, s, w)
				}
			}
		})
	}
}
