package ddnsbench

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redund/redund/ddns"
	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/dnsupdate"
	"github.com/redund/redund/internal/dnsupdate/bindtest"
	"github.com/redund/redund/internal/testutil"
)

// pair is main (127.0.0.1:port) and backup (127.0.0.2:port) on the same
// port, as gdnsd's http_status checks every address on one port. A page
// that fails answers 503 with status=ERR, so that both gdnsd (status code)
// and redund (musthave) see the failure.
type pair struct {
	port   int
	mainOK atomic.Bool
}

func newPair(b *testing.B) *pair {
	p := &pair{}
	p.mainOK.Store(true)
	ln1, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	p.port = ln1.Addr().(*net.TCPAddr).Port
	ln2, err := net.Listen("tcp", fmt.Sprintf("127.0.0.2:%d", p.port))
	if err != nil {
		b.Fatal(err)
	}
	for i, ln := range []net.Listener{ln1, ln2} {
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			if i == 0 && !p.mainOK.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprintln(w, "status=ERR")
				return
			}
			fmt.Fprintln(w, "status=OK")
		})}
		go func() { _ = srv.Serve(ln) }()
		b.Cleanup(func() { _ = srv.Close() })
	}
	return p
}

func (p *pair) url(host string) string { return fmt.Sprintf("http://%s:%d/", host, p.port) }

// startGdnsd runs gdnsd (Debian package gdnsd) with simplefo between the
// pair, checked by http_status; it returns the DNS address.
func startGdnsd(b *testing.B, p *pair, interval, thresh int) string {
	bin, err := exec.LookPath("gdnsd")
	if err != nil {
		if os.Getenv("REDUND_INTEGRATION") == "1" {
			b.Fatal("gdnsd not found (apt-get install -y gdnsd); REDUND_INTEGRATION=1 requires it")
		}
		b.Skip("gdnsd not found: apt-get install -y gdnsd")
	}
	dir := b.TempDir()
	addr := deadUDP(b)
	conf := fmt.Sprintf(`options => { listen => [ %s ], run_dir => %s/run, state_dir => %s/state }
service_types => { web => { plugin => http_status, port => %d, url_path => "/", interval => %d, timeout => %d, up_thresh => %d, ok_thresh => %d, down_thresh => %d } }
plugins => { simplefo => { cat => { service_types => [ web ], primary => 127.0.0.1, secondary => 127.0.0.2 } } }
`, addr, dir, dir, p.port, interval, interval/2, thresh, thresh, thresh)
	zone := "@ 60 SOA ns hostmaster 1 3600 600 86400 60\n@ 60 NS ns\nns 60 A 127.0.0.1\ncat 60 DYNA simplefo!cat\n"
	must(b, os.MkdirAll(filepath.Join(dir, "etc", "zones"), 0o755))
	must(b, os.WriteFile(filepath.Join(dir, "etc", "config"), []byte(conf), 0o644))
	must(b, os.WriteFile(filepath.Join(dir, "etc", "zones", "example.test"), []byte(zone), 0o644))
	cmd := exec.Command(bin, "-c", filepath.Join(dir, "etc"), "start")
	log, _ := os.Create(filepath.Join(dir, "gdnsd.log"))
	cmd.Stdout, cmd.Stderr = log, log
	must(b, cmd.Start())
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); log.Close() })
	return addr
}

func must(b *testing.B, err error) {
	if err != nil {
		b.Fatal(err)
	}
}

func answerOf(addr, name string) string {
	v, _ := dnsupdate.QueryValues(context.Background(), addr, name, 1, time.Second, false)
	return strings.Join(v, ",")
}

// BenchmarkFailoverVsGdnsd compares failover time with gdnsd's simplefo +
// http_status at the same settings: interval 2 s (gdnsd's minimum, as its
// timeout must be below the interval and at least 1 s), 2 failures down,
// 2 successes up. redund pushes to BIND over RFC 2136; gdnsd answers
// itself. DDNS_PEER_FAILOVERS (default 5) failovers each.
func BenchmarkFailoverVsGdnsd(b *testing.B) {
	n := envInt("DDNS_PEER_FAILOVERS", 5)
	p := newPair(b)
	gd := startGdnsd(b, p, 2, 2)
	bind := bindtest.Start(b, "example.test", "cat 60 IN A 192.0.2.99")
	c := &ddns.Config{Name: "cat.example.test", Interval: config.Duration(2 * time.Second), Rise: 2, Fall: 2,
		StateDir: b.TempDir(), Provider: dnsupdate.Config{Kind: "rfc2136", Server: bind.Addr, Zone: bind.Zone,
			Key: &dnsupdate.TSIG{Name: bind.KeyName, Secret: config.Secret(bind.KeySecret)}},
		Servers: []ddns.Server{
			{Name: "main", Address: "127.0.0.1", Priority: 2, Check: httpCheck(p.url("127.0.0.1"))},
			{Name: "backup", Address: "127.0.0.2", Priority: 1, Check: httpCheck(p.url("127.0.0.2"))},
		}}
	d, err := ddns.New(map[string]*ddns.Config{"cat": c}, ddns.Options{})
	must(b, err)
	run(b, d)
	b.ResetTimer()
	// run both against the same page flips: each flip is measured on both
	testutil.Eventually(b, 30*time.Second, "gdnsd main", func() bool { return answerOf(gd, "cat.example.test") == "127.0.0.1" })
	var red, gdn []time.Duration
	for range n {
		r, g := flipBoth(b, p, bind.Addr, gd)
		red, gdn = append(red, r), append(gdn, g)
	}
	b.StopTimer()
	sort.Slice(red, func(i, j int) bool { return red[i] < red[j] })
	sort.Slice(gdn, func(i, j int) bool { return gdn[i] < gdn[j] })
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(red[len(red)/2]), "redund-p50-ms")
	b.ReportMetric(ms(gdn[len(gdn)/2]), "gdnsd-p50-ms")
	b.ReportMetric(ms(red[len(red)-1]), "redund-max-ms")
	b.ReportMetric(ms(gdn[len(gdn)-1]), "gdnsd-max-ms")
	b.Logf("redund %v; gdnsd %v", red, gdn)
}

// flipBoth takes main down and measures until each DNS server answers the
// backup; then restores main and waits for both to answer main again.
func flipBoth(b *testing.B, p *pair, redundDNS, gdnsdDNS string) (time.Duration, time.Duration) {
	const name = "cat.example.test"
	testutil.Eventually(b, 60*time.Second, "both on main", func() bool {
		return answerOf(redundDNS, name) == "127.0.0.1" && answerOf(gdnsdDNS, name) == "127.0.0.1"
	})
	start := time.Now()
	p.mainOK.Store(false)
	var r, g time.Duration
	testutil.Eventually(b, 60*time.Second, "both on backup", func() bool {
		if r == 0 && answerOf(redundDNS, name) == "127.0.0.2" {
			r = time.Since(start)
		}
		if g == 0 && answerOf(gdnsdDNS, name) == "127.0.0.2" {
			g = time.Since(start)
		}
		return r != 0 && g != 0
	})
	p.mainOK.Store(true)
	return r, g
}
