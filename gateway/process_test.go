package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
)

// The tests in this file run real `redund gateway run` processes, built
// once from ../cmd/redund, and kill them with SIGKILL.

var (
	buildOnce sync.Once
	buildBin  string
	buildErr  error
	buildOut  []byte
)

func redundBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("process tests are skipped with -short")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "redund-gw-bin")
		if err != nil {
			buildErr = err
			return
		}
		buildBin = filepath.Join(dir, "redund")
		buildOut, buildErr = exec.Command("go", "build", "-o", buildBin, "../cmd/redund").CombinedOutput()
	})
	if buildErr != nil {
		if os.Getenv("REDUND_INTEGRATION") == "1" {
			t.Fatalf("cannot build redund: %v\n%s", buildErr, buildOut)
		}
		t.Skipf("cannot build redund (another package may be broken): %v\n%s", buildErr, buildOut)
	}
	return buildBin
}

func freeListener() net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	return ln
}

// proc is one redund gateway process.
type proc struct {
	t     *testing.T
	bin   string
	cfg   string
	admin string
	log   *os.File
	cmd   *exec.Cmd
}

func newProc(t *testing.T, bin, dir, name, table string) *proc {
	admin := testutil.ClosedTCPAddr(t)
	cfg := filepath.Join(dir, name+".toml")
	src := fmt.Sprintf("[admin]\ngateway = %q\n\n[gateway]\nnode_id = %q\ndata_dir = %q\n%s", admin, name, filepath.Join(dir, name), table)
	if err := os.WriteFile(cfg, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	lf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, bin: bin, cfg: cfg, admin: admin, log: lf}
	t.Cleanup(func() { p.kill(); lf.Close() })
	return p
}

func (p *proc) start() {
	p.t.Helper()
	p.cmd = exec.Command(p.bin, "--config", p.cfg, "gateway", "run")
	p.cmd.Stderr, p.cmd.Stdout = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := p.status(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(p.log.Name())
			p.t.Fatalf("%s did not serve its admin API; log:\n%s", p.cfg, b)
		}
		time.Sleep(10 * time.Millisecond) // sleep: poll interval (the failure prints the log)
	}
}

// kill sends SIGKILL and reaps the process.
func (p *proc) kill() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = p.cmd.Wait()
	p.cmd = nil
}

var httpc = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil}}

func (p *proc) status() (Detail, error) {
	var d Detail
	resp, err := httpc.Get("http://" + p.admin + "/v1/gateway/status")
	if err != nil {
		return d, err
	}
	defer resp.Body.Close()
	return d, json.NewDecoder(resp.Body).Decode(&d)
}

func (p *proc) role() Role {
	d, err := p.status()
	if err != nil {
		return "down"
	}
	return d.Role
}

func (p *proc) waitRole(role Role, within time.Duration) time.Duration {
	p.t.Helper()
	start := time.Now()
	for p.role() != role {
		if time.Since(start) > within {
			p.t.Fatalf("%s is %s, not %s, after %v", p.cfg, p.role(), role, within)
		}
		time.Sleep(5 * time.Millisecond) // sleep: poll interval (the failure names the role reached)
	}
	return time.Since(start)
}

func (p *proc) put(key, value string) bool {
	req, _ := http.NewRequest(http.MethodPut, "http://"+p.admin+KeyPath(ProvConfig, key), bytes.NewReader([]byte(value)))
	resp, err := httpc.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func (p *proc) export() map[string]string {
	resp, err := httpc.Get("http://" + p.admin + "/v1/gateway/config")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	m := map[string]string{}
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return m
}

// processPair starts a master and a backup process.
func processPair(t *testing.T, extra string) (m, b *proc) {
	bin := redundBinary(t)
	dir := t.TempDir()
	peerAddr := testutil.ClosedTCPAddr(t)
	link := "\n[gateway.link]\nsecret = \"process test secret 0123\"\n"
	m = newProc(t, bin, dir, "master", fmt.Sprintf("mode = \"master\"\npeer_listen = %q\njoin_wait = \"3s\"\n%s%s", peerAddr, extra, link))
	b = newProc(t, bin, dir, "backup", fmt.Sprintf("mode = \"backup\"\npeer = %q\njoin_wait = \"3s\"\n%s%s", peerAddr, extra, link))
	m.start()
	b.start()
	m.waitRole(RoleActive, 10*time.Second)
	b.waitRole(RoleStandby, 10*time.Second)
	return m, b
}

func TestProcessKillMasterFailsOverAndRecovers(t *testing.T) {
	m, b := processPair(t, "failover_timeout = \"1s\"\n")
	if !m.put("site", "plant-7") {
		t.Fatal("master refused a config write")
	}
	if b.put("site", "x") {
		t.Fatal("backup accepted a config write")
	}
	testutil.Eventually(t, 3*time.Second, "config on the backup", func() bool { return b.export()["site"] == "plant-7" })
	m.kill()
	took := b.waitRole(RoleActive, 5*time.Second)
	t.Logf("backup active %v after kill -9 of the master (failover_timeout 1s)", took)
	if took > 1500*time.Millisecond {
		t.Fatalf("failover took %v, want <= failover_timeout + 500ms", took)
	}
	if b.export()["site"] != "plant-7" {
		t.Fatal("config lost on failover")
	}
	m.start()
	m.waitRole(RoleActive, 10*time.Second)
	b.waitRole(RoleStandby, 5*time.Second)
}

// TestProcessKillLoopLosesNoAcknowledgedWrite kills either node with
// SIGKILL at random moments while a writer changes configuration on the
// master; every write the master acknowledged must survive, and the
// backup must converge.
func TestProcessKillLoopLosesNoAcknowledgedWrite(t *testing.T) {
	m, b := processPair(t, "failover_timeout = \"500ms\"\n")
	var mu sync.Mutex
	acked := map[string]string{}
	// allowed[k]: the acknowledged value and every later attempt (a write
	// may be committed and the process killed before it answered)
	allowed := map[string]map[string]bool{}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			k, v := fmt.Sprintf("k%03d", i%200), fmt.Sprintf("v%d", i)
			ok := m.put(k, v)
			mu.Lock()
			if ok {
				acked[k] = v
				allowed[k] = map[string]bool{v: true}
			} else if allowed[k] != nil {
				allowed[k][v] = true
			}
			mu.Unlock()
		}
	}()
	iterations := 50
	for i := range iterations {
		victim := m
		if rand.IntN(2) == 0 {
			victim = b
		}
		// sleep: a random moment to kill: the timing is the chaos
		time.Sleep(time.Duration(rand.IntN(150)) * time.Millisecond)
		mu.Lock() // no write is in flight across the kill's bookkeeping
		victim.kill()
		mu.Unlock()
		time.Sleep(time.Duration(rand.IntN(100)) * time.Millisecond) // sleep: a random down time before the restart
		victim.start()
		_ = i
	}
	cancel()
	wg.Wait()
	got := m.export()
	for k, v := range acked {
		if !allowed[k][got[k]] {
			t.Fatalf("acknowledged write %s=%s lost on the master (has %q)", k, v, got[k])
		}
	}
	testutil.Eventually(t, 15*time.Second, "backup converged with the master", func() bool {
		bx := b.export()
		return len(bx) == len(got) && fmt.Sprint(bx) == fmt.Sprint(got)
	})
	t.Logf("%d iterations, %d keys acknowledged and intact on both nodes", iterations, len(acked))
}
