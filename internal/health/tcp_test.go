package health

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/testutil"
)

// lineServer answers each line it reads with reply(line), then closes.
func lineServer(t *testing.T, reply func(string) string) string {
	return serveTCP(t, func(c net.Conn) {
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		line, _ := bufio.NewReader(c).ReadString('\n')
		_, _ = c.Write([]byte(reply(line)))
	})
}

func TestTCP(t *testing.T) {
	echo := lineServer(t, func(l string) string { return "+PONG " + strings.TrimSpace(l) + "\r\n" })
	refused := testutil.ClosedTCPAddr(t)
	tests := []struct {
		name   string
		c      Config
		ok     bool
		reason string
	}{
		{"connect", Config{Address: echo}, true, "connected to " + echo},
		{"send expect", Config{Address: echo, Send: "PING\n", Expect: "+PONG PING"}, true, `expect "+PONG PING" found`},
		{"wrong reply", Config{Address: echo, Send: "PING\n", Expect: "+OK"}, false,
			`expect "+OK" not found, peer closed after "+PONG PING"`},
		{"refused", Config{Address: refused}, false, "connect: connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.c.Kind = "tcp"
			wantResult(t, check(t, tt.c), tt.ok, tt.reason)
		})
	}
}

// TestTCPHanging: the server accepts and never replies; expect must give up
// at the timeout.
func TestTCPHanging(t *testing.T) {
	addr := hangingServer(t)
	start := time.Now()
	r := check(t, Config{Kind: "tcp", Address: addr, Send: "PING\n", Expect: "PONG",
		Timeout: config.Duration(200 * time.Millisecond)})
	wantResult(t, r, false, "timeout after 200ms")
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("probe took %s, want about 200ms", d)
	}
}

func TestTrimReason(t *testing.T) {
	long := strings.Repeat("é", 150) // 300 bytes
	got := trimReason([]byte("  " + long + "\n"))
	if !strings.HasSuffix(got, "…") || len(got) > maxReason+len("…") {
		t.Errorf("trimReason kept %d bytes: %q", len(got), got)
	}
	if strings.ContainsRune(strings.TrimSuffix(got, "…"), '\uFFFD') {
		t.Errorf("trimReason cut inside a character: %q", got)
	}
	if got := trimReason([]byte(" short \n")); got != "short" {
		t.Errorf("trimReason(short) = %q", got)
	}
}

// chunkConn is a connection whose reads give its chunks in turn (one
// chunk per read at most), then EOF; it has no other method.
type chunkConn struct {
	net.Conn
	chunks [][]byte
}

func (c *chunkConn) Read(p []byte) (int, error) {
	if len(c.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.chunks[0])
	if c.chunks[0] = c.chunks[0][n:]; len(c.chunks[0]) == 0 {
		c.chunks = c.chunks[1:]
	}
	return n, nil
}

// chunked cuts b into parts of size n.
func chunked(b []byte, n int) [][]byte {
	var out [][]byte
	for len(b) > n {
		out = append(out, b[:n])
		b = b[n:]
	}
	return append(out, b)
}

// TestTCPExpectAcrossReads: expect is found wherever the reads cut the
// reply, within the first DefaultMaxBytes bytes and not beyond them.
func TestTCPExpectAcrossReads(t *testing.T) {
	pad := func(n int) string { return strings.Repeat("x", n) }
	tests := []struct {
		name   string
		reply  string
		ok     bool
		reason string
	}{
		{"at start", "+PONG" + pad(100), true, `expect "+PONG" found`},
		{"in the middle", pad(5000) + "+PONG" + pad(100), true, `expect "+PONG" found`},
		{"ends the limit", pad(DefaultMaxBytes-5) + "+PONG", true, `expect "+PONG" found`},
		{"crosses the limit", pad(DefaultMaxBytes-4) + "+PONG", false, `expect "+PONG" not found in first 65536 bytes`},
		{"absent", pad(100), false, `expect "+PONG" not found, peer closed after "` + pad(100) + `"`},
		{"almost", pad(10) + "+PON" + pad(10) + "PONG", false, `expect "+PONG" not found, peer closed`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, size := range []int{1, 2, 3, 4, 5, 7, 4096, DefaultMaxBytes + 10} {
				tc := &tcpCheck{expect: "+PONG"}
				ok, reason := tc.readExpect(&chunkConn{chunks: chunked([]byte(tt.reply), size)}, nil, time.Time{})
				if ok != tt.ok || !strings.HasPrefix(reason, tt.reason) {
					t.Errorf("reads of %d bytes: got %v %q, want %v %q", size, ok, reason, tt.ok, tt.reason)
				}
			}
		})
	}
}

// TestTCPExpectSearchLinear: a reply that comes in small parts is searched
// once, not again from its start at each part (64 KiB one byte at a time
// cost about 50 ms of CPU per probe that way).
func TestTCPExpectSearchLinear(t *testing.T) {
	s := expectSearch{expect: []byte("+PONG")}
	for range DefaultMaxBytes {
		room := s.room()
		room[0] = 'x'
		if s.add(1) {
			t.Fatal("found +PONG in x's")
		}
	}
	if limit := DefaultMaxBytes * len(s.expect); s.compared > limit {
		t.Errorf("searched %d bytes for a %d-byte reply, want at most %d", s.compared, len(s.got), limit)
	}
}

// BenchmarkTCPExpectHostile: a server sends 64 KiB of near misses of the
// expected text ("+PON" again and again), 16 bytes per read.
func BenchmarkTCPExpectHostile(b *testing.B) {
	reply := []byte(strings.Repeat("+PON", DefaultMaxBytes/4))
	b.ReportAllocs()
	for range b.N {
		tc := &tcpCheck{expect: "+PONG"}
		if ok, _ := tc.readExpect(&chunkConn{chunks: chunked(reply, 16)}, nil, time.Time{}); ok {
			b.Fatal("found")
		}
	}
}
