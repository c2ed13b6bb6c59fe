package peer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// Listen binds the listen address of a listening node now (Run binds it
// otherwise), so that a daemon has every socket bound before it reports
// ready. It does nothing on a dialing node or when already bound.
func (n *Node) Listen() error {
	if n.opts.Dial != "" {
		return nil
	}
	n.mu.Lock()
	bound := n.ln != nil
	n.mu.Unlock()
	if bound {
		return nil
	}
	ln := n.opts.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", n.opts.Listen); err != nil {
			return fmt.Errorf("peer: listen: %w", err)
		}
	}
	n.mu.Lock()
	if n.ln == nil {
		n.ln, ln = ln, nil
	}
	n.mu.Unlock()
	if ln != nil && n.opts.Listener == nil { // bound meanwhile by another call
		_ = ln.Close()
	}
	return nil
}

func (n *Node) listen(ctx context.Context) error {
	if err := n.Listen(); err != nil {
		return err
	}
	n.mu.Lock()
	ln := n.ln
	n.mu.Unlock()
	close(n.ready)
	n.emit(Event{State: Connecting, Reason: "waiting for the peer on " + ln.Addr().String()})
	stop := context.AfterFunc(ctx, func() { _ = ln.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("peer: listener closed: %w", err)
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		sl, victim := n.slots.admit(nc)
		if victim != nil {
			_ = victim.nc.Close() // its handshake goroutine counts the drop
		}
		if sl == nil {
			_ = nc.Close()
			n.drop(nc.RemoteAddr(), "every handshake slot holds an authenticated connection")
			continue
		}
		wg.Add(1)
		go func() { defer wg.Done(); n.acceptOne(ctx, sl) }()
	}
}

// acceptOne authenticates one incoming connection and, when it is the
// peer, serves it (replacing any older connection).
func (n *Node) acceptOne(ctx context.Context, sl *slot) {
	defer n.slots.release(sl)
	stop := context.AfterFunc(ctx, func() { _ = sl.nc.Close() })
	defer stop()
	s, remote, err := n.handshake(sl)
	if err != nil {
		n.acceptFailed(sl, s, err)
		return
	}
	n.slots.release(sl) // the handshake is over: the slot is free while the link runs
	n.serve(newConn(n, s, remote))
}

// handshake runs the listener's side of the set-up on sl's connection,
// which it closes on failure. The transport (TLS) handshake and the first
// frame must complete within firstFrameTimeout, the rest within
// handshakeTimeout. s is nil when TLS failed.
func (n *Node) handshake(sl *slot) (*shake, Hello, error) {
	nc := sl.nc
	start := time.Now()
	_ = nc.SetDeadline(start.Add(n.firstFrame))
	tc, err := wrapTLS(nc, n.cfg, true)
	if err != nil {
		_ = nc.Close()
		return nil, Hello{}, err
	}
	s := newShake(tc, n.cfg, n.opts.Hello(), n.opts.Compat, n.opts.MaxFrame)
	s.start, s.pinned, s.now, s.nonces = start, n.cfg.UsesTLS(), n.now, n.nonces
	s.onFirst = func() { n.slots.verified(sl) }
	s.onAuth = func() { n.slots.authenticated(sl) }
	if s.pinned {
		s.onAuth() // the certificate matched the pin: this is the peer
	}
	remote, err := s.accept()
	if err != nil {
		_ = tc.Close()
		return s, remote, err
	}
	return s, remote, nil
}

// serve makes c the current connection, reports Up, runs it and reports
// Down with its reason.
func (n *Node) serve(c *conn) {
	n.mu.Lock()
	if n.stopped {
		n.mu.Unlock()
		c.close("node stopping")
		return
	}
	old := n.cur
	n.cur = c
	n.st.Connects++
	n.mu.Unlock()
	if old != nil {
		old.close("replaced by a new connection from the peer")
	}
	n.log.Info("peer link up", "peer", c.nc.RemoteAddr().String(), "node_id", c.remote.NodeID, "mode", c.remote.Mode)
	n.emit(Event{State: Up, Remote: c.remote})
	why := c.run()
	n.mu.Lock()
	still := n.cur == c
	if still {
		n.cur = nil
	}
	n.mu.Unlock()
	if still {
		n.log.Warn("peer link down", "reason", why)
		n.emit(Event{State: Down, Reason: why, Remote: c.remote, LastHeard: time.Unix(0, c.lastRecv.Load())})
	}
}
