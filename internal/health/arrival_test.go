//go:build linux

package health

import (
	"bufio"
	"context"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/testutil"
)

// waiting is how many bytes wait unread in c's socket.
func waiting(t *testing.T, c syscall.Conn) int {
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	_ = rc.Control(func(fd uintptr) { n, _ = unix.IoctlGetInt(int(fd), unix.SIOCINQ) })
	return n
}

// waitStamping returns once the kernel stamps arriving packets: it turns
// stamping on a moment after the first socket asks (in a work item), so an
// answer that came before has no time and is not counted.
func waitStamping(t *testing.T) {
	t.Helper()
	stampEarly()
	testutil.Eventually(t, waitLimit, "the kernel to stamp arriving packets", func() bool {
		a, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		stampArrivals(a)
		b, err := net.DialUDP("udp", nil, a.LocalAddr().(*net.UDPAddr))
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		if _, err := b.Write([]byte{1}); err != nil {
			t.Fatal(err)
		}
		var buf [8]byte
		var oob [64]byte
		_ = a.SetReadDeadline(time.Now().Add(waitLimit))
		_, oobn, _, _, err := a.ReadMsgUDP(buf[:], oob[:])
		_, ok := receiveTime(oob[:oobn])
		return err == nil && ok
	})
}

// readLateAfter makes the prober late: it returns after deadline, with the
// connection's deadline seen as passed (set again in the past, so that it
// does not wait for the runtime's timer of the deadline).
func readLateAfter(conn syscall.Conn, deadline time.Time) time.Time {
	// sleep: the prober is late: it reads only after its deadline
	time.Sleep(time.Until(deadline) + time.Millisecond)
	_ = conn.(interface{ SetReadDeadline(time.Time) error }).SetReadDeadline(deadline)
	return deadline
}

// deadlineNow makes the prober late from now on: it moves the probe's
// deadline to the present and sets the connection's read deadline to it,
// so that what arrived before the call came in time and what is sent after
// it comes late. A test that calls it once what it sends in time has
// arrived tests the late read whether or not the test itself ran on time:
// with a fixed deadline, a test short of CPU (load 8 on 2 cores, with
// -race) sent its "timely" answer after the deadline.
func deadlineNow(conn syscall.Conn) time.Time {
	deadline := time.Now()
	_ = conn.(interface{ SetReadDeadline(time.Time) error }).SetReadDeadline(deadline)
	return deadline
}

// TestLateReadOfTimelyAnswer: the prober reads its answer only after the
// probe's deadline (as a process short of CPU does). An answer the kernel
// received in time counts, on a kept connection and on a new one, and the
// kept connection serves the next probe; an answer, or the part of it the
// probe needs, that arrived after the deadline is a timeout. Before, every
// one of these was a timeout, and CPU starvation counted healthy servers
// down (issue 15).
func TestLateReadOfTimelyAnswer(t *testing.T) {
	waitStamping(t)
	const head = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nContent-Type: text/plain\r\n\r\n"
	for _, c := range []struct {
		name      string
		keepAlive bool
		mustHave  string
		first     string // sent as soon as the request is read
		rest      string // sent once the probe's deadline has passed
		wantOK    bool
	}{
		{"kept connection, answer in time", true, "", head + "status=OK\n", "", true},
		{"new connection, answer in time", false, "", head + "status=OK\n", "", true},
		{"answer after the deadline", true, "", "", head + "status=OK\n", false},
		{"new connection, answer after the deadline", false, "", "", head + "status=OK\n", false},
		{"head in time, the body searched after", true, "status=OK", head + "stat", "us=OK\n", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			release := make(chan struct{})
			var accepted atomic.Int32
			addr := serveTCP(t, func(conn net.Conn) {
				accepted.Add(1)
				br := bufio.NewReader(conn)
				for {
					for { // the request head
						line, err := br.ReadString('\n')
						if err != nil {
							return
						}
						if line == "\r\n" {
							break
						}
					}
					if _, err := conn.Write([]byte(c.first)); err != nil {
						return
					}
					if c.rest != "" {
						<-release
						if _, err := conn.Write([]byte(c.rest)); err != nil {
							return
						}
					}
				}
			})
			cfg := Config{Kind: "http", URL: "http://" + addr + "/", KeepAlive: c.keepAlive, MustHave: c.mustHave,
				Timeout: config.Duration(time.Minute)}
			cfg.SetDefaults()
			pool := newConnPool()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			pool.setContext(ctx)
			defer pool.close()
			h, err := newHTTP(cfg, pool)
			if err != nil {
				t.Fatal(err)
			}
			answer := len(c.first) + len(c.rest)
			afterRequest = func(conn syscall.Conn, _ time.Time) time.Time {
				testutil.Eventually(t, waitLimit, "the part sent at once to arrive", func() bool {
					return waiting(t, conn) == len(c.first)
				})
				deadline := deadlineNow(conn)
				if c.rest != "" {
					release <- struct{}{}
					testutil.Eventually(t, waitLimit, "the rest to arrive", func() bool {
						return waiting(t, conn) == answer
					})
				}
				return deadline
			}
			defer func() { afterRequest = nil }()

			// the deadline is moved to when the part sent at once has arrived
			ok, reason := h.probeUntil(context.Background(), time.Now().Add(time.Minute))
			if ok != c.wantOK {
				t.Fatalf("probe read late: ok %v (%s), want %v", ok, reason, c.wantOK)
			}
			if !ok && !strings.Contains(reason, "deadline exceeded") {
				t.Errorf("a late answer's reason %q is not the timeout", reason)
			}
			if !c.wantOK || !c.keepAlive {
				return
			}
			afterRequest = nil
			if ok, reason := h.probeUntil(context.Background(), time.Now().Add(time.Minute)); !ok {
				t.Fatalf("the next probe: %s", reason)
			}
			if n := accepted.Load(); n != 1 {
				t.Errorf("two probes opened %d connections, want 1 (the late read keeps the connection)", n)
			}
		})
	}
}

