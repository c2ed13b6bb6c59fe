package netlimit

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// WriteStall bounds each write of an answer (each stallChunk of it): a
// client that asks and never reads (its receive window shut, which costs
// it nothing) is cut after this long without progress, instead of holding
// a connection and its goroutine (and, through gateway's proxy, a backend
// connection) for ever. The bound is per write, not per answer: a long
// answer that is read, and a slow one with pauses between its writes
// (streaming through the proxy), keep going.
const WriteStall = 60 * time.Second

// writeStall is WriteStall (tests shorten it).
var writeStall atomic.Int64

func init() { writeStall.Store(int64(WriteStall)) }

func stallDeadline() time.Time { return time.Now().Add(time.Duration(writeStall.Load())) }

// SetWriteStall sets the write stall bound of every server to d until the
// returned function restores it: for tests of the packages that serve
// through HTTPServer.
func SetWriteStall(d time.Duration) (restore func()) {
	old := writeStall.Swap(int64(d))
	return func() { writeStall.Store(old) }
}

// stallChunk is the most one write sends under one deadline: a large
// answer written at once goes out in pieces, each with WriteStall to make
// it, so a slow reader that keeps reading (546 bytes/s or more) is not cut.
const stallChunk = 32 << 10

// cutStalled sets the WriteStall deadline around each write and flush of
// the answer, and around the flush net/http does after the handler. A
// connection the handler hijacks (a WebSocket through the proxy) is the
// handler's own: no deadline is left on it; so are the deadlines of a
// handler that sets its own write deadline (http.ResponseController): from
// then on its writes are left alone.
func cutStalled(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &stallWriter{ResponseWriter: w, rc: http.NewResponseController(w)}
		h.ServeHTTP(sw, r)
		if sw.hijacked || sw.own {
			return
		}
		// left set: the answer's last bytes go out after this; the next
		// answer on the connection sets its own
		_ = sw.rc.SetWriteDeadline(stallDeadline())
		_ = sw.rc.Flush()
	})
}

// stallWriter is the ResponseWriter cutStalled hands the handler.
type stallWriter struct {
	http.ResponseWriter
	rc       *http.ResponseController
	hijacked bool
	own      bool // the handler set a write deadline itself
}

// SetWriteDeadline is the handler's own deadline: it keeps it.
func (s *stallWriter) SetWriteDeadline(t time.Time) error {
	s.own = true
	return s.rc.SetWriteDeadline(t)
}

func (s *stallWriter) Write(p []byte) (int, error) {
	if s.own {
		return s.ResponseWriter.Write(p)
	}
	defer func() { _ = s.rc.SetWriteDeadline(time.Time{}) }()
	n := 0
	for len(p) > 0 {
		c := p[:min(len(p), stallChunk)]
		_ = s.rc.SetWriteDeadline(stallDeadline())
		m, err := s.ResponseWriter.Write(c)
		n += m
		if err != nil {
			return n, err
		}
		p = p[m:]
	}
	return n, nil
}

// ReadFrom keeps net/http's sendfile path (io.Copy from a file) under the
// same bound: stallChunk at a time.
func (s *stallWriter) ReadFrom(r io.Reader) (int64, error) {
	rf, ok := s.ResponseWriter.(io.ReaderFrom)
	if ok && s.own {
		return rf.ReadFrom(r)
	}
	if !ok {
		return io.Copy(struct{ io.Writer }{s}, r)
	}
	defer func() { _ = s.rc.SetWriteDeadline(time.Time{}) }()
	// the kernel's path takes one *io.LimitedReader around a file, not
	// two: a limit the caller set (io.CopyN, ServeContent) is merged
	remain := int64(-1)
	if lr, ok := r.(*io.LimitedReader); ok {
		r, remain = lr.R, lr.N
		defer func() { lr.N = remain }()
	}
	var n int64
	for remain != 0 {
		c := int64(stallChunk)
		if remain >= 0 {
			c = min(c, remain)
		}
		_ = s.rc.SetWriteDeadline(stallDeadline())
		m, err := rf.ReadFrom(io.LimitReader(r, c))
		n += m
		if remain >= 0 {
			remain -= m
		}
		if err != nil || m < c {
			return n, err
		}
	}
	return n, nil
}

// FlushError flushes what is buffered under the bound (what
// http.ResponseController.Flush and the proxy's streaming call).
func (s *stallWriter) FlushError() error {
	if s.own {
		return s.rc.Flush()
	}
	defer func() { _ = s.rc.SetWriteDeadline(time.Time{}) }()
	_ = s.rc.SetWriteDeadline(stallDeadline())
	return s.rc.Flush()
}

// Flush is FlushError for an http.Flusher.
func (s *stallWriter) Flush() { _ = s.FlushError() }

// Hijack hands the connection over, without a deadline on it.
func (s *stallWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := s.rc.Hijack()
	if err == nil {
		s.hijacked = true
		_ = c.SetWriteDeadline(time.Time{})
	}
	return c, rw, err
}

// Unwrap gives http.ResponseController the underlying writer.
func (s *stallWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
