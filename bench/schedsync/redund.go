package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redund/redund/internal/adminapi"
	"github.com/redund/redund/internal/status"
)

// node is one redund process.
type node struct {
	cmd        *exec.Cmd
	admin, dir string
}

func freeAddr() string {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	return ln.Addr().String()
}

func startNode(bin, work, name, mode, dir, listen, peer string) (*node, error) {
	n := &node{admin: freeAddr(), dir: dir}
	conf := fmt.Sprintf("[admin]\nschedsync = %q\n[schedsync]\nmode = %q\ndir = %q\nlisten = %q\npeer = \"http://%s\"\n"+
		"secret = \"bench-secret-0123456789\"\nnode_id = %q\n", n.admin, mode, dir, listen, peer, name)
	path := filepath.Join(work, name+".toml")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	n.cmd = exec.Command(bin, "--config", path, "--log-level", "warn", "schedsync", "run")
	n.cmd.Stderr = os.Stderr
	if err := n.cmd.Start(); err != nil {
		return nil, err
	}
	return n, nil
}

func (n *node) stop() { _ = n.cmd.Process.Kill(); _ = n.cmd.Wait() }

func (n *node) doc() (status.Document, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	rep, err := adminapi.Fetch(ctx, n.admin)
	if err != nil || len(rep.Instances) == 0 {
		return status.Document{}, false
	}
	return rep.Instances[0], true
}

func (n *node) waitFor(what string, limit time.Duration, cond func(status.Document) bool) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if d, ok := n.doc(); ok && cond(d) {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("timed out waiting for %s", what)
}

// metric reads one series from /metrics (sum over label sets matching).
func (n *node) metric(name, label string) float64 {
	resp, err := http.Get("http://" + n.admin + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, name) && strings.Contains(l, label) {
			f := strings.Fields(l)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			sum += v
		}
	}
	return sum
}

// cpuTicks is utime+stime of a process in clock ticks (1/100 s).
func cpuTicks(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s
}

func (res *results) redund(src string) error {
	p, s, err := res.startCopy(src, filepath.Join(res.o.work, "dst-redund"))
	if p != nil {
		defer p.stop()
	}
	if s != nil {
		defer s.stop()
	}
	if err != nil {
		return err
	}
	dst := s.dir
	if err := res.latency(src, dst); err != nil {
		return err
	}
	if err := res.oneByte(p, s, src, dst); err != nil {
		return err
	}
	res.idle(p, s)
	if res.rs == nil || res.before {
		return nil
	}
	s.stop()
	p.stop()
	return res.rsyncOneByte(filepath.Join(src, "big.bin"))
}

// startCopy starts the primary on src, waits for its first scan, then
// starts the secondary on the empty directory dst and measures the copy until
// it reports Synced. The caller stops the nodes it gets (also on error).
func (res *results) startCopy(src, dst string) (p, s *node, err error) {
	o := res.o
	_ = os.RemoveAll(dst)
	_ = exec.Command("sync").Run()
	pl, sl := freeAddr(), freeAddr()
	p, err = startNode(o.bin, o.work, "primary", "primary", src, pl, sl)
	if err != nil {
		return nil, nil, err
	}
	t0 := time.Now()
	if err := p.waitFor("primary scan", 10*time.Minute, func(d status.Document) bool {
		id, _ := d.Details["log_id"].(string)
		return id != ""
	}); err != nil {
		return p, nil, err
	}
	res.scan = time.Since(t0)
	logf("primary scanned the tree in %s", res.scan)
	t0 = time.Now()
	pc := cpuTicks(p.cmd.Process.Pid)
	s, err = startNode(o.bin, o.work, "secondary", "secondary-copy", dst, sl, pl)
	if err != nil {
		return p, nil, err
	}
	if err := s.waitFor("initial sync", 30*time.Minute, func(d status.Document) bool { return d.State == "Synced" }); err != nil {
		return p, s, err
	}
	res.initial = time.Since(t0)
	res.initialCPUP = float64(cpuTicks(p.cmd.Process.Pid)-pc) / 100
	res.initialCPUS = float64(cpuTicks(s.cmd.Process.Pid)) / 100
	res.overflows = s.metric("redund_schedsync_watch_overflows_total", "") + p.metric("redund_schedsync_watch_overflows_total", "")
	logf("redund initial copy (durable): %s; CPU time primary %.2f s, secondary %.2f s; watcher overflows %v",
		res.initial, res.initialCPUP, res.initialCPUS, res.overflows)
	return p, s, nil
}

