package netlimit

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/redund/redund/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func TestCounts(t *testing.T) {
	a, b := pfx("192.0.2.1/32"), pfx("192.0.2.2/32")
	type step struct {
		take bool // take, else release
		src  netip.Prefix
		ok   bool // take's answer
	}
	for _, tc := range []struct {
		name  string
		lim   Limits
		steps []step
		total int
	}{
		{"no caps", Limits{}, []step{{true, a, true}, {true, a, true}, {true, a, true}}, 3},
		{"per source", Limits{PerSrc: 2}, []step{{true, a, true}, {true, a, true}, {true, a, false}, {true, b, true}}, 3},
		{"total", Limits{Total: 2}, []step{{true, a, true}, {true, b, true}, {true, b, false}, {true, a, false}}, 2},
		{"release frees the slot", Limits{Total: 3, PerSrc: 1}, []step{{true, a, true}, {true, a, false},
			{false, a, false}, {true, a, true}}, 1},
		{"refused is not counted", Limits{Total: 2, PerSrc: 1}, []step{{true, a, true}, {true, a, false},
			{true, a, false}, {true, b, true}}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := counts{lim: tc.lim, src: map[netip.Prefix]int{}}
			for i, s := range tc.steps {
				if !s.take {
					c.release(s.src)
					continue
				}
				if got := c.take(s.src); got != s.ok {
					t.Fatalf("step %d: take(%v) = %v, want %v", i, s.src, got, s.ok)
				}
			}
			if c.total != tc.total {
				t.Fatalf("total %d, want %d", c.total, tc.total)
			}
			sum := 0
			for _, n := range c.src {
				sum += n
			}
			if sum != c.total {
				t.Fatalf("per-source counts %v do not add up to %d", c.src, c.total)
			}
		})
	}
}

func TestSource(t *testing.T) {
	for _, tc := range []struct {
		addr net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.ParseIP("192.0.2.9"), Port: 5}, "192.0.2.9/32"},
		{&net.TCPAddr{IP: net.ParseIP("::ffff:192.0.2.9"), Port: 5}, "192.0.2.9/32"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:3:4:5:6"), Port: 5}, "2001:db8:1:2::/64"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:ffff::1"), Port: 5}, "2001:db8:1:2::/64"},
		{&net.UDPAddr{IP: net.ParseIP("192.0.2.9"), Port: 5}, "192.0.2.9/32"},
		{&net.UnixAddr{Name: "/run/x.sock", Net: "unix"}, "invalid Prefix"},
	} {
		t.Run(tc.addr.String(), func(t *testing.T) {
			if got := Source(tc.addr).String(); got != tc.want {
				t.Errorf("Source(%v) = %s, want %s", tc.addr, got, tc.want)
			}
		})
	}
}

// holder accepts on a limited listener and keeps every connection open,
// greeting each with "hi\n", until the test ends.
func holder(t *testing.T, lim Limits) *Listener {
	t.Helper()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := Wrap(raw, lim)
	done := make(chan struct{})
	var held []net.Conn
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				for _, c := range held {
					c.Close()
				}
				return
			}
			held = append(held, c)
			_, _ = c.Write([]byte("hi\n"))
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln
}

// dialFrom connects from the loopback address src (127.0.0.x).
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 2 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// greeted reads the first line: true for "hi", false when the server
// closed the connection (refused).
func greeted(t *testing.T, c net.Conn) bool {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	switch {
	case err == nil && line == "hi\n":
		return true
	case errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isReset(err):
		return false
	}
	t.Fatalf("neither greeted nor closed within 2 s: %q %v", line, err)
	return false
}

func isReset(err error) bool { return err != nil && strings.Contains(err.Error(), "connection reset") }

// A flood from one source fills only its own share: a second source still
// gets in, and connections over the cap are closed at once.
func TestFloodFromOneSourceDoesNotKeepAnotherOut(t *testing.T) {
	ln := holder(t, Limits{Total: 8, PerSrc: 3})
	addr := ln.Addr().String()
	var ok int
	for range 10 {
		if greeted(t, dialFrom(t, "127.0.0.1", addr)) {
			ok++
		}
	}
	if ok != 3 {
		t.Fatalf("flood: %d connections held, want the per-source cap 3", ok)
	}
	if !greeted(t, dialFrom(t, "127.0.0.2", addr)) {
		t.Fatal("a second source was kept out by the first one's flood")
	}
	if got := ln.Refused(); got != 7 {
		t.Fatalf("Refused() = %d, want 7", got)
	}
	if got := ln.Open(); got != 4 {
		t.Fatalf("Open() = %d, want 4", got)
	}
}

// Closing a connection gives its slot back, once.
func TestCloseReleasesSlot(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := Wrap(raw, Limits{Total: 1})
	defer ln.Close()
	accepted := make(chan net.Conn)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	first := dialFrom(t, "127.0.0.1", ln.Addr().String())
	c := <-accepted
	_ = c.Close()
	_ = c.Close() // twice: still one release
	if ln.Open() != 0 {
		t.Fatalf("Open() after close = %d", ln.Open())
	}
	first.Close()
	dialFrom(t, "127.0.0.1", ln.Addr().String())
	c2 := <-accepted
	dialFrom(t, "127.0.0.3", ln.Addr().String()) // over the total: closed in Accept
	testutil.Eventually(t, 2*time.Second, "the connection over the total refused", func() bool { return ln.Refused() == 1 })
	if ln.Refused() != 1 || ln.Open() != 1 {
		t.Fatalf("refused %d open %d, want 1 and 1", ln.Refused(), ln.Open())
	}
	c2.Close()
	ln.Close()
	for range accepted {
	}
}

// HTTPServer refuses headers over MaxHeaderBytes (net/http's default is 1 MB).
func TestHTTPServerBounds(t *testing.T) {
	hs := HTTPServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}), nil)
	if hs.ReadHeaderTimeout != ReadHeaderTimeout || hs.IdleTimeout != IdleTimeout || hs.MaxHeaderBytes != MaxHeaderBytes {
		t.Fatalf("bounds not set: %+v", hs)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = hs.Serve(ln) }()
	defer func() { _ = hs.Shutdown(context.Background()); <-done }() // waits for the refused request's connection
	req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 2*MaxHeaderBytes))
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("a %d-byte header: %d, want 431", 2*MaxHeaderBytes, resp.StatusCode)
	}
}

func TestBudget(t *testing.T) {
	if got := Budget(1 << 40); got <= 0 || (fdLimit() > 0 && got > fdLimit()/4) {
		t.Fatalf("Budget(huge) = %d with an fd limit of %d", got, fdLimit())
	}
	if got := Budget(3); got != 3 && fdLimit() >= 12 {
		t.Fatalf("Budget(3) = %d", got)
	}
}
