package lab

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// TestFaults checks the lab's own fault injection, so that a promise kept
// in TestLab cannot be kept merely because a fault did nothing: a cut link
// carries nothing either way, a one-way drop only the other way, and a
// healed link everything again.
func TestFaults(t *testing.T) {
	need(t)
	a, b := newNS(t, "f-a"), newNS(t, "f-b")
	l := newLink(t, a, "to-b", b, "to-a")
	recvA, recvB := udpSink(t, a, l.Addr(a)), udpSink(t, b, l.Addr(b))
	cases := []struct {
		name       string
		do         func()
		aToB, bToA bool
	}{
		{"up", func() {}, true, true},
		{"cut at a", func() { l.Cut(t, a) }, false, false},
		{"healed", func() { l.Heal(t) }, true, true},
		{"cut at b", func() { l.Cut(t, b) }, false, false},
		{"healed", func() { l.Heal(t) }, true, true},
		{"drop from a", func() { l.DropFrom(t, a) }, false, true},
		{"healed", func() { l.Heal(t) }, true, true},
	}
	for _, c := range cases {
		c.do()
		if got := delivers(t, a, recvB, wait(c.aToB)); got != c.aToB {
			t.Errorf("%s: a→b delivered = %v, want %v", c.name, got, c.aToB)
		}
		if got := delivers(t, b, recvA, wait(c.bToA)); got != c.bToA {
			t.Errorf("%s: b→a delivered = %v, want %v", c.name, got, c.bToA)
		}
	}
}

// udpSink listens on addr:9999 inside ns and returns it.
func udpSink(t *testing.T, ns *NS, addr string) *net.UDPConn {
	t.Helper()
	var c *net.UDPConn
	err := ns.Do(func() (err error) {
		c, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(addr), Port: 9999})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// wait is how long delivers tries: a link that should carry traffic gets
// 3 s (a freshly raised veth can take a moment to get its carrier and
// neighbour entry on a loaded machine); one that should not, 700 ms, longer
// than a neighbour lookup on a healed link.
func wait(want bool) time.Duration {
	if want {
		return 3 * time.Second
	}
	return 700 * time.Millisecond
}

// delivers sends datagrams from inside ns to sink until one arrives (true)
// or within passes (false).
func delivers(t *testing.T, from *NS, sink *net.UDPConn, within time.Duration) bool {
	t.Helper()
	var c net.Conn
	err := from.Do(func() (err error) {
		c, err = net.Dial("udp4", sink.LocalAddr().String())
		return err
	})
	if err != nil {
		if strings.Contains(err.Error(), "unreachable") {
			return false
		}
		t.Fatal(err)
	}
	defer c.Close()
	msg := fmt.Sprintf("lab-%d", time.Now().UnixNano()) // not a datagram left over from an earlier call
	got := make(chan struct{})
	go func() {
		buf := make([]byte, 64)
		_ = sink.SetReadDeadline(time.Now().Add(within))
		for {
			n, _, err := sink.ReadFromUDP(buf)
			if err != nil {
				return
			}
			if string(buf[:n]) == msg {
				close(got)
				return
			}
		}
	}()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(within)
	for {
		_, _ = c.Write([]byte(msg))
		select {
		case <-got:
			return true
		case <-deadline:
			return false
		case <-tick.C:
		}
	}
}
