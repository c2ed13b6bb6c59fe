package health

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Buffers shared by every HTTP probe: a probe holds them only while it runs.
var (
	readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}
	bodyPool   = sync.Pool{New: func() any { b := make([]byte, 0, DefaultMaxBytes); return &b }}
	// smallBodyPool holds the buffers of bodies that say they are short
	// (Content-Length up to smallBody): a status page of a few bytes
	// then takes 4 KiB, not max_bytes (64 KiB). At 30,000 probes a second
	// the 64 KiB buffers were most of the heap (240 MB) and, as a
	// sync.Pool empties at every garbage collection, were allocated and
	// zeroed again by the thousand after each one.
	smallBodyPool = sync.Pool{New: func() any { b := make([]byte, 0, smallBody); return &b }}
)

// smallBody is the size of smallBodyPool's buffers.
const smallBody = 4 << 10

// getBody returns a buffer with room for n bytes, from the pool that fits.
func getBody(n int) *[]byte {
	if n <= smallBody {
		return smallBodyPool.Get().(*[]byte)
	}
	p := bodyPool.Get().(*[]byte)
	if cap(*p) < n {
		*p = make([]byte, n)
	}
	return p
}

// putBody gives back a buffer of getBody.
func putBody(p *[]byte) {
	if cap(*p) == smallBody {
		smallBodyPool.Put(p)
		return
	}
	bodyPool.Put(p)
}

// drainLimit is how much of an unread body a keep-alive probe reads to keep
// its connection; a longer rest closes it.
const drainLimit = 64 << 10

// clientConn is one connection of an HTTP check, with its read buffer.
type clientConn struct {
	net.Conn                  // *tls.Conn for https
	tcp      *net.TCPConn     // the connection under it
	br       *bufio.Reader    // reads counted through got
	got      int64            // bytes read since the last request was written
	lr       io.LimitedReader // frames a body of known length
	// unhook, for a pooled connection, stops the close registered at dial
	// on the pool's context (nil otherwise)
	unhook func() bool
	// owed is the method of a request whose answer had not begun when its
	// probe's deadline passed ("" when none): the next request on the
	// connection reads and discards that answer first (skipOwed).
	owed string
	// late is set while a probe reads, after its deadline, an answer the
	// kernel received in time (readLate): reads then take at most avail
	// more bytes, those that had arrived, and never wait.
	late  bool
	avail int
}

func (c *clientConn) Read(p []byte) (int, error) {
	if c.late {
		if c.avail == 0 {
			return 0, errIncompleteInTime
		}
		p = p[:min(len(p), c.avail)]
	}
	n, err := c.Conn.Read(p)
	c.got += int64(n)
	if c.late {
		c.avail -= n
	}
	return n, err
}

// errIncompleteInTime: the part of an answer that arrived by the probe's
// deadline ends before what the probe needs.
var errIncompleteInTime = errors.New("the answer was not complete by the deadline")

// readLate is called when a probe's read of its answer failed on the
// deadline before a byte of it was read. If the kernel had received the
// answer by then (its receive time), the probe's own lateness, not the
// server's, made it miss: a process short of CPU runs its probes after
// their answers came (a garbage collection while other processes keep
// every core busy). Then the probe goes on reading what had arrived, and
// only that, without waiting: readLate returns when the last of it had
// arrived, and true. An answer that arrived after the deadline, or not
// whole by then, stays a timeout.
//
// Before, such a probe failed, and under a CPU shortage servers that all
// answered within milliseconds were counted down by the hundred (issue 15).
// Plain HTTP only: a TLS record's arrival says less about what it holds.
func (c *clientConn) readLate(deadline time.Time) (time.Time, bool) {
	if deadline.IsZero() || c.got != 0 || c.br.Buffered() != 0 {
		return time.Time{}, false
	}
	n, at := arrivedBy(c.tcp, deadline)
	if n == 0 || c.Conn.SetReadDeadline(time.Time{}) != nil {
		return time.Time{}, false
	}
	c.late, c.avail = true, n
	return at, true
}

