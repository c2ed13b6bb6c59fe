package ddns

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/dnsupdate"
	"github.com/redund/redund/internal/health"
	"github.com/redund/redund/internal/testutil"
	"github.com/redund/redund/internal/witness"
	"github.com/redund/redund/internal/witness/etcdtest"
)

// relayedCheck is p's check through a relay the test can cut (the decider
// is then cut off from that server; its probes time out).
func relayedCheck(t *testing.T, p *page) (*health.Config, *etcdtest.Relay) {
	r := etcdtest.NewRelay(t, p.srv.Listener.Addr().String())
	return &health.Config{Kind: "http", URL: "http://" + r.Addr + "/status", MustHave: "status=OK",
		Timeout: config.Duration(300 * time.Millisecond)}, r
}

// TestWitnessQuorum: three deciders on a real three-member etcd. One
// leads and pushes; the others stand by and name it. The leader cut off
// from every server (its checks fail) does not move the record while the
// two others see the servers OK; when main is down for everyone, the
// record moves to backup, which the leader itself sees down. Only the
// leader ever calls Set.
func TestWitnessQuorum(t *testing.T) {
	cl := etcdtest.Start(t, 3)
	main, backup, sorry := newPage(t, true), newPage(t, true), newPage(t, true)
	dns := &sharedDNS{}
	dns.mem.value = []string{"192.0.2.99"}

	// policy sorry: a decider alone that sees nothing OK would move the record
	sorryCat := func() *Config {
		c := catConfig(t, main, backup, sorry)
		c.Policy, c.Sorry = PolicySorry, "sorry"
		return c
	}
	ca := sorryCat()
	var relays etcdtest.Relays
	for i, p := range []*page{main, backup, sorry} {
		chk, r := relayedCheck(t, p)
		ca.Servers[i].Check, relays = chk, append(relays, r)
	}
	a := startDecider(t, "a", cl, false, ca, dns)
	testutil.Eventually(t, 15*time.Second, "a leads and pushes main", func() bool { return a.leads() && dns.mem.current() == "192.0.2.1" })
	b := startDecider(t, "b", cl, false, sorryCat(), dns)
	c := startDecider(t, "c", cl, false, sorryCat(), dns)
	for _, n := range []*decNode{b, c} {
		testutil.Eventually(t, 10*time.Second, n.name+" follows a", func() bool {
			ss := n.status()
			doc := n.d.Scheme("cat").Document()
			return ss.Witness.Role == "follower" && ss.Witness.Leader == "a" && ss.State == "Standby" &&
				len(ss.Witness.Views) == 3 && doc.Role == "follower" && strings.HasPrefix(doc.Reason, "following a")
		})
	}
	if doc := a.d.Scheme("cat").Document(); doc.Role != "leader" || doc.State != "Synced" {
		t.Fatalf("a's status: role %s state %s", doc.Role, doc.State)
	}

	relays.Cut()
	testutil.Eventually(t, 10*time.Second, "a sees every server down", func() bool {
		for _, s := range a.status().Servers {
			if s.State != "ERR" {
				return false
			}
		}
		return true
	})
	// a has published its view; b and c read it: the decision stays main
	testutil.Eventually(t, 5*time.Second, "b has a's view", func() bool {
		for _, v := range b.status().Witness.Views {
			// the view as etcd has it names each server's address, so
			// that a decider whose config differs is not counted
			if v.Node == "a" && v.Servers["main"].State == "ERR" && v.Servers["main"].Address == "192.0.2.1" {
				return true
			}
		}
		return false
	})
	hold := time.Now().Add(time.Second)
	for time.Now().Before(hold) {
		if v := dns.mem.current(); v != "192.0.2.1" {
			t.Fatalf("the record moved to %s although b and c see main OK", v)
		}
		time.Sleep(20 * time.Millisecond) // sleep: sampling interval of a window in which the record must not move
	}
	ss := a.status()
	if !a.leads() || ss.Decision.Server != "main" || !strings.Contains(ss.Decision.Reason, "2 of 3 deciders see it OK") {
		t.Fatalf("a's decision: %+v (leads %v)", ss.Decision, a.leads())
	}

	main.ok.Store(false) // main down for b and c too: backup, which a sees down
	took := testutil.Eventually(t, 5*time.Second, "the record moves to backup", func() bool { return dns.mem.current() == "192.0.2.2" })
	t.Logf("main down for the majority -> record moved in %v", took)
	checkPlanReadsViews(t, cl, sorryCat())
	checkOneWriter(t, dns, a, b, c)
	for _, call := range dns.log() {
		if call.node != "a" {
			t.Errorf("follower %s called Set (%s)", call.node, call.value)
		}
	}
}

