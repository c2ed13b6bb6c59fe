package lab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/redund/redund/internal/adminapi"
	"github.com/redund/redund/internal/status"
)

// Proc is one redund process running in a namespace.
type Proc struct {
	Name string
	NS   *NS
	Log  string // path of its combined output
	cmd  *exec.Cmd
	done chan struct{}
}

// start runs `ip netns exec NS redund ARGS...` (ip execs redund, so the
// process is redund itself); it is stopped in t.Cleanup.
func start(t *testing.T, ns *NS, dir, name string, args ...string) *Proc {
	t.Helper()
	p := &Proc{Name: name, NS: ns, Log: filepath.Join(dir, name+".log"), done: make(chan struct{})}
	f, err := os.Create(p.Log)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command("ip", append([]string{"netns", "exec", ns.Name, redundBin}, args...)...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("lab: start %s: %v", name, err)
	}
	go func() { _ = p.cmd.Wait(); f.Close(); close(p.done) }()
	t.Cleanup(func() { p.stop(t) })
	return p
}

// stop sends SIGTERM to the process group, SIGKILL after 3 s; when the test
// failed, the tail of the process's log is shown.
func (p *Proc) stop(t *testing.T) {
	began := time.Now()
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(3 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
		t.Logf("%s did not stop within 3 s of SIGTERM: killed", p.Name)
	}
	if d := time.Since(began); d > time.Second {
		t.Logf("%s took %.1fs to stop", p.Name, d.Seconds())
	}
	if t.Failed() {
		t.Logf("--- %s log (last 30 lines):\n%s", p.Name, tail(p.Log, 30))
	}
}

// kill sends SIGKILL (a crash, not a clean stop) and waits for the end.
func (p *Proc) kill() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// run runs a one-shot redund command in ns and returns its output.
func run(ctx context.Context, ns *NS, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns.Name, redundBin}, args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("redund %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// writeConfig renders tmpl with data into dir/name.
func writeConfig(t *testing.T, dir, name, tmpl string, data any) string {
	t.Helper()
	tp := template.Must(template.New(name).Parse(tmpl))
	var b strings.Builder
	if err := tp.Execute(&b, data); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// doc fetches the status document of instance (any, when "") from the
// admin endpoint addr inside ns.
func doc(ns *NS, addr, instance string) (status.Document, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	c := &adminapi.Client{HTTP: ns.HTTP(700 * time.Millisecond)}
	r, err := c.Fetch(ctx, addr)
	if err != nil {
		return status.Document{}, false
	}
	for _, d := range r.Instances {
		if instance == "" || d.Instance == instance {
			return d, true
		}
	}
	return status.Document{}, false
}

// waitFor polls cond every 25 ms until it holds or limit passes and returns
// how long it took. Polling a condition is the readiness signal: nothing
// here sleeps to wait for something to be ready.
func waitFor(limit time.Duration, cond func() bool) (time.Duration, bool) {
	start := time.Now()
	for {
		if cond() {
			return time.Since(start), true
		}
		if time.Since(start) >= limit {
			return time.Since(start), false
		}
		time.Sleep(25 * time.Millisecond) // sleep: polling interval
	}
}

// holds polls cond every 25 ms for d and reports whether it held every
// time; took is when it first did not (or d).
func holds(d time.Duration, cond func() bool) (took time.Duration, ok bool) {
	start := time.Now()
	for time.Since(start) < d {
		if !cond() {
			return time.Since(start), false
		}
		time.Sleep(25 * time.Millisecond) // sleep: polling interval
	}
	return time.Since(start), true
}
