package health

import (
	"bufio"
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
