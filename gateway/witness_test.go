package gateway

import (
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/testutil"
	"github.com/redund/redund/internal/witness"
	"github.com/redund/redund/internal/witness/etcdtest"
)

// The tests in this file run a pair with `witness = true` against a real
// three-member etcd on loopback (internal/witness/etcdtest). Each node
// reaches etcd through relays of its own, so that a test can cut one node
// off from etcd without touching the other; the peer link goes through a
// proxy that a test can cut.

const witnessTTL = 2 * time.Second

// witnessNode is a node of the pair and its relays to the etcd members.
type witnessNode struct {
	*gw
	relays etcdtest.Relays
}

// cutEtcd cuts (or heals) the node's every connection to etcd.
func (n *witnessNode) cutEtcd(cut bool) {
	if cut {
		n.relays.Cut()
	} else {
		n.relays.Heal()
	}
}

func (n *witnessNode) fence() int64 {
	if d := n.Detail().Witness; d != nil && d.Held {
		return d.Fence
	}
	return 0
}

type witnessPair struct {
	etcd *etcdtest.Cluster
	m, b *witnessNode
	link *proxy        // the peer link
	ttl  time.Duration // the witness's ttl (witnessTTL unless set)
}

// startWitnessPair starts etcd, then the master (active once it holds the
// lock), then the backup (standby).
func startWitnessPair(t *testing.T, mod func(m, b *Config)) *witnessPair {
	return startWitnessPairTTL(t, witnessTTL, mod)
}

// startWitnessPairTTL is startWitnessPair with the witness's ttl.
func startWitnessPairTTL(t *testing.T, ttl time.Duration, mod func(m, b *Config)) *witnessPair {
	t.Helper()
	etcdtest.Need(t)
	p := &witnessPair{etcd: etcdtest.Start(t, 3), ttl: ttl}
	dir := t.TempDir()
	mc, bc := baseCfg(t, ModeMaster, filepath.Join(dir, "m")), baseCfg(t, ModeBackup, filepath.Join(dir, "b"))
	mc.Witness, bc.Witness = true, true
	ln := listen(t, "127.0.0.1:0")
	p.link = newProxy(t, ln.Addr().String())
	bc.Peer = p.link.addr()
	if mod != nil {
		mod(&mc, &bc)
	}
	p.m = p.startNode(t, mc, Options{PeerListener: ln})
	waitRole(t, p.m.gw, RoleActive, 15*time.Second)
	p.b = p.startNode(t, bc, Options{})
	waitRole(t, p.b.gw, RoleStandby, 10*time.Second)
	return p
}

func (p *witnessPair) startNode(t *testing.T, cfg Config, opts Options) *witnessNode {
	n := &witnessNode{}
	n.relays = p.etcd.Relayed(t)
	opts.Witness = &witness.Config{Endpoints: n.relays.URLs(), Name: cfg.NodeID, TTL: config.Duration(p.ttl)}
	n.gw = startGWWith(t, cfg, opts)
	return n
}

// watcher samples both nodes' roles every 10 ms until the test ends and
// fails the test if it ever sees both active at once (the master is read
// before and after the backup, so that a role change between two reads
// is not taken for an overlap).
type watcher struct {
	samples, both atomic.Int64
	mu            sync.Mutex
	first         string
}

func watchPair(t *testing.T, m, b *gw) *watcher {
	w := &watcher{}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tk := time.NewTicker(10 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
			}
			m1, b1, m2 := m.Role(), b.Role(), m.Role()
			w.samples.Add(1)
			if m1 == RoleActive && b1 == RoleActive && m2 == RoleActive {
				w.both.Add(1)
				w.mu.Lock()
				if w.first == "" {
					w.first = fmt.Sprintf("%s: master %q, backup %q", time.Now().Format("15:04:05.000"), m.view().Reason, b.view().Reason)
				}
				w.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		<-done
		if n := w.both.Load(); n > 0 {
			t.Errorf("two active nodes in %d of %d samples; first: %s", n, w.samples.Load(), w.first)
			return
		}
		t.Logf("watcher: %d samples, never two active nodes", w.samples.Load())
	})
	return w
}

