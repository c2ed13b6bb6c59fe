package voter

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redund/redund/internal/lifecycle"

	"github.com/redund/redund/internal/logging"
)

const (
	batchLen   = 64
	cycleEvery = 20 * time.Millisecond
)

// group is one VOTER socket with the instances that share it.
type group struct {
	srv  *Server
	log  *slog.Logger
	addr string
	conn *net.UDPConn
	rx   *batchReader

	mu        sync.Mutex
	chal      Challenge
	chalB     []byte
	hostPw    []byte
	ownDigest uint32 // CRC(our challenge + host password): a peer server's reply to us
	replies   replyLimiter
	seen      map[netip.AddrPort]*client // sameAddress's scratch map
	insts     []*instance
	clients   []*client
	byDigest  map[uint32]*client
	masters   []*client         // master timing sources in config order
	reloadq   chan clientReload // to the tick loop (Reload)
	live      *lifecycle.Loop   // the tick loop's answer to Ping (liveness.go)
	// the master timing lines: a holder of the master's digest (the flags
	// byte and the body are not covered) can make it come and go every few
	// packets; each line at most once per timingLogEvery (per client for
	// "master timing source")
	lostLog, gainLog logging.Every
	// clients moving to another address, and packets that did not move
	// them (follow), each at most once per moveLogEvery
	moveLog, changeLog logging.Every
	moveQuiet          time.Duration // follow's moveQuiet

	masterSec, masterNsec uint32
	masterGPS             int64     // the master's last GPS packet time, ns (puckit)
	timingSince           time.Time // when master timing last started or stopped
	gpsq                  chan gpsWrite
	count, lastMaster     uint64 // 20 ms ticks; tick of the last master packet
	master                *client

	rxAt    time.Time // kernel receive time of the datagram being handled (zero: unknown)
	pkt     Packet
	q       *sendQueue // where g.next/g.queue put packets (set under mu)
	rq, tq  *sendQueue // the reader's and the timer's
	stats   groupStats
	cycles  cycleStats
	started time.Time
}

// groupStats are the socket's counters (read under mu).
type groupStats struct {
	Received                                     uint64
	BadShort, BadSize, BadType, BadLarge         uint64
	UnknownDigest, AuthRejected, AddrChanges     uint64
	MoveRefusedLive, MoveRefusedStale            uint64 // packets from another address that did not move the client (follow)
	SameAddress                                  uint64
	Unauthenticated, Late, Unsupported, BadProxy uint64
	Forwarded, Relayed, ProxiedIn, NoTiming      uint64
	AuthReplies, AuthLimited, PeerUnanswered     uint64
	LinkUnverified                               uint64 // link socket packets answering no recent probe
	ReadBatches                                  uint64
}

func (g *group) bind() error {
	conn, err := net.ListenPacket("udp4", g.addr)
	if err != nil {
		return err
	}
	g.conn = conn.(*net.UDPConn)
	g.started = time.Now()
	rb := g.srv.opts.RecvBuffer
	if rb == 0 {
		rb = 4 << 20
	}
	_ = g.conn.SetReadBuffer(rb)
	_ = g.conn.SetWriteBuffer(rb)
	if g.rx, err = newBatchReader(g.conn, batchLen, 2048); err != nil {
		return err
	}
	g.rq, g.tq = newSendQueue(), newSendQueue()
	if g.rq.w, err = newBatchWriter(g.conn, batchLen); err != nil {
		return err
	}
	if g.tq.w, err = newBatchWriter(g.conn, batchLen); err != nil {
		return err
	}
	g.q = g.tq
	for _, in := range g.insts {
		if err := in.listen(); err != nil {
			return err
		}
	}
	return nil
}

func (g *group) close() {
	if g.conn != nil {
		g.conn.Close()
	}
	for _, in := range g.insts {
		in.close()
	}
}

func (g *group) start(ctx context.Context, wg *sync.WaitGroup) {
	wg.Add(3)
	g.gpsq = make(chan gpsWrite, 16)
	go func() { defer wg.Done(); g.readLoop() }()
	go func() { defer wg.Done(); g.tickLoop(ctx) }()
	go func() { defer wg.Done(); g.gpsWriter(ctx) }()
	for _, in := range g.insts {
		in.start(wg)
	}
}

func (g *group) finish() {
	for _, in := range g.insts {
		in.finish()
	}
}