// latency writes one small file at a time and waits for it on the secondary.
func (res *results) latency(src, dst string) error {
	_ = os.MkdirAll(filepath.Join(src, "lat"), 0o755)
	for i := range res.o.samples {
		name := fmt.Sprintf("lat/f%03d", i)
		want := []byte(fmt.Sprintf("sample %d %s", i, time.Now()))
		t0 := time.Now()
		if err := os.WriteFile(filepath.Join(src, name), want, 0o644); err != nil {
			return err
		}
		for {
			if b, err := os.ReadFile(filepath.Join(dst, name)); err == nil && bytes.Equal(b, want) {
				break
			}
			if time.Since(t0) > 30*time.Second {
				return fmt.Errorf("%s never arrived", name)
			}
			time.Sleep(time.Millisecond)
		}
		res.lat = append(res.lat, time.Since(t0))
		time.Sleep(50 * time.Millisecond)
	}
	sort.Slice(res.lat, func(i, j int) bool { return res.lat[i] < res.lat[j] })
	return nil
}

// oneByte flips one byte in the middle of a large file on the primary.
func (res *results) oneByte(p, s *node, src, dst string) error {
	big := filepath.Join(src, "big.bin")
	if err := writeRandom(big, res.o.big, 42); err != nil {
		return err
	}
	if err := waitSameMtime(big, filepath.Join(dst, "big.bin"), 5*time.Minute); err != nil {
		return err
	}
	if res.rs != nil {
		if _, _, _, err := res.rs.push("-a", big, res.rs.url("big.bin")); err != nil {
			return err
		}
	}
	var times []time.Duration
	for i := range res.o.flips { // one-byte changes; bytes are those of the first
		time.Sleep(time.Second)
		recv0, sent0 := s.metric("redund_schedsync_received_bytes_total", `kind="delta"`), p.metric("redund_schedsync_sent_bytes_total", "")
		t0 := time.Now()
		if err := flipByte(big, res.o.big/2+int64(i)*4099); err != nil {
			return err
		}
		if err := waitSameMtime(big, filepath.Join(dst, "big.bin"), time.Minute); err != nil {
			return err
		}
		times = append(times, time.Since(t0))
		if i == 0 {
			time.Sleep(200 * time.Millisecond)
			res.bigSent = int64(p.metric("redund_schedsync_sent_bytes_total", "") - sent0)
			res.bigTotal = int64(s.metric("redund_schedsync_received_bytes_total", `kind="delta"`) - recv0)
		}
	}
	res.bigTimes = append([]time.Duration(nil), times...) // in the order measured
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	res.bigTime, res.bigMax = times[len(times)/2], times[len(times)-1]
	if a, b := hashOf(big), hashOf(filepath.Join(dst, "big.bin")); a != b {
		return fmt.Errorf("big.bin differs after the one-byte change")
	}
	logf("one byte in %d MiB: %v, %d bytes delta, %d bytes total", res.o.big>>20, res.bigTimes, res.bigSent, res.bigTotal)
	return nil
}

// rsyncOneByte makes as many one-byte changes for rsync as for redund:
// flip, then one rsync run of the file (redund is stopped by then).
func (res *results) rsyncOneByte(big string) error {
	// as many changes for rsync: flip, then one rsync run of the file
	var rt, ft []time.Duration
	for i := range res.o.flips {
		for _, fsync := range []bool{false, true} {
			if err := flipByte(big, res.o.big/3+int64(i)*4099); err != nil {
				return err
			}
			args := []string{"-a"}
			if fsync {
				args = append(args, "--fsync")
			}
			d, n, cmd, err := res.rs.push(append(args, big, res.rs.url("big.bin"))...)
			if err != nil {
				return err
			}
			if fsync {
				ft = append(ft, d)
				continue
			}
			rt = append(rt, d)
			if i == 0 {
				res.rsyncBigBytes, res.rsyncBigCmd = n, cmd
			}
		}
	}
	logf("rsync -a one byte: %v; with --fsync: %v", rt, ft)
	sort.Slice(rt, func(i, j int) bool { return rt[i] < rt[j] })
	sort.Slice(ft, func(i, j int) bool { return ft[i] < ft[j] })
	res.rsyncBig, res.rsyncBigMax = rt[len(rt)/2], rt[len(rt)-1]
	res.rsyncBigFsync = ft[len(ft)/2]
	return nil
}

func (res *results) idle(p, s *node) {
	time.Sleep(2 * time.Second)
	pc, sc := cpuTicks(p.cmd.Process.Pid), cpuTicks(s.cmd.Process.Pid)
	time.Sleep(res.o.idle)
	secs := res.o.idle.Seconds()
	res.idleP = float64(cpuTicks(p.cmd.Process.Pid)-pc) / secs
	res.idleS = float64(cpuTicks(s.cmd.Process.Pid)-sc) / secs
	logf("idle CPU over %s: primary %.2f%%, secondary %.2f%%", res.o.idle, res.idleP, res.idleS)
}
