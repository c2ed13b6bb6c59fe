// Package etcdtest starts a real etcd cluster (Debian package etcd-server,
// etcd 3.4) for tests: n members on free loopback ports, each with its data
// directory and log file in t.TempDir(). Members can be killed with SIGKILL
// and restarted; the cluster is stopped in t.Cleanup, and the tail of every
// member's log is shown when the test failed.
//
// How etcd is run, and why:
//   - Every flag is given on the command line and the environment is
//     cleaned of ETCD_* variables, so nothing of the host's etcd setup
//     (/etc/default/etcd, a running etcd.service) is read or touched.
//   - Raft timing is tightened for loopback (heartbeat 100 ms, election
//     timeout 500 ms, pre-vote on) so that a killed leader is replaced
//     within about a second; the witness's own tests rely on that.
//   - etcd 3.4 refuses to start on arches it does not support officially
//     (arm64 among them) unless ETCD_UNSUPPORTED_ARCH names the arch; the
//     harness sets it for any arch but amd64.
//   - Readiness is a member answering GET /health with "health":"true"
//     (it has a leader and can serve), never a sleep.
package etcdtest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// StartTimeout bounds how long a member may take to report healthy.
const StartTimeout = 30 * time.Second

// Binary returns the path of etcd, or "" when it is not installed.
func Binary() string {
	if p, err := exec.LookPath("etcd"); err == nil {
		return p
	}
	if st, err := os.Stat("/usr/bin/etcd"); err == nil && !st.IsDir() {
		return "/usr/bin/etcd"
	}
	return ""
}

// Need skips the test when etcd is absent, or fails it when
// REDUND_INTEGRATION=1 says the integration tests must run.
func Need(t testing.TB) string {
	t.Helper()
	if p := Binary(); p != "" {
		return p
	}
	msg := "etcd not found on PATH or in /usr/bin; install it with `apt-get install -y etcd-server`"
	if os.Getenv("REDUND_INTEGRATION") == "1" {
		t.Fatalf("%s (REDUND_INTEGRATION=1 requires it)", msg)
	}
	t.Skip(msg)
	return ""
}

// Cluster is a running etcd cluster.
type Cluster struct {
	Members []*Member
	Dir     string

	bin   string
	token string
}

// Member is one etcd process of a Cluster.
type Member struct {
	Name      string
	ClientURL string // http://127.0.0.1:port
	PeerURL   string
	Dir       string // data directory
	LogFile   string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when the current process has exited
}

// Start starts an n-member cluster and waits until every member is
// healthy. It is stopped in t.Cleanup.
func Start(t testing.TB, n int) *Cluster {
	t.Helper()
	bin := Need(t)
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ { // a free port can be taken between probe and bind
		c, err := start(t, bin, n)
		if err == nil {
			return c
		}
		lastErr = err
	}
	t.Fatalf("etcdtest: %v", lastErr)
	return nil
}

func start(t testing.TB, bin string, n int) (*Cluster, error) {
	ports, err := freePorts(2 * n)
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: t.TempDir(), bin: bin, token: "redund-test-" + randomHex(6)}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("m%d", i)
		c.Members = append(c.Members, &Member{
			Name:      name,
			ClientURL: fmt.Sprintf("http://127.0.0.1:%d", ports[2*i]),
			PeerURL:   fmt.Sprintf("http://127.0.0.1:%d", ports[2*i+1]),
			Dir:       filepath.Join(c.Dir, name+".etcd"),
			LogFile:   filepath.Join(c.Dir, name+".log"),
		})
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("etcd logs (tails):\n%s", c.Logs(40))
		}
		c.Stop()
	})
	for i := range c.Members {
		if err := c.launch(i, "new"); err != nil {
			c.Stop()
			return nil, err
		}
	}
	for i := range c.Members {
		if err := c.waitHealthy(i, StartTimeout); err != nil {
			c.Stop()
			return nil, err
		}
	}
	return c, nil
}

// Endpoints are the members' client URLs.
func (c *Cluster) Endpoints() []string {
	eps := make([]string, len(c.Members))
	for i, m := range c.Members {
		eps[i] = m.ClientURL
	}
	return eps
}

func (c *Cluster) initialCluster() string {
	parts := make([]string, len(c.Members))
	for i, m := range c.Members {
		parts[i] = m.Name + "=" + m.PeerURL
	}
	return strings.Join(parts, ",")
}