func (g *group) readLoop() {
	for {
		n, err := g.rx.read()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		now := time.Now()
		g.mu.Lock()
		g.q = g.rq
		g.stats.ReadBatches++
		for i := 0; i < n; i++ {
			b, from := g.rx.msg(i)
			if !from.IsValid() {
				continue
			}
			g.rxAt = g.rx.stamp(i)
			g.handle(b, from, now)
		}
		g.rxAt = time.Time{}
		g.q = g.tq
		g.mu.Unlock()
		g.rq.flush() // outside the lock: only this goroutine fills rq
	}
}

// arrival is the kernel's receive time of the datagram being handled, or
// now when there is none (mu held).
func (g *group) arrival(now time.Time) time.Time {
	if g.rxAt.IsZero() {
		return now
	}
	return g.rxAt
}

func (g *group) tickLoop(ctx context.Context) {
	t := time.NewTicker(cycleEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			g.mu.Lock()
			g.tick(now)
			g.tq.flush()
			g.mu.Unlock()
		case r := <-g.reloadq:
			g.mu.Lock()
			g.setClients(r.clients)
			g.mu.Unlock()
			close(r.done)
		case r := <-g.live.Pings():
			g.answerPing(r)
		}
	}
}

// tick is the 20 ms timer. Without a master timing source it drives the
// voting cycle; with one it only watches for the master's loss.
func (g *group) tick(now time.Time) {
	g.count++
	for _, in := range g.insts {
		in.tick(now)
	}
	g.sendPings(now)
	if g.count%50 == 0 {
		g.sameAddress()
	}
	if !g.hasMaster() {
		g.masterSec = uint32(now.Unix())
		g.cycle(now)
		return
	}
	if g.masterSec != 0 && g.count > g.lastMaster+3 {
		if ok, held := g.lostLog.Allow(now); ok {
			g.log.Warn("lost master timing source", "repeated_since_last_log", held)
		}
		g.masterLost()
		g.timingSince = now
	}
	if g.masterSec == 0 {
		// No timing: still keep sessions alive and expire silent clients.
		g.keepalives(now)
		g.timeouts(now)
	}
}

// masterLost clears every buffer and unkeys, as chan_voter does.
func (g *group) masterLost() {
	g.masterSec, g.masterNsec, g.lastMaster = 0, 0, 0
	for _, c := range g.clients {
		c.clearBuffer()
	}
	for _, in := range g.insts {
		in.unkey()
		in.txq = in.txq[:0]
	}
}

// sendQueue batches outgoing datagrams for sendmmsg.
type sendQueue struct {
	w                   *batchWriter
	bufs                [][]byte
	to                  []netip.AddrPort
	n                   int
	sent, errs, batches atomic.Uint64 // read by status without the lock
}

// newSendQueue makes a queue; bind gives it its writer.
func newSendQueue() *sendQueue {
	q := &sendQueue{bufs: make([][]byte, batchLen), to: make([]netip.AddrPort, batchLen)}
	for i := range q.bufs {
		q.bufs[i] = make([]byte, 0, MaxPacketLen)
	}
	return q
}

// next returns an empty output buffer, flushing when all are queued.
func (g *group) next() []byte {
	q := g.q
	if q.n == batchLen {
		q.flush()
	}
	return q.bufs[q.n][:0]
}

// queue sends b (which must come from next) to addr with the next flush.
func (g *group) queue(b []byte, to netip.AddrPort) {
	q := g.q
	q.bufs[q.n] = b
	q.to[q.n] = to
	q.n++
}

func (q *sendQueue) flush() {
	bufs, to := q.bufs[:q.n], q.to[:q.n]
	for len(bufs) > 0 {
		n, err := q.w.write(bufs, to)
		q.batches.Add(1)
		if err != nil {
			q.errs.Add(1)
			n = max(n, 1)
		} else {
			q.sent.Add(uint64(n))
		}
		bufs, to = bufs[n:], to[n:]
	}
	q.n = 0
}

// frameTime is the time of the frame this cycle votes: the master timing
// source's time stamp when it drives the cycle (so master packets that
// arrive late and then in a burst are still 20 ms apart), the clock
// otherwise.
func (g *group) frameTime(now time.Time) time.Time {
	if g.hasMaster() && g.masterSec != 0 {
		return time.Unix(int64(g.masterSec), int64(g.masterNsec))
	}
	return now
}

// hasMaster reports whether the socket has a master timing source
// configured (GPS-timed clients need one).
func (g *group) hasMaster() bool { return len(g.masters) > 0 }