// close closes the connection with a reset (SO_LINGER 0) and gives its
// read buffer back. The answer has been read (or the probe failed), so the
// server has nothing left to say to a health check, and the probing host
// keeps no TIME_WAIT socket per probe: at thousands of probes a second
// these would pile up by the hundred thousand. gdnsd's http_status ends
// its probes the same way (it closes after reading the status line). It
// also costs less: 97-111 against 111-119 us of CPU per probe in four
// alternating rounds of 300 parallel probes on loopback.
func (c *clientConn) close() {
	if c.unhook != nil {
		c.unhook()
	}
	_ = c.tcp.SetLinger(0)
	_ = c.Conn.Close()
	c.br.Reset(nil)
	readerPool.Put(c.br)
}

// roundTrip sends hp's request on a connection (the kept one with
// keepalive, else a new one) and reads the answer. A kept connection that
// fails before the first byte of the answer (the server closed it while
// idle) is replaced by a new one once, as net/http's client does.
func (h *httpCheck) roundTrip(pc *probeCtx, hp *hop) (answer, error) {
	reuse := h.keepAlive && hp == h.first
	var c *clientConn
	turn := false
	if reuse {
		var err error
		if c, turn, err = h.takeIdle(pc); err != nil {
			return answer{}, err
		}
	}
	reused := c != nil
	if c == nil {
		var err error
		c, err = h.dial(pc.get(), hp)
		if turn {
			h.pool.dialDone(h.key)
		}
		if err != nil {
			return answer{}, err
		}
	}
	a, keep, err := h.exchange(pc, c, hp, reuse)
	if err != nil && c.owed != "" && h.keepIdle(c) {
		return a, err // timed out before the answer began: the connection is kept
	}
	if err != nil && reused && c.got == 0 && pc.err() == nil {
		c.close()
		if c, err = h.dial(pc.get(), hp); err != nil {
			return answer{}, err
		}
		a, keep, err = h.exchange(pc, c, hp, reuse)
	}
	if keep && err == nil && h.keepIdle(c) {
		return a, nil
	}
	c.close()
	return a, err
}

// takeIdle returns a kept connection to the URL's host:port, or nil; with
// the pool it may wait for one, and turn reports a turn to dial that the
// caller gives back with dialDone (see connPool.get).
func (h *httpCheck) takeIdle(pc *probeCtx) (c *clientConn, turn bool, err error) {
	if h.pool != nil {
		if h.fresh {
			h.fresh = false
			return nil, false, nil
		}
		return h.pool.get(pc, h.key)
	}
	select {
	case c := <-h.idle:
		return c, false, nil
	default:
		return nil, false, nil
	}
}

// keepIdle keeps c for a later probe; false when there is no room.
func (h *httpCheck) keepIdle(c *clientConn) bool {
	if h.pool != nil {
		return h.pool.put(h.key, c)
	}
	select {
	case h.idle <- c:
		return true
	default:
		return false
	}
}

