// Package demo runs the whole toolkit on loopback for `redund demo`: it
// writes configs into a temporary directory, starts real redund processes
// (the same binary) for every scheme, injects failures on a schedule and
// reports how long each failover took. It imports no scheme package: the
// schemes are driven through their CLIs and admin endpoints, as an
// operator would drive them.
package demo

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Proc is one child redund process.
type Proc struct {
	Name string
	Bin  string
	Args []string
	Dir  string // log file goes here
	// OnExit, when set, is called when the process ends without having
	// been stopped through Kill or Stop (it crashed or refused to start).
	OnExit func(p *Proc, err error)

	mu   sync.Mutex
	cmd  *exec.Cmd
	out  io.Closer
	done chan struct{} // closed when cmd has exited
	n    int           // starts
}

// Start launches the process; its output goes to Dir/<name>.log.
func (p *Proc) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return nil
	}
	f, err := os.OpenFile(filepath.Join(p.Dir, p.Name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(p.Bin, p.Args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("demo: start %s: %w", p.Name, err)
	}
	done := make(chan struct{})
	p.cmd, p.out, p.done = cmd, f, done
	p.n++
	go func() {
		err := cmd.Wait()
		close(done)
		p.mu.Lock()
		unexpected := p.cmd == cmd
		if unexpected {
			p.cmd = nil
			f.Close()
		}
		p.mu.Unlock()
		if unexpected && p.OnExit != nil {
			p.OnExit(p, err)
		}
	}()
	return nil
}

// Kill sends SIGKILL (a crash, not a clean stop) and forgets the process.
func (p *Proc) Kill() { p.signal(syscall.SIGKILL) }

// Stop sends SIGTERM and waits up to 3 s, then kills.
func (p *Proc) Stop() { p.signal(syscall.SIGTERM) }

func (p *Proc) signal(sig syscall.Signal) {
	p.mu.Lock()
	cmd, out, done := p.cmd, p.out, p.done
	p.cmd, p.out = nil, nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, sig)
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	out.Close()
}

// LogTail returns the last n lines of the process's log.
func (p *Proc) LogTail(n int) string {
	b, err := os.ReadFile(filepath.Join(p.Dir, p.Name+".log"))
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Running reports whether the process was started and not stopped.
func (p *Proc) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil
}

// Procs is the set of children, stopped together.
type Procs struct {
	mu   sync.Mutex
	list []*Proc
}

// Add registers and starts a process.
func (ps *Procs) Add(p *Proc) error {
	ps.mu.Lock()
	ps.list = append(ps.list, p)
	ps.mu.Unlock()
	return p.Start()
}

// StopAll stops every process.
func (ps *Procs) StopAll() {
	ps.mu.Lock()
	list := append([]*Proc(nil), ps.list...)
	ps.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range list {
		wg.Add(1)
		go func() { defer wg.Done(); p.Stop() }()
	}
	wg.Wait()
}

// waitFor polls cond every 25 ms until it is true, ctx ends or limit passes;
// it returns how long it took.
func waitFor(ctx context.Context, limit time.Duration, cond func() bool) (time.Duration, bool) {
	start := time.Now()
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		if cond() {
			return time.Since(start), true
		}
		select {
		case <-ctx.Done():
			return time.Since(start), false
		case <-deadline.C:
			return time.Since(start), false
		case <-tick.C:
		}
	}
}
