package ddnsbench

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/ddns"
	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/dnsupdate"
	"github.com/redund/redund/internal/dnsupdate/bindtest"
	"github.com/redund/redund/internal/testutil"
	"github.com/redund/redund/internal/witness"
	"github.com/redund/redund/internal/witness/etcdtest"
)

const benchTTL = 2 * time.Second

// decider is one ddns daemon on the witness, its etcd connections through
// relays so that it can be cut off (a kill, as etcd sees it).
type decider struct {
	d      *ddns.Daemon
	cancel context.CancelFunc
	done   chan struct{}
	relays etcdtest.Relays
}

func startDecider(b *testing.B, name string, cl *etcdtest.Cluster, c *ddns.Config) *decider {
	dc := &decider{done: make(chan struct{})}
	dc.relays = cl.Relayed(b)
	w, err := witness.New(witness.Config{Endpoints: dc.relays.URLs(), Name: name, TTL: config.Duration(benchTTL)}, nil)
	if err != nil {
		b.Fatal(err)
	}
	cc := *c
	cc.StateDir, cc.Witness = b.TempDir(), true
	if dc.d, err = ddns.New(map[string]*ddns.Config{"cat": &cc}, ddns.Options{Witness: w}); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	dc.cancel = cancel
	go func() { _ = dc.d.Run(ctx); close(dc.done) }()
	b.Cleanup(dc.kill)
	return dc
}

// kill cuts the decider from etcd and stops it: its lease is left to
// expire, as after kill -9.
func (dc *decider) kill() {
	dc.relays.Cut()
	dc.cancel()
	<-dc.done
}

func (dc *decider) leads() bool { return dc.d.Scheme("cat").Snapshot().Witness.Role == "leader" }

// catOnBIND is main (2) and backup (1) on status pages, pushed to BIND.
func catOnBIND(b *testing.B, bind *bindtest.Server, main, backup *statusPage) *ddns.Config {
	return &ddns.Config{Name: "cat.example.test", Interval: config.Duration(100 * time.Millisecond), Rise: 2, Fall: 2,
		StateDir: b.TempDir(), Provider: dnsupdate.Config{Kind: "rfc2136", Server: bind.Addr, Zone: bind.Zone,
			Key: &dnsupdate.TSIG{Name: bind.KeyName, Secret: config.Secret(bind.KeySecret)}},
		Servers: []ddns.Server{
			{Name: "main", Address: "192.0.2.1", Priority: 2, Check: httpCheck(main.srv.URL)},
			{Name: "backup", Address: "192.0.2.2", Priority: 1, Check: httpCheck(backup.srv.URL)},
		}}
}

// failovers turns main's page to ERR b.N times and returns the times
// until BIND answers backup.
func failovers(b *testing.B, bind *bindtest.Server, main *statusPage) []time.Duration {
	answer := func() string {
		v, _ := dnsupdate.QueryValues(context.Background(), bind.Addr, "cat.example.test", 1, time.Second, false)
		return strings.Join(v, ",")
	}
	testutil.Eventually(b, 20*time.Second, "main", func() bool { return answer() == "192.0.2.1" })
	var times []time.Duration
	for range b.N {
		main.ok.Store(false)
		times = append(times, testutil.Eventually(b, 5*time.Second, "failover", func() bool { return answer() == "192.0.2.2" }))
		main.ok.Store(true)
		testutil.Eventually(b, 5*time.Second, "failback", func() bool { return answer() == "192.0.2.1" })
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	return times
}

// BenchmarkWitnessFailover: the same failover (interval 100 ms, fall 2,
// RFC 2136 to BIND) by one decider alone and by three deciders on a real
// three-member etcd deciding by majority (pushing with prerequisites).
func BenchmarkWitnessFailover(b *testing.B) {
	cl := etcdtest.Start(b, 3)
	for _, n := range []int{1, 3} {
		bind := bindtest.Start(b, "example.test", "cat 60 IN A 192.0.2.99")
		main, backup := newStatusPage(b), newStatusPage(b)
		c := catOnBIND(b, bind, main, backup)
		if n == 1 {
			d, err := ddns.New(map[string]*ddns.Config{"cat": c}, ddns.Options{})
			if err != nil {
				b.Fatal(err)
			}
			run(b, d)
		} else {
			for i := range n {
				startDecider(b, fmt.Sprintf("d%d", i), cl, c)
			}
		}
		times := failovers(b, bind, main)
		b.Logf("%d decider(s): failover p50 %v, max %v (%d failovers)", n, times[len(times)/2], times[len(times)-1], len(times))
		b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, fmt.Sprintf("p50-ms-%d", n))
		b.ReportMetric(float64(times[len(times)-1].Microseconds())/1000, fmt.Sprintf("max-ms-%d", n))
	}
}

// BenchmarkWitnessNewLeader: three deciders; the leader is killed (cut
// from etcd and stopped); the time until another decider's term begins.
// A new decider replaces the killed one before the next round.
func BenchmarkWitnessNewLeader(b *testing.B) {
	cl := etcdtest.Start(b, 3)
	main, backup := newStatusPage(b), newStatusPage(b)
	bind := bindtest.Start(b, "example.test", "cat 60 IN A 192.0.2.99")
	c := catOnBIND(b, bind, main, backup)
	var ds []*decider
	for i := range 3 {
		ds = append(ds, startDecider(b, fmt.Sprintf("d%d", i), cl, c))
	}
	var times []time.Duration
	for round := range b.N {
		var lead int
		testutil.Eventually(b, 20*time.Second, "a leader", func() bool {
			for i, dc := range ds {
				if dc.leads() {
					lead = i
					return true
				}
			}
			return false
		})
		killed := time.Now()
		ds[lead].kill()
		rest := append(append([]*decider(nil), ds[:lead]...), ds[lead+1:]...)
		testutil.Eventually(b, 10*time.Second, "a new leader", func() bool {
			for _, dc := range rest {
				if terms := dc.d.Scheme("cat").Snapshot().Witness.Terms; len(terms) > 0 && terms[len(terms)-1].Start.After(killed) {
					times = append(times, terms[len(terms)-1].Start.Sub(killed))
					return true
				}
			}
			return false
		})
		ds = append(rest, startDecider(b, fmt.Sprintf("r%d", round), cl, c))
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	goal := benchTTL + c.Interval.D()
	b.Logf("new leader after a kill: p50 %v, max %v (%d kills; ttl %v + interval %v = %v)",
		times[len(times)/2], times[len(times)-1], len(times), benchTTL, c.Interval.D(), goal)
	b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(times[len(times)-1].Microseconds())/1000, "max-ms")
	if times[len(times)-1] > goal {
		b.Logf("GOAL NOT MET: max %v > %v", times[len(times)-1], goal)
	}
}
