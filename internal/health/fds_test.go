//go:build unix

package health

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestFDsNeeded: each probe counts its timeout / interval (at most one),
// exec checks three pipes, a checker of its own nothing, plus the reserve.
func TestFDsNeeded(t *testing.T) {
	p := NewProbes()
	o := MonitorOptions{Interval: 2 * time.Second}
	for i := range 10 { // 10 × 1s/2s = 5
		if _, err := p.Add(fmt.Sprintf("t%d", i), Config{Kind: "tcp", Address: fmt.Sprintf("127.0.0.1:%d", 1000+i), Timeout: 1e9}, o); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.Add("x", Config{Kind: "exec", Command: []string{"true"}, Timeout: 4e9}, o); err != nil { // 3 × 1
		t.Fatal(err)
	}
	p.AddChecker("own", CheckerFunc(nil), o)
	if got, want := p.FDsNeeded(), 5+3+fdReserve; got != want {
		t.Errorf("FDsNeeded = %d, want %d", got, want)
	}
}

// TestCheckFDs: a soft limit below the need is raised to the hard limit;
// a need above the hard limit is an error that names the numbers.
func TestCheckFDs(t *testing.T) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Skip(err)
	}
	if lim.Max > 200_000 {
		t.Skipf("hard limit %d: too many probes to build past it", lim.Max)
	}
	t.Cleanup(func() { _ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim) })
	low := lim
	low.Cur = fdReserve + 50
	if low.Cur < lim.Max {
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
			t.Skip(err)
		}
	}
	p := NewProbes()
	o := MonitorOptions{Interval: time.Second}
	add := func(n int) {
		for i := range n {
			if _, err := p.Add("t", Config{Kind: "tcp", Address: fmt.Sprintf("127.0.%d.%d:80", i/250, i%250+1)}, o); err != nil {
				t.Fatal(err)
			}
		}
	}
	add(100)
	if err := p.CheckFDs(); err != nil {
		t.Fatalf("100 probes: %v", err)
	}
	var now syscall.Rlimit
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &now)
	if now.Cur < uint64(p.FDsNeeded()) {
		t.Errorf("soft limit %d after CheckFDs, want at least %d", now.Cur, p.FDsNeeded())
	}
	add(int(lim.Max)) // now more probes than the hard limit
	err := p.CheckFDs()
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("open-file limit of %d", lim.Max)) {
		t.Fatalf("%d probes: err %v, want the open-file limit named", p.Len(), err)
	}
}
