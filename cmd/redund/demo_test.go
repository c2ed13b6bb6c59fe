package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDemoOnce runs the real demo once, end to end, with the binary built
// from this tree: every scheme must fail over and recover within its limit.
func TestDemoOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo takes about 40 s")
	}
	bin := filepath.Join(t.TempDir(), "redund")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "demo", "--plain", "--once")
	cmd.Env = append(os.Environ(), "TMPDIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	text := string(out)
	for _, want := range []string{
		"cat.demo.test now points at backup", "the sorry page", "cat.demo.test back on main",
		"secondary west serves its own clients", "west proxies to east again",
		"playlist.txt is on studio-b", "studio-b promoted itself", "studio-a follows studio-b",
		"backup gw-b active", "gw-a took control back",
		"every scheme failed over and recovered",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	if strings.Contains(text, "NOT WITHIN LIMIT") {
		t.Errorf("a promise was broken:\n%s", text)
	}
	if t.Failed() {
		t.Logf("output:\n%s", text)
	}
	left, _ := filepath.Glob(filepath.Join(cmd.Env[len(cmd.Env)-1][len("TMPDIR="):], "redund-demo-*"))
	if len(left) != 0 {
		t.Errorf("demo left its scratch directory behind: %v", left)
	}
}