// TestReadLateResult: a probe that counted an answer it read late says so
// in its Result, with the latency until the answer arrived (not until the
// prober read it, which is past the timeout); a timeout says nothing of it.
func TestReadLateResult(t *testing.T) {
	waitStamping(t)
	const answer = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nOK\n"
	hold := make(chan struct{})
	addr := serveTCP(t, func(conn net.Conn) {
		br := bufio.NewReader(conn)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			if line == "\r\n" {
				break
			}
		}
		<-hold
		_, _ = conn.Write([]byte(answer))
	})
	timeout := 100 * time.Millisecond
	c, err := New(Config{Kind: "http", URL: "http://" + addr + "/", Timeout: config.Duration(timeout)})
	if err != nil {
		t.Fatal(err)
	}
	afterRequest = func(conn syscall.Conn, deadline time.Time) time.Time {
		hold <- struct{}{}
		testutil.Eventually(t, waitLimit, "the answer to arrive", func() bool { return waiting(t, conn) == len(answer) })
		return readLateAfter(conn, deadline)
	}
	defer func() { afterRequest = nil }()
	r := c.Check(context.Background())
	if !r.OK || !r.ReadLate || r.Latency >= timeout {
		t.Errorf("answer read late: %+v, want OK, ReadLate and a latency under %v", r, timeout)
	}

	afterRequest = func(conn syscall.Conn, deadline time.Time) time.Time {
		readLateAfter(conn, deadline) // the answer is sent only after the deadline
		hold <- struct{}{}
		testutil.Eventually(t, waitLimit, "the answer to arrive", func() bool { return waiting(t, conn) == len(answer) })
		return deadline
	}
	r = c.Check(context.Background())
	if r.OK || r.ReadLate || !strings.HasPrefix(r.Reason, "timeout after 100ms") {
		t.Errorf("answer after the timeout: %+v, want a timeout without ReadLate", r)
	}
}

