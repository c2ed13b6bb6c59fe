package health

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
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
		deadline = afterRequest(tcp, deadline)
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
	s := expectSearch{expect: []byte(t.expect), got: make([]byte, 0, 4096)}
	for len(s.got) < DefaultMaxBytes {
		n, err := conn.Read(s.room())
		if s.add(n) {
			return true, fmt.Sprintf("expect %q found", t.expect)
		}
		if errors.Is(err, os.ErrDeadlineExceeded) && tcp != nil && !deadline.IsZero() {
			if late, at := readArrived(tcp, deadline, DefaultMaxBytes-len(s.got)); len(late) > 0 {
				s.got = append(s.got, late...)
				if s.add(0) {
					t.lateAt = at
					return true, fmt.Sprintf("expect %q found", t.expect)
				}
			}
		}
		if errors.Is(err, io.EOF) {
			return false, fmt.Sprintf("expect %q not found, peer closed after %q", t.expect, trimReason(s.got))
		}
		if err != nil {
			return false, fmt.Sprintf("expect %q not found in %q: %s", t.expect, trimReason(s.got), shortErr(err))
		}
	}
	return false, fmt.Sprintf("expect %q not found in first %d bytes", t.expect, DefaultMaxBytes)
}

// expectSearch holds the reply read so far (at most DefaultMaxBytes, for
// the reason) and searches each part as it comes in, with the
// len(expect)-1 bytes before it that a match could start in: the bytes
// searched in all grow with the reply, not with its square (a reply that
// comes one byte at a time is searched once, not once per byte).
type expectSearch struct {
	expect   []byte
	got      []byte
	searched int // got[:searched] was searched
	// compared counts the bytes searched, for the tests
	compared int
}

// room is where the next read goes: got's free capacity (grown when
// full), never past DefaultMaxBytes.
func (s *expectSearch) room() []byte {
	if len(s.got) == cap(s.got) {
		s.got = slices.Grow(s.got, min(max(len(s.got), 4096), DefaultMaxBytes-len(s.got)))
	}
	return s.got[len(s.got):min(cap(s.got), DefaultMaxBytes)]
}

// add takes n more bytes read into room, and reports whether expect is
// in the reply now.
func (s *expectSearch) add(n int) bool {
	s.got = s.got[:len(s.got)+n]
	from := max(0, s.searched-len(s.expect)+1)
	s.searched = len(s.got)
	s.compared += len(s.got) - from
	return bytes.Contains(s.got[from:], s.expect)
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
