package schedsync

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redund/redund/internal/adminapi"
	"github.com/redund/redund/internal/status"
	"github.com/redund/redund/internal/testutil"
)

// Tests with two real `redund schedsync run` processes over loopback. The
// binary is built once, by the first test that needs it; if cmd/redund does
// not build, these tests skip (the in-process pair tests cover the same
// ground over real sockets).
var (
	buildOnce   sync.Once
	buildDir    string
	redundBin   string
	redundBuild error
)

func TestMain(m *testing.M) {
	// hooks run under a reaper, this test binary run again: built with
	// -race it would wait a second at exit (atexit_sleep_ms) in every hook
	if _, ok := os.LookupEnv("GORACE"); !ok {
		_ = os.Setenv("GORACE", "atexit_sleep_ms=0")
	}
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

func buildRedund() {
	dir, err := os.MkdirTemp("", "schedsync-e2e")
	if err != nil {
		redundBuild = err
		return
	}
	buildDir, redundBin = dir, filepath.Join(dir, "redund")
	if out, err := exec.Command("go", "build", "-o", redundBin, "../cmd/redund").CombinedOutput(); err != nil {
		redundBuild = fmt.Errorf("%v: %s", err, out)
	}
}

func needBinary(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("process tests skipped with -short")
	}
	buildOnce.Do(buildRedund)
	if redundBuild != nil {
		if os.Getenv("REDUND_INTEGRATION") == "1" {
			t.Fatalf("cmd/redund does not build (REDUND_INTEGRATION=1): %v", redundBuild)
		}
		t.Skipf("cmd/redund does not build, process test skipped: %v", redundBuild)
	}
}

// procNode is one redund process and its config.
type procNode struct {
	t           *testing.T
	dir, conf   string
	admin, sync string
	cmd         *exec.Cmd
	exited      chan struct{}
	logs        testutil.Buffer // stderr of every run
	wrap        []string        // a command that execs redund (e.g. to set a limit)
}

func newProcNode(t *testing.T, mode Mode, id, extra string) *procNode {
	p := &procNode{t: t, dir: t.TempDir(), admin: testutil.ClosedTCPAddr(t), sync: testutil.ClosedTCPAddr(t)}
	p.conf = filepath.Join(t.TempDir(), id+".toml")
	_ = mode
	_ = extra
	return p
}

func (p *procNode) writeConfig(mode Mode, id, peer, extra string) {
	conf := fmt.Sprintf(`[admin]
schedsync = %q
[schedsync]
mode = %q
dir = %q
listen = %q
peer = "http://%s"
secret = %q
node_id = %q
peer_timeout = "600ms"
failover_offset = "2s"
%s
`, p.admin, mode, p.dir, p.sync, peer, testSecret, id, extra)
	must(p.t, os.WriteFile(p.conf, []byte(conf), 0o600))
}

func (p *procNode) start() {
	t := p.t
	argv := append(append([]string(nil), p.wrap...), redundBin, "--config", p.conf, "--log-level", "warn", "schedsync", "run")
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Stderr = io.MultiWriter(os.Stderr, &p.logs)
	must(t, p.cmd.Start())
	p.exited = make(chan struct{})
	cmd, exited := p.cmd, p.exited
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
	testutil.Eventually(t, 10*time.Second, "admin of "+p.conf, func() bool { _, err := p.status(); return err == nil })
}

func (p *procNode) kill9() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

func (p *procNode) status() (status.Document, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	rep, err := adminapi.Fetch(ctx, p.admin)
	if err != nil {
		return status.Document{}, err
	}
	for _, d := range rep.Instances {
		if d.Scheme == "schedsync" {
			return d, nil
		}
	}
	return status.Document{}, fmt.Errorf("no schedsync instance")
}

func (p *procNode) state() State { d, _ := p.status(); return State(d.State) }
func (p *procNode) role() Role   { d, _ := p.status(); return Role(d.Role) }

func procPair(t *testing.T, modeA, modeB Mode, extra string) (*procNode, *procNode) {
	a, b := newProcNode(t, modeA, "a", extra), newProcNode(t, modeB, "b", extra)
	a.writeConfig(modeA, "a", b.sync, extra)
	b.writeConfig(modeB, "b", a.sync, extra)
	return a, b
}

func waitSameDirs(t *testing.T, a, b string, d time.Duration, what string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !sameTrees(t, a, b)() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: trees differ:\n%s", what, diffTrees(t, a, b))
		}
		time.Sleep(50 * time.Millisecond) // sleep: poll interval (the failure prints the difference)
	}
}

func TestProcessPairConverges(t *testing.T) {
	needBinary(t)
	p, s := procPair(t, ModePrimary, ModeSecondaryCopy, "")
	writeFile(t, p.dir, "playlists/monday.xml", "<pl/>", 0o644)
	writeFile(t, p.dir, "empty", "", 0o600)
	writeFile(t, p.dir, "run.sh", "#!/bin/sh\n", 0o755)
	must(t, os.WriteFile(filepath.Join(p.dir, "media.bin"), bigData(6<<20, 3), 0o644))
	p.start()
	s.start()
	waitSameDirs(t, p.dir, s.dir, 20*time.Second, "initial copy")
	writeFile(t, p.dir, "playlists/monday.xml", "<pl>changed</pl>", 0o644)
	must(t, os.Rename(filepath.Join(p.dir, "playlists"), filepath.Join(p.dir, "lists")))
	must(t, os.Remove(filepath.Join(p.dir, "run.sh")))
	must(t, os.Chmod(filepath.Join(p.dir, "empty"), 0o640))
	big := bigData(6<<20, 3)
	big[12345] ^= 1
	must(t, os.WriteFile(filepath.Join(p.dir, "media.bin"), big, 0o644))
	writeFile(t, p.dir, "new/a/b/c", "deep", 0o644)
	waitSameDirs(t, p.dir, s.dir, 20*time.Second, "after changes")
	testutil.Eventually(t, 10*time.Second, "Synced on both", func() bool { return p.state() == StateSynced && s.state() == StateSynced })
	out, err := exec.Command(redundBin, "--config", s.conf, "schedsync", "status", "--json").Output()
	must(t, err)
	var docs []status.Document
	must(t, json.Unmarshal(out, &docs))
	if len(docs) != 1 || State(docs[0].State) != StateSynced || Role(docs[0].Role) != RoleSecondary {
		t.Fatalf("schedsync status --json: %s", out)
	}
	// An action that does not apply exits 1 and says why.
	cmd := exec.Command(redundBin, "--config", p.conf, "schedsync", "promote")
	msg, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(msg), "already primary") {
		t.Fatalf("promote on the primary: %v: %s", err, msg)
	}
}

