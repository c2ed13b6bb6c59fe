package ddnsbench

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"runtime/trace"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redund/redund/ddns"
	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/dnsupdate"
	"github.com/redund/redund/internal/health"
)

// countProvider keeps records in memory and counts pushes.
type countProvider struct {
	mu    sync.Mutex
	vals  map[string]string
	count int
}

func (p *countProvider) Name() string { return "memory" }
func (p *countProvider) Get(_ context.Context, name, _ string) ([]string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if v, ok := p.vals[name]; ok {
		return []string{v}, nil
	}
	return nil, nil
}
func (p *countProvider) Set(_ context.Context, r dnsupdate.Record) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.vals[r.Name], p.count = r.Value, p.count+1
	return "ok", nil
}

// pushes is how many records have been set so far.
func (p *countProvider) pushes() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.count
}

func envInt(k string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(k)); err == nil && v > 0 {
		return v
	}
	return def
}

// pageSet is the status pages of a benchmark: one or more processes of
// bench/ddns/pages.
type pageSet struct {
	urls  []string      // every listener's status URL
	procs []*os.Process // the page processes
	heads []string      // one URL of each process, to read its counter
}

// cpu is the CPU time of all the page processes.
func (s *pageSet) cpu() time.Duration {
	var t time.Duration
	for _, p := range s.procs {
		t += procCPU(p)
	}
	return t
}

// served is the status requests all the page processes have served.
func (s *pageSet) served(b *testing.B) int64 {
	var n int64
	for _, u := range s.heads {
		n += served(b, u)
	}
	return n
}

// pageServers starts bench/ddns/pages (DDNS_PAGES_BIN, else built now) as
// procs processes with n listeners in all. Each raises its open-file limit
// as far as it may (see pages), so that the pages are not what runs out of
// descriptors.
func pageServers(b *testing.B, n, procs int, extra ...string) *pageSet {
	bin := os.Getenv("DDNS_PAGES_BIN")
	if bin == "" {
		bin = filepath.Join(b.TempDir(), "pages")
		if out, err := exec.Command("go", "build", "-o", bin, "./pages").CombinedOutput(); err != nil {
			b.Fatalf("building pages: %v\n%s", err, out)
		}
	}
	procs = max(1, min(procs, n))
	set := &pageSet{}
	for i := range procs {
		k := n/procs + min(1, max(0, n%procs-i)) // the first n%procs get one more
		args := append([]string{"-n", strconv.Itoa(k), "-first", strconv.Itoa(len(set.urls))}, extra...)
		urls, proc := startPages(b, bin, args)
		if len(urls) != k {
			b.Fatalf("pages printed %d URLs, want %d", len(urls), k)
		}
		set.urls, set.procs, set.heads = append(set.urls, urls...), append(set.procs, proc), append(set.heads, urls[0])
	}
	return set
}

// startPages runs one pages process and returns the URLs it printed.
func startPages(b *testing.B, bin string, args []string) ([]string, *os.Process) {
	if n := os.Getenv("DDNS_PAGES_NICE"); n != "" { // the pages yield the CPU to redund, as pages on other machines would
		args, bin = append([]string{"-n", n, bin}, args...), "nice"
	}
	cmd := exec.Command(bin, args...)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { stdin.Close(); _ = cmd.Wait() })
	var urls []string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && sc.Text() != "ready" {
		urls = append(urls, sc.Text())
	}
	return urls, cmd.Process
}

// procCPU is the user+system CPU time of another process (Linux).
func procCPU(p *os.Process) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.Pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.Atoi(f[11])
	st, _ := strconv.Atoi(f[12])
	return time.Duration(ut+st) * 10 * time.Millisecond // USER_HZ 100
}

