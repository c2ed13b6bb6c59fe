package etcdtest

import (
	"net"
	"strings"
	"sync"
	"testing"
)

// Relay is a TCP relay on loopback in front of one address: a client that
// reaches etcd only through relays can be cut off from it (Cut) the way a
// pulled cable or a dropping firewall cuts a node, without touching etcd or
// the other clients.
type Relay struct {
	Addr   string // 127.0.0.1:port to dial instead of the target
	target string
	ln     net.Listener

	mu     sync.Mutex
	cut    bool
	closed bool
	conns  map[net.Conn]bool // open connections; true: it saw a cut
	wg     sync.WaitGroup
}

// NewRelay starts a relay to target (host:port or an http:// URL); it is
// closed in t.Cleanup.
func NewRelay(t testing.TB, target string) *Relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &Relay{Addr: ln.Addr().String(), target: strings.TrimPrefix(target, "http://"), ln: ln, conns: map[net.Conn]bool{}}
	r.wg.Add(1)
	go r.accept()
	t.Cleanup(r.Close)
	return r
}

// URL is the relay's address as an etcd endpoint.
func (r *Relay) URL() string { return "http://" + r.Addr }

// Cut makes the relay silent: from now on no byte passes in either
// direction, on open connections or new ones. Connections stay open, so the
// client hears nothing at all (no reset, no close), as across a partition.
func (r *Relay) Cut() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cut = true
	for c := range r.conns {
		r.conns[c] = true
	}
}

// Heal lets bytes pass again. Connections that were open during the cut
// lost bytes, so they are closed; the client dials anew.
func (r *Relay) Heal() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cut = false
	for c, sawCut := range r.conns {
		if sawCut {
			c.Close()
		}
	}
}

// Close stops the relay and closes every connection.
func (r *Relay) Close() {
	r.ln.Close()
	r.mu.Lock()
	r.closed = true
	for c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}

func (r *Relay) accept() {
	defer r.wg.Done()
	for {
		in, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.wg.Add(1)
		go r.serve(in)
	}
}

// serve relays one client connection. While cut, a new connection is held
// open without dialing the target.
func (r *Relay) serve(in net.Conn) {
	defer r.wg.Done()
	if !r.track(in) {
		return
	}
	defer r.untrack(in)
	if r.isCut() {
		r.drain(in) // hold it silently until healed (then closed) or the client gives up
		return
	}
	out, err := net.Dial("tcp", r.target)
	if err != nil {
		return
	}
	if !r.track(out) {
		out.Close()
		return
	}
	defer r.untrack(out)
	done := make(chan struct{})
	go func() { r.pipe(out, in); close(done) }()
	r.pipe(in, out)
	<-done
}

// pipe copies src to dst, dropping what it reads while the relay is cut;
// it closes both when either side ends.
func (r *Relay) pipe(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !r.isCut() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (r *Relay) drain(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 4<<10)
	for {
		if _, err := c.Read(buf); err != nil {
			return
		}
	}
}

func (r *Relay) isCut() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cut
}

// track registers c; it returns false (and closes c) when the relay is
// closed already.
func (r *Relay) track(c net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		c.Close()
		return false
	}
	r.conns[c] = r.cut
	return true
}

func (r *Relay) untrack(c net.Conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.conns, c)
}

// Relays is one relay per member of a cluster: a node that reaches etcd
// only through them is cut off from all of it at once.
type Relays []*Relay

// Relayed starts one relay per member of c, each closed in t.Cleanup.
func (c *Cluster) Relayed(t testing.TB) Relays {
	t.Helper()
	var rs Relays
	for _, ep := range c.Endpoints() {
		rs = append(rs, NewRelay(t, ep))
	}
	return rs
}

// URLs are the relays' addresses as etcd endpoints.
func (rs Relays) URLs() []string {
	urls := make([]string, len(rs))
	for i, r := range rs {
		urls[i] = r.URL()
	}
	return urls
}

// Cut cuts every relay (see Relay.Cut).
func (rs Relays) Cut() {
	for _, r := range rs {
		r.Cut()
	}
}

// Heal heals every relay (see Relay.Heal).
func (rs Relays) Heal() {
	for _, r := range rs {
		r.Heal()
	}
}
