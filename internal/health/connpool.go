package health

import (
	"context"
	"slices"
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
//
// A probe that finds no idle connection dials a new one, but at most
// maxDialsPerHost dials to one host:port are in progress at once: a probe
// beyond them waits, within its timeout, for a connection another probe
// gives back (handed to it directly) or for a dial to end (its turn to
// dial). Without the bound, a burst of probes to one server (the probes of
// one wake tick, or the first round after a start) each dialled, the dials
// made the server and the prober slower, so that fewer connections came
// back in time and the next burst dialled too: at 30,000 distinct URLs a
// second on two cores nearly every probe ended up on a new connection and
// timed out (issue 15). A first version let a waiter dial anyway after
// half its timeout; under that load the waiters all did, and it spiralled
// the same way. A server whose dials hang (it no longer accepts) thus
// times out the probes waiting behind them too, as it would time out
// their own dials; a slow answer on a kept connection holds that
// connection only, and the turns to dial pass on as dials end.
type connPool struct {
	mu     sync.Mutex
	hosts  map[string]*hostConns
	closed bool
	// ctx is the Probes' Run context: it closes every pooled connection,
	// idle or in use, when the Probes stop (httpCheck.dial)
	ctx context.Context
}

// setContext sets the context that closes the pooled connections.
func (p *connPool) setContext(ctx context.Context) {
	p.mu.Lock()
	p.ctx = ctx
	p.mu.Unlock()
}

// runContext returns it (nil before Run).
func (p *connPool) runContext() context.Context {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ctx
}

// hostConns is the pool of one key.
type hostConns struct {
	idle    []*clientConn // most recently used last
	dialing int           // dials in progress that hold a turn (at most maxDialsPerHost)
	waiters []*connWaiter // in the order they came; some may have left
	live    int           // waiters not gone
}

// connWaiter is a probe waiting for a connection or a turn to dial. ch
// receives one of them (a nil connection is a turn to dial); gone is set
// (under the pool's lock) by whoever hands it something, or by the waiter
// when it stops waiting.
type connWaiter struct {
	ch   chan *clientConn
	host *hostConns
	gone bool
}

// maxIdlePerHost bounds the idle connections kept to one host:port; more
// are closed as they come back.
const maxIdlePerHost = 256

// maxDialsPerHost bounds the dials to one host:port in progress at once
// (see connPool).
const maxDialsPerHost = 4

func newConnPool() *connPool { return &connPool{hosts: map[string]*hostConns{}} }

// poolKey is where a hop connects, with the TLS settings that make its
// connection usable by another check.
func poolKey(hp *hop) string {
	if hp.tls == nil {
		return hp.dial
	}
	return hp.dial + "|tls|" + hp.tls.ServerName + "|" + strconv.FormatBool(hp.tls.InsecureSkipVerify)
}

// host returns key's pool; p.mu is held.
func (p *connPool) host(key string) *hostConns {
	h := p.hosts[key]
	if h == nil {
		h = &hostConns{}
		p.hosts[key] = h
	}
	return h
}

// next removes and returns the waiter that came last among those still
// waiting, marked gone, or nil; p.mu is held. Last come, first served: when
// probes wait longer than usual (the prober or the server is overloaded),
// a connection goes to the probe with the most time left, which finishes,
// rather than to the oldest, which would time out on it and close it (a
// connection lost and a dial more, the spiral the bound is for); the
// oldest then time out waiting, holding nothing.
func (h *hostConns) next() *connWaiter {
	for n := len(h.waiters); n > 0; n = len(h.waiters) {
		w := h.waiters[n-1]
		h.waiters[n-1] = nil
		h.waiters = h.waiters[:n-1]
		if !w.gone {
			w.gone, h.live = true, h.live-1
			return w
		}
	}
	return nil
}

// wait queues w; p.mu is held. Waiters that left (timed out) stay in the
// list until next reaches them, which it may not while newer ones keep
// coming: the list is compacted when most of it has left.
func (h *hostConns) wait(w *connWaiter) {
	if len(h.waiters) >= 2*h.live+16 {
		h.waiters = slices.DeleteFunc(h.waiters, func(w *connWaiter) bool { return w.gone })
	}
	h.waiters = append(h.waiters, w)
	h.live++
}

// get returns an idle connection to key, most recently used first. Without
// one it returns nil: turn reports that the caller holds a turn to dial and
// must call dialDone when its dial ends. It waits (see connPool) while
// maxDialsPerHost dials are in progress; err is the probe context's when it
// ended first (that context is made only if the probe must wait).
func (p *connPool) get(pc *probeCtx, key string) (c *clientConn, turn bool, err error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, false, nil
	}
	h := p.host(key)
	if n := len(h.idle); n > 0 {
		c = h.idle[n-1]
		h.idle[n-1] = nil
		h.idle = h.idle[:n-1] // an empty list stays: the next put needs no allocation
		p.mu.Unlock()
		return c, false, nil
	}
	if h.dialing < maxDialsPerHost {
		h.dialing++
		p.mu.Unlock()
		return nil, true, nil
	}
	w := &connWaiter{ch: make(chan *clientConn, 1), host: h}
	h.wait(w)
	p.mu.Unlock()
	ctx := pc.get()
	select {
	case c = <-w.ch:
		return c, c == nil, nil
	case <-ctx.Done():
		if c, handed := p.leave(w); handed {
			if c == nil {
				p.dialDone(key)
			} else if !p.put(key, c) {
				c.close()
			}
		}
		return nil, false, ctx.Err()
	}
}

// leave stops w waiting; handed reports that it was handed something
// meanwhile (c, or nil for a turn), which the caller now owns.
func (p *connPool) leave(w *connWaiter) (c *clientConn, handed bool) {
	p.mu.Lock()
	if !w.gone {
		w.gone, w.host.live = true, w.host.live-1
		p.mu.Unlock()
		return nil, false
	}
	p.mu.Unlock()
	return <-w.ch, true
}

// dialDone ends a dial that held a turn (whether it succeeded or not): the
// turn passes to the first waiter, if any.
func (p *connPool) dialDone(key string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	h := p.host(key)
	if w := h.next(); w != nil {
		w.ch <- nil // buffered, and only one send per waiter: does not block
		return
	}
	h.dialing--
}

// put hands c to the first probe waiting for a connection to key, or keeps
// it for the next one; false when the pool is closed or full (the caller
// closes c).
func (p *connPool) put(key string, c *clientConn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	h := p.host(key)
	if w := h.next(); w != nil {
		w.ch <- c
		return true
	}
	if len(h.idle) >= maxIdlePerHost {
		return false
	}
	h.idle = append(h.idle, c)
	return true
}

// close closes every idle connection; later puts are refused.
func (p *connPool) close() {
	p.mu.Lock()
	hosts := p.hosts
	p.hosts, p.closed = map[string]*hostConns{}, true
	p.mu.Unlock()
	for _, h := range hosts {
		for _, c := range h.idle {
			c.close()
		}
	}
}

// idleCount is the number of idle connections kept.
func (p *connPool) idleCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, h := range p.hosts {
		n += len(h.idle)
	}
	return n
}
