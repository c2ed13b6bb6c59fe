package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDaemonNewErrorsExit2: a config that loads but that the daemon
// cannot be built on exits 2 for every daemon (voter did, the others
// exited 1), before anything is bound.
func TestDaemonNewErrorsExit2(t *testing.T) {
	dir := t.TempDir()
	stateDir := filepath.Join(dir, "state")
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stateDir, "ddns-cat.json"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "a-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tree := filepath.Join(dir, "tree") // its .redund swapped for a link into the tree
	if err := os.MkdirAll(filepath.Join(tree, "pub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("pub", filepath.Join(tree, ".redund")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, conf, want string
		args             []string
	}{
		{"voter", "[voter.a]\nlisten = \"127.0.0.1:0\"\npassword = \"one\"\n[voter.a.clients.x]\npassword = \"x\"\n" +
			"[voter.b]\nlisten = \"127.0.0.1:0\"\npassword = \"two\"\n[voter.b.clients.y]\npassword = \"y\"\n",
			"different passwords", []string{"voter", "serve"}},
		{"ddns", strings.Replace(ddnsConfig(t, "[ddns.cat.provider]\nkind = \"he\"\npassword = \"k\"\n"),
			"state_dir = ", fmt.Sprintf("state_dir = %q\n#", stateDir), 1), "damaged", []string{"ddns", "run"}},
		{"gateway", fmt.Sprintf("[gateway]\nmode = \"independent\"\ndata_dir = %q\n", filepath.Join(file, "sub")),
			"data_dir", []string{"gateway", "run"}},
		{"schedsync", fmt.Sprintf("[schedsync]\nmode = \"primary\"\ndir = %q\nlisten = \"127.0.0.1:0\"\nsecret = \"0123456789abcdef0123\"\n",
			filepath.Join(dir, "missing")), "not an existing directory", []string{"schedsync", "run"}},
		{"schedsync linked .redund", fmt.Sprintf("[schedsync]\nmode = \"primary\"\ndir = %q\nlisten = \"127.0.0.1:0\"\nsecret = \"0123456789abcdef0123\"\n",
			tree), ".redund: is a symbolic link", []string{"schedsync", "run"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, tc.name+".toml", "[admin]\nlisten = \"127.0.0.1:0\"\n"+tc.conf)
			out, code := runCLI(t, append([]string{"--config", path, "--log-level", "error"}, tc.args...)...)
			if code != exitUsage || !strings.Contains(out, tc.want) {
				t.Errorf("exit %d, want 2 with %q:\n%s", code, tc.want, out)
			}
		})
	}
}
