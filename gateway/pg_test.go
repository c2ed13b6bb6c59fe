package gateway

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	pgOnce sync.Once
	pgDSN  string // admin DSN of the shared test server, "" when unavailable
	pgWhy  string
	pgStop func()
)

// postgres starts one throwaway PostgreSQL server for the package's tests
// (initdb in a temporary directory, loopback only) and returns a DSN for a
// fresh database. It skips when PostgreSQL is not installed, unless
// REDUND_INTEGRATION=1.
func postgres(t *testing.T) string {
	t.Helper()
	pgOnce.Do(startPostgres)
	if pgDSN == "" {
		if os.Getenv("REDUND_INTEGRATION") == "1" {
			t.Fatalf("PostgreSQL is required with REDUND_INTEGRATION=1: %s", pgWhy)
		}
		t.Skipf("no PostgreSQL server for the test: %s", pgWhy)
	}
	db, err := sql.Open("pgx", pgDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	name := fmt.Sprintf("t%d", time.Now().UnixNano())
	if _, err := db.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	return strings.Replace(pgDSN, "/postgres?", "/"+name+"?", 1)
}

func startPostgres() {
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		pgWhy = "initdb not found (apt-get install postgresql)"
		return
	}
	bin := filepath.Dir(bins[len(bins)-1])
	as := []string{}
	if os.Geteuid() == 0 {
		as = []string{"runuser", "-u", "postgres", "--"}
	}
	dir, err := os.MkdirTemp("", "redund-pg")
	if err != nil {
		pgWhy = err.Error()
		return
	}
	_ = os.Chmod(dir, 0o777)
	data := filepath.Join(dir, "data")
	run := func(args ...string) *exec.Cmd {
		full := append(append([]string{}, as...), args...)
		return exec.Command(full[0], full[1:]...)
	}
	if out, err := run(filepath.Join(bin, "initdb"), "-D", data, "-A", "trust", "-U", "postgres", "--no-sync").CombinedOutput(); err != nil {
		pgWhy = fmt.Sprintf("initdb: %v: %s", err, out)
		return
	}
	port := pgPort()
	srv := run(filepath.Join(bin, "postgres"), "-D", data, "-p", port, "-k", dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off")
	srv.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // runuser does not forward signals: signal the group
	if err := srv.Start(); err != nil {
		pgWhy = err.Error()
		return
	}
	pgStop = func() {
		_ = syscall.Kill(-srv.Process.Pid, syscall.SIGINT) // fast shutdown
		done := make(chan struct{})
		go func() { _ = srv.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-srv.Process.Pid, syscall.SIGKILL)
			<-done
		}
		_ = os.RemoveAll(dir)
	}
	dsn := "postgres://postgres@127.0.0.1:" + port + "/postgres?sslmode=disable"
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) { // sleep: poll interval while PostgreSQL starts
		db, err := sql.Open("pgx", dsn)
		if err == nil {
			err = db.PingContext(context.Background())
			db.Close()
		}
		if err == nil {
			pgDSN = dsn
			return
		}
		pgWhy = err.Error()
	}
}

func pgPort() string {
	ln := freeListener()
	defer ln.Close()
	return strings.TrimPrefix(ln.Addr().String(), "127.0.0.1:")
}

// With a shared PostgreSQL store in partial mode every point is stored
// exactly once, as with SQLite; in full mode the active backup writes
// straight into the shared database (no forwarding), so points taken
// while the master was only unreachable are there twice.
func TestPostgresHistorySharedByBothNodes(t *testing.T) {
	for _, mode := range []string{HistoryPartial, HistoryFull} {
		t.Run(mode, func(t *testing.T) {
			dsn := postgres(t)
			m, b, p1, p2 := historyPartitionDSN(t, mode, dsn)
			c := countByTS(t, m)
			want := map[string]int{HistoryPartial: 1, HistoryFull: 2}[mode]
			for _, p := range p1 {
				if c[p.TSMS] != want {
					t.Fatalf("%s: point at %d stored %d times, want %d", mode, p.TSMS, c[p.TSMS], want)
				}
			}
			for _, p := range p2 {
				if c[p.TSMS] != 1 {
					t.Fatalf("%s: point at %d stored %d times, want 1", mode, p.TSMS, c[p.TSMS])
				}
			}
			_ = b
		})
	}
}