// openFDs is the number of this process's open file descriptors (Linux).
func openFDs() int {
	ents, _ := os.ReadDir("/proc/self/fd")
	return len(ents)
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// scaleCheck is an HTTP check of url (DDNS_KEEPALIVE=1: with keepalive),
// or with DDNS_CHECK=tcp a TCP connect to its host:port.
func scaleCheck(u string) *health.Config {
	if os.Getenv("DDNS_CHECK") == "tcp" {
		return &health.Config{Kind: "tcp", Address: strings.TrimSuffix(strings.TrimPrefix(u, "http://"), "/status"),
			Timeout: config.Duration(time.Second)}
	}
	c := httpCheck(u)
	c.KeepAlive = os.Getenv("DDNS_KEEPALIVE") == "1"
	if d, err := time.ParseDuration(os.Getenv("DDNS_TIMEOUT")); err == nil {
		c.Timeout = config.Duration(d)
	}
	return c
}

// scaleURL is the status URL of server j of scheme i. By default the
// servers of all schemes share the listeners' pages (many names on few
// machines: redund probes each page once per interval); with
// DDNS_DISTINCT=1 every server has its own URL (a query string), so every
// server is probed on its own.
func scaleURL(urls []string, i, j int) string {
	u := urls[(i*3+j)%len(urls)]
	if os.Getenv("DDNS_DISTINCT") == "1" {
		u += fmt.Sprintf("?s=%d.%d", i, j)
	}
	return u
}

// BenchmarkScale runs DDNS_SCHEMES (1000) schemes of 3 servers with HTTP
// checks every 1 s for DDNS_SECONDS (30) after a warm-up of DDNS_WARMUP
// (3) seconds, and counts
// missed intervals: a server whose last check is older than interval +
// jitter + 250 ms at a once-a-second sample, and servers with fewer checks
// than the window allows. The pages count the probes that reach them, so
// CPU per probe is redund's CPU over that count. See scaleURL for
// DDNS_DISTINCT.
func BenchmarkScale(b *testing.B) {
	n, secs := envInt("DDNS_SCHEMES", 1000), envInt("DDNS_SECONDS", 30)
	pages := pageServers(b, envInt("DDNS_LISTENERS", 64), envInt("DDNS_PAGE_PROCS", 2)) // many addresses: no shortage of ports
	urls := pages.urls
	prov := &countProvider{vals: map[string]string{}}
	cfgs := map[string]*ddns.Config{}
	for i := range n {
		c := &ddns.Config{Name: fmt.Sprintf("s%d.example.test", i), Interval: config.Duration(time.Second),
			StateDir: b.TempDir(), Provider: dnsupdate.Config{Kind: "he", Password: "x"}}
		for j := range 3 {
			c.Servers = append(c.Servers, ddns.Server{Name: fmt.Sprintf("srv%d", j), Address: fmt.Sprintf("192.0.2.%d", j+1),
				Priority: 3 - j, Check: scaleCheck(scaleURL(urls, i, j))})
		}
		cfgs[fmt.Sprintf("s%d", i)] = c
	}
	d, err := ddns.New(cfgs, ddns.Options{Provider: func(string, *ddns.Config) (dnsupdate.Provider, error) { return prov, nil }})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	run(b, d)
	garbage(b, envInt("DDNS_GARBAGE", 0))
	hogs(b, envInt("DDNS_HOGS", 0))
	time.Sleep(time.Duration(envInt("DDNS_WARMUP", 3)) * time.Second) // sleep: warm-up: first checks and first pushes
	if f := os.Getenv("DDNS_HEAPPROFILE"); f != "" {                  // the base for what the window allocates (pprof -diff_base)
		writeHeapProfile(b, f+".start")
	}
	smp := newSampler(d, cfgs)
	before, stale := checks(smp), 0
	smp.sample(time.Now(), 0) // the states the window starts from
	started0, late0 := d.ProbeStats()
	readLate0 := d.ProbesReadLate()
	pushes0, gcs0 := prov.pushes(), gcCycles()
	cpu0, pcpu0, served0, wall0 := cpuTime(), pages.cpu(), pages.served(b), time.Now()
	var series []string // per second: late probes, stale servers, state changes, pushes, collections
	lateAt, pushesAt, gcsAt, changes := late0, pushes0, gcs0, 0
	gcAt := envInt("DDNS_GC_AT", 0)                    // force a collection at the start of that second of the window
	traceAt := envInt("DDNS_TRACE_AT", max(1, gcAt-1)) // DDNS_TRACE: DDNS_TRACE_SECONDS (3) from that second (else the one before DDNS_GC_AT, else the first)
	stopTrace := func() {}
	for i := range secs {
		if i+1 == traceAt {
			stopTrace = startTrace(b, os.Getenv("DDNS_TRACE"))
		}
		if i+1 == gcAt {
			go runtime.GC()
		}
		time.Sleep(time.Second) // sleep: the one-second measuring step of the benchmark
		sm := smp.sample(time.Now(), time.Second+100*time.Millisecond+250*time.Millisecond)
		stale += sm.stale
		changes += sm.changed
		_, l := d.ProbeStats()
		p, g := prov.pushes(), gcCycles()
		series = append(series, fmt.Sprintf("%d/%d/%d/%d%s", l-lateAt, sm.stale, sm.changed, p-pushesAt, strings.Repeat("*", int(g-gcsAt))))
		if i+1 == traceAt+envInt("DDNS_TRACE_SECONDS", 3)-1 {
			stopTrace()
		}
		lateAt, pushesAt, gcsAt = l, p, g
	}
	stopTrace()
	pushesWin, notOKEnd := prov.pushes()-pushes0, smp.notOK
	cpu, pcpu, probes, wall := cpuTime()-cpu0, pages.cpu()-pcpu0, pages.served(b)-served0, time.Since(wall0)
	started1, late1 := d.ProbeStats()
	if f := os.Getenv("DDNS_HEAPPROFILE"); f != "" { // what is live while the daemon runs (a -memprofile is taken after it stopped)
		writeHeapProfile(b, f)
	}
	endStates(b, d, cfgs)
	after := checks(smp)
	short, total := 0, uint64(0)
	minWant := uint64(float64(wall) / float64(1100*time.Millisecond)) // every interval at most +10% jitter
	for k, v := range after {
		total += v - before[k]
		if v-before[k] < minWant {
			short++
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(n), "schemes")
	b.ReportMetric(float64(total)/wall.Seconds(), "checks/s")
	b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "cpu-%-of-one-core")
	b.ReportMetric(float64(stale), "stale-samples")
	b.ReportMetric(100*pcpu.Seconds()/wall.Seconds(), "pages-cpu-%")
	b.ReportMetric(float64(short), "servers-short")
	b.ReportMetric(float64(d.Probes()), "distinct-probes")
	b.ReportMetric(float64(probes)/wall.Seconds(), "probes/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(max(probes, 1)), "cpu-us/probe")
	b.ReportMetric(float64(late1-late0), "late-probes")
	b.ReportMetric(float64(changes), "state-changes")
	b.ReportMetric(float64(pushesWin), "pushes")
	b.Logf("probes started in the window %d, late %d (redund_ddns_probes_late_total); %d file descriptors and %d goroutines at the end",
		started1-started0, late1-late0, openFDs(), runtime.NumGoroutine())
	b.Logf("each second of the window, late probes/stale servers/servers whose state changed/pushes, * = a garbage collection ended in it: %s", strings.Join(series, " "))
	b.Logf("in the window: %d state changes, %d pushes, %d servers not OK at its end, %d collections", changes, pushesWin, notOKEnd, gcCycles()-gcs0)
	b.Logf("probes that read their answer after the timeout and counted it, as it had arrived in time: %d (redund_ddns_probes_read_late_total); servers found turned not OK, by their last probe's reason: %s",
		d.ProbesReadLate()-readLate0, topReasons(smp.downBy, 5))
	b.Logf("%d distinct probes (%d servers), %.0f probes/s reached the pages, %.1f µs of redund CPU per probe; load %s",
		d.Probes(), 3*n, float64(probes)/wall.Seconds(), float64(cpu.Microseconds())/float64(max(probes, 1)), loadAvg())
	b.Logf("%d schemes × 3 servers, %v window: %d checks (%.0f/s), CPU %.2fs (%.0f%% of one core, %.0f%% of 2 cores), stale samples %d, servers short of %d checks: %d, pushes %d; page servers (separate process) %.0f%% of one core",
		n, wall.Round(time.Millisecond), total, float64(total)/wall.Seconds(), cpu.Seconds(),
		100*cpu.Seconds()/wall.Seconds(), 50*cpu.Seconds()/wall.Seconds(), stale, minWant, short, prov.count, 100*pcpu.Seconds()/wall.Seconds())
}

// sampler samples the health snapshots of every server of the schemes
// (ServerSnapshots: cheaper than the schemes' whole Snapshot, so that the
// once-a-second sample of 30,000 servers costs the process measured
// little), calling f for each with its scheme's name and the server's
// index.
type sampler struct {
	names   []string
	schemes []*ddns.Scheme
	buf     []health.Snapshot
	since   []time.Time    // each server's Since at the previous sample, in each's order
	notOK   int            // servers not OK at the last sample
	downBy  map[string]int // the reasons of the servers found turned not OK, and how many
}

func newSampler(d *ddns.Daemon, cfgs map[string]*ddns.Config) *sampler {
	s := &sampler{}
	for name := range cfgs {
		s.names, s.schemes = append(s.names, name), append(s.schemes, d.Scheme(name))
	}
	return s
}

func (s *sampler) each(f func(scheme string, server int, snap *health.Snapshot)) {
	for i, sc := range s.schemes {
		s.buf = sc.ServerSnapshots(s.buf[:0])
		for j := range s.buf {
			f(s.names[i], j, &s.buf[j])
		}
	}
}

// sampleStats is one sample of every server.
type sampleStats struct {
	stale   int // last probe started more than limit ago
	changed int // state changed since the previous sample
}

// sample looks at every server at now: how many are stale, how many
// changed their state since the previous sample (their Since moved, which
// also counts a change there and back), and (in s.notOK) how many are not
// OK now.
func (s *sampler) sample(now time.Time, limit time.Duration) sampleStats {
	var st sampleStats
	k, first := 0, s.since == nil
	s.notOK = 0
	s.each(func(_ string, _ int, snap *health.Snapshot) {
		if now.Sub(snap.LastCheck) > limit {
			st.stale++
		}
		if snap.State != health.OK {
			s.notOK++
		}
		if first {
			s.since = append(s.since, snap.Since)
		} else if !snap.Since.Equal(s.since[k]) {
			st.changed++
			s.since[k] = snap.Since
			if snap.State != health.OK {
				if s.downBy == nil {
					s.downBy = map[string]int{}
				}
				s.downBy[snap.Reason]++
			}
		}
		k++
	})
	return st
}

// topReasons lists the n most frequent reasons with their counts.
func topReasons(by map[string]int, n int) string {
	if len(by) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(by))
	for k := range by {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return by[keys[i]] > by[keys[j]] || by[keys[i]] == by[keys[j]] && keys[i] < keys[j]
	})
	var parts []string
	for _, k := range keys[:min(n, len(keys))] {
		parts = append(parts, fmt.Sprintf("%q %d", k, by[k]))
	}
	return strings.Join(parts, ", ")
}