// stays checks that n keeps role for d (a readiness signal cannot say
// that something does not happen: this is the bounded observation).
func stays(t *testing.T, n *gw, role Role, d time.Duration) {
	t.Helper()
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if r := n.Role(); r != role {
			t.Fatalf("%s became %s (%s), want %s throughout", n.cfg.NodeID, r, n.view().Reason, role)
		}
		time.Sleep(5 * time.Millisecond) // sleep: sampling interval of a window in which nothing may change
	}
}

func waitReason(t *testing.T, n *gw, sub string, within time.Duration) {
	t.Helper()
	testutil.Eventually(t, within, n.cfg.NodeID+" reason contains "+strconv.Quote(sub), func() bool {
		return strings.Contains(n.view().Reason, sub)
	})
}

// TestWitnessPeerCutExactlyOneActive: the master cut from the backup but
// not from etcd. Without a witness both become active (TestPartition...);
// with one, the backup campaigns and waits behind the master's lock: one
// active node. The active master's command and its history points carry
// the lock's fencing token. When the link heals the backup stops
// campaigning.
func TestWitnessPeerCutExactlyOneActive(t *testing.T) {
	out := filepath.Join(t.TempDir(), "fence")
	p := startWitnessPair(t, func(m, _ *Config) {
		m.Run = []string{"sh", "-c", `echo "$REDUND_FENCE" > ` + out + `.tmp && mv ` + out + `.tmp ` + out + ` && exec sleep 60`}
	})
	watchPair(t, p.m.gw, p.b.gw)
	fence := p.m.fence()
	if fence <= 0 {
		t.Fatalf("master active without a fencing token: %+v", p.m.Detail().Witness)
	}
	testutil.Eventually(t, 5*time.Second, "the command wrote REDUND_FENCE", func() bool {
		b, err := os.ReadFile(out)
		return err == nil && strings.TrimSpace(string(b)) == strconv.FormatInt(fence, 10)
	})
	checkWitnessShown(t, p.m.gw, fence)
	if _, err := p.m.PostHistory([]Point{{Tag: "flow", TSMS: 1000, Value: 1}}); err != nil {
		t.Fatal(err)
	}
	pts, err := p.m.QueryHistory("flow", 0, 2000)
	if err != nil || len(pts) != 1 || pts[0].Fence != fence {
		t.Fatalf("history %+v, %v: want one point with fence %d", pts, err, fence)
	}

	p.link.setCut(true)
	waitReason(t, p.b.gw, "waiting for the witness lock", 5*time.Second)
	stays(t, p.b.gw, RoleStandby, 2*witnessTTL)
	if p.m.Role() != RoleActive || p.m.fence() != fence {
		t.Fatalf("master %s with fence %d, want active with %d", p.m.Role(), p.m.fence(), fence)
	}
	p.link.setCut(false)
	testutil.Eventually(t, 5*time.Second, "the backup linked again and no longer campaigns", func() bool {
		v := p.b.view()
		return v.Link == linkUp && !v.LockWant
	})
	stays(t, p.b.gw, RoleStandby, 500*time.Millisecond)
}

