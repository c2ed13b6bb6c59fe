package peer

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// ErrNotConnected is returned by Send and Request when the link is down.
var ErrNotConnected = errors.New("peer: not connected")

type outFrame struct {
	typ   byte
	parts [][]byte
}

type response struct {
	body []byte
	err  error
}

// conn is one authenticated, running connection.
type conn struct {
	node   *Node
	nc     net.Conn
	s      *shake
	remote Hello

	out   chan outFrame // application frames, in order
	ctl   chan outFrame // pings and pongs: sent first
	inbox chan outFrame // application frames received, for OnMessage
	done  chan struct{}

	once     sync.Once
	why      string
	lastRecv atomic.Int64 // unix nanoseconds
	rtt      atomic.Int64 // nanoseconds

	mu      sync.Mutex
	pending map[uint64]chan response
	nextID  uint64

	serving chan struct{} // a slot per request of the peer being served (maxServing)
}

// maxServing bounds the requests of the peer served at once: each has a
// goroutine, and a replica pull may be held for seconds. A request beyond
// it is answered at once with an error, not queued (the read loop must
// keep reading the peer's pings).
const maxServing = 256

func newConn(n *Node, s *shake, remote Hello) *conn {
	c := &conn{node: n, nc: s.nc, s: s, remote: remote,
		out: make(chan outFrame, 1024), ctl: make(chan outFrame, 64), inbox: make(chan outFrame, 1024),
		done: make(chan struct{}), pending: map[uint64]chan response{}, serving: make(chan struct{}, maxServing)}
	c.lastRecv.Store(time.Now().UnixNano())
	s.r.max = n.opts.MaxFrame // the handshake read at most preAuthMaxFrame
	s.r.grow(linkBuffer)      // and through small buffers
	s.w.grow(linkBuffer)
	return c
}

// run starts the goroutines and blocks until the connection ends; it
// returns the reason.
func (c *conn) run() string {
	_ = c.nc.SetDeadline(time.Time{})
	var wg sync.WaitGroup
	wg.Add(4)
	go func() { defer wg.Done(); c.readLoop() }()
	go func() { defer wg.Done(); c.writeLoop() }()
	go func() { defer wg.Done(); c.heartbeat() }()
	go func() { defer wg.Done(); c.dispatch() }()
	wg.Wait()
	return c.why
}

// close ends the connection once, with a reason.
func (c *conn) close(why string) {
	c.once.Do(func() {
		c.why = why
		close(c.done)
		_ = c.nc.Close()
		c.mu.Lock()
		for id, ch := range c.pending {
			ch <- response{err: fmt.Errorf("%w: %s", ErrNotConnected, why)}
			delete(c.pending, id)
		}
		c.mu.Unlock()
	})
}

func (c *conn) readLoop() {
	defer close(c.inbox)
	for {
		typ, b, err := c.s.r.readFrame()
		if err != nil {
			c.close(readReason(err))
			return
		}
		c.lastRecv.Store(time.Now().UnixNano())
		if !c.handle(typ, b) {
			return
		}
	}
}

func readReason(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, net.ErrClosed):
		return "connection closed"
	case errors.As(err, &ne) && ne.Timeout():
		return "read timeout"
	}
	return "read: " + err.Error()
}

// handle processes one received frame; false ends the read loop.
func (c *conn) handle(typ byte, b []byte) bool {
	switch {
	case typ == typePing && len(b) == 8:
		c.queueCtl(typePong, b)
	case typ == typePong && len(b) == 8:
		sent := int64(binary.BigEndian.Uint64(b))
		c.rtt.Store(time.Now().UnixNano() - sent)
	case typ == typeRequest && len(b) >= 9:
		id := binary.BigEndian.Uint64(b)
		select {
		case c.serving <- struct{}{}:
			go func() {
				defer func() { <-c.serving }()
				c.serveRequest(id, b[8], b[9:])
			}()
		default:
			var hdr [9]byte
			binary.BigEndian.PutUint64(hdr[:8], id)
			hdr[8] = 1
			_ = c.send(typeResponse, hdr[:], []byte(fmt.Sprintf("busy: %d requests of this node are being served", maxServing)))
		}
	case typ == typeResponse && len(b) >= 9:
		c.deliver(binary.BigEndian.Uint64(b), b[8], b[9:])
	case typ == typeClose:
		c.close("peer closed the link: " + reason(b))
		return false
	case typ >= TypeApp:
		select {
		case c.inbox <- outFrame{typ: typ, parts: [][]byte{b}}:
		case <-c.done:
			return false
		}
	default:
		c.close(fmt.Sprintf("protocol error: unexpected frame type %#x (%d bytes)", typ, len(b)))
		return false
	}
	return true
}

func (c *conn) dispatch() {
	for f := range c.inbox {
		if c.node.opts.OnMessage != nil {
			c.node.opts.OnMessage(f.typ, f.parts[0])
		}
	}
}