// gcCycles is the number of garbage collections completed so far.
func gcCycles() uint64 {
	m := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(m)
	return m[0].Value.Uint64()
}

// sink keeps the last garbage block reachable, so that it is allocated.
var sink atomic.Pointer[[]*[8]int]

// garbage allocates mbps MB a second (DDNS_GARBAGE) until b ends, in
// blocks of 64 KiB of small pointer-holding objects: what the rest of a
// daemon (an admin request, a reload, a metrics scrape) allocates, so
// that collections come more often and some goroutine pays their assists.
func garbage(b *testing.B, mbps int) {
	if mbps <= 0 {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	b.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		const block = 64 << 10
		tick := time.NewTicker(time.Second * block / time.Duration(mbps<<20))
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			objs := make([]*[8]int, block/64)
			for i := range objs {
				objs[i] = new([8]int)
			}
			sink.Store(&objs)
		}
	}()
}

// hogs starts n processes that each spin on the CPU until b ends
// (DDNS_HOGS): other busy processes on the daemon's host, which leave it
// less CPU than it needs now and then (at 30,000 probes a second redund
// needs about one core of two, the pages half a core).
func hogs(b *testing.B, n int) {
	for range n {
		cmd := exec.Command("sh", "-c", "while :; do :; done")
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	}
}

