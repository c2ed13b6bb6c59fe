package peer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/redund/redund/internal/logging"
)

// Options are the run-time parts of a link that do not come from TOML.
type Options struct {
	// Listen is the address to accept the peer on (master / primary), or
	// Listener an already bound one. Dial is the address to dial (backup /
	// secondary). A node either listens or dials.
	Listen   string
	Listener net.Listener
	Dial     string

	// Hello returns this node's current Hello; called for every handshake.
	Hello func() Hello
	// Compat judges the remote Hello (nil accepts any).
	Compat CompatFunc
	// DownAfter drops the link after this long without any frame (usually
	// the scheme's failover_timeout). Default: PingTimeout + PingInterval*MaxMissed.
	DownAfter time.Duration
	// MaxFrame is the largest frame accepted or sent once the link is up
	// (default 16 MiB); during the handshake the limit is 64 KiB.
	MaxFrame int
	// MinBackoff and MaxBackoff bound the redial delay (50ms, 1s).
	MinBackoff, MaxBackoff time.Duration

	Log *slog.Logger
	// OnEvent is called, in order, for every state change.
	OnEvent func(Event)
	// Events, when set, also receives every state change; a send that
	// would block is dropped (Status always has the current state).
	Events chan<- Event
	// OnMessage is called, in order, for every application frame; body is
	// owned by the callee.
	OnMessage func(typ byte, body []byte)
	// OnRequest answers Request calls, each in its own goroutine; ctx ends
	// when the link drops.
	OnRequest func(ctx context.Context, typ byte, body []byte) ([]byte, error)
}

// Node is one end of a pair link.
type Node struct {
	cfg                              *Config
	opts                             Options
	log                              *slog.Logger
	downAfter                        time.Duration
	ready                            chan struct{}
	slots                            *slotTable    // incoming connections being set up
	firstFrame                       time.Duration // firstFrameTimeout (tests may raise it)
	nonces                           *ReplayCache  // first-frame nonces seen (listener)
	now                              func() time.Time
	dropLog, mismatchLog, refusedLog *logging.Every // repeated warnings: one line per logEvery

	mu      sync.Mutex
	ln      net.Listener
	cur     *conn
	st      Status
	evMu    sync.Mutex // serialises OnEvent calls
	stopped bool
}

// New checks cfg and opts and returns a Node; Run starts it.
func New(cfg *Config, opts Options) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("peer: %w", err)
	}
	cp := *cfg // defaulted copy: the caller's config is left as it is
	cp.SetDefaults()
	cfg = &cp
	if (opts.Dial == "") == (opts.Listen == "" && opts.Listener == nil) {
		return nil, errors.New("peer: set exactly one of Listen/Listener or Dial")
	}
	if opts.Hello == nil {
		return nil, errors.New("peer: Options.Hello is required")
	}
	if opts.MaxFrame <= 0 {
		opts.MaxFrame = DefaultMaxFrame
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 50 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = time.Second
	}
	if opts.Log == nil {
		opts.Log = logging.Discard()
	}
	n := &Node{cfg: cfg, opts: opts, log: opts.Log, downAfter: opts.DownAfter, ready: make(chan struct{}),
		slots: newSlotTable(), firstFrame: firstFrameTimeout, nonces: newFirstNonces(), now: time.Now,
		dropLog: &logging.Every{Period: logEvery}, mismatchLog: &logging.Every{Period: logEvery},
		refusedLog: &logging.Every{Period: logEvery}}
	if n.downAfter <= 0 {
		n.downAfter = cfg.PingTimeout.D() + cfg.PingInterval.D()*time.Duration(cfg.MaxMissed)
	}
	n.st = Status{State: Connecting, Since: time.Now(), Address: opts.Dial}
	return n, nil
}

// Ready is closed once the node listens (or, for a dialer, at Run).
func (n *Node) Ready() <-chan struct{} { return n.ready }

// Addr is the listening address (after Ready), or the dialed address.
func (n *Node) Addr() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ln != nil {
		return n.ln.Addr().String()
	}
	return n.opts.Dial
}

// Run listens or dials until ctx ends; it returns nil on cancellation.
func (n *Node) Run(ctx context.Context) error {
	defer func() {
		n.mu.Lock()
		n.stopped = true
		c := n.cur
		n.mu.Unlock()
		if c != nil {
			_ = c.send(typeClose, []byte("node stopping"))
			time.Sleep(10 * time.Millisecond)
			c.close("node stopping")
		}
	}()
	if n.opts.Dial != "" {
		close(n.ready)
		n.dialLoop(ctx)
		return nil
	}
	return n.listen(ctx)
}

// Send queues an application frame (typ >= TypeApp) to the peer. Frames
// are delivered in order; body must not be modified afterwards.
func (n *Node) Send(typ byte, body []byte) error {
	if typ < TypeApp {
		return fmt.Errorf("peer: frame type %#x is reserved", typ)
	}
	c := n.current()
	if c == nil {
		return ErrNotConnected
	}
	return c.send(typ, body)
}