// TestWitnessLeaderCutAndKilled: the leader cut off from etcd stops
// leading and another decider leads within ttl + one interval; that one
// killed (its etcd connections silenced, then the process stopped, so its
// lease is left to expire as after kill -9), the third leads within ttl +
// one interval and pushes. Terms never overlap and every Set is made
// inside its maker's term.
func TestWitnessLeaderCutAndKilled(t *testing.T) {
	cl := etcdtest.Start(t, 3)
	main, backup, sorry := newPage(t, true), newPage(t, true), newPage(t, true)
	dns := &sharedDNS{}
	a := startDecider(t, "a", cl, true, catConfig(t, main, backup, sorry), dns)
	testutil.Eventually(t, 15*time.Second, "a leads", func() bool { return a.leads() && dns.mem.current() == "192.0.2.1" })
	b := startDecider(t, "b", cl, true, catConfig(t, main, backup, sorry), dns)
	c := startDecider(t, "c", cl, true, catConfig(t, main, backup, sorry), dns)
	testutil.Eventually(t, 10*time.Second, "b and c stand by", func() bool {
		return b.status().State == "Standby" && c.status().State == "Standby"
	})
	interval := catConfig(t, main, backup, sorry).Interval.D()
	limit := witnessTTL + interval + time.Second // + etcd's expiry check (up to 0.5 s) and a loaded machine

	cut := time.Now()
	a.cutEtcd()
	testutil.Eventually(t, witnessTTL, "a stops leading", func() bool { return !a.leads() })
	next := waitNewLeader(t, limit, cut, b, c)
	main.ok.Store(false)
	testutil.Eventually(t, 5*time.Second, "the new leader pushes backup", func() bool { return dns.mem.current() == "192.0.2.2" })

	other := b
	if next == b {
		other = c
	}
	killed := time.Now()
	next.cutEtcd()
	next.stop()
	third := waitNewLeader(t, limit, killed, other)
	main.ok.Store(true)
	testutil.Eventually(t, 5*time.Second, third.name+" pushes main", func() bool { return dns.mem.current() == "192.0.2.1" })
	a.stop()
	checkOneWriter(t, dns, a, b, c)
}

// waitNewLeader waits until one of nodes has begun a term after since and
// returns it; it fails when that took longer than limit.
func waitNewLeader(t *testing.T, limit time.Duration, since time.Time, nodes ...*decNode) *decNode {
	t.Helper()
	var got *decNode
	var at time.Time
	testutil.Eventually(t, limit+5*time.Second, "a new leader", func() bool {
		for _, n := range nodes {
			for _, tm := range n.d.Scheme("cat").witnessTerms() {
				if tm.Start.After(since) {
					got, at = n, tm.Start
					return true
				}
			}
		}
		return false
	})
	took := at.Sub(since)
	t.Logf("new leader %s after %v (limit ttl %v + interval + margin = %v)", got.name, took, witnessTTL, limit)
	if took > limit {
		t.Errorf("new leader after %v, more than %v", took, limit)
	}
	return got
}

// checkPlanReadsViews: ddns plan with a short-lived witness shows the
// leader, every live decider's view and the quorum's decision (backup:
// main is down for all, a sees backup down, b and c see it up).
func checkPlanReadsViews(t *testing.T, cl *etcdtest.Cluster, c *Config) {
	t.Helper()
	w, err := witness.New(witness.Config{Endpoints: cl.Endpoints(), Name: "plan", TTL: config.Duration(witnessTTL)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(context.Background()) }()
	defer func() { w.Close(); <-done }()
	c.Witness = true
	res, err := Plan(context.Background(), map[string]*Config{"cat": c}, PlanOptions{SkipProvider: true, Witness: w})
	if err != nil {
		t.Fatal(err)
	}
	pw := res[0].Witness
	if pw == nil || pw.Leader != "a" || len(pw.Deciders) != 3 || pw.Decision.Server != "backup" {
		t.Fatalf("plan's witness part: %+v", pw)
	}
	var out strings.Builder
	WritePlan(&out, res)
	for _, want := range []string{"witness: leader a", "3 live deciders, quorum majority", "a (", "main ERR", "the deciders' quorum: → 192.0.2.2 (backup)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("plan output lacks %q:\n%s", want, out.String())
		}
	}
}

// blockingDNS is a provider whose Set waits for its context to end (a
// provider that does not answer), reporting when it began and why it ended.
type blockingDNS struct {
	memProvider
	entered chan struct{}
	ended   chan error
}