// dial opens a connection to hp (TCP, then TLS for https).
func (h *httpCheck) dial(ctx context.Context, hp *hop) (*clientConn, error) {
	conn, err := h.dialer.DialContext(ctx, "tcp", hp.dial)
	if err != nil {
		return nil, err
	}
	c := &clientConn{Conn: conn, tcp: conn.(*net.TCPConn)}
	c.br = readerPool.Get().(*bufio.Reader)
	c.br.Reset(c)
	if hp.tls == nil {
		stampArrivals(c.tcp)
	}
	if h.pool != nil {
		if rc := h.pool.runContext(); rc != nil {
			tcp := c.tcp
			c.unhook = context.AfterFunc(rc, func() { _ = tcp.Close() })
		}
	}
	if hp.tls == nil {
		return c, nil
	}
	tc := tls.Client(conn, hp.tls)
	c.Conn = tc
	if err := tc.HandshakeContext(ctx); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

// exchange writes the request and reads the answer on c. keep reports that
// the connection may carry the next request: keepalive is on, the server
// did not ask to close and the whole body was read.
func (h *httpCheck) exchange(pc *probeCtx, c *clientConn, hp *hop, keepAlive bool) (answer, bool, error) {
	c.late = false // a kept connection's last answer may have been read late
	if c.unhook == nil {
		// a cancellation closes the connection, which ends blocked I/O;
		// the timeout is the connection's deadline, which leaves an answer
		// that came in time for readLate (the probe's reason is the
		// context's either way: probeUntil asks pc.err)
		stop := context.AfterFunc(pc.parent, func() { _ = c.Conn.Close() })
		defer stop()
		if err := c.Conn.SetDeadline(pc.deadline); err != nil { // zero: none
			return answer{}, false, err
		}
	} else {
		// A pooled connection is closed by the pool's context when the
		// Probes stop; the probe's timeout is the connection's deadline.
		// No context.AfterFunc per probe: its registration, channel and
		// closure were a third of what a keepalive probe allocated, and at
		// 30,000 probes a second the garbage collections they caused made
		// probes late (issue 15). A probe removed meanwhile runs on to its
		// answer or its deadline, and its result is dropped.
		if err := pc.err(); err != nil {
			return answer{}, false, err
		}
		if err := c.Conn.SetDeadline(pc.deadline); err != nil { // zero: none
			return answer{}, false, err
		}
	}
	if c.owed != "" {
		if !c.owedArrived() {
			// not there yet: the connection is useless to this probe;
			// c.got 0 makes roundTrip dial a new one (as for a
			// connection the server closed)
			c.owed, c.got = "", 0
			return answer{}, false, errOwedNotArrived
		}
		if err := skipOwed(c); err != nil {
			c.owed = ""
			return answer{}, false, err
		}
		c.owed = ""
	}
	c.got = 0
	if _, err := c.Write(hp.req); err != nil {
		return answer{}, false, err
	}
	if afterRequest != nil {
		pc.deadline = afterRequest(c.tcp, pc.deadline)
	}
	head, err := readHead(c.br)
	if err != nil && hp.tls == nil && errors.Is(err, os.ErrDeadlineExceeded) {
		if at, ok := c.readLate(pc.deadline); ok {
			h.lateAt = at
			head, err = readHead(c.br)
		}
	}
	if err != nil {
		if keepAlive && c.unhook != nil && hp.tls == nil && c.got == 0 && errors.Is(err, os.ErrDeadlineExceeded) {
			c.owed = hp.method // see skipOwed
		}
		return answer{}, false, err
	}
	a := answer{code: head.code}
	if isRedirect(head.code) && head.location != "" {
		if follow, why := h.follows(hp, head.location); follow {
			a.location = head.location
		} else {
			a.unfollowed = why
		}
	}
	body := head.bodyInto(c.br, hp.method, &c.lr)
	if a.location == "" && (len(h.mustHave) > 0 || len(h.mustNotHave) > 0) {
		n := h.maxBytes
		if head.length >= 0 && head.length < int64(n) {
			n = int(head.length) // the body says it is shorter
		}
		if a.body, err = readPrefix(body, n); err != nil {
			return answer{}, false, errors.New("HTTP " + strconv.Itoa(a.code) + ": reading body: " + shortErr(err))
		}
	}
	if !keepAlive {
		return a, false, nil
	}
	return a, c.drain(head, body, hp.method), nil
}

// drain reads the rest of the answer whose head and body (framed by
// bodyInto) were read for a request of method, so that the connection can
// carry the next request; false when it cannot: the server asked to close,
// the body is not framed or its rest is longer than drainLimit.
func (c *clientConn) drain(head respHead, body io.Reader, method string) bool {
	if head.close || !head.framed(method) {
		return false
	}
	if body == &c.lr { // known length: skip the rest without a reader of its own
		if c.lr.N > drainLimit {
			return false
		}
		n := int(c.lr.N)
		k, err := c.br.Discard(n)
		return k == n && err == nil
	}
	n, err := io.CopyN(io.Discard, body, drainLimit+1)
	return n <= drainLimit && err == io.EOF && (!head.chunked || readTrailer(c.br) == nil)
}

// skipOwed reads and discards the answer owed on c: a probe whose deadline
// passed before its answer began kept its connection (a pooled plain-TCP
// one, whose deadline does not close it), and this, the next request on
// it, reads that answer first, within its own deadline, once it has begun
// to arrive (owedArrived). An answer that has not begun to arrive makes
// the probe dial a new connection, as before: a probe never waits for
// another probe's answer (the pool may hand the connection to a check of
// another URL on the same host:port).
//
// Closing such a connection, as every timeout did before, made the next
// probe dial. When the timeouts came from the prober's own host being
// short of CPU (a garbage collection while other processes kept both
// cores busy), the dials cost more CPU than the probes they replaced (51-62
// against 26-36 us a probe), so more probes timed out, closed and dialled:
// a spiral that counted healthy servers down by the thousand in
// bench/ddns (issue 15). A server that answers late is still reported
// late by the probe that timed out; an owed answer that began but does not
// end within the next probe's deadline fails that probe too, and its
// connection is closed.
func skipOwed(c *clientConn) error {
	c.got = 0
	head, err := readHead(c.br)
	if err != nil {
		return err
	}
	if !c.drain(head, head.bodyInto(c.br, c.owed, &c.lr), c.owed) {
		return errOwedUnframed
	}
	return nil
}

// owedArrived reports whether the owed answer has begun to arrive: bytes
// in the read buffer, or in the socket (a peek that does not wait). A
// connection the server closed has none.
func (c *clientConn) owedArrived() bool {
	if c.br.Buffered() > 0 {
		return true
	}
	rc, err := c.tcp.SyscallConn()
	if err != nil {
		return false
	}
	var b [1]byte
	got := false
	// Control, not Read: Read would refuse at once on a deadline passed
	_ = rc.Control(func(fd uintptr) {
		n, _, err := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		got = err == nil && n > 0
	})
	return got
}

// afterRequest, for tests, runs after a probe's request is written (HTTP;
// tcp: after connecting and sending), before its answer is read: a prober
// late to read its answer. It returns the deadline the probe keeps from
// then on: a test sets it once what it sends in time has arrived, so that
// "in time" does not depend on the test being scheduled on time.
var afterRequest func(c syscall.Conn, deadline time.Time) time.Time

// errOwedNotArrived: the answer owed on a kept connection has not begun.
var errOwedNotArrived = errors.New("the answer to an earlier, timed-out probe has not arrived")

// errOwedUnframed: an owed answer that cannot be skipped to its end.
var errOwedUnframed = errors.New("the answer to an earlier, timed-out probe could not be skipped")

// readPrefix reads the first n bytes of body (fewer if it ends first) into
// a buffer of getBody. A body that ends before its framing says (the
// server closed inside a Content-Length body or inside the chunks) is an
// error, io.ErrUnexpectedEOF: the answer is not whole, and what is missing
// could hold mustnothave. The end of a body that runs until the server
// closes is its end.
func readPrefix(body io.Reader, n int) (*[]byte, error) {
	p := getBody(n)
	buf := (*p)[:n]
	got := 0
	var err error
	for got < n && err == nil {
		var m int
		m, err = body.Read(buf[got:])
		got += m
	}
	if lr, ok := body.(*io.LimitedReader); ok && err == io.EOF && lr.N > 0 {
		err = io.ErrUnexpectedEOF // the connection ended, not the body
	}
	if err != nil && err != io.EOF {
		putBody(p)
		return nil, err
	}
	*p = buf[:got]
	return p, nil
}