// startTrace starts an execution trace into file, or does nothing if
// file is empty; the function it returns stops it.
func startTrace(b *testing.B, file string) func() {
	if file == "" {
		return func() {}
	}
	f, err := os.Create(file)
	if err != nil {
		b.Fatal(err)
	}
	if err := trace.Start(f); err != nil {
		b.Fatal(err)
	}
	return func() { trace.Stop(); f.Close() }
}

func checks(s *sampler) map[string]uint64 {
	out := map[string]uint64{}
	s.each(func(scheme string, server int, snap *health.Snapshot) {
		out[scheme+"/"+strconv.Itoa(server)] = snap.Checks
	})
	return out
}

// endStates logs the servers' states and probe latencies at the end.
func endStates(b *testing.B, d *ddns.Daemon, cfgs map[string]*ddns.Config) {
	states, reasons := map[string]int{}, map[string]int{}
	var lat []float64
	for name := range cfgs {
		for _, s := range d.Scheme(name).Snapshot().Servers {
			states[s.State]++
			lat = append(lat, s.LatencyMS)
			if s.State != "OK" {
				reasons[s.Reason]++
			}
		}
	}
	sort.Float64s(lat)
	b.Logf("servers by state %v; last probe latency p50 %.1fms p90 %.1fms max %.1fms",
		states, lat[len(lat)/2], lat[len(lat)*9/10], lat[len(lat)-1])
	if len(reasons) > 0 {
		b.Logf("reasons of servers not OK: %v", reasons)
	}
}

// writeHeapProfile writes the live heap (after a collection) to file.
func writeHeapProfile(b *testing.B, file string) {
	f, err := os.Create(file)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		b.Fatal(err)
	}
}