func (p *blockingDNS) Set(ctx context.Context, r dnsupdate.Record) (string, error) {
	select {
	case p.entered <- struct{}{}:
	default: // a later push: the test waits for the first
	}
	<-ctx.Done()
	select {
	case p.ended <- context.Cause(ctx):
	default:
	}
	return "", ctx.Err()
}

// TestWitnessPushEndsWhenTheLockIsLost: a push in flight when the leader
// loses the lock (cut off from etcd) is cancelled at the lease's local
// deadline, before another decider can take the lock, rather than left to
// land whenever the provider answers: Cloudflare and HE have no condition
// that would refuse a deposed leader's push. The leader then stands by.
func TestWitnessPushEndsWhenTheLockIsLost(t *testing.T) {
	cl := etcdtest.Start(t, 3)
	main, backup, sorry := newPage(t, true), newPage(t, true), newPage(t, true)
	prov := &blockingDNS{entered: make(chan struct{}, 1), ended: make(chan error, 1)}
	prov.value = []string{"192.0.2.99"}
	n := &decNode{name: "a", done: make(chan error, 1)}
	n.relays = cl.Relayed(t)
	w, err := witness.New(witness.Config{Endpoints: n.relays.URLs(), Name: "a", TTL: config.Duration(witnessTTL)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := catConfig(t, main, backup, sorry)
	c.Witness = true
	n.d, err = New(map[string]*Config{"cat": c}, Options{Witness: w,
		Provider: func(string, *Config) (dnsupdate.Provider, error) { return prov, nil }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	go func() { n.done <- n.d.Run(ctx) }()
	t.Cleanup(n.stop)

	select {
	case <-prov.entered:
	case <-time.After(15 * time.Second):
		t.Fatal("the leader never pushed")
	}
	cut := time.Now()
	n.cutEtcd()
	select {
	case cause := <-prov.ended:
		if !errors.Is(cause, errLockLost) {
			t.Fatalf("the push ended with %v, want the lock lost", cause)
		}
		if took := time.Since(cut); took > witnessTTL+time.Second {
			t.Errorf("the push ended %v after the cut, want within the ttl %v", took, witnessTTL)
		}
	case <-time.After(witnessTTL + 5*time.Second):
		t.Fatal("the push was still waiting for the provider long after the lock was lost")
	}
	testutil.Eventually(t, 5*time.Second, "a stands by", func() bool {
		ss := n.status()
		return ss.State == StateStandby && ss.LastPush != nil && strings.Contains(ss.LastPush.Error, "lock was lost")
	})
}

// TestWitnessMaintenanceOnAFollower: `redund ddns maintenance` sent to a
// follower (the host the operator is on) reaches the leader through the
// follower's view: the leader moves the name off the server, and back
// when the follower's maintenance ends. Before, the follower answered
// that it applied it and the name stayed.
func TestWitnessMaintenanceOnAFollower(t *testing.T) {
	cl := etcdtest.Start(t, 3)
	main, backup, sorry := newPage(t, true), newPage(t, true), newPage(t, true)
	dns := &sharedDNS{}
	a := startDecider(t, "a", cl, false, catConfig(t, main, backup, sorry), dns)
	testutil.Eventually(t, 15*time.Second, "a leads and pushes main", func() bool { return a.leads() && dns.mem.current() == "192.0.2.1" })
	b := startDecider(t, "b", cl, false, catConfig(t, main, backup, sorry), dns)
	testutil.Eventually(t, 10*time.Second, "b follows a", func() bool { return b.status().State == StateStandby })

	if err := b.d.SetMaintenance("cat", "main", true); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "a pushes backup", func() bool { return dns.mem.current() == "192.0.2.2" })
	if r := a.status().Decision.Reason; !strings.Contains(r, "main in maintenance on b") {
		t.Errorf("a's decision reason %q does not say where main is in maintenance", r)
	}
	// the leader's status shows main in maintenance too, and where
	if by := a.status().Servers[0].MaintenanceBy; len(by) != 1 || by[0] != "b" {
		t.Errorf("a's status: main maintenance_by %v, want [b]", by)
	}
	if h := a.d.Scheme("cat").Document().Health[0]; h.State != "MAINT" || !strings.Contains(h.Reason, "in maintenance on b") {
		t.Errorf("a's health of main: %+v, want MAINT on b", h)
	}
	if err := b.d.SetMaintenance("cat", "main", false); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "a pushes main again", func() bool { return dns.mem.current() == "192.0.2.1" })
	checkOneWriter(t, dns, a, b)
}
