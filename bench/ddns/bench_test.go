// Package ddnsbench measures redund ddns: failover time against a real
// BIND9 and the cost of many schemes. Run it with bench/ddns/run.sh.
package ddnsbench

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redund/redund/ddns"
	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/dnsupdate"
	"github.com/redund/redund/internal/dnsupdate/bindtest"
	"github.com/redund/redund/internal/health"
	"github.com/redund/redund/internal/testutil"
)

// statusPage answers status=OK or status=ERR.
type statusPage struct {
	srv *httptest.Server
	ok  atomic.Bool
}

func newStatusPage(b testing.TB) *statusPage {
	p := &statusPage{}
	p.ok.Store(true)
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if p.ok.Load() {
			fmt.Fprintln(w, "status=OK")
		} else {
			fmt.Fprintln(w, "status=ERR")
		}
	}))
	b.Cleanup(p.srv.Close)
	return p
}

func httpCheck(url string) *health.Config {
	return &health.Config{Kind: "http", URL: url, MustHave: "status=OK", Timeout: config.Duration(time.Second)}
}

func run(b *testing.B, d *ddns.Daemon) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = d.Run(ctx); close(done) }()
	b.Cleanup(func() { cancel(); <-done })
}

// BenchmarkFailover: main's page turns to status=ERR; the time until BIND
// answers the backup's address is one failover. Settings: interval 100ms
// (jitter ±10ms), fall 2, rise 2, RFC 2136 + TSIG to BIND on loopback.
func BenchmarkFailover(b *testing.B) {
	bind := bindtest.Start(b, "example.test", "cat 60 IN A 192.0.2.99")
	main, backup := newStatusPage(b), newStatusPage(b)
	interval, fall := 100*time.Millisecond, 2
	c := &ddns.Config{Name: "cat.example.test", Interval: config.Duration(interval), Rise: 2, Fall: fall,
		StateDir: b.TempDir(), Provider: dnsupdate.Config{Kind: "rfc2136", Server: bind.Addr, Zone: bind.Zone,
			Key: &dnsupdate.TSIG{Name: bind.KeyName, Secret: config.Secret(bind.KeySecret)}},
		Servers: []ddns.Server{
			{Name: "main", Address: "192.0.2.1", Priority: 2, Check: httpCheck(main.srv.URL)},
			{Name: "backup", Address: "192.0.2.2", Priority: 1, Check: httpCheck(backup.srv.URL)},
		}}
	d, err := ddns.New(map[string]*ddns.Config{"cat": c}, ddns.Options{})
	if err != nil {
		b.Fatal(err)
	}
	run(b, d)
	answer := func() string {
		v, _ := dnsupdate.QueryValues(context.Background(), bind.Addr, c.Name, 1, time.Second, false)
		return strings.Join(v, ",")
	}
	testutil.Eventually(b, 5*time.Second, "main", func() bool { return answer() == "192.0.2.1" })
	var times []time.Duration
	b.ResetTimer()
	for range b.N {
		main.ok.Store(false)
		times = append(times, testutil.Eventually(b, 5*time.Second, "failover", func() bool { return answer() == "192.0.2.2" }))
		main.ok.Store(true)
		testutil.Eventually(b, 5*time.Second, "failback", func() bool { return answer() == "192.0.2.1" })
	}
	b.StopTimer()
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	goal := time.Duration(fall)*interval + 200*time.Millisecond
	b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(times[len(times)-1].Microseconds())/1000, "max-ms")
	b.ReportMetric(float64(goal.Milliseconds()), "goal-ms")
	if times[len(times)-1] > goal {
		b.Logf("GOAL NOT MET: max failover %v > %v", times[len(times)-1], goal)
	}
}
