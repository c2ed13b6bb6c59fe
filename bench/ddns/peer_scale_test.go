package ddnsbench

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redund/redund/ddns"
	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/dnsupdate"
)

// served asks the pages process how many status requests it has served.
func served(b *testing.B, anyURL string) int64 {
	u, _ := url.Parse(anyURL)
	resp, err := http.Get("http://" + u.Host + "/__count")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	n, _ := strconv.ParseInt(string(raw), 10, 64)
	return n
}

// measure returns checks/s (from the pages' counter) and CPU % of one
// core used by cpu() over secs seconds.
func measure(b *testing.B, pages *pageSet, secs int, cpu func() time.Duration) (float64, float64) {
	c0, n0, t0 := cpu(), pages.served(b), time.Now()
	time.Sleep(time.Duration(secs) * time.Second) // sleep: the measuring window of the benchmark
	c1, n1, wall := cpu(), pages.served(b), time.Since(t0)
	return float64(n1-n0) / wall.Seconds(), 100 * (c1 - c0).Seconds() / wall.Seconds()
}

// BenchmarkScaleVsGdnsd compares the CPU cost of HTTP health checking at
// scale with gdnsd (multifo + http_status) at the same settings: 1000
// names × 3 servers, each server its own loopback address, interval 2 s
// (gdnsd cannot go below 2 s). The two run in turn, DDNS_PAIRS (3) times
// (redund, gdnsd, redund, gdnsd, ...), DDNS_SECONDS (30) each after a 3 s
// warm-up, so that a neighbour's load hits both alike; every pair gives a
// ratio of CPU per check. The status pages run in their own process and
// count the checks. DDNS_KEEPALIVE=1 gives redund's checks keepalive.
func BenchmarkScaleVsGdnsd(b *testing.B) {
	n, secs, pairs := envInt("DDNS_SCHEMES", 1000), envInt("DDNS_SECONDS", 30), envInt("DDNS_PAIRS", 3)
	pages := pageServers(b, 3*n, 1, "-sameport") // one process: gdnsd's http_status needs one port
	urls := pages.urls
	u, _ := url.Parse(urls[0])
	port, _ := strconv.Atoi(u.Port())
	b.ResetTimer()
	var ratios []float64
	var rSum, gSum float64
	for pair := range pairs {
		rChecks, rCPU := measureRedund(b, pages, n, secs)
		proc, stop := startGdnsdMany(b, urls, port, n)
		time.Sleep(3 * time.Second) // sleep: warm-up of gdnsd before its measuring window
		gChecks, gCPU := measure(b, pages, secs, func() time.Duration { return procCPU(proc) })
		stop()
		rPer, gPer := 10*rCPU/rChecks, 10*gCPU/gChecks // ms of CPU per check
		ratios = append(ratios, rPer/gPer)
		rSum, gSum = rSum+rPer, gSum+gPer
		b.Logf("pair %d (load %s): redund %.0f checks/s, %.1f%% of one core, %.3f ms/check; gdnsd %.0f checks/s, %.1f%%, %.3f ms/check; redund/gdnsd %.2f",
			pair+1, loadAvg(), rChecks, rCPU, rPer, gChecks, gCPU, gPer, rPer/gPer)
	}
	b.StopTimer()
	sort.Float64s(ratios)
	b.ReportMetric(rSum/float64(pairs), "redund-ms/check")
	b.ReportMetric(gSum/float64(pairs), "gdnsd-ms/check")
	b.ReportMetric(ratios[len(ratios)/2], "median-ratio")
	b.Logf("%d names × 3 servers at 2 s, %d pairs: CPU per check redund/gdnsd %v (median %.2f)", n, pairs, ratios, ratios[len(ratios)/2])
}

