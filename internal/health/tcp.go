package health

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

// tcpCheck connects, optionally sends a string and waits for a reply that
// contains expect (reading at most DefaultMaxBytes).
type tcpCheck struct {
	address, send, expect string
	// lateAt is when the reply the last probe read late had arrived
	// (zero: none read late); only the probe touches it
	lateAt time.Time
}

// probeUntil runs one probe that ends by deadline (zero: none).
func (t *tcpCheck) probeUntil(ctx context.Context, deadline time.Time) (bool, string) {
	t.lateAt = time.Time{}
	dctx := ctx
	if !deadline.IsZero() {
		var cancel context.CancelFunc
		dctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	var d net.Dialer
	conn, err := d.DialContext(dctx, "tcp", t.address)
	if err != nil {
		return false, shortErr(err)
	}
	defer conn.Close()
	tcp, _ := conn.(*net.TCPConn)
	if tcp != nil && t.expect != "" {
		stampArrivals(tcp)
	}
	// the timeout is the connection's deadline, which leaves a reply that
	// came in time for a late read (see readLate); a cancellation closes
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	if t.send != "" {
		if _, err := io.WriteString(conn, t.send); err != nil {
			return false, shortErr(err)
		}
	}
	if t.expect == "" {
		return true, "connected to " + t.address
	}
	if afterRequest != nil && tcp != nil {
		afterRequest(tcp, deadline)
	}
	return t.readExpect(conn, tcp, deadline)
}

// readExpect reads until the reply contains expect, the peer closes, the
// deadline passes or DefaultMaxBytes were read. When the deadline passes
// first, the bytes waiting in the socket that the kernel had received by
// then count too (arrivedBy): a prober short of CPU that reads late does
// not blame the server for its own lateness, as HTTP probes do
// (clientConn.readLate).
func (t *tcpCheck) readExpect(conn net.Conn, tcp *net.TCPConn, deadline time.Time) (bool, string) {
	var got []byte
	buf := make([]byte, 4096)
	for len(got) < DefaultMaxBytes {
		n, err := conn.Read(buf)
		got = append(got, buf[:n]...)
		if bytes.Contains(got, []byte(t.expect)) {
			return true, fmt.Sprintf("expect %q found", t.expect)
		}
		if errors.Is(err, os.ErrDeadlineExceeded) && tcp != nil && !deadline.IsZero() {
			if late, at := readArrived(tcp, deadline, DefaultMaxBytes-len(got)); len(late) > 0 {
				got = append(got, late...)
				if bytes.Contains(got, []byte(t.expect)) {
					t.lateAt = at
					return true, fmt.Sprintf("expect %q found", t.expect)
				}
			}
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

// readArrived reads, without waiting, the bytes (at most max) waiting in
// tcp's socket that the kernel had received by deadline, and returns them
// with the time the last arrived; nothing when they came later.
func readArrived(tcp *net.TCPConn, deadline time.Time, max int) ([]byte, time.Time) {
	n, at := arrivedBy(tcp, deadline)
	n = min(n, max)
	if n == 0 || tcp.SetReadDeadline(time.Time{}) != nil {
		return nil, time.Time{}
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(tcp, b); err != nil { // there: it does not wait
		return nil, time.Time{}
	}
	return b, at
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
