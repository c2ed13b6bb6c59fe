package demo

import (
	"fmt"
	"net"
	"strings"
	"testing"
)

func TestFreePortsDistinctBindableBelowEphemeral(t *testing.T) {
	lo, hi := portRange()
	if lo < 1024 || hi <= lo {
		t.Fatalf("portRange() = %d-%d, want 1024 <= lo < hi", lo, hi)
	}
	ports, err := freePorts(13)
	if err != nil {
		t.Fatal(err)
	}
	if len(ports) != 13 {
		t.Fatalf("got %d ports, want 13", len(ports))
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if seen[p] {
			t.Errorf("port %d returned twice", p)
		}
		seen[p] = true
		if p < lo || p >= hi {
			t.Errorf("port %d outside %d-%d", p, lo, hi)
		}
		addr := fmt.Sprintf("127.0.0.1:%d", p)
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Errorf("tcp %s: %v", addr, err)
			continue
		}
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			t.Errorf("udp %s: %v", addr, err)
		} else {
			pc.Close()
		}
		ln.Close()
	}
}

func TestPortFreeSeesATakenPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	if portFree(ln.Addr().(*net.TCPAddr).Port) {
		t.Error("portFree says a listening TCP port is free")
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	if portFree(pc.LocalAddr().(*net.UDPAddr).Port) {
		t.Error("portFree says a bound UDP port is free")
	}
}

func TestFreePortsTooManyIsAnError(t *testing.T) {
	_, err := freePorts(5000) // more than 1000 tries can find
	if err == nil || !strings.Contains(err.Error(), "demo: found only") {
		t.Fatalf("freePorts(5000) error = %v, want \"demo: found only ...\"", err)
	}
}
