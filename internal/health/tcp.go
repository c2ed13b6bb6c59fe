package health

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
)

// tcpCheck connects, optionally sends a string and waits for a reply that
// contains expect (reading at most DefaultMaxBytes).
type tcpCheck struct {
	address, send, expect string
}

func (t *tcpCheck) probe(ctx context.Context) (bool, string) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", t.address)
	if err != nil {
		return false, shortErr(err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() }) // cancellation ends blocked I/O
	defer stop()
	if t.send != "" {
		if _, err := io.WriteString(conn, t.send); err != nil {
			return false, shortErr(err)
		}
	}
	if t.expect == "" {
		return true, "connected to " + t.address
	}
	return t.readExpect(conn)
}

// readExpect reads until the reply contains expect, the peer closes, the
// deadline passes or DefaultMaxBytes were read.
func (t *tcpCheck) readExpect(conn net.Conn) (bool, string) {
	var got []byte
	buf := make([]byte, 4096)
	for len(got) < DefaultMaxBytes {
		n, err := conn.Read(buf)
		got = append(got, buf[:n]...)
		if bytes.Contains(got, []byte(t.expect)) {
			return true, fmt.Sprintf("expect %q found", t.expect)
		}
		if errors.Is(err, io.EOF) {
			return false, fmt.Sprintf("expect %q not found, peer closed after %q", t.expect, trimReason(got))
		}
		if err != nil {
			return false, fmt.Sprintf("expect %q not found in %q: %s", t.expect, trimReason(got), shortErr(err))
		}
	}
	return false, fmt.Sprintf("expect %q not found in first %d bytes", t.expect, DefaultMaxBytes)
}

// trimReason keeps at most maxReason bytes of output, on a UTF-8 boundary.
func trimReason(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) <= maxReason {
		return string(b)
	}
	cut := maxReason
	for cut > 0 && b[cut]&0xC0 == 0x80 {
		cut--
	}
	return string(b[:cut]) + "…"
}
