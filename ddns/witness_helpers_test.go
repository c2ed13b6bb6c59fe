package ddns

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/dnsupdate"
	"github.com/redund/redund/internal/witness"
	"github.com/redund/redund/internal/witness/etcdtest"
)

// witnessTTL is the lease TTL of the deciders in these tests (the least
// the witness allows).
const witnessTTL = 2 * time.Second

// setCall is one Set a decider made on the shared provider.
type setCall struct {
	node       string
	value      string
	start, end time.Time
}

// sharedDNS is one memory provider that every decider pushes to, with a
// log of who called Set and when.
type sharedDNS struct {
	mem   memProvider
	mu    sync.Mutex
	calls []setCall
}

func (s *sharedDNS) log() []setCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]setCall(nil), s.calls...)
}

// nodeDNS is one decider's handle on the shared provider.
type nodeDNS struct {
	node string
	s    *sharedDNS
}

func (p *nodeDNS) Name() string { return "mem" }
func (p *nodeDNS) Get(ctx context.Context, n, t string) ([]string, error) {
	return p.s.mem.Get(ctx, n, t)
}
func (p *nodeDNS) Set(ctx context.Context, r dnsupdate.Record) (string, error) {
	start := time.Now()
	reply, err := p.s.mem.Set(ctx, r)
	p.s.mu.Lock()
	p.s.calls = append(p.s.calls, setCall{node: p.node, value: r.Value, start: start, end: time.Now()})
	p.s.mu.Unlock()
	return reply, err
}

// decNode is one in-process `ddns run` with its own witness.
type decNode struct {
	name   string
	d      *Daemon
	cancel context.CancelFunc
	done   chan error
	relays etcdtest.Relays // its way to each etcd member (nil: direct)
}

// startDecider runs a daemon of scheme "cat" (witness = true) as node
// name. With viaRelays its etcd connections go through relays the test
// can cut.
func startDecider(t *testing.T, name string, cl *etcdtest.Cluster, viaRelays bool, c *Config, dns *sharedDNS) *decNode {
	t.Helper()
	n := &decNode{name: name, done: make(chan error, 1)}
	eps := cl.Endpoints()
	if viaRelays {
		n.relays = cl.Relayed(t)
		eps = n.relays.URLs()
	}
	w, err := witness.New(witness.Config{Endpoints: eps, Name: name, TTL: config.Duration(witnessTTL)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Witness = true
	n.d, err = New(map[string]*Config{"cat": c}, Options{Witness: w,
		Provider: func(string, *Config) (dnsupdate.Provider, error) { return &nodeDNS{node: name, s: dns}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	go func() { n.done <- n.d.Run(ctx) }()
	t.Cleanup(n.stop)
	return n
}

// stop stops the daemon (a clean stop revokes its lease unless its relays
// are cut) and waits for it.
func (n *decNode) stop() {
	if n.cancel == nil {
		return
	}
	n.cancel()
	if err := <-n.done; err != nil {
		panic("Run returned " + err.Error())
	}
	n.cancel = nil
}

// cutEtcd makes every connection of n to etcd silent.
func (n *decNode) cutEtcd() {
	n.relays.Cut()
}

func (n *decNode) status() SchemeStatus { return n.d.Scheme("cat").Snapshot() }

func (n *decNode) leads() bool { return n.status().Witness.Role == "leader" }

// checkOneWriter asserts that the nodes' terms as leader never overlap
// and that every Set was made by a node inside one of its own terms.
func checkOneWriter(t *testing.T, dns *sharedDNS, nodes ...*decNode) {
	t.Helper()
	type owned struct {
		node string
		Term
	}
	var terms []owned
	for _, n := range nodes {
		for _, tm := range n.d.Scheme("cat").witnessTerms() {
			terms = append(terms, owned{n.name, tm})
		}
	}
	end := func(tm Term) time.Time {
		if tm.End.IsZero() {
			return time.Now().Add(time.Hour)
		}
		return tm.End
	}
	for i, a := range terms {
		for _, b := range terms[i+1:] {
			if a.node != b.node && a.Start.Before(end(b.Term)) && b.Start.Before(end(a.Term)) {
				t.Errorf("two leaders at once: %s %+v and %s %+v", a.node, a.Term, b.node, b.Term)
			}
		}
	}
	for _, c := range dns.log() {
		inside := false
		for _, tm := range terms {
			if tm.node == c.node && !c.start.Before(tm.Start) && !c.start.After(end(tm.Term)) {
				inside = true
			}
		}
		if !inside {
			t.Errorf("%s pushed %s at %s outside its terms as leader %+v", c.node, c.value, c.start.Format(time.StampMicro), terms)
		}
	}
}
