package schedsync

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/testutil"
	"github.com/redund/redund/internal/witness"
	"github.com/redund/redund/internal/witness/etcdtest"
)

// witTTL is the lease TTL in these tests (the least the witness allows).
const witTTL = 2 * time.Second

// witPair is a primary (a) and a secondary-failover (b) on a real
// three-member etcd. Each node reaches etcd through its own relays and
// the other node through a relay, so a test can cut a node from etcd or
// the link between the nodes.
type witPair struct {
	a, b       *testNode
	etcdA      etcdtest.Relays
	etcdB      etcdtest.Relays
	linkAB     *etcdtest.Relay // a's way to b
	linkBA     *etcdtest.Relay // b's way to a
	hookA      string          // files the hooks write: "event fence"
	hookB      string
	twoPrimary atomic.Int64 // samples with both nodes primary
	samples    atomic.Int64
	cfgA       *Config // a's config and [witness], to start it again
	witA       *witness.Config
}

func startWitPair(t *testing.T) *witPair {
	t.Helper()
	return startWitPairWith(t, nil)
}

// startWitPairWith is startWitPair with mutate applied to the configs
// after the hooks are set.
func startWitPairWith(t *testing.T, mutate func(a, b *Config)) *witPair {
	t.Helper()
	cl := etcdtest.Start(t, 3)
	p := &witPair{hookA: filepath.Join(t.TempDir(), "hook-a"), hookB: filepath.Join(t.TempDir(), "hook-b")}
	a, b, lnA, lnB := pairConfigs(t, ModePrimary, ModeSecondaryFailover, nil)
	p.linkAB, p.linkBA = etcdtest.NewRelay(t, lnB.Addr().String()), etcdtest.NewRelay(t, lnA.Addr().String())
	a.Peer, b.Peer = "http://"+p.linkAB.Addr, "http://"+p.linkBA.Addr
	for _, c := range []struct {
		cfg  *Config
		hook string
	}{{a, p.hookA}, {b, p.hookB}} {
		c.cfg.Witness = true
		hook := []string{"/bin/sh", "-c", `echo "$REDUND_SCHEDSYNC_EVENT $REDUND_FENCE" >> "$0"`, c.hook}
		c.cfg.OnPromote, c.cfg.OnDemote = hook, hook
	}
	if mutate != nil {
		mutate(a, b)
	}
	var wa, wb *witness.Config
	wa, p.etcdA = witConfig(t, cl, "a")
	wb, p.etcdB = witConfig(t, cl, "b")
	p.cfgA, p.witA = a, wa
	p.a = startWitNode(t, a, lnA, wa)
	testutil.Eventually(t, 15*time.Second, "a holds the lock", func() bool { return p.a.mayPublish() })
	p.b = startWitNode(t, b, lnB, wb)
	return p
}

// witConfig is node's [witness] table, through one relay per member.
func witConfig(t *testing.T, cl *etcdtest.Cluster, node string) (*witness.Config, etcdtest.Relays) {
	relays := cl.Relayed(t)
	return &witness.Config{Endpoints: relays.URLs(), Name: node, TTL: config.Duration(witTTL)}, relays
}

func startWitNode(t *testing.T, cfg *Config, ln net.Listener, w *witness.Config) *testNode {
	t.Helper()
	n, err := New(cfg, Options{Version: "test", Listener: ln, Witness: w})
	must(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	tn := &testNode{Node: n, dir: cfg.Dir, cancel: cancel, done: make(chan struct{})}
	go func() { _ = n.Run(ctx); close(tn.done) }()
	var once sync.Once
	t.Cleanup(func() { once.Do(tn.stop) })
	return tn
}

// sample watches both nodes' roles every 10 ms until ctx ends and counts
// the samples in which both are primary.
func (p *witPair) sample(ctx context.Context) (wait func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if p.a.Role() == RolePrimary && p.b.Role() == RolePrimary {
				p.twoPrimary.Add(1)
			}
			p.samples.Add(1)
		}
	}()
	return func() { <-done }
}

func (p *witPair) checkSamples(t *testing.T) {
	t.Helper()
	if n := p.twoPrimary.Load(); n > 0 {
		t.Errorf("two primaries in %d of %d samples taken every 10 ms", n, p.samples.Load())
	}
	if p.samples.Load() < 100 {
		t.Errorf("only %d samples", p.samples.Load())
	}
}

func witDetail(n *testNode) map[string]any {
	w, _ := n.Status()[0].Details["witness"].(map[string]any)
	return w
}

// hookLines is what the hooks wrote ("promote 123").
func hookLines(path string) []string {
	b, _ := os.ReadFile(path)
	return strings.Fields(strings.ReplaceAll(string(b), "\n", " | "))
}

