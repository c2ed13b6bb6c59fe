package lab

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// redundBin is the redund binary built by TestMain ("" when the lab cannot
// run here: not root, or no ip); buildErr says why building it failed.
var (
	redundBin string
	buildErr  error
)

// missing says why the lab cannot run on this machine ("" when it can).
func missing() string {
	if os.Geteuid() != 0 {
		return "the failover lab needs root (network namespaces): run `sudo go test ./bench/lab -v`"
	}
	for _, tool := range []string{"ip", "tc"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Sprintf("the failover lab needs %s from iproute2 (apt-get install -y iproute2)", tool)
		}
	}
	if _, err := os.Stat("/proc/thread-self/ns/net"); err != nil {
		return "the failover lab needs network namespaces (/proc/thread-self/ns/net is missing)"
	}
	if buildErr != nil {
		return "cannot build redund (another package may be broken): " + buildErr.Error()
	}
	return ""
}

func TestMain(m *testing.M) {
	dir := ""
	if missing() == "" {
		dir, redundBin, buildErr = build()
		sweepStale()
	}
	code := m.Run()
	if dir != "" {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

// build compiles cmd/redund into a new temporary directory.
func build() (dir, bin string, err error) {
	dir, err = os.MkdirTemp("", "redund-lab-bin-")
	if err != nil {
		return "", "", err
	}
	bin = filepath.Join(dir, "redund")
	// the go that runs this test (PATH may lack it under sudo)
	gobin := "go"
	if goroot, err := exec.Command("go", "env", "GOROOT").Output(); err == nil {
		gobin = filepath.Join(strings.TrimSpace(string(goroot)), "bin", "go")
	} else if _, err := os.Stat("/usr/local/go/bin/go"); err == nil {
		gobin = "/usr/local/go/bin/go"
	}
	out, err := exec.Command(gobin, "build", "-o", bin, "github.com/redund/redund/cmd/redund").CombinedOutput()
	if err != nil {
		return dir, "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return dir, bin, nil
}

// need skips the test when the lab cannot run here, or fails it when
// REDUND_INTEGRATION=1 says it must run.
func need(t *testing.T) {
	t.Helper()
	why := missing()
	if why == "" {
		return
	}
	if os.Getenv("REDUND_INTEGRATION") == "1" {
		t.Fatalf("%s (REDUND_INTEGRATION=1 requires it)", why)
	}
	t.Skip(why)
}

// TestLab runs every scheme's fault scenario in parallel, prints the table
// of faults injected and promises kept, writes it to results.md in the
// test's temp dir (and to $REDUND_LAB_RESULTS when set) and fails when a
// promise was broken.
func TestLab(t *testing.T) {
	need(t)
	started := time.Now()
	tb := &Table{}
	// The cases mostly wait, so all four run at once, whatever -parallel
	// (GOMAXPROCS by default) says: t.Run may be called from several
	// goroutines at the same time.
	var wg sync.WaitGroup
	for _, c := range []struct {
		name string
		fn   func(*testing.T, *Table)
	}{{"voter", labVoter}, {"ddns", labDDNS}, {"schedsync", labSchedsync}, {"gateway", labGateway}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.Run(c.name, func(t *testing.T) { c.fn(t, tb) })
		}()
	}
	wg.Wait()
	md := tb.Markdown()
	t.Logf("failover lab, %d checks, %d broken, %.1fs:\n%s", len(tb.Rows()), tb.Broken(), time.Since(started).Seconds(), md)
	for _, p := range []string{filepath.Join(t.TempDir(), "results.md"), os.Getenv("REDUND_LAB_RESULTS")} {
		if p == "" {
			continue
		}
		if err := os.WriteFile(p, []byte(md), 0o644); err != nil {
			t.Errorf("write %s: %v", p, err)
		} else {
			t.Logf("table written to %s", p)
		}
	}
	if n := tb.Broken(); n > 0 {
		t.Errorf("%d promise(s) broken: see the rows marked NO", n)
	}
}

// check records a row and marks the test failed when the promise was broken.
func check(t *testing.T, tb *Table, r Row) bool {
	t.Helper()
	tb.Add(r)
	if !r.Kept {
		t.Errorf("%s: after %q the promise %q was not kept (limit %s, waited %s) %s",
			r.Scheme, r.Fault, r.Promise, dur(r.Limit), dur(r.Took), r.Note)
	}
	return r.Kept
}

// Step is one fault (do) and the promise checked after it: cond must hold
// within limit.
type Step struct {
	Fault, Promise string
	Do             func()
	Limit          time.Duration
	Cond           func() bool
}

// steps runs the steps in order, one row each, and stops at the first
// broken promise; seen describes the state for a broken one.
func steps(t *testing.T, tb *Table, scheme string, seen func() string, list ...Step) bool {
	t.Helper()
	for _, s := range list {
		if s.Do != nil {
			s.Do()
		}
		took, ok := waitFor(s.Limit, s.Cond)
		note := ""
		if !ok && seen != nil {
			note = seen()
		}
		if !check(t, tb, Row{Scheme: scheme, Fault: s.Fault, Promise: s.Promise, Limit: s.Limit, Took: took, Kept: ok, Note: note}) {
			return false
		}
	}
	return true
}

// hold injects a fault that must change nothing: cond must hold all the
// time from the fault until d has passed.
func hold(t *testing.T, tb *Table, scheme string, seen func() string, s Step) bool {
	t.Helper()
	s.Do()
	took, ok := holds(s.Limit, s.Cond)
	note := ""
	if !ok && seen != nil {
		note = "after " + dur(took) + ": " + seen()
	}
	return check(t, tb, Row{Scheme: scheme, Fault: s.Fault, Promise: s.Promise, Limit: s.Limit, Took: took, Kept: ok, Note: note})
}