// measureRedund runs the ddns daemon over urls (3 per name, 2 s) for secs
// after a warm-up and returns checks/s and CPU % of one core.
func measureRedund(b *testing.B, pages *pageSet, n, secs int) (float64, float64) {
	urls := pages.urls
	prov := &countProvider{vals: map[string]string{}}
	cfgs := map[string]*ddns.Config{}
	for i := range n {
		c := &ddns.Config{Name: fmt.Sprintf("s%d.example.test", i), Interval: config.Duration(2 * time.Second),
			StateDir: b.TempDir(), Provider: dnsupdate.Config{Kind: "he", Password: "x"}}
		for j := range 3 {
			chk := httpCheck(urls[i*3+j])
			chk.KeepAlive = os.Getenv("DDNS_KEEPALIVE") == "1"
			c.Servers = append(c.Servers, ddns.Server{Name: fmt.Sprintf("srv%d", j), Address: fmt.Sprintf("192.0.2.%d", j+1),
				Priority: 3 - j, Check: chk})
		}
		cfgs[fmt.Sprintf("s%d", i)] = c
	}
	d, err := ddns.New(cfgs, ddns.Options{Provider: func(string, *ddns.Config) (dnsupdate.Provider, error) { return prov, nil }})
	must(b, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = d.Run(ctx); close(done) }()
	time.Sleep(3 * time.Second) // sleep: warm-up before the measuring window
	checks, cpu := measure(b, pages, secs, cpuTime)
	cancel()
	<-done
	return checks, cpu
}

func loadAvg() string {
	raw, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// startGdnsdMany runs gdnsd with one multifo resource per name over the
// given page URLs (3 per name, all on port) and waits until it answers;
// stop kills it (cleanup does too).
func startGdnsdMany(b *testing.B, urls []string, port, n int) (proc *os.Process, stop func()) {
	bin, err := exec.LookPath("gdnsd")
	if err != nil {
		b.Skip("gdnsd not found: apt-get install -y gdnsd")
	}
	dir := b.TempDir()
	dns := deadUDP(b)
	var res, zone strings.Builder
	for i := range n {
		fmt.Fprintf(&res, "    r%d => { a => %s, b => %s, c => %s }\n", i, host(urls[3*i]), host(urls[3*i+1]), host(urls[3*i+2]))
		fmt.Fprintf(&zone, "s%d 60 DYNA multifo!r%d\n", i, i)
	}
	conf := fmt.Sprintf(`options => { listen => [ %s ], run_dir => %s/run, state_dir => %s/state }
service_types => { web => { plugin => http_status, port => %d, url_path => "/status", interval => 2, timeout => 1, up_thresh => 2, ok_thresh => 2, down_thresh => 3 } }
plugins => { multifo => { service_types => [ web ]
%s } }
`, dns, dir, dir, port, res.String())
	must(b, os.MkdirAll(filepath.Join(dir, "etc", "zones"), 0o755))
	must(b, os.WriteFile(filepath.Join(dir, "etc", "config"), []byte(conf), 0o644))
	must(b, os.WriteFile(filepath.Join(dir, "etc", "zones", "example.test"),
		[]byte("@ 60 SOA ns hostmaster 1 3600 600 86400 60\n@ 60 NS ns\nns 60 A 127.0.0.1\n"+zone.String()), 0o644))
	cmd := exec.Command(bin, "-c", filepath.Join(dir, "etc"), "start")
	log, _ := os.Create(filepath.Join(dir, "gdnsd.log"))
	cmd.Stdout, cmd.Stderr = log, log
	must(b, cmd.Start())
	var once sync.Once
	stop = func() { once.Do(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); log.Close() }) }
	b.Cleanup(stop)
	deadline := time.Now().Add(3 * time.Minute)
	for answerOf(dns, "s0.example.test") == "" {
		if time.Now().After(deadline) {
			raw, _ := os.ReadFile(filepath.Join(dir, "gdnsd.log"))
			lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
			b.Fatalf("gdnsd did not answer within 3m; end of its log:\n%s", strings.Join(lines[max(0, len(lines)-10):], "\n"))
		}
		time.Sleep(50 * time.Millisecond) // sleep: poll interval while gdnsd starts (the failure prints its log)
	}
	return cmd.Process, stop
}

func host(u string) string {
	p, _ := url.Parse(u)
	return p.Hostname()
}

// deadUDP is a loopback port free for both UDP and TCP (gdnsd binds both).
func deadUDP(b *testing.B) string {
	for range 50 {
		tl, err := net.Listen("tcp", "127.0.0.1:0")
		must(b, err)
		addr := tl.Addr().String()
		ul, err := net.ListenPacket("udp", addr)
		tl.Close()
		if err == nil {
			ul.Close()
			return addr
		}
	}
	b.Fatal("no port free for both UDP and TCP")
	return ""
}