// TestWitnessPrimaryCutFromEtcd: the primary cut off from etcd (but not
// from its secondary) stops publishing and demotes itself before its
// lease ends; the secondary-failover, no longer served, campaigns, takes
// the lock once the lease has expired and only then promotes. A file
// written on the old primary after it lost the lock never reaches the
// new primary. Both hooks get REDUND_FENCE; a sampler never sees two
// primaries.
func TestWitnessPrimaryCutFromEtcd(t *testing.T) {
	p := startWitPair(t)
	writeFile(t, p.a.dir, "x.txt", "1", 0o644)
	waitSame(t, p.a, p.b, "initial copy")
	testutil.Eventually(t, 10*time.Second, "Synced", func() bool { return p.b.state() == StateSynced })
	fenceA, _ := p.a.wit.lock.Held()
	if d := witDetail(p.a); d["held"] != true || d["fence"] != fenceA || d["holder"] != "a" {
		t.Fatalf("a's witness detail %v (fence %d)", d, fenceA)
	}
	ctx, cancel := context.WithCancel(context.Background())
	wait := p.sample(ctx)

	cut := time.Now()
	p.etcdA.Cut()
	testutil.Eventually(t, witTTL, "a stops publishing", func() bool { return !p.a.mayPublish() })
	stopped := time.Since(cut)
	testutil.Eventually(t, 2*time.Second, "a demotes itself", func() bool { return p.a.Role() == RoleSecondary })
	writeFile(t, p.a.dir, "after-cut.txt", "written on a after it lost the lock", 0o644)
	testutil.Eventually(t, 15*time.Second, "b promotes", func() bool { return p.b.Role() == RolePrimary })
	took := time.Since(cut)
	fenceB, held := p.b.wit.lock.Held()
	if !held || fenceB <= fenceA {
		t.Fatalf("b promoted with fence %d (held %v), a had %d", fenceB, held, fenceA)
	}
	t.Logf("a stopped publishing %v after the cut; b primary after %v", stopped, took)
	if _, err := os.Stat(filepath.Join(p.b.dir, "after-cut.txt")); err == nil {
		t.Fatal("a file written on a after it lost the lock reached b")
	}
	// a follows b now (it still reaches b): b's changes reach a
	writeFile(t, p.b.dir, "from-b.txt", "b is primary", 0o644)
	waitSame(t, p.b, p.a, "a follows b")
	cancel()
	wait()
	p.checkSamples(t)

	want := "promote " + strconv.FormatInt(fenceB, 10)
	testutil.Eventually(t, 5*time.Second, "b's on_promote with REDUND_FENCE", func() bool {
		return strings.Contains(strings.Join(hookLines(p.hookB), " "), want)
	})
	wantA := "demote " + strconv.FormatInt(fenceA, 10)
	testutil.Eventually(t, 5*time.Second, "a's on_demote with REDUND_FENCE", func() bool {
		return strings.Contains(strings.Join(hookLines(p.hookA), " "), wantA)
	})
	if d := witDetail(p.b); d["held"] != true || d["fence"] != fenceB {
		t.Fatalf("b's witness detail %v, want held with fence %d", d, fenceB)
	}
}

// TestWitnessPrimaryCutFromSecondary: the link between the nodes cut
// (both still reach etcd). Without the witness the secondary-failover
// would promote after failover_offset; with it, it campaigns but the
// primary keeps the lock, so it stays secondary; once the link heals it
// withdraws and syncs again. A sampler never sees two primaries.
func TestWitnessPrimaryCutFromSecondary(t *testing.T) {
	p := startWitPair(t)
	writeFile(t, p.a.dir, "x.txt", "1", 0o644)
	waitSame(t, p.a, p.b, "initial copy")
	ctx, cancel := context.WithCancel(context.Background())
	wait := p.sample(ctx)

	p.linkAB.Cut()
	p.linkBA.Cut()
	testutil.Eventually(t, 10*time.Second, "b campaigns (the primary has not served it for failover_offset)", func() bool {
		d := witDetail(p.b)
		return d["campaigning"] == true && p.b.state() == StateUnavailable
	})
	// well past failover_offset (2s) and the TTL: b must stay secondary
	hold := time.Now().Add(3 * witTTL)
	for time.Now().Before(hold) {
		if p.b.Role() != RoleSecondary || p.a.Role() != RolePrimary {
			t.Fatalf("roles a %s, b %s while the link is cut", p.a.Role(), p.b.Role())
		}
		time.Sleep(50 * time.Millisecond) // sleep: sampling interval of a window in which the roles must hold
	}
	if d := witDetail(p.b); d["held"] != false || d["holder"] != "a" {
		t.Fatalf("b's witness detail %v: want not held, holder a", d)
	}
	if !p.a.mayPublish() {
		t.Fatal("a lost the lock although it reaches etcd")
	}

	p.linkAB.Heal()
	p.linkBA.Heal()
	writeFile(t, p.a.dir, "after-heal.txt", "2", 0o644)
	waitSame(t, p.a, p.b, "after the link healed")
	testutil.Eventually(t, 10*time.Second, "b withdraws and is Synced", func() bool {
		return witDetail(p.b)["campaigning"] == false && p.b.state() == StateSynced
	})
	cancel()
	wait()
	p.checkSamples(t)
	if l := hookLines(p.hookB); len(l) > 0 {
		t.Fatalf("b ran hooks: %v", l)
	}
}

