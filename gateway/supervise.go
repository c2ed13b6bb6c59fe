package gateway

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/lifecycle"
	"github.com/redund/redund/internal/reaper"
)

// supervisor runs the application command (`run`) as the role requires
// and the role-change hooks (`on_active`, `on_standby`, `on_fault`).
// Cold standby runs the command on the active node only; warm standby
// runs it on both, with REDUND_ROLE telling it which it is.
type supervisor struct {
	g      *Gateway
	events chan roleChange
	pings  *lifecycle.Loop // the run loop's answer to PingLoops (liveness.go)

	mu       sync.Mutex
	running  bool
	pid      int
	starts   int
	lastExit string
}

type roleChange struct {
	prev, role Role
	why        string
	fence      int64 // the witness's fencing token of an active node
	fault      bool
}

func newSupervisor(g *Gateway) *supervisor {
	return &supervisor{g: g, events: make(chan roleChange, 64), pings: lifecycle.NewLoop("gateway supervisor")}
}

func (s *supervisor) roleChanged(prev, role Role, why string, fence int64) {
	select {
	case s.events <- roleChange{prev: prev, role: role, why: why, fence: fence}:
	default:
		s.g.log.Warn("role change hook queue full; hook skipped", "role", role)
	}
}

func (s *supervisor) fault(why string) {
	select {
	case s.events <- roleChange{role: "fault", why: why, fault: true}:
	default:
	}
}

func (s *supervisor) wants(role Role) bool {
	if len(s.g.cfg.Run) == 0 {
		return false
	}
	return role == RoleActive || (s.g.cfg.Standby == StandbyWarm && role == RoleStandby)
}

// run handles role events until ctx ends, then stops the command. It
// first kills what a previous run left behind (redund killed with -9).
func (s *supervisor) run(ctx context.Context) {
	s.killLeftover()
	var child *childProc
	role := RoleStarting
	var fence int64
	backoff := time.Second
	var restart <-chan time.Time
	for {
		var exited <-chan error
		if child != nil {
			exited = child.done
		}
		select {
		case <-ctx.Done():
			child.stop()
			return
		case ev := <-s.events:
			s.hook(ctx, ev)
			if ev.fault {
				continue
			}
			if role, fence = ev.role, ev.fence; !s.wants(role) {
				child.stop()
				child, restart = nil, nil
			} else if child != nil && s.g.cfg.Standby == StandbyWarm {
				// keep running; the hook told it about the new role
			}
		case err := <-exited:
			child.reap()
			s.exited(err)
			child, restart = nil, time.After(backoff)
			backoff = min(backoff*2, 30*time.Second)
			continue
		case <-restart:
			restart = nil
		case r := <-s.pings.Pings():
			close(r)
			continue // nothing changed
		}
		if child == nil && restart == nil && s.wants(role) {
			child = s.start(ctx, role, fence)
			if child == nil {
				restart = time.After(backoff)
			}
		}
	}
}

// childProc is the running command, leader of its own process group.
type childProc struct {
	pgid    int
	done    <-chan error
	pidFile string
}

// stop sends SIGTERM to the command's group, SIGKILL after 5 s.
func (c *childProc) stop() {
	if c == nil {
		return
	}
	_ = syscall.Kill(-c.pgid, syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-c.pgid, syscall.SIGKILL)
		<-c.done
	}
	c.reap()
}

// reap kills what the exited command left in its group and forgets the
// group.
func (c *childProc) reap() {
	_ = syscall.Kill(-c.pgid, syscall.SIGKILL)
	_ = os.Remove(c.pidFile)
}

// killLeftover kills the group a previous run recorded, if still there.
func (s *supervisor) killLeftover() {
	n, err := killLeftover(s.pidFile())
	if err != nil {
		s.g.log.Warn("leftover application processes", "err", err)
	}
	if n > 0 {
		msg := fmt.Sprintf("killed %d process(es) of the application left running by a previous run (redund was killed)", n)
		s.g.log.Warn(msg)
		s.g.sysEvent("application", msg)
	}
}

func (s *supervisor) pidFile() string { return filepath.Join(s.g.cfg.DataDir, pidFileName) }

