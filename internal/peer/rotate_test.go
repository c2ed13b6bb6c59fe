package peer

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
)

// delayProxy forwards each connection to target, holding every chunk for
// d in each direction: a peer one 2d round trip away (the flood dials the
// listener directly, as fast as loopback allows).
func delayProxy(t *testing.T, target string, d time.Duration) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			wg.Add(2)
			go func() { defer wg.Done(); delayCopy(u, c, d) }()
			go func() { defer wg.Done(); delayCopy(c, u, d) }()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

// delayCopy copies src to dst, each chunk d after it was read; it closes
// both when either ends.
func delayCopy(dst, src net.Conn, d time.Duration) {
	type chunk struct {
		at time.Time
		b  []byte
	}
	ch := make(chan chunk, 1024)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for c := range ch {
			time.Sleep(time.Until(c.at)) // sleep: the link delay being simulated
			if _, err := dst.Write(c.b); err != nil {
				break
			}
		}
		dst.Close()
		src.Close()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			ch <- chunk{time.Now().Add(d), append([]byte(nil), buf[:n]...)}
		}
		if err != nil {
			break
		}
	}
	close(ch)
	<-done
}

// rotatingFlood dials addr from a new 127.1.x.y source each time (more
// sources than the listener has handshake slots), sends a well-formed
// first frame (without the secret) and holds the connection, from
// workers goroutines until stop.
func rotatingFlood(addr string, workers int, stop <-chan struct{}, dials *atomic.Uint64) *sync.WaitGroup {
	var next atomic.Uint32
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var held []net.Conn
			defer func() {
				for _, c := range held {
					c.Close()
				}
			}()
			for {
				select {
				case <-stop:
					return
				default:
				}
				i := next.Add(1)
				src := fmt.Sprintf("127.1.%d.%d", i/200%200+1, i%200+1)
				d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: time.Second}
				c, err := d.Dial("tcp", addr)
				if err != nil {
					continue
				}
				dials.Add(1)
				w := newFrameWriter(c)
				_ = w.writeFrame(typeAuthHello, strangerFirst())
				_ = w.flush()
				if held = append(held, c); len(held) > 64 {
					held[0].Close()
					held = held[1:]
				}
			}
		}()
	}
	return &wg
}

// The attack: a stranger with more source addresses than the listener
// has handshake slots (127/8 here; an IPv6 /48 on a network) floods the
// peer port with valid first frames while the backup, 30 ms away,
// reconnects after a restart. Eviction in arrival order took the
// backup's handshake every time (not up within 10 s, thousands of
// evictions). The backup's address authenticated before, so its
// handshake is spared and the link comes up.
func TestRotatingSourceFloodSparesAKnownPeer(t *testing.T) {
	cfg := &Config{Secret: testSecret}
	l, lrec := listener(t, cfg, Options{})
	via := delayProxy(t, l.Addr(), 15*time.Millisecond)
	first, cancel := context.WithCancel(context.Background())
	d, err := New(cfg, Options{Dial: via, Hello: hello("backup-1", "backup")})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(first) }()
	lrec.waitState(t, Up)
	cancel() // the backup restarts
	<-done
	lrec.waitState(t, Down)

	stop := make(chan struct{})
	var dials atomic.Uint64
	flood := rotatingFlood(l.Addr(), 8, stop, &dials)
	defer func() { close(stop); flood.Wait() }()
	testutil.Eventually(t, 5*time.Second, "condition", func() bool { return dials.Load() > 200 })
	start := time.Now()
	_, drec := dialer(t, cfg, via, Options{})
	drec.waitState(t, Up)
	t.Logf("up after %v, %d flood connections, %d dropped", time.Since(start), dials.Load(), l.Status().Dropped)
}

// v6Conn is a connection as the listener sees it: only its remote
// address matters to the slot table.
type v6Conn struct {
	net.Conn
	remote string
}

func (c v6Conn) RemoteAddr() net.Addr {
	return net.TCPAddrFromAddrPort(netip.MustParseAddrPort(c.remote))
}

// The attack: on an IPv6 LAN the backup (2001:db8::b) and any host of the
// LAN share a /64, which is one source. A host of the LAN dials four
// times (from addresses of its choice in that /64) while the backup's
// handshake is in flight: the source is full, and its oldest
// unauthenticated handshake, the backup's, was evicted. Once the
// backup's address has authenticated, its handshake is evicted last.
func TestSameSlash64FloodSparesTheKnownAddress(t *testing.T) {
	tab := newSlotTable()
	first, _ := tab.admit(v6Conn{remote: "[2001:db8::b]:40000"})
	tab.authenticated(first) // the backup connected before
	tab.release(first)

	backup, _ := tab.admit(v6Conn{remote: "[2001:db8::b]:40001"}) // reconnecting
	for i := range 4 * maxPerSource {
		_, victim := tab.admit(v6Conn{remote: fmt.Sprintf("[2001:db8::%x]:5000", 0x1000+i)})
		if victim == backup {
			t.Fatalf("flood connection %d from the backup's /64 evicted the backup's handshake", i+1)
		}
	}
	if tab.wasEvicted(backup) {
		t.Fatal("the backup's handshake was evicted")
	}
}
