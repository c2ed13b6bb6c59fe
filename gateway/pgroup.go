package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The supervised command runs in its own process group with SIGKILL as its
// parent-death signal, and the group is recorded in data_dir/app.pid, so
// that a kill -9 of `redund gateway run` leaves nothing serving: the kernel
// kills the command when its parent dies, and the next start kills what
// the command started itself (the rest of its group).

const pidFileName = "app.pid"

// startChild starts cmd in a new process group with a parent-death signal.
// Linux sends that signal when the OS thread that created the child exits,
// not the process: the child is started from a goroutine locked to its
// thread, which stays in Wait for as long as the child lives.
func startChild(cmd *exec.Cmd) (<-chan error, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	started := make(chan error, 1)
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine, after the child
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		done <- cmd.Wait()
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return done, nil
}

// groupRecord identifies a process group across a restart of redund: its
// id, its leader's start time (clock ticks after boot, from /proc) and the
// boot id, so that a recycled pid or a record from before a reboot is
// never taken for the group.
type groupRecord struct {
	PGID  int
	Start uint64
	Boot  string
}

func (r groupRecord) encode() []byte { return fmt.Appendf(nil, "%d %d %s\n", r.PGID, r.Start, r.Boot) }

// parseGroupRecord reads an app.pid file.
func parseGroupRecord(b []byte) (groupRecord, error) {
	f := strings.Fields(string(b))
	if len(f) != 3 {
		return groupRecord{}, errors.New("want: pgid start-time boot-id")
	}
	pgid, err1 := strconv.Atoi(f[0])
	start, err2 := strconv.ParseUint(f[1], 10, 64)
	if err := errors.Join(err1, err2); err != nil || pgid <= 1 || len(f[2]) > 64 {
		return groupRecord{}, fmt.Errorf("bad process group record %q", bytes.TrimSpace(b))
	}
	return groupRecord{PGID: pgid, Start: start, Boot: f[2]}, nil
}

// procStat is what redund reads of /proc/<pid>/stat.
type procStat struct {
	State byte
	PGRP  int
	Start uint64 // clock ticks after boot
}

// parseProcStat reads /proc/<pid>/stat: "pid (comm) state ppid pgrp ...",
// the start time is field 22; comm may hold spaces and parentheses.
func parseProcStat(b []byte) (procStat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, errors.New("stat: no command name")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 || len(f[0]) != 1 {
		return procStat{}, errors.New("stat: too few fields")
	}
	pgrp, err1 := strconv.Atoi(f[2])
	start, err2 := strconv.ParseUint(f[19], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return procStat{}, fmt.Errorf("stat: %w", err)
	}
	return procStat{State: f[0][0], PGRP: pgrp, Start: start}, nil
}

// readStat returns a live (not zombie) process's stat.
func readStat(pid int) (procStat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, false
	}
	st, err := parseProcStat(b)
	return st, err == nil && st.State != 'Z'
}

func bootID() string {
	b, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	return strings.TrimSpace(string(b))
}

// recordGroup writes the group of the child pid to path (write temp,
// fsync, rename).
func recordGroup(path string, pid int) error {
	st, ok := readStat(pid)
	if !ok {
		return fmt.Errorf("process %d is gone", pid)
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(groupRecord{PGID: pid, Start: st.Start, Boot: bootID()}.encode())
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	return err
}

// groupMembers lists the live processes of group pgid started no earlier
// than its leader was.
func groupMembers(pgid int, notBefore uint64) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, ok := readStat(pid); ok && st.PGRP == pgid && st.Start >= notBefore {
			out = append(out, pid)
		}
	}
	return out
}

// killLeftover kills the process group recorded at path, if it is still
// the one recorded there (a kill -9 of redund left it behind), and waits
// up to 5 s for it to be gone. It returns how many processes it killed.
func killLeftover(path string) (int, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer os.Remove(path)
	rec, err := parseGroupRecord(b)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	if rec.Boot != bootID() {
		return 0, nil // recorded before a reboot
	}
	if st, ok := readStat(rec.PGID); ok && st.Start != rec.Start {
		return 0, nil // the pid is another process now
	}
	members := groupMembers(rec.PGID, rec.Start)
	if len(members) == 0 {
		return 0, nil
	}
	_ = syscall.Kill(-rec.PGID, syscall.SIGKILL)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if len(groupMembers(rec.PGID, rec.Start)) == 0 {
			return len(members), nil
		}
	}
	return len(members), fmt.Errorf("process group %d still has processes 5s after SIGKILL", rec.PGID)
}