func (c *conn) queueCtl(typ byte, parts ...[]byte) {
	select {
	case c.ctl <- outFrame{typ: typ, parts: parts}:
	case <-c.done:
	}
}

func (c *conn) writeLoop() {
	for {
		var f outFrame
		select {
		case f = <-c.ctl:
		case f = <-c.out:
		case <-c.done:
			return
		}
		if err := c.writeBatch(f); err != nil {
			c.close("write: " + err.Error())
			return
		}
	}
}

// writeBatch writes f and whatever else is queued, then flushes once.
func (c *conn) writeBatch(f outFrame) error {
	for n := 0; ; n++ {
		if err := c.s.w.writeFrame(f.typ, f.parts...); err != nil {
			return err
		}
		if n > 256 {
			break
		}
		select {
		case f = <-c.ctl:
			continue
		default:
		}
		select {
		case f = <-c.ctl:
			continue
		case f = <-c.out:
			continue
		default:
		}
		break
	}
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.node.downAfter))
	return c.s.w.flush()
}

// heartbeat pings the peer and drops the link after MaxMissed pings went
// unanswered for PingTimeout, or after DownAfter without any frame.
func (c *conn) heartbeat() {
	cfg := c.node.cfg
	t := time.NewTicker(cfg.PingInterval.D())
	defer t.Stop()
	var sent []time.Time // pings sent since the last frame received
	for {
		select {
		case <-c.done:
			return
		case now := <-t.C:
			last := time.Unix(0, c.lastRecv.Load())
			if silent := now.Sub(last); silent > c.node.downAfter {
				c.close(fmt.Sprintf("no frame from peer for %v", silent.Round(time.Millisecond)))
				return
			}
			for len(sent) > 0 && !sent[0].After(last) {
				sent = sent[1:]
			}
			missed := 0
			for _, p := range sent {
				if now.Sub(p) > cfg.PingTimeout.D() {
					missed++
				}
			}
			if missed >= cfg.MaxMissed {
				c.close(fmt.Sprintf("%d pings missed", missed))
				return
			}
			var b [8]byte
			binary.BigEndian.PutUint64(b[:], uint64(now.UnixNano()))
			sent = append(sent, now)
			c.queueCtl(typePing, b[:])
		}
	}
}

// send queues an application frame; it blocks while the queue is full. A
// frame above this node's MaxFrame is refused here: the peer (usually with
// the same limit) would drop the link on it.
func (c *conn) send(typ byte, parts ...[]byte) error {
	if n := frameLen(parts...); n > c.node.opts.MaxFrame {
		return fmt.Errorf("%w: %d bytes (limit %d)", ErrFrameTooLarge, n, c.node.opts.MaxFrame)
	}
	select {
	case <-c.done:
		return fmt.Errorf("%w: %s", ErrNotConnected, c.why)
	default:
	}
	select {
	case c.out <- outFrame{typ: typ, parts: parts}:
		return nil
	case <-c.done:
		return fmt.Errorf("%w: %s", ErrNotConnected, c.why)
	}
}

func (c *conn) request(ctx context.Context, typ byte, body []byte) ([]byte, error) {
	ch := make(chan response, 1)
	c.mu.Lock()
	c.nextID++
	id := c.nextID
	c.pending[id] = ch
	c.mu.Unlock()
	defer func() { c.mu.Lock(); delete(c.pending, id); c.mu.Unlock() }()
	var hdr [9]byte
	binary.BigEndian.PutUint64(hdr[:8], id)
	hdr[8] = typ
	if err := c.send(typeRequest, hdr[:], body); err != nil {
		return nil, err
	}
	select {
	case r := <-ch:
		return r.body, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *conn) deliver(id uint64, st byte, body []byte) {
	c.mu.Lock()
	ch, ok := c.pending[id]
	delete(c.pending, id)
	c.mu.Unlock()
	if !ok {
		return
	}
	if st != 0 {
		ch <- response{err: &RemoteError{Msg: reason(body)}}
		return
	}
	ch <- response{body: body}
}

func (c *conn) serveRequest(id uint64, typ byte, body []byte) {
	var hdr [9]byte
	binary.BigEndian.PutUint64(hdr[:8], id)
	h := c.node.opts.OnRequest
	var resp []byte
	var err error
	if h == nil {
		err = errors.New("no request handler")
	} else {
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			select {
			case <-c.done: // the link dropped: the handler's ctx ends
			case <-ctx.Done(): // the handler returned
			}
			cancel()
		}()
		resp, err = h(ctx, typ, body)
		cancel()
	}
	if err != nil {
		hdr[8] = 1
		resp = []byte(err.Error())
	}
	if err := c.send(typeResponse, hdr[:], resp); errors.Is(err, ErrFrameTooLarge) {
		hdr[8] = 1
		_ = c.send(typeResponse, hdr[:], []byte("response not sent: "+err.Error()))
	}
}

// RemoteError is an error returned by the peer's request handler.
type RemoteError struct{ Msg string }

func (e *RemoteError) Error() string { return "peer: remote: " + e.Msg }