// TestWitnessMasterCutFromEtcd: the master loses etcd (its relays go
// silent) but not the backup. It stands down when its lease runs out;
// the backup, linked with a master that is no longer active, campaigns
// and takes over with a larger fencing token. etcd back, the master stays
// standby (the backup keeps control, as after any failover).
func TestWitnessMasterCutFromEtcd(t *testing.T) {
	p := startWitnessPair(t, nil)
	watchPair(t, p.m.gw, p.b.gw)
	old := p.m.fence()
	start := time.Now()
	p.m.cutEtcd(true)
	waitRole(t, p.m.gw, RoleStandby, witnessTTL+time.Second)
	down := time.Since(start)
	waitRole(t, p.b.gw, RoleActive, witnessTTL+p.b.cfg.FailoverTimeout.D()+5*time.Second)
	t.Logf("master stood down after %v, backup active after %v", down, time.Since(start))
	if f := p.b.fence(); f <= old {
		t.Fatalf("backup's fencing token %d, want more than the master's %d", f, old)
	}
	p.m.cutEtcd(false)
	stays(t, p.m.gw, RoleStandby, 2*witnessTTL)
	if p.b.Role() != RoleActive {
		t.Fatalf("backup is %s after etcd came back to the master", p.b.Role())
	}
}

// TestWitnessEtcdMembersDown: one etcd member killed changes nothing; all
// of etcd gone, the active master stays active until its lease runs out,
// then stands down, and nobody is active (the operator decides: see
// docs/gateway.md). The ttl is longer than the other tests': etcd's own
// failover after its leader is killed (a new election, the client moving
// to another member) took more than the 2 s ttl (four times the test
// etcd's election timeout, the least docs/witness.md advises) on a loaded
// machine, and "changes nothing" needs the ttl to outlast it.
func TestWitnessEtcdMembersDown(t *testing.T) {
	const ttl = 5 * time.Second
	p := startWitnessPairTTL(t, ttl, nil)
	watchPair(t, p.m.gw, p.b.gw)
	epoch := p.m.view().Epoch
	leader := p.etcd.Leader()
	if leader < 0 {
		leader = 0
	}
	p.etcd.Kill(leader)
	stays(t, p.m.gw, RoleActive, 3*witnessTTL)
	if p.b.Role() != RoleStandby || p.m.view().Epoch != epoch {
		t.Fatalf("one member down: backup %s, master epoch %d → %d", p.b.Role(), epoch, p.m.view().Epoch)
	}
	killed := time.Now()
	for i := range 3 {
		if i != leader {
			p.etcd.Kill(i)
		}
	}
	waitRole(t, p.m.gw, RoleStandby, ttl+time.Second)
	t.Logf("all of etcd gone: the master stood down after %v (ttl %v)", time.Since(killed), ttl)
	stays(t, p.b.gw, RoleStandby, 2*witnessTTL)
	if p.m.Role() == RoleActive {
		t.Fatal("master active again without etcd")
	}
}

// checkWitnessShown: the status document's Details and the status page
// show the witness: members reachable, holder, fencing token.
func checkWitnessShown(t *testing.T, n *gw, fence int64) {
	t.Helper()
	testutil.Eventually(t, 3*witnessTTL, "the status names the holder (probed every ttl)", func() bool {
		w, _ := n.Status()[0].Details["witness"].(map[string]any)
		return w != nil && w["holder"] == n.cfg.NodeID && w["fence"] == fence && w["reachable"] == "3/3"
	})
	// redund status's table counts the witness in HEALTH
	doc := n.Status()[0]
	if len(doc.Health) != 1 || doc.Health[0].Name != "witness" || doc.Health[0].State != "OK" ||
		doc.Health[0].Reason != fmt.Sprintf("3/3 etcd members, held by %s, fencing token %d", n.cfg.NodeID, fence) {
		t.Errorf("health %+v", doc.Health)
	}
	rec := httptest.NewRecorder()
	n.servePage(rec, httptest.NewRequest("GET", "/gateway", nil))
	page := rec.Body.String()
	for _, want := range []string{"Witness (etcd)", fmt.Sprintf("held</span> by this node, fencing token %d", fence),
		fmt.Sprintf("%s (fencing token %d)", n.cfg.NodeID, fence), "3 of 3"} {
		if !strings.Contains(page, want) {
			t.Errorf("status page lacks %q", want)
		}
	}
}