// env is the environment of the command and the hooks: REDUND_FENCE is
// the witness's fencing token of an active node (with `witness = true`).
func (s *supervisor) env(role Role, fence int64) []string {
	vars := []string{"REDUND_ROLE=" + role.String(), "REDUND_NODE_ID=" + s.g.cfg.NodeID, "REDUND_MODE=" + s.g.cfg.Mode.String()}
	if fence > 0 {
		vars = append(vars, "REDUND_FENCE="+strconv.FormatInt(fence, 10))
	}
	return config.ChildEnv(vars...)
}

func (s *supervisor) start(ctx context.Context, role Role, fence int64) *childProc {
	argv := s.g.cfg.Run
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = s.env(role, fence)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	done, err := startChild(cmd)
	if err != nil {
		s.g.log.Error("cannot start the application", "cmd", argv[0], "err", err)
		s.exited(err)
		s.hook(ctx, roleChange{role: "fault", why: "application did not start: " + err.Error(), fault: true})
		return nil
	}
	c := &childProc{pgid: cmd.Process.Pid, done: done, pidFile: s.pidFile()}
	if err := recordGroup(c.pidFile, c.pgid); err != nil {
		s.g.log.Warn("cannot record the application's process group", "err", err)
	}
	s.mu.Lock()
	s.running, s.pid = true, cmd.Process.Pid
	s.starts++
	s.mu.Unlock()
	s.g.log.Info("application started", "pid", cmd.Process.Pid, "role", role)
	return c
}

func (s *supervisor) exited(err error) {
	msg := "exited"
	if err != nil {
		msg = err.Error()
	}
	s.mu.Lock()
	s.running, s.pid, s.lastExit = false, 0, msg
	s.mu.Unlock()
	s.g.log.Warn("application stopped", "status", msg)
}

// hook runs on_active / on_standby / on_fault for a role change, bounded
// to 30 s, with REDUND_ROLE, REDUND_PREV_ROLE and REDUND_REASON set.
func (s *supervisor) hook(ctx context.Context, ev roleChange) {
	var argv []string
	live := s.g.live.Load()
	switch ev.role {
	case RoleActive:
		argv = live.OnActive
	case RoleStandby:
		argv = live.OnStandby
	case "fault":
		argv = live.OnFault
	}
	if len(argv) == 0 {
		return
	}
	hctx, cancel := context.WithTimeout(ctx, hookTimeout)
	defer cancel()
	deadline, _ := hctx.Deadline()
	defer s.pings.Busy(deadline)() // a hook may run up to its timeout (PingLoops)
	cmd := exec.CommandContext(hctx, argv[0], argv[1:]...)
	cmd.Env = append(s.env(ev.role, ev.fence), "REDUND_PREV_ROLE="+ev.prev.String(), "REDUND_REASON="+ev.why)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	// under a reaper (internal/reaper): a hook killed at its time limit
	// leaves nothing running, not even a child that called setsid or
	// double-forked (an on_standby that hung while stopping a service must
	// not leave a piece of it serving); one that exits by itself may leave
	// what it started, as before
	cmd.WaitDelay = hookReaperDelay
	err := reaper.RunWith(cmd, reaper.Options{KeepOnExit: true})
	if hctx.Err() == context.DeadlineExceeded {
		err = fmt.Errorf("timed out after %v and killed, with all it started (%w)", hookTimeout, err)
	}
	if err != nil {
		s.g.log.Warn("role hook failed", "hook", argv[0], "role", ev.role, "err", err)
	}
}

// hookTimeout bounds on_active, on_standby and on_fault (a variable for
// the tests).
var hookTimeout = 30 * time.Second

// hookReaperDelay is how long a hook's reaper has, after the time limit,
// to kill and reap what the hook left before os/exec kills the reaper.
const hookReaperDelay = 5 * time.Second

type supStatus struct {
	Configured bool   `json:"configured"`
	Running    bool   `json:"running"`
	PID        int    `json:"pid,omitempty"`
	Starts     int    `json:"starts"`
	LastExit   string `json:"last_exit,omitempty"`
}

func (s *supervisor) status() supStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return supStatus{Configured: len(s.g.cfg.Run) > 0, Running: s.running, PID: s.pid, Starts: s.starts, LastExit: s.lastExit}
}