// TestTCPLateReadOfTimelyReply: a tcp check with expect that reads the
// reply only after its deadline counts it when the kernel had received it
// by then, and not when it came later.
func TestTCPLateReadOfTimelyReply(t *testing.T) {
	waitStamping(t)
	for _, c := range []struct {
		name   string
		first  string // sent once the request line is read
		rest   string // sent once the deadline has passed
		wantOK bool
	}{
		{"reply in time", "+PONG\r\n", "", true},
		{"reply after the deadline", "", "+PONG\r\n", false},
		{"the expected part after the deadline", "+PO", "NG\r\n", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			release := make(chan struct{})
			addr := serveTCP(t, func(conn net.Conn) {
				if _, err := bufio.NewReader(conn).ReadString('\n'); err != nil {
					return
				}
				_, _ = conn.Write([]byte(c.first))
				if c.rest != "" {
					<-release
					_, _ = conn.Write([]byte(c.rest))
				}
			})
			// the deadline is moved to when the part sent at once has arrived
			timeout := time.Minute
			ck, err := New(Config{Kind: "tcp", Address: addr, Send: "PING\n", Expect: "+PONG", Timeout: config.Duration(timeout)})
			if err != nil {
				t.Fatal(err)
			}
			afterRequest = func(conn syscall.Conn, _ time.Time) time.Time {
				testutil.Eventually(t, waitLimit, "the part sent at once to arrive", func() bool { return waiting(t, conn) == len(c.first) })
				deadline := deadlineNow(conn)
				if c.rest != "" {
					release <- struct{}{}
					testutil.Eventually(t, waitLimit, "the rest to arrive", func() bool {
						return waiting(t, conn) == len(c.first)+len(c.rest)
					})
				}
				return deadline
			}
			defer func() { afterRequest = nil }()
			r := ck.Check(context.Background())
			if r.OK != c.wantOK || r.ReadLate != c.wantOK {
				t.Fatalf("reply read late: %+v, want OK and ReadLate %v", r, c.wantOK)
			}
			if c.wantOK && r.Latency >= timeout {
				t.Errorf("latency %v, want until the reply arrived (under %v)", r.Latency, timeout)
			}
			if !c.wantOK && !strings.HasSuffix(r.Reason, "i/o timeout") {
				// the deadline the test set, not the check's timeout of a minute
				t.Errorf("reason %q, want the deadline's timeout", r.Reason)
			}
		})
	}
}

// TestDNSLateReadOfTimelyAnswer: a dns check that reads the answer only
// after its deadline counts it when the kernel had received it by then, and
// not when it came later; a stray datagram (another ID) is skipped.
func TestDNSLateReadOfTimelyAnswer(t *testing.T) {
	waitStamping(t)
	for _, c := range []struct {
		name   string
		stray  bool // a datagram with another ID comes first, in time
		late   bool // the answer is sent once the deadline has passed
		wantOK bool
	}{
		{"answer in time", false, false, true},
		{"a stray datagram, then the answer, in time", true, false, true},
		{"answer after the deadline", false, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			pc, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			release := make(chan struct{})
			done := make(chan struct{})
			t.Cleanup(func() { pc.Close(); <-done })
			answer := func(q *dns.Msg) []byte {
				r := new(dns.Msg)
				r.SetReply(q)
				r.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
					A: net.ParseIP("192.0.2.10").To4()}}
				b, _ := r.Pack()
				return b
			}
			queried := make(chan int, 1)
			go func() {
				defer close(done)
				buf := make([]byte, 512)
				n, from, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				q := new(dns.Msg)
				if q.Unpack(buf[:n]) != nil {
					return
				}
				first := 0
				if c.stray {
					s := q.Copy()
					s.Id++
					b := answer(s)
					_, _ = pc.WriteTo(b, from)
					first += len(b)
				}
				a := answer(q)
				if !c.late {
					_, _ = pc.WriteTo(a, from)
					first += len(a)
				}
				queried <- first
				if c.late {
					<-release
					_, _ = pc.WriteTo(a, from)
				}
			}()
			// the deadline is moved to when what is sent at once has arrived
			timeout := time.Minute
			ck, err := New(Config{Kind: "dns", Server: pc.LocalAddr().String(), Name: "www.example.test", Timeout: config.Duration(timeout)})
			if err != nil {
				t.Fatal(err)
			}
			afterRequest = func(conn syscall.Conn, _ time.Time) time.Time {
				// the server sent what it sends at once before it says so;
				// on loopback a datagram is queued before its send returns
				if sent := <-queried; sent > 0 {
					testutil.Eventually(t, waitLimit, "the datagrams sent at once to arrive", func() bool { return waiting(t, conn) > 0 })
				}
				deadline := deadlineNow(conn)
				if c.late {
					release <- struct{}{}
					testutil.Eventually(t, waitLimit, "the late answer to arrive", func() bool { return waiting(t, conn) > 0 })
				}
				return deadline
			}
			defer func() { afterRequest = nil }()
			r := ck.Check(context.Background())
			if r.OK != c.wantOK || r.ReadLate != c.wantOK {
				t.Fatalf("answer read late: %+v, want OK and ReadLate %v", r, c.wantOK)
			}
			if !c.wantOK && !strings.HasSuffix(r.Reason, "i/o timeout") {
				// the deadline the test set, not the check's timeout of a minute
				t.Errorf("reason %q, want the deadline's timeout", r.Reason)
			}
		})
	}
}