// TestPrimaryWithoutLockNotShownAsPrimary: a node whose saved role is
// primary but that does not hold the witness lock (here etcd cannot be
// reached at all) publishes nothing, and its status does not call it a
// primary: a restarted old primary and the new one are never both shown
// as primary.
func TestPrimaryWithoutLockNotShownAsPrimary(t *testing.T) {
	a, _, lnA, _ := pairConfigs(t, ModePrimary, ModeSecondaryFailover, nil)
	a.Witness = true
	dead := testutil.ClosedTCPAddr(t)
	n := startWitNode(t, a, lnA, &witness.Config{Endpoints: []string{"http://" + dead}, Name: "a", TTL: config.Duration(witTTL)})
	doc := n.Status()[0]
	if n.Role() != RolePrimary || Role(doc.Role) == RolePrimary || !strings.Contains(doc.Reason, "witness lock") {
		t.Fatalf("role %s, document role %q, reason %q", n.Role(), doc.Role, doc.Reason)
	}
}

// TestPrimaryWithoutLockNotCountedAsPrimary: redund_schedsync_primary is
// 1 only while the node is primary and, with the witness, holds the lock.
// A restarted old primary waiting for the lock reported 1 while the other
// node, which holds it, did too: two primaries in the metrics.
func TestPrimaryWithoutLockNotCountedAsPrimary(t *testing.T) {
	a, _, lnA, _ := pairConfigs(t, ModePrimary, ModeSecondaryFailover, nil)
	a.Witness = true
	dead := testutil.ClosedTCPAddr(t)
	n := startWitNode(t, a, lnA, &witness.Config{Endpoints: []string{"http://" + dead}, Name: "a", TTL: config.Duration(witTTL)})
	testutil.Eventually(t, 10*time.Second, "the primary's role loop scanned", func() bool { return n.currentLog() != nil })
	if g := gaugeValue(t, n.metrics.primary); n.Role() != RolePrimary || g != 0 {
		t.Fatalf("role %s without the lock, redund_schedsync_primary %v", n.Role(), g)
	}
}

func gaugeValue(t *testing.T, g prometheus.Gauge) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	must(t, reg.Register(g))
	mfs, err := reg.Gather()
	must(t, err)
	return mfs[0].GetMetric()[0].GetGauge().GetValue()
}

// TestPageShowsWitness: the status page shows the witness lock as the
// node sees it (it showed nothing of it).
func TestPageShowsWitness(t *testing.T) {
	a, _, lnA, _ := pairConfigs(t, ModePrimary, ModeSecondaryFailover, nil)
	a.Witness = true
	dead := testutil.ClosedTCPAddr(t)
	n := startWitNode(t, a, lnA, &witness.Config{Endpoints: []string{"http://" + dead}, Name: "a", TTL: config.Duration(witTTL)})
	page := getPage(t, servePage(t, n, nil, ""), "confirm=promote")
	if !strings.Contains(page, `id="witness">does not hold the lock`) || !strings.Contains(page, "etcd 0/1 reachable") {
		t.Fatalf("the page does not show the witness:\n%s", page)
	}
}

