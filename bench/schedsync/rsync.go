package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// rsyncd is an rsync daemon on loopback with one writable module "dst".
type rsyncd struct {
	cmd  *exec.Cmd
	port int
	dst  string
}

func startRsyncd(work string) (*rsyncd, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dst := filepath.Join(work, "dst-rsync")
	conf := filepath.Join(work, "rsyncd.conf")
	body := fmt.Sprintf("use chroot = no\nuid = 0\ngid = 0\n[dst]\n  path = %s\n  read only = no\n", dst)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return nil, err
	}
	cmd := exec.Command("rsync", "--daemon", "--no-detach", "--config="+conf, "--address=127.0.0.1",
		"--port="+strconv.Itoa(port))
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("rsync daemon: %w", err)
	}
	rs := &rsyncd{cmd: cmd, port: port, dst: dst}
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
			c.Close()
			return rs, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	rs.stop()
	return nil, fmt.Errorf("rsync daemon did not start")
}

func (r *rsyncd) stop() { _ = r.cmd.Process.Kill(); _ = r.cmd.Wait() }

func (r *rsyncd) url(rel string) string {
	return fmt.Sprintf("rsync://127.0.0.1:%d/dst/%s", r.port, rel)
}

// push runs rsync with args and returns its wall time and the bytes it
// reports (sent + received) with --stats.
func (r *rsyncd) push(args ...string) (time.Duration, int64, string, error) {
	args = append([]string{"--stats"}, args...)
	t0 := time.Now()
	out, err := exec.Command("rsync", args...).CombinedOutput()
	d := time.Since(t0)
	if err != nil {
		return d, 0, "", fmt.Errorf("rsync %v: %v: %s", args, err, out)
	}
	return d, statBytes(string(out)), "rsync " + strings.Join(args, " "), nil
}

var statRe = regexp.MustCompile(`Total bytes (sent|received): ([\d,.]+)`)

func statBytes(out string) int64 {
	var n int64
	for _, m := range statRe.FindAllStringSubmatch(out, -1) {
		v, _ := strconv.ParseInt(strings.NewReplacer(",", "", ".", "").Replace(m[2]), 10, 64)
		n += v
	}
	return n
}

func (r *rsyncd) reset() error {
	if err := os.RemoveAll(r.dst); err != nil {
		return err
	}
	return os.MkdirAll(r.dst, 0o755)
}

// rsyncInitial: the initial copy with --fsync and without, then a no-change run.
func (res *results) rsyncInitial(rs *rsyncd, src string) error {
	for _, fsync := range []bool{true, false} {
		if err := rs.reset(); err != nil {
			return err
		}
		exec.Command("sync").Run()
		args := []string{"-a", "--exclude=/.redund"}
		if fsync {
			args = append(args, "--fsync")
		}
		d, _, cmd, err := rs.push(append(args, src+"/", rs.url(""))...)
		if err != nil {
			return err
		}
		logf("%s: %s", cmd, d)
		if fsync {
			res.rsyncFsync, res.rsyncFsyncCmd = d, cmd
		} else {
			res.rsyncPlain, res.rsyncPlainCmd = d, cmd
		}
	}
	d, _, _, err := rs.push("-a", "--exclude=/.redund", src+"/", rs.url(""))
	res.rsyncNoChange = d
	res.rs = rs
	return err
}