func TestProcessFailoverAndIncompatible(t *testing.T) {
	needBinary(t)
	p, s := procPair(t, ModePrimary, ModeSecondaryFailover, "")
	writeFile(t, p.dir, "x", "1", 0o644)
	p.start()
	s.start()
	waitSameDirs(t, p.dir, s.dir, 20*time.Second, "initial copy")
	p.kill9()
	killed := time.Now()
	testutil.Eventually(t, 15*time.Second, "promotion", func() bool { return s.role() == RolePrimary })
	if d := time.Since(killed); d < 2*time.Second {
		t.Fatalf("promoted %s after the primary died, before failover_offset", d)
	}
	p.start() // the old primary returns: two primaries
	testutil.Eventually(t, 15*time.Second, "Incompatible on both", func() bool {
		return p.state() == StateIncompatible && s.state() == StateIncompatible
	})
	out, err := exec.Command(redundBin, "--config", p.conf, "schedsync", "resync").CombinedOutput()
	if err != nil {
		t.Fatalf("resync: %v: %s", err, out)
	}
	testutil.Eventually(t, 15*time.Second, "old primary demoted and Synced", func() bool {
		return p.role() == RoleSecondary && p.state() == StateSynced
	})
}

func TestProcessMaliciousPeerRefused(t *testing.T) {
	needBinary(t)
	// A fake primary that knows the secret but serves a manifest with
	// escaping paths: the secondary refuses it and writes nothing outside.
	fake := newFakePrimary(t, []Entry{{Path: "../../escape", Kind: KindFile, Size: 1}})
	s := newProcNode(t, ModeSecondaryCopy, "b", "")
	s.writeConfig(ModeSecondaryCopy, "b", fake, "")
	s.start()
	testutil.Eventually(t, 10*time.Second, "a manifest request", func() bool {
		d, _ := s.status()
		return strings.Contains(d.Reason, "unsafe path")
	})
	if _, err := os.Stat(filepath.Join(s.dir, "../../escape")); err == nil {
		t.Fatal("file written outside the directory")
	}
	d, _ := s.status()
	if State(d.State) == StateSynced {
		t.Fatalf("secondary synced from a malicious manifest: %+v", d)
	}
}

// newFakePrimary serves authenticated hello and a raw manifest.
func newFakePrimary(t *testing.T, entries []Entry) string {
	t.Helper()
	auth, err := newLinkAuth(testSecret)
	must(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		nonce, err := auth.VerifyRequest(r, 1<<20)
		if err != nil {
			auth.Refuse(rw, nonce, http.StatusUnauthorized, err.Error())
			return
		}
		w := auth.SignResponse(rw, nonce)
		defer w.Finish()
		info := nodeInfo{Node: "fake", Mode: ModePrimary, Role: RolePrimary, Version: "dev", Proto: ProtocolVersion}
		if r.URL.Path == "/v1/hello" {
			_ = json.NewEncoder(w).Encode(helloReply{Node: info})
			return
		}
		// Raw encoding, bypassing every check a real primary would make.
		var buf []byte
		buf = append(buf, manifestMagic...)
		buf = appendString(buf, "log")
		buf = append(buf, 1, byte(len(entries)))
		for _, e := range entries {
			buf = appendEntry(buf, e)
		}
		_, _ = w.Write(buf)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

func TestProcessCopyNeverPromotes(t *testing.T) {
	needBinary(t)
	p, s := procPair(t, ModePrimary, ModeSecondaryCopy, "")
	p.start()
	s.start()
	testutil.Eventually(t, 15*time.Second, "Synced", func() bool { return s.state() == StateSynced })
	p.kill9()
	testutil.Eventually(t, 15*time.Second, "Unavailable", func() bool { return s.state() == StateUnavailable })
	time.Sleep(3 * time.Second) // sleep: past failover_offset (2s)
	if d, err := s.status(); err != nil || Role(d.Role) != RoleSecondary || State(d.State) != StateUnavailable {
		t.Fatalf("secondary-copy after the primary died: %+v %v", d, err)
	}
}

func TestProcessSameModeIncompatible(t *testing.T) {
	needBinary(t)
	a, b := procPair(t, ModePrimary, ModePrimary, "")
	a.start()
	b.start()
	testutil.Eventually(t, 15*time.Second, "Incompatible on both", func() bool {
		return a.state() == StateIncompatible && b.state() == StateIncompatible
	})
	out, err := exec.Command(redundBin, "--config", a.conf, "schedsync", "status").Output()
	if err == nil || !strings.Contains(string(out), "two primaries") {
		t.Fatalf("status should exit 1 and name the reason: %v %s", err, out)
	}
}