// launch starts member i's process; state is "new" or "existing".
func (c *Cluster) launch(i int, state string) error {
	m := c.Members[i]
	logf, err := os.OpenFile(m.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(c.bin,
		"--name", m.Name, "--data-dir", m.Dir,
		"--listen-client-urls", m.ClientURL, "--advertise-client-urls", m.ClientURL,
		"--listen-peer-urls", m.PeerURL, "--initial-advertise-peer-urls", m.PeerURL,
		"--initial-cluster", c.initialCluster(), "--initial-cluster-state", state,
		"--initial-cluster-token", c.token,
		"--heartbeat-interval", "100", "--election-timeout", "500", "--pre-vote",
		"--logger", "zap", "--log-outputs", "stderr", "--log-level", "info")
	cmd.Env = environ()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start etcd %s: %w", m.Name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	m.mu.Lock()
	m.cmd, m.done = cmd, done
	m.mu.Unlock()
	return nil
}

// environ is the test's environment without ETCD_* variables, plus
// ETCD_UNSUPPORTED_ARCH where etcd 3.4 wants it.
func environ() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ETCD_") {
			env = append(env, kv)
		}
	}
	if runtime.GOARCH != "amd64" {
		env = append(env, "ETCD_UNSUPPORTED_ARCH="+runtime.GOARCH)
	}
	return env
}

// Kill sends SIGKILL to member i and waits until it has exited.
func (c *Cluster) Kill(i int) {
	m := c.Members[i]
	m.mu.Lock()
	cmd, done := m.cmd, m.done
	m.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-done
}

// Restart starts member i again (after Kill) on the same ports and data
// directory and waits until it is healthy.
func (c *Cluster) Restart(t testing.TB, i int) {
	t.Helper()
	if c.Running(i) {
		t.Fatalf("etcdtest: member %s is still running", c.Members[i].Name)
	}
	if err := c.launch(i, "existing"); err != nil {
		t.Fatalf("etcdtest: %v", err)
	}
	if err := c.waitHealthy(i, StartTimeout); err != nil {
		t.Fatalf("etcdtest: %v", err)
	}
}

// Running reports whether member i's process is alive.
func (c *Cluster) Running(i int) bool {
	m := c.Members[i]
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.done == nil {
		return false
	}
	select {
	case <-m.done:
		return false
	default:
		return true
	}
}

// Stop kills every member.
func (c *Cluster) Stop() {
	for i := range c.Members {
		c.Kill(i)
	}
}

// Logs returns the last lines of every member's log.
func (c *Cluster) Logs(lines int) string {
	var b strings.Builder
	for _, m := range c.Members {
		data, _ := os.ReadFile(m.LogFile)
		all := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		if len(all) > lines {
			all = all[len(all)-lines:]
		}
		fmt.Fprintf(&b, "--- %s (%s)\n%s\n", m.Name, m.LogFile, strings.Join(all, "\n"))
	}
	return b.String()
}

// waitHealthy polls member i's /health until it says true, the process
// exits, or timeout passes.
func (c *Cluster) waitHealthy(i int, timeout time.Duration) error {
	m := c.Members[i]
	m.mu.Lock()
	done := m.done
	m.mu.Unlock()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return fmt.Errorf("etcd %s exited during start-up:\n%s", m.Name, c.Logs(40))
		default:
		}
		if Healthy(m.ClientURL) {
			return nil
		}
		time.Sleep(50 * time.Millisecond) // polling interval, not a readiness wait
	}
	return fmt.Errorf("etcd %s not healthy at %s within %s:\n%s", m.Name, m.ClientURL, timeout, c.Logs(40))
}

var httpClient = &http.Client{Timeout: time.Second}

// Healthy reports whether the member at clientURL answers /health with
// "health":"true" (it has a leader and serves reads).
func Healthy(clientURL string) bool {
	resp, err := httpClient.Get(clientURL + "/health")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var buf [256]byte
	n, _ := resp.Body.Read(buf[:])
	return resp.StatusCode == http.StatusOK && strings.Contains(string(buf[:n]), `"health":"true"`)
}

func freePorts(n int) ([]int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	for i := 0; i < n; i++ { // hold them all so that the n ports differ
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Leader returns the index of the member that is the raft leader, as the
// running members report it, or -1 when none is.
func (c *Cluster) Leader() int {
	for i, m := range c.Members {
		if !c.Running(i) {
			continue
		}
		st, err := memberStatus(m.ClientURL)
		if err == nil && st.Leader != "" && st.Header.MemberID == st.Leader {
			return i
		}
	}
	return -1
}

type statusDoc struct {
	Header struct {
		MemberID string `json:"member_id"`
	} `json:"header"`
	Leader string `json:"leader"`
}

// memberStatus asks a member for its status through etcd's JSON gateway.
func memberStatus(clientURL string) (statusDoc, error) {
	var st statusDoc
	resp, err := httpClient.Post(clientURL+"/v3/maintenance/status", "application/json", strings.NewReader("{}"))
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("status: %s", resp.Status)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}