// Request sends body as a request of type typ and waits for the answer of
// the peer's OnRequest. Requests and Sends share one ordered queue.
func (n *Node) Request(ctx context.Context, typ byte, body []byte) ([]byte, error) {
	c := n.current()
	if c == nil {
		return nil, ErrNotConnected
	}
	return c.request(ctx, typ, body)
}

// Drop closes the current connection (the dialer redials).
func (n *Node) Drop(why string) {
	if c := n.current(); c != nil {
		_ = c.send(typeClose, []byte(why))
		c.close(why)
	}
}

func (n *Node) current() *conn {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cur
}

// Results of one dial.
const (
	dialNoLink   = iota // no link (the event says why)
	dialUp              // the link came up (and has ended since)
	dialMismatch        // a node with another secret or certificate answered
)

func (n *Node) dialLoop(ctx context.Context) {
	backoff := n.opts.MinBackoff
	n.emit(Event{State: Connecting, Reason: "dialing " + n.opts.Dial})
	for ctx.Err() == nil {
		res := n.dialOnce(ctx)
		if res == dialUp {
			backoff = n.opts.MinBackoff
			n.emit(Event{State: Connecting, Reason: "redialing " + n.opts.Dial})
		}
		d := backoff/2 + rand.N(backoff/2+1)
		select {
		case <-ctx.Done():
			return
		case <-time.After(d):
		}
		if res != dialUp {
			backoff = min(backoff*2, n.opts.MaxBackoff)
		}
		if res == dialMismatch {
			// a mismatching node is heard at least three times per
			// DownAfter, so "Mismatch within DownAfter" means it is alive
			backoff = min(backoff, max(n.downAfter/3, n.opts.MinBackoff))
		}
	}
}

// dialOnce connects, shakes hands and serves the connection until it
// ends.
func (n *Node) dialOnce(ctx context.Context) int {
	d := net.Dialer{Timeout: handshakeTimeout}
	nc, err := d.DialContext(ctx, "tcp", n.opts.Dial)
	if err != nil {
		if ctx.Err() == nil {
			n.emit(Event{State: Down, Reason: "dial: " + err.Error()})
		}
		return dialNoLink
	}
	_ = nc.SetDeadline(time.Now().Add(handshakeTimeout))
	stop := context.AfterFunc(ctx, func() { _ = nc.Close() })
	defer stop()
	s, remote, err := n.dialShake(nc)
	if errors.Is(err, errUnanswered) && n.probeV1(ctx) {
		err = &mismatchError{why: reasonVersion(1)}
	}
	if err != nil {
		if ctx.Err() != nil {
			return dialNoLink
		}
		if n.dialFailed(err, nc.RemoteAddr()) {
			return dialMismatch
		}
		return dialNoLink
	}
	n.serve(newConn(n, s, remote))
	return dialUp
}

// dialShake runs the dialer's side of the set-up on nc, which it closes
// on failure.
func (n *Node) dialShake(nc net.Conn) (*shake, Hello, error) {
	tc, err := wrapTLS(nc, n.cfg, false)
	if err != nil {
		_ = nc.Close()
		return nil, Hello{}, err
	}
	s := newShake(tc, n.cfg, n.opts.Hello(), n.opts.Compat, n.opts.MaxFrame)
	s.pinned, s.now = n.cfg.UsesTLS(), n.now
	remote, err := s.dial()
	if err != nil {
		err = tlsVerdict(tc, err)
		_ = tc.Close()
		return nil, remote, err
	}
	return s, remote, nil
}

// probeV1 asks the end that closed on our first frame whether it is a
// redund node of protocol 1 with a secret: such a node answers a plain
// protocol 1 hello with AuthFail code 1 (this node needs a secret), and a
// node of protocol 2 answers it with code 3. Nothing secret is sent. A
// backup upgraded before its master thus sees a live master (Mismatch)
// and stays standby, instead of Down.
func (n *Node) probeV1(ctx context.Context) bool {
	d := net.Dialer{Timeout: handshakeTimeout}
	nc, err := d.DialContext(ctx, "tcp", n.opts.Dial)
	if err != nil {
		return false
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(handshakeTimeout))
	tc, err := wrapTLS(nc, n.cfg, false)
	if err != nil {
		return false
	}
	defer tc.Close()
	w := newFrameWriter(tc)
	if w.writeFrame(typeAuthHello, []byte("RDP1\x00")) != nil || w.flush() != nil {
		return false
	}
	typ, b, err := newFrameReader(tc, 64).readFrame()
	return err == nil && typ == typeAuthFail && len(b) == 1 && b[0] == failNeedSecret
}

// tlsVerdict returns the listener's TLS alert when a write failed because
// the listener refused our certificate and closed (TLS 1.3 sends the
// verdict after the client's side of the handshake, so a write can fail
// before the alert is read); otherwise err.
func tlsVerdict(tc net.Conn, err error) error {
	var op *net.OpError
	if _, ok := tc.(*tls.Conn); !ok || !errors.As(err, &op) || op.Op != "write" {
		return err
	}
	_ = tc.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, rerr := tc.Read(make([]byte, 1)); rerr != nil && certRejected(rerr) {
		return rerr
	}
	return err
}
