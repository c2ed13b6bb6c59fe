// Command failover measures how long a `redund gateway` backup takes to
// become active after its master is killed with SIGKILL: it runs two real
// processes on loopback, kills the master, polls the backup's admin API
// every millisecond until it reports the active role, restarts the master
// (automatic recovery hands control back), and repeats.
//
// With -witness it first starts a three-member etcd on loopback (the etcd
// binary on PATH) and gives both nodes `witness = true`: the backup then
// becomes active only once etcd has expired the killed master's lease.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

type node struct {
	bin, cfg, admin string
	cmd             *exec.Cmd
}

var client = &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil}}

func main() {
	bin := flag.String("redund", "redund", "path of the redund binary")
	runs := flag.Int("runs", 20, "failovers to measure")
	timeout := flag.Duration("failover-timeout", time.Second, "failover_timeout of the pair")
	wit := flag.Bool("witness", false, "start a three-member etcd and give the pair witness = true")
	ttl := flag.Duration("ttl", 2*time.Second, "the witness's lease TTL (with -witness)")
	flag.Parse()
	dir, err := os.MkdirTemp("", "redund-failover-bench")
	check(err)
	defer os.RemoveAll(dir)
	peer := freePort()
	link := "[gateway.link]\nsecret = \"failover benchmark secret\"\n"
	common := fmt.Sprintf("failover_timeout = %q\njoin_wait = \"5s\"\n", timeout.String())
	wtable := func(string) string { return "" }
	if *wit {
		eps, stop := startEtcd(filepath.Join(dir, "etcd"))
		defer stop()
		common += "witness = true\n"
		wtable = func(name string) string {
			return fmt.Sprintf("\n[witness]\nendpoints = [\"%s\"]\nname = %q\nttl = %q\n", strings.Join(eps, `", "`), name, ttl.String())
		}
	}
	m := newNode(*bin, dir, "master", fmt.Sprintf("mode = \"master\"\npeer_listen = %q\n%s%s%s", peer, common, link, wtable("master")))
	b := newNode(*bin, dir, "backup", fmt.Sprintf("mode = \"backup\"\npeer = %q\n%s%s%s", peer, common, link, wtable("backup")))
	defer m.kill()
	defer b.kill()
	m.start()
	b.start()
	var times []time.Duration
	for i := range *runs {
		m.waitRole("active", 20*time.Second)
		b.waitRole("standby", 20*time.Second)
		time.Sleep(300 * time.Millisecond) // a few heartbeats in the steady state
		start := time.Now()
		m.kill()
		b.waitRole("active", 10*time.Second+2**ttl)
		d := time.Since(start)
		times = append(times, d)
		fmt.Fprintf(os.Stderr, "run %2d: backup active %v after kill -9\n", i+1, d.Round(time.Millisecond))
		m.start()
	}
	slices.Sort(times)
	out := map[string]any{"runs": len(times), "failover_timeout_ms": timeout.Milliseconds(), "witness": *wit,
		"median_ms": ms(times[len(times)/2]), "min_ms": ms(times[0]), "max_ms": ms(times[len(times)-1])}
	j, _ := json.MarshalIndent(out, "", "  ")
	fmt.Println(string(j))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "failover bench:", err)
		os.Exit(1)
	}
}

func freePort() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	defer ln.Close()
	return ln.Addr().String()
}

func newNode(bin, dir, name, table string) *node {
	admin := freePort()
	cfg := filepath.Join(dir, name+".toml")
	src := fmt.Sprintf("[admin]\ngateway = %q\n\n[gateway]\nnode_id = %q\ndata_dir = %q\n%s", admin, name, filepath.Join(dir, name), table)
	check(os.WriteFile(cfg, []byte(src), 0o600))
	return &node{bin: bin, cfg: cfg, admin: admin}
}

func (n *node) start() {
	n.cmd = exec.Command(n.bin, "--config", n.cfg, "--log-level", "warn", "gateway", "run")
	check(n.cmd.Start())
}

func (n *node) kill() {
	if n.cmd != nil {
		_ = n.cmd.Process.Signal(syscall.SIGKILL)
		_ = n.cmd.Wait()
		n.cmd = nil
	}
}

func (n *node) role() string {
	resp, err := client.Get("http://" + n.admin + "/v1/gateway/status")
	if err != nil {
		return "down"
	}
	defer resp.Body.Close()
	var d struct {
		Role string `json:"role"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&d)
	return d.Role
}

func (n *node) waitRole(role string, within time.Duration) {
	deadline := time.Now().Add(within)
	for n.role() != role {
		if time.Now().After(deadline) {
			check(fmt.Errorf("%s is %s, not %s, after %v", n.cfg, n.role(), role, within))
		}
		time.Sleep(time.Millisecond)
	}
}
