package health

import (
	"strconv"
	"sync"
)

// connPool keeps the idle connections of keepalive HTTP checks by where
// they connect (host:port and TLS name), so that every check of a Probes
// that connects to the same server shares them: ten thousand names whose
// checks differ only in their path hold as many connections to a server as
// are in flight at once, not one each (issue 15 item 3: 30,000 kept
// connections ran out of file descriptors). The Probes that owns the pool
// closes what is left when its Run returns.
type connPool struct {
	mu     sync.Mutex
	idle   map[string][]*clientConn
	closed bool
}

// maxIdlePerHost bounds the idle connections kept to one host:port; more
// are closed as they come back.
const maxIdlePerHost = 256

func newConnPool() *connPool { return &connPool{idle: map[string][]*clientConn{}} }

// poolKey is where a hop connects, with the TLS settings that make its
// connection usable by another check.
func poolKey(hp *hop) string {
	if hp.tls == nil {
		return hp.dial
	}
	return hp.dial + "|tls|" + hp.tls.ServerName + "|" + strconv.FormatBool(hp.tls.InsecureSkipVerify)
}

// get returns an idle connection to key, most recently used first, or nil.
func (p *connPool) get(key string) *clientConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	cs := p.idle[key]
	if len(cs) == 0 {
		return nil
	}
	c := cs[len(cs)-1]
	cs[len(cs)-1] = nil
	p.idle[key] = cs[:len(cs)-1] // an empty list stays: the next put needs no allocation
	return c
}

// put keeps c for the next probe to key; false when the pool is closed or
// full (the caller closes c).
func (p *connPool) put(key string, c *clientConn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || len(p.idle[key]) >= maxIdlePerHost {
		return false
	}
	p.idle[key] = append(p.idle[key], c)
	return true
}

// close closes every idle connection; later puts are refused.
func (p *connPool) close() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = map[string][]*clientConn{}, true
	p.mu.Unlock()
	for _, cs := range idle {
		for _, c := range cs {
			c.close()
		}
	}
}

// idleCount is the number of idle connections kept.
func (p *connPool) idleCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, cs := range p.idle {
		n += len(cs)
	}
	return n
}
