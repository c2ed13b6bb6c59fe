package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
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
	} else {
		checkStatusSample(t, text)
	}
	left, _ := filepath.Glob(filepath.Join(cmd.Env[len(cmd.Env)-1][len("TMPDIR="):], "redund-demo-*"))
	if len(left) != 0 {
		t.Errorf("demo left its scratch directory behind: %v", left)
	}
}

const (
	sampleBegin = "<!-- status sample: made by TestDemoOnce from the demo's final table; go test -update rewrites it -->\n```\n"
	sampleEnd   = "```\n<!-- end of status sample -->"
)

var (
	agoRe  = regexp.MustCompile(`\b\d+[smhd](\d+[smh])? ago\b`)
	portRe = regexp.MustCompile(`127\.0\.0\.1:(\d{5})\b`)
)

// checkStatusSample keeps docs/status.md's sample table true: it is the
// demo's final `redund status` table (real daemons, real states), with
// times and the demo's random ports made steady. -update rewrites it.
func checkStatusSample(t *testing.T, demoOut string) {
	t.Helper()
	_, table, ok := strings.Cut(demoOut, "Final status\n")
	if !ok {
		t.Fatal("no final status table in the demo output")
	}
	table, _, _ = strings.Cut(table, "\n\n")
	ports := map[string]string{}
	table = portRe.ReplaceAllStringFunc(table, func(m string) string {
		p := m[len("127.0.0.1:"):]
		if ports[p] == "" {
			ports[p] = strconv.Itoa(21000 + len(ports) + 1)
		}
		return "127.0.0.1:" + ports[p]
	})
	table = agoRe.ReplaceAllString(table, "12s ago") + "\n"
	doc := filepath.Join("..", "..", "docs", "status.md")
	src, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	before, rest, ok1 := strings.Cut(string(src), sampleBegin)
	old, after, ok2 := strings.Cut(rest, sampleEnd)
	if !ok1 || !ok2 {
		t.Fatalf("docs/status.md has no status sample block (%q ... %q)", sampleBegin, sampleEnd)
	}
	if testutil.Updating() {
		if err := os.WriteFile(doc, []byte(before+sampleBegin+table+sampleEnd+after), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if old != table {
		t.Errorf("docs/status.md's sample is not what the demo shows now (go test -update ./cmd/redund -run TestDemoOnce):\n--- doc\n%s--- demo\n%s", old, table)
	}
}
