package ddnsbench

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
	"github.com/redund/redund/internal/witness/etcdtest"
)

// Real `redund ddns run` processes on the witness: the binary is built by
// the test, each decider is its own process with its own config file and
// its own TSIG key, so that the update server's log names the pusher.

// buildRedund builds cmd/redund into a temporary directory.
func buildRedund(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skipf("go is needed to build redund: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "redund")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/redund/redund/cmd/redund").CombinedOutput()
	if err != nil {
		t.Fatalf("go build cmd/redund: %v\n%s", err, out)
	}
	return bin
}

// logLine is one line of a process's log and when the test read it.
type logLine struct {
	At   time.Time
	Text string
}

// deciderProc is one `redund ddns run` process.
type deciderProc struct {
	Name string
	Key  string // its TSIG key name
	cmd  *exec.Cmd

	mu     sync.Mutex
	lines  []logLine
	exited bool
	done   chan struct{} // closed when the process has been waited for
}

// deciderConf is a decider's config: scheme cat, main (priority 2) and
// backup (1) checked every 100 ms (fall 2, rise 2), pushed by RFC 2136
// with the decider's own key.
const deciderConf = `[admin]
ddns = "127.0.0.1:0"

[witness]
endpoints = [%s]
name = %q
ttl = %q

[ddns.cat]
name = "cat.example.test"
interval = "100ms"
rise = 2
fall = 2
witness = true
state_dir = %q

[ddns.cat.provider]
kind = "rfc2136"
server = %q
zone = "example.test"
timeout = "1s"
[ddns.cat.provider.key]
name = %q
secret = %q

[[ddns.cat.servers]]
name = "main"
address = "192.0.2.1"
priority = 2
[ddns.cat.servers.check]
kind = "http"
url = %q
musthave = "status=OK"
timeout = "1s"

[[ddns.cat.servers]]
name = "backup"
address = "192.0.2.2"
priority = 1
[ddns.cat.servers.check]
kind = "http"
url = %q
musthave = "status=OK"
timeout = "1s"
`

// procLab is three (or more) deciders, their etcd, update server and pages.
type procLab struct {
	t          testing.TB
	bin        string
	cl         *etcdtest.Cluster
	upd        *updServer
	main, back *statusPage
	keys       map[string]string // key name -> secret, for every decider started or to come
	ttl        time.Duration
}

// newProcLab prepares n keys (decider i signs with "d<i>-key.").
func newProcLab(t testing.TB, n int, ttl time.Duration) *procLab {
	etcdtest.Need(t)
	l := &procLab{t: t, bin: buildRedund(t), keys: map[string]string{}, ttl: ttl}
	for i := range n {
		l.keys[fmt.Sprintf("d%d-key.", i)] = newKey()
	}
	l.cl = etcdtest.Start(t, 3)
	l.upd = startUpdServer(t, "192.0.2.99", l.keys)
	l.main, l.back = newStatusPage(t), newStatusPage(t)
	return l
}

// start starts decider i.
func (l *procLab) start(i int) *deciderProc {
	t := l.t
	t.Helper()
	p := &deciderProc{Name: fmt.Sprintf("d%d", i), Key: fmt.Sprintf("d%d-key.", i), done: make(chan struct{})}
	eps := make([]string, 0, 3)
	for _, ep := range l.cl.Endpoints() {
		eps = append(eps, fmt.Sprintf("%q", ep))
	}
	dir := t.TempDir()
	conf := fmt.Sprintf(deciderConf, strings.Join(eps, ", "), p.Name, l.ttl.String(), dir, l.upd.Addr,
		p.Key, l.keys[p.Key], l.main.srv.URL, l.back.srv.URL)
	path := filepath.Join(dir, "redund.toml")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(l.bin, "--config", path, "ddns", "run")
	p.cmd.Env = append(os.Environ(), "NOTIFY_SOCKET=")
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go p.read(stderr)
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("log of %s:\n%s", p.Name, p.log())
		}
	})
	return p
}

// read keeps the process's log lines with their arrival times, then waits
// for the process.
func (p *deciderProc) read(r interface{ Read([]byte) (int, error) }) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		p.mu.Lock()
		p.lines = append(p.lines, logLine{At: time.Now(), Text: sc.Text()})
		p.mu.Unlock()
	}
	_ = p.cmd.Wait()
	p.mu.Lock()
	p.exited = true
	p.mu.Unlock()
	close(p.done)
}

func (p *deciderProc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b strings.Builder
	for _, l := range p.lines {
		b.WriteString(l.Text + "\n")
	}
	return b.String()
}

// find returns the first line after from that contains every one of want.
func (p *deciderProc) find(from time.Time, want ...string) (logLine, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.lines {
		if l.At.Before(from) {
			continue
		}
		if containsAll(l.Text, want) {
			return l, true
		}
	}
	return logLine{}, false
}

func containsAll(s string, want []string) bool {
	for _, w := range want {
		if !strings.Contains(s, w) {
			return false
		}
	}
	return true
}

// leads reports whether the process's last lock event is an acquisition.
func (p *deciderProc) leads() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exited {
		return false
	}
	for i := len(p.lines) - 1; i >= 0; i-- {
		switch {
		case strings.Contains(p.lines[i].Text, `msg="lock acquired"`):
			return true
		case strings.Contains(p.lines[i].Text, `msg="lock lost"`):
			return false
		}
	}
	return false
}

// waitAny waits until one of ps logs a line after from with every one of
// want, and returns that process and line; it fails after within. The
// line's time is when the reader got it, not when this poll saw it.
func waitAny(t testing.TB, within time.Duration, from time.Time, ps []*deciderProc, want ...string) (*deciderProc, logLine) {
	t.Helper()
	var got *deciderProc
	var line logLine
	testutil.Eventually(t, within, fmt.Sprintf("%q from one of %d deciders", want, len(ps)), func() bool {
		for _, p := range ps {
			if l, ok := p.find(from, want...); ok {
				got, line = p, l
				return true
			}
		}
		return false
	})
	return got, line
}

// kill sends sig to the process and waits until it has exited.
func (p *deciderProc) kill(t testing.TB, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	<-p.done
}
