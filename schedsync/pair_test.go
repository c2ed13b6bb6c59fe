package schedsync

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/testutil"
)

const testSecret = "0123456789abcdef-test"

type testNode struct {
	*Node
	dir    string
	cancel context.CancelFunc
	done   chan struct{}
}

func (tn *testNode) stop() {
	tn.cancel()
	<-tn.done
}

// startPair starts two nodes over loopback. mutate may adjust the configs.
func startPair(t *testing.T, modeA, modeB Mode, mutate func(a, b *Config)) (*testNode, *testNode) {
	t.Helper()
	a, b, lnA, lnB := pairConfigs(t, modeA, modeB, mutate)
	return startNode(t, a, lnA), startNode(t, b, lnB)
}

// pairConfigs makes the configs (and holds the listeners) of two nodes
// that point at each other, for tests that start them separately.
func pairConfigs(t *testing.T, modeA, modeB Mode, mutate func(a, b *Config)) (*Config, *Config, net.Listener, net.Listener) {
	t.Helper()
	lnA, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	lnB, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	a := &Config{Mode: modeA, Dir: t.TempDir(), Listen: lnA.Addr().String(), Peer: "http://" + lnB.Addr().String(),
		Secret: testSecret, NodeID: "a", PeerTimeout: config.Duration(600 * time.Millisecond),
		FailoverOffset: config.Duration(2 * time.Second), DeltaMinSize: 64 << 10}
	b := *a
	b.Mode, b.Dir, b.Listen, b.Peer, b.NodeID = modeB, t.TempDir(), lnB.Addr().String(), "http://"+lnA.Addr().String(), "b"
	if mutate != nil {
		mutate(a, &b)
	}
	return a, &b, lnA, lnB
}

func startNode(t *testing.T, cfg *Config, ln net.Listener) *testNode {
	t.Helper()
	return startNodeLog(t, cfg, ln, nil)
}

// startNodeLog starts a node that logs to log (nil: discard).
func startNodeLog(t *testing.T, cfg *Config, ln net.Listener, log *slog.Logger) *testNode {
	t.Helper()
	version := "test"
	if cfg.NodeID == "other-version" {
		version = "test-2"
	}
	n, err := New(cfg, Options{Version: version, Listener: ln, Log: log})
	must(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	tn := &testNode{Node: n, dir: cfg.Dir, cancel: cancel, done: make(chan struct{})}
	go func() { _ = n.Run(ctx); close(tn.done) }()
	var once sync.Once
	t.Cleanup(func() { once.Do(tn.stop) })
	return tn
}

func (tn *testNode) state() State { return State(tn.Status()[0].State) }

// digest describes a tree by content hash, kind, mode and file mtimes.
func digest(t *testing.T, dir string) map[string]string {
	t.Helper()
	out, err := tryDigest(dir)
	must(t, err)
	return out
}

// tryDigest is digest for a tree that may be changing under the scan.
func tryDigest(dir string) (map[string]string, error) {
	s := &scanner{root: dir, match: newMatcher(nil)}
	tree, err := s.scan(nil)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for p, e := range tree {
		switch e.Kind {
		case KindFile:
			out[p] = fmt.Sprintf("file %o %d %x %d", e.Mode, e.Size, e.Hash[:8], e.MTime)
		case KindDir:
			out[p] = fmt.Sprintf("dir %o", e.Mode)
		case KindLink:
			out[p] = fmt.Sprintf("link %s %d", e.Target, e.MTime)
		}
	}
	return out, nil
}

func sameTrees(t *testing.T, a, b string) func() bool {
	return func() bool {
		// a scan that races the secondary's writes (a directory becoming a
		// file, say) means "not converged yet", not a failure
		da, errA := tryDigest(a)
		db, errB := tryDigest(b)
		if errA != nil || errB != nil || len(da) != len(db) {
			return false
		}
		for k, v := range da {
			if db[k] != v {
				return false
			}
		}
		return true
	}
}

func diffTrees(t *testing.T, a, b string) string {
	da, db := digest(t, a), digest(t, b)
	var out []string
	for k, v := range da {
		if db[k] != v {
			out = append(out, fmt.Sprintf("%s: primary %q secondary %q", k, v, db[k]))
		}
	}
	for k, v := range db {
		if _, ok := da[k]; !ok {
			out = append(out, fmt.Sprintf("%s: only on secondary %q", k, v))
		}
	}
	return strings.Join(out, "\n")
}

func waitSame(t *testing.T, a, b *testNode, what string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !sameTrees(t, a.dir, b.dir)() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: trees differ:\n%s", what, diffTrees(t, a.dir, b.dir))
		}
		time.Sleep(20 * time.Millisecond) // sleep: poll interval (the failure prints the difference)
	}
}

func bigData(n int, seed byte) []byte {
	b := make([]byte, n)
	x := uint32(seed) + 1
	for i := range b {
		x = x*1664525 + 1013904223
		b[i] = byte(x >> 24)
	}
	return b
}

func TestPairConverges(t *testing.T) {
	p, s := startPair(t, ModePrimary, ModeSecondaryCopy, nil)
	writeFile(t, p.dir, "a.txt", "hello", 0o644)
	writeFile(t, p.dir, "sub/deep/b.txt", "world", 0o600)
	writeFile(t, p.dir, "empty", "", 0o644)
	must(t, os.WriteFile(filepath.Join(p.dir, "big.bin"), bigData(3<<20, 1), 0o644))
	must(t, os.Symlink("sub/deep/b.txt", filepath.Join(p.dir, "link")))
	waitSame(t, p, s, "initial copy")
	testutil.Eventually(t, 10*time.Second, "Synced on both", func() bool { return p.state() == StateSynced && s.state() == StateSynced })

	writeFile(t, p.dir, "a.txt", "hello again", 0o644)                                                  // modify
	must(t, os.Rename(filepath.Join(p.dir, "sub/deep/b.txt"), filepath.Join(p.dir, "sub/renamed.txt"))) // rename
	must(t, os.Rename(filepath.Join(p.dir, "sub/deep"), filepath.Join(p.dir, "moved-dir")))             // rename dir
	must(t, os.Remove(filepath.Join(p.dir, "link")))                                                    // delete
	must(t, os.Chmod(filepath.Join(p.dir, "empty"), 0o755))                                             // permissions
	big := bigData(3<<20, 1)
	big[len(big)/2] ^= 0xff
	must(t, os.WriteFile(filepath.Join(p.dir, "big.bin"), big, 0o644)) // one byte in a large file
	writeFile(t, p.dir, "new/dir/c.txt", "new", 0o640)                 // create dir tree
	waitSame(t, p, s, "after changes")
	if got := s.metrics.bytes.WithLabelValues("delta"); got == nil {
		t.Fatal("no delta metric")
	}
	must(t, os.RemoveAll(filepath.Join(p.dir, "new"))) // delete a tree
	waitSame(t, p, s, "after deleting a tree")
	testutil.Eventually(t, 10*time.Second, "Synced again", func() bool { return p.state() == StateSynced && s.state() == StateSynced })
}
