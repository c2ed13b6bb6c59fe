// Command replication measures redund's config replication: sustained
// updates per second from a leader to a follower over an authenticated
// internal/peer link on loopback, the replication lag distribution (commit
// on the leader → applied and committed on the follower), and the time of a
// full sync of a large store. Lag is measured from the moment a writer
// calls Put (its clock is in the value) to the follower's commit, as the
// etcd comparison measures from Put to the watch event. It is the path `redund gateway` uses
// (Store.Put on the master, Store.Follow on the backup).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redund/redund/internal/peer"
	"github.com/redund/redund/internal/replica"
)

const reqType = peer.TypeApp + 0x20

var noSync bool

type result struct {
	Writers        int     `json:"writers"`
	NoSync         bool    `json:"nosync"`
	Seconds        float64 `json:"seconds"`
	Updates        int64   `json:"updates"`
	UpdatesPerSec  float64 `json:"updates_per_sec"`
	Applied        int     `json:"applied"`
	LagP50MS       float64 `json:"lag_p50_ms"`
	LagP99MS       float64 `json:"lag_p99_ms"`
	LagMaxMS       float64 `json:"lag_max_ms"`
	FullSyncMB     float64 `json:"full_sync_mb"`
	FullSyncSecond float64 `json:"full_sync_seconds"`
}

func main() {
	writers := flag.Int("writers", 64, "concurrent writers")
	dur := flag.Duration("duration", 10*time.Second, "how long to write")
	syncMB := flag.Int("full-sync-mb", 100, "size of the store copied by the full-sync run (0 skips it)")
	flag.BoolVar(&noSync, "nosync", false, "skip fsync (shows the CPU-bound ceiling; not durable)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile here")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		check(err)
		check(pprof.StartCPUProfile(f))
		defer pprof.StopCPUProfile()
	}
	dir, err := os.MkdirTemp("", "redund-replbench")
	check(err)
	defer os.RemoveAll(dir)
	res := result{Writers: *writers, NoSync: noSync}
	throughput(dir, *writers, *dur, &res)
	if *syncMB > 0 {
		fullSync(dir, *syncMB, &res)
	}
	b, _ := json.MarshalIndent(res, "", "  ")
	fmt.Println(string(b))
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "replication bench:", err)
		os.Exit(1)
	}
}

// link starts a leader node serving st and a follower node, and returns
// the follower's node once the link is up.
func link(ctx context.Context, st *replica.Store) *peer.Node {
	cfg := &peer.Config{Secret: "replication benchmark secret"}
	ln, err := peer.New(cfg, peer.Options{Listen: "127.0.0.1:0",
		Hello:     func() peer.Hello { return peer.Hello{NodeID: "leader", Mode: "master"} },
		OnRequest: func(ctx context.Context, _ byte, b []byte) ([]byte, error) { return st.Serve(ctx, b) }})
	check(err)
	go ln.Run(ctx)
	<-ln.Ready()
	up := make(chan struct{})
	var once sync.Once
	fn, err := peer.New(cfg, peer.Options{Dial: ln.Addr(),
		Hello: func() peer.Hello { return peer.Hello{NodeID: "follower", Mode: "backup"} },
		OnEvent: func(e peer.Event) {
			if e.State == peer.Up {
				once.Do(func() { close(up) })
			}
		}})
	check(err)
	go fn.Run(ctx)
	<-up
	return fn
}

func throughput(dir string, writers int, dur time.Duration, res *result) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	leader, err := replica.Open(filepath.Join(dir, "leader.db"), replica.Options{Providers: []string{"config"}, NoSync: noSync})
	check(err)
	defer leader.Close()
	var mu sync.Mutex
	var lags []float64
	unstamped := 0 // applied entries without a writer clock (not counted in the lag)
	follower, err := replica.Open(filepath.Join(dir, "follower.db"), replica.Options{Providers: []string{"config"}, NoSync: noSync,
		OnApply: func(_ string, es []replica.Entry) {
			now := time.Now().UnixNano()
			mu.Lock()
			for _, e := range es {
				// the value starts with the writer's clock when it called Put
				ts, err := strconv.ParseInt(strings.SplitN(string(e.Value), "|", 2)[0], 10, 64)
				if err != nil || ts <= 0 {
					unstamped++
					continue
				}
				lags = append(lags, float64(now-ts)/1e6)
			}
			mu.Unlock()
		}})
	check(err)
	defer follower.Close()
	fn := link(ctx, leader)
	go func() { _ = follower.Follow(ctx, "config", fn, reqType) }()
	// wait for the first (empty) full sync
	for p, _ := follower.Position("config"); p.SrcLogID == ""; p, _ = follower.Position("config") {
		time.Sleep(time.Millisecond)
	}
	var n atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Since(start) < dur; i++ {
				v := strconv.FormatInt(time.Now().UnixNano(), 10) + `|{"scan":"1s","deadband":0.5}`
				_, err := leader.Put("config", fmt.Sprintf("w%02d/k%05d", w, i%5000), []byte(v))
				check(err)
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	last, _ := leader.Position("config")
	for p, _ := follower.Position("config"); p.Applied < last.Last; p, _ = follower.Position("config") {
		time.Sleep(time.Millisecond)
	}
	// OnApply runs just after the follower's commit: let the last batch in
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		mu.Lock()
		done := int64(len(lags)+unstamped) >= n.Load()
		mu.Unlock()
		if done {
			break
		}
	}
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(lags)
	res.Seconds, res.Updates, res.Applied = elapsed.Seconds(), n.Load(), len(lags)
	res.UpdatesPerSec = float64(n.Load()) / elapsed.Seconds()
	res.LagP50MS, res.LagP99MS, res.LagMaxMS = pct(lags, 0.50), pct(lags, 0.99), lags[len(lags)-1]
}

func pct(s []float64, p float64) float64 {
	if len(s) == 0 {
		return 0
	}
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

// fullSync fills a leader with mb MB of 4 KB documents and times a fresh
// follower's full snapshot over the link.
func fullSync(dir string, mb int, res *result) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	leader, err := replica.Open(filepath.Join(dir, "big.db"), replica.Options{Providers: []string{"config"}, CacheBytes: 1 << 20})
	check(err)
	defer leader.Close()
	doc := make([]byte, 4096)
	for i := range doc {
		doc[i] = 'a' + byte(i%26)
	}
	var wg sync.WaitGroup
	total := mb * 256
	for w := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < total; i += 64 {
				_, err := leader.Put("config", fmt.Sprintf("doc/%07d", i), doc)
				check(err)
			}
		}()
	}
	wg.Wait()
	follower, err := replica.Open(filepath.Join(dir, "big-follower.db"), replica.Options{Providers: []string{"config"}})
	check(err)
	defer follower.Close()
	fn := link(ctx, leader)
	last, _ := leader.Position("config")
	start := time.Now()
	go func() { _ = follower.Follow(ctx, "config", fn, reqType) }()
	for p, _ := follower.Position("config"); p.SrcLogID != last.LogID || p.Applied < last.Last; p, _ = follower.Position("config") {
		time.Sleep(2 * time.Millisecond)
	}
	res.FullSyncMB = float64(total*4096) / (1 << 20)
	res.FullSyncSecond = time.Since(start).Seconds()
}
