// Command etcd runs the replication benchmark's workload against a
// single-member etcd (Debian etcd-server) started on loopback: the same
// number of writers Put configuration keys for the same time, and a watcher
// (the etcd equivalent of redund's follower) measures the lag from each
// Put's start to the watch event. It is its own Go module so that etcd's
// client stays out of redund's go.mod.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

func main() {
	writers := flag.Int("writers", 256, "concurrent writers")
	dur := flag.Duration("duration", 10*time.Second, "how long to write")
	flag.Parse()
	dir, err := os.MkdirTemp("", "redund-etcd-bench")
	check(err)
	defer os.RemoveAll(dir)
	client, peer := freePort(), freePort()
	cmd := exec.Command("etcd", "--data-dir", dir, "--name", "bench",
		"--listen-client-urls", "http://"+client, "--advertise-client-urls", "http://"+client,
		"--listen-peer-urls", "http://"+peer, "--initial-advertise-peer-urls", "http://"+peer,
		"--initial-cluster", "bench=http://"+peer, "--log-level", "error")
	check(cmd.Start())
	defer func() { _ = cmd.Process.Signal(syscall.SIGKILL); _ = cmd.Wait() }()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{client}, DialTimeout: 10 * time.Second})
	check(err)
	defer cli.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for {
		sctx, c := context.WithTimeout(ctx, time.Second)
		_, err := cli.Put(sctx, "ready", "1")
		c()
		if err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	var mu sync.Mutex
	var lags []float64
	var seen atomic.Int64
	wch := cli.Watch(ctx, "cfg/", clientv3.WithPrefix())
	go func() {
		for resp := range wch {
			now := time.Now().UnixNano()
			mu.Lock()
			for _, ev := range resp.Events {
				ts, _ := strconv.ParseInt(strings.SplitN(string(ev.Kv.Value), "|", 2)[0], 10, 64)
				lags = append(lags, float64(now-ts)/1e6)
			}
			mu.Unlock()
			seen.Add(int64(len(resp.Events)))
		}
	}()
	var n atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for w := range *writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Since(start) < *dur; i++ {
				v := strconv.FormatInt(time.Now().UnixNano(), 10) + `|{"scan":"1s","deadband":0.5}`
				_, err := cli.Put(ctx, fmt.Sprintf("cfg/w%02d/k%05d", w, i%5000), v)
				check(err)
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	for deadline := time.Now().Add(30 * time.Second); seen.Load() < n.Load() && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	mu.Lock()
	slices.Sort(lags)
	out := map[string]any{"system": "etcd (single member)", "writers": *writers, "seconds": elapsed.Seconds(),
		"updates": n.Load(), "updates_per_sec": float64(n.Load()) / elapsed.Seconds(), "watched": len(lags),
		"lag_p50_ms": pct(lags, 0.5), "lag_p99_ms": pct(lags, 0.99), "lag_max_ms": pct(lags, 1)}
	mu.Unlock()
	j, _ := json.MarshalIndent(out, "", "  ")
	fmt.Println(string(j))
}

func pct(s []float64, p float64) float64 {
	if len(s) == 0 {
		return 0
	}
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "etcd bench:", err)
		os.Exit(1)
	}
}

func freePort() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	defer ln.Close()
	return ln.Addr().String()
}
