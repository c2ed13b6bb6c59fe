package peer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"
)

func (n *Node) listen(ctx context.Context) error {
	ln := n.opts.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", n.opts.Listen); err != nil {
			return fmt.Errorf("peer: listen: %w", err)
		}
	}
	n.mu.Lock()
	n.ln = ln
	n.mu.Unlock()
	close(n.ready)
	n.emit(Event{State: Connecting, Reason: "waiting for the peer on " + ln.Addr().String()})
	stop := context.AfterFunc(ctx, func() { _ = ln.Close() })
	defer stop()
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
		select {
		case n.shaking <- struct{}{}:
			go func() { defer func() { <-n.shaking }(); n.acceptOne(ctx, nc) }()
		default: // too many handshakes in progress: a flood, not the peer
			_ = nc.Close()
			n.mu.Lock()
			n.st.Dropped++
			n.mu.Unlock()
		}
	}
}

// maxHandshakes bounds the connections being authenticated at once.
const maxHandshakes = 16

// acceptOne authenticates one incoming connection and, when it is the
// peer, serves it (replacing any older connection).
func (n *Node) acceptOne(ctx context.Context, nc net.Conn) {
	_ = nc.SetDeadline(time.Now().Add(handshakeTimeout))
	stop := context.AfterFunc(ctx, func() { _ = nc.Close() })
	defer stop()
	tc, err := wrapTLS(nc, n.cfg, true)
	if err != nil {
		_ = nc.Close()
		if !n.dropped(nc, err) {
			n.log.Warn("peer link refused", "peer", nc.RemoteAddr().String(), "reason", err.Error())
			n.emit(Event{State: Refused, Reason: err.Error()})
		}
		return
	}
	s := newShake(tc, n.cfg, n.opts.Hello(), n.opts.Compat, n.opts.MaxFrame)
	remote, err := s.accept()
	if err != nil {
		_ = tc.Close()
		if !n.dropped(nc, err) {
			n.handshakeFailed(err, nc.RemoteAddr())
		}
		return
	}
	n.serve(newConn(n, s, remote))
}

// dropped counts and logs an incoming connection that failed without
// changing the link's state, and reports whether it was one: it never spoke
// the protocol (a port scanner, a TCP check), or the link is up with the
// peer (a stranger's or a stale redial's refusal must not mark a working
// link Refused; should the peer itself have changed, its next dial after
// the link drops is refused as usual).
func (n *Node) dropped(nc net.Conn, err error) bool {
	why := "dropped a connection on the peer port"
	switch {
	case errors.Is(err, errNotPeer):
	case n.current() != nil:
		why = "refused a connection while the link is up"
	default:
		return false
	}
	n.mu.Lock()
	n.st.Dropped++
	n.mu.Unlock()
	n.log.Warn(why, "from", nc.RemoteAddr().String(), "reason", err.Error())
	return true
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