// TestWitnessRestartedOldPrimary: the primary stops (its saved role stays
// primary), the secondary takes the lock and promotes; the old primary
// starts again as primary by its saved role while the other node holds
// the lock. Neither its status document, nor its role on the peer's
// side, nor redund_schedsync_primary shows two primaries while it waits,
// it publishes nothing, and it steps down as soon as it sees the other
// node hold the lock (it waited two TTLs in the lock's queue, and won the
// lock with its stale tree when the holder's lease lapsed meanwhile, as
// a loaded run showed), then follows the holder.
func TestWitnessRestartedOldPrimary(t *testing.T) {
	p := startWitPair(t)
	writeFile(t, p.a.dir, "x.txt", "1", 0o644)
	waitSame(t, p.a, p.b, "initial copy")
	p.a.stop()
	testutil.Eventually(t, 15*time.Second, "b promotes", func() bool { return p.b.Role() == RolePrimary && p.b.mayPublish() })
	writeFile(t, p.b.dir, "from-b.txt", "b is primary", 0o644)

	ln, err := net.Listen("tcp", p.cfgA.Listen)
	must(t, err)
	restarted := time.Now()
	a := startWitNode(t, p.cfgA, ln, p.witA)
	if a.Role() != RolePrimary {
		t.Fatalf("a restarted as %s, want primary by its saved role", a.Role())
	}
	var both, samples int
	deadline := time.Now().Add(15 * time.Second)
	for a.Role() == RolePrimary && time.Now().Before(deadline) {
		da, db := a.Status()[0], p.b.Status()[0]
		if da.Role == RolePrimary.String() && db.Role == RolePrimary.String() {
			both++
		}
		if gaugeValue(t, a.metrics.primary) == 1 && gaugeValue(t, p.b.metrics.primary) == 1 {
			both++
		}
		if a.mayPublish() {
			t.Fatal("the restarted old primary got the lock while b holds it")
		}
		samples++
		time.Sleep(10 * time.Millisecond) // sleep: sampling interval of the window in which a waits for the lock
	}
	if a.Role() != RoleSecondary {
		t.Fatalf("a still %s after 15 s without the lock", a.Role())
	}
	// it steps down once the witness has read the holder from etcd, not
	// after waiting two TTLs in the lock's queue
	if took := time.Since(restarted); took >= a.lockWait() {
		t.Errorf("a stepped down %v after its start, want less than two TTLs (%v)", took, a.lockWait())
	} else {
		t.Logf("a stepped down %v after its start", took)
	}
	if both > 0 || samples == 0 {
		t.Fatalf("two primaries shown in %d of %d samples", both, samples)
	}
	waitSame(t, p.b, a, "a follows b")
	if p.b.Role() != RolePrimary || !p.b.mayPublish() {
		t.Fatal("b lost its role while a waited")
	}
}

// TestWitnessLongTransferIsServing: a secondary that receives a transfer
// lasting longer than failover_offset (a large initial copy) is being
// served by its primary: it does not campaign for the lock meanwhile. It
// counted only whole exchanges, so it campaigned through every long
// copy, and would have taken the lock with a half-copied tree at the
// primary's first lapse with etcd.
func TestWitnessLongTransferIsServing(t *testing.T) {
	f := newFake(t)
	big := bigData(64<<10, 1)
	f.put(Entry{Path: "big.bin", Kind: KindFile, Size: int64(len(big)), Mode: 0o644, Hash: contentSum(big)}, big)
	f.setTrickle("big.bin", 400*time.Millisecond) // about 3.6 s, failover_offset is 2 s
	_, b, lnA, lnB := pairConfigs(t, ModePrimary, ModeSecondaryFailover, nil)
	lnA.Close()
	b.Peer, b.Witness = "http://"+f.addr, true
	dead := testutil.ClosedTCPAddr(t)
	s := startWitNode(t, b, lnB, &witness.Config{Endpoints: []string{"http://" + dead}, Name: "b", TTL: config.Duration(witTTL)})
	deadline := time.Now().Add(20 * time.Second)
	for s.state() != StateSynced {
		if time.Now().After(deadline) {
			t.Fatalf("not Synced within 20 s: %s: %s", s.state(), s.Status()[0].Reason)
		}
		if w := witDetail(s); w["campaigning"] == true {
			t.Fatalf("campaigning while the primary sends the initial copy (%s: %s)", s.state(), s.Status()[0].Reason)
		}
		time.Sleep(20 * time.Millisecond) // sleep: sampling interval of the transfer, which must end in Synced
	}
	got, err := os.ReadFile(filepath.Join(s.dir, "big.bin"))
	if err != nil || string(got) != string(big) {
		t.Fatalf("big.bin not copied: %v", err)
	}
}

// TestWitnessPromoteRefusalSaysHowLong: Make primary refused because the
// lock did not come says how long it waited, which is the caller's
// deadline when that comes first (the admin action's 30 s against two
// TTLs of 40 s); it always said two TTLs.
func TestWitnessPromoteRefusalSaysHowLong(t *testing.T) {
	_, b, _, lnB := pairConfigs(t, ModePrimary, ModeSecondaryFailover, nil)
	b.Witness = true
	dead := testutil.ClosedTCPAddr(t)
	n := startWitNode(t, b, lnB, &witness.Config{Endpoints: []string{"http://" + dead}, Name: "b", TTL: config.Duration(witTTL)})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := n.Promote(ctx)
	if err == nil || !regexp.MustCompile(`did not come within [0-9]+ms `).MatchString(err.Error()) {
		t.Fatalf("Promote: %v", err)
	}
}
