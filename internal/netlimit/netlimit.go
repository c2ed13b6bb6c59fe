// Package netlimit caps the connections a TCP listener holds open: in total
// and per source, so that one client (or one flood) cannot take every file
// descriptor of the process or keep the other clients out. A connection
// over a cap is closed inside Accept, before any byte is read, and costs
// no goroutine.
package netlimit

import (
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
)

// Limits are the caps of one listener. Zero means no cap.
type Limits struct {
	Total  int // connections open at once
	PerSrc int // connections open at once from one source (an IPv4 address or an IPv6 /64)
}

// Listener is a net.Listener that enforces Limits.
type Listener struct {
	net.Listener
	mu      sync.Mutex
	open    counts
	refused atomic.Uint64
}

// Wrap returns ln with limits applied to the connections it accepts.
func Wrap(ln net.Listener, lim Limits) *Listener {
	return &Listener{Listener: ln, open: counts{lim: lim, src: map[netip.Prefix]int{}}}
}

// Accept returns the next connection within the caps; a connection over a
// cap is closed at once and Accept waits for the next one.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		src := Source(c.RemoteAddr())
		l.mu.Lock()
		ok := l.open.take(src)
		l.mu.Unlock()
		if !ok {
			l.refused.Add(1)
			_ = c.Close()
			continue
		}
		return &conn{Conn: c, l: l, src: src}, nil
	}
}

// Open is the number of accepted connections not closed yet.
func (l *Listener) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open.total
}

// Refused is the number of connections closed because of a cap.
func (l *Listener) Refused() uint64 { return l.refused.Load() }

func (l *Listener) release(src netip.Prefix) {
	l.mu.Lock()
	l.open.release(src)
	l.mu.Unlock()
}

// counts is the pure bookkeeping behind Listener (guarded by its mutex).
type counts struct {
	lim   Limits
	total int
	src   map[netip.Prefix]int
}

// take counts a new connection from src and reports whether it is within
// the caps; a refused connection is not counted.
func (c *counts) take(src netip.Prefix) bool {
	if c.lim.Total > 0 && c.total >= c.lim.Total {
		return false
	}
	if c.lim.PerSrc > 0 && c.src[src] >= c.lim.PerSrc {
		return false
	}
	c.total++
	c.src[src]++
	return true
}

// release forgets a connection that take counted.
func (c *counts) release(src netip.Prefix) {
	c.total--
	if c.src[src] <= 1 {
		delete(c.src, src)
		return
	}
	c.src[src]--
}

// Source is the unit a per-source cap counts: the IPv4 address, or the /64
// of an IPv6 address (one host usually holds a whole /64). An address that
// is not IP (a Unix socket) is one source.
func Source(a net.Addr) netip.Prefix {
	var ip netip.Addr
	if ta, ok := a.(*net.TCPAddr); ok {
		ip, _ = netip.AddrFromSlice(ta.IP)
	} else if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		ip = ap.Addr()
	}
	ip = ip.Unmap()
	switch {
	case ip.Is4():
		return netip.PrefixFrom(ip, 32)
	case ip.Is6():
		p, _ := ip.WithZone("").Prefix(64)
		return p
	}
	return netip.Prefix{}
}

// conn gives its slot back once, on the first Close.
type conn struct {
	net.Conn
	l    *Listener
	src  netip.Prefix
	once sync.Once
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.src) })
	return err
}

// ReadFrom keeps the kernel's sendfile/splice path of a TCP connection
// (net/http uses it to send files).
func (c *conn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}
