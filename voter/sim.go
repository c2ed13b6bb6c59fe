package voter

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"golang.org/x/net/ipv4"
)

// SimClient describes one simulated VOTER client.
type SimClient struct {
	Name         string
	Server       netip.AddrPort
	Password     string // the client's password
	HostPassword string // the server's [general] password, to verify the server
	Mix          bool   // mix mode (sequence numbers) instead of GPS timing
	Master       bool   // act as the master timing source (sends every frame)
	Silent       bool   // send only keepalives, no audio
	// RSSI gives the RSSI of frame n (nil: 200).
	RSSI func(n uint64) byte
	// Audio fills the 160 µ-law bytes of frame n (nil: silence).
	Audio func(n uint64, dst []byte)
	// OnAudio, when set, is called for every audio packet the server sends
	// (from the client's receive goroutine).
	OnAudio func(h *Header, audio []byte)
}

// simState is a SimClient while it runs.
type simState struct {
	SimClient
	conn      *net.UDPConn
	w         *connWriter // conn is connected to the server: frames go through w
	ua        *net.UDPAddr
	chal      Challenge
	mu        sync.Mutex
	srvChal   Challenge
	digest    uint32
	connected bool // the server's digest checked out: send audio
	authed    bool // the server showed it knows this client (see receive)
	flags     byte
	lastRx    time.Time
	lastTx    time.Time
	lastAuth  time.Time
	seq       uint32
	rxAudio   uint64
	rxKeep    uint64
	rxPeak    int
	sent      uint64
	buf       []byte
	frameBuf  [FrameLen]byte // the audio of the packet being built
	// hostDigest is CRC(chal + host password): the digest of the server's
	// packets to this client, made once (per packet it allocated)
	hostDigest uint32
	blind      bool // never drops the server (load generation)
	gaps       sendGaps
}

// Sim runs many simulated clients from one pacing goroutine.
type Sim struct {
	clients []*simState
	Every   time.Duration // frame interval (default 20 ms); smaller values make load
	Local   string        // local IP to bind (default 127.0.0.1)
	Shared  bool          // all clients send from one socket (load generation)
	batch   simBatch
}

// NewSim prepares the clients; each gets its own UDP socket when Run starts.
func NewSim(clients []SimClient) *Sim {
	s := &Sim{}
	for i, c := range clients {
		st := &simState{SimClient: c, seq: 3, buf: make([]byte, 0, MaxPacketLen)}
		st.chal = MakeChallenge(strconv.Itoa(100000000 + i*7919 + int(time.Now().UnixNano()%1000)))
		st.hostDigest = Digest(st.chal.Bytes(), c.HostPassword)
		st.ua = net.UDPAddrFromAddrPort(c.Server)
		s.clients = append(s.clients, st)
	}
	return s
}

// SimStatus is what a simulated client saw.
type SimStatus struct {
	Name      string
	Connected bool
	Flags     byte
	Sent      uint64
	RxAudio   uint64
	RxKeep    uint64 // keepalives received
	RxPeak    int    // peak level of the audio received since the last Status, dBFS (-100: none)
	// SendGaps counts gaps of more than 30 ms between two audio packets of
	// the client as this process sent them (the clock read after the send):
	// the simulator's own lateness, to tell it from the server's.
	SendGaps     uint64
	MaxSendGapMS float64 // longest gap between two audio packets sent, ms
}

// Status reports every client.
func (s *Sim) Status() []SimStatus {
	out := make([]SimStatus, len(s.clients))
	for i, c := range s.clients {
		c.mu.Lock()
		out[i] = SimStatus{Name: c.Name, Connected: c.connected && c.authed, Flags: c.flags, Sent: c.sent, RxAudio: c.rxAudio,
			RxKeep: c.rxKeep, RxPeak: dBFS(c.rxPeak), SendGaps: c.gaps.over,
			MaxSendGapMS: float64(c.gaps.max.Microseconds()) / 1000}
		c.rxPeak = 0
		c.mu.Unlock()
	}
	return out
}

// Connected reports whether every client has accepted the server and the
// server has shown that it knows the client; unlike Status, it leaves the
// peak level alone.
func (s *Sim) Connected() bool {
	for _, c := range s.clients {
		c.mu.Lock()
		ok := c.connected && c.authed
		c.mu.Unlock()
		if !ok {
			return false
		}
	}
	return true
}

// NotConnected counts the clients that are not connected (see Connected),
// out of all.
func (s *Sim) NotConnected() (bad, all int) {
	for _, c := range s.clients {
		c.mu.Lock()
		if !c.connected || !c.authed {
			bad++
		}
		c.mu.Unlock()
	}
	return bad, len(s.clients)
}

// Run sends and receives until ctx ends. Each client has its own socket,
// connected to the server (as a VOTER board's), unless Shared. The master
// timing sources are paced by a goroutine of their own, on absolute 20 ms
// deadlines, so that they never wait behind the other clients' sends.
func (s *Sim) Run(ctx context.Context) error {
	local := s.Local
	if local == "" {
		local = "127.0.0.1"
	}
	ip := net.ParseIP(local)
	var wg sync.WaitGroup
	defer wg.Wait()
	if err := s.open(ip); err != nil {
		s.closeAll()
		return err
	}
	defer s.closeAll()
	for i, c := range s.clients {
		if s.Shared && i > 0 {
			break
		}
		wg.Add(1)
		go func() { defer wg.Done(); c.readLoop() }()
	}
	var masters, others []*simState
	for _, c := range s.clients {
		if c.Master {
			masters = append(masters, c)
		} else {
			others = append(others, c)
		}
	}
	start := time.Now().Truncate(20 * time.Millisecond).Add(20 * time.Millisecond)
	if len(masters) > 0 && len(others) > 0 {
		wg.Add(1)
		go func() { defer wg.Done(); s.pace(ctx, masters, start, false) }()
		return s.pace(ctx, others, start, s.Shared)
	}
	return s.pace(ctx, s.clients, start, s.Shared)
}

// open gives every client its socket: its own, connected to the server,
// or (Shared) one for all.
func (s *Sim) open(ip net.IP) error {
	var shared *net.UDPConn
	for _, c := range s.clients {
		if shared != nil {
			c.conn = shared
			continue
		}
		var conn *net.UDPConn
		var err error
		if s.Shared {
			conn, err = net.ListenUDP("udp4", &net.UDPAddr{IP: ip})
		} else {
			conn, err = net.DialUDP("udp4", &net.UDPAddr{IP: ip}, c.ua)
		}
		if err != nil {
			return err
		}
		_ = conn.SetWriteBuffer(4 << 20)
		c.conn = conn
		if s.Shared {
			shared = conn
			continue
		}
		if c.w, err = newConnWriter(conn); err != nil {
			return err
		}
	}
	return nil
}

func (s *Sim) closeAll() {
	for _, c := range s.clients {
		if c.conn != nil {
			c.conn.Close()
		}
	}
}

// pace sends frame n of client i of cs at start + n×Every +
// i×Every/len(cs): the clients' packets are spread over the interval
// (catching up after a late wake), each stamped with its frame's 20 ms
// time. Due times are absolute, so a late wake does not delay the next.
func (s *Sim) pace(ctx context.Context, cs []*simState, start time.Time, batch bool) error {
	every := s.Every
	if every == 0 {
		every = 20 * time.Millisecond
	}
	nc := uint64(len(cs))
	if nc == 0 {
		<-ctx.Done()
		return nil
	}
	slot := every / time.Duration(nc)
	var k uint64 // next packet: client k%nc, frame k/nc
	dueOf := func(k uint64) time.Time {
		return start.Add(time.Duration(k/nc)*every + time.Duration(k%nc)*slot)
	}
	// wake when the next packet is due, but at most once a millisecond:
	// packets due within the same millisecond go out together
	t := time.NewTimer(time.Until(start))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			now := time.Now()
			for ; ; k++ {
				n := k / nc
				due := dueOf(k)
				if due.After(now) {
					break
				}
				if k%256 == 0 && ctx.Err() != nil {
					return nil
				}
				ft := start.Add(time.Duration(n) * every)
				if every != 20*time.Millisecond {
					ft = due.Truncate(20 * time.Millisecond)
				}
				if batch {
					s.batch.add(cs[k%nc], n, ft, now)
				} else {
					cs[k%nc].frame(n, ft, now)
				}
			}
			if batch {
				s.batch.flush()
			}
			t.Reset(max(time.Until(dueOf(k)), time.Until(now.Add(time.Millisecond))))
		}
	}
}

// Summary is one line about every client.
func (s *Sim) Summary() string {
	var conn int
	var sent, rx, keep, gaps uint64
	peak, maxGap := -100, 0.0
	st := s.Status()
	for _, c := range st {
		if c.Connected {
			conn++
		}
		sent += c.Sent
		rx += c.RxAudio
		keep += c.RxKeep
		peak = max(peak, c.RxPeak)
		gaps += c.SendGaps
		maxGap = max(maxGap, c.MaxSendGapMS)
	}
	level := "no transmit audio"
	if peak > -100 {
		level = fmt.Sprintf("transmit audio peak %d dBFS", peak)
	}
	return fmt.Sprintf("%s clients %d/%d connected, sent %d packets, received %d audio packets (%s), %d keepalives, "+
		"%d send gaps > 30 ms (longest %.1f ms)",
		time.Now().Format("15:04:05"), conn, len(st), sent, rx, level, keep, gaps, maxGap)
}

// dBFS converts a peak sample to dBFS (-100 for none).
func dBFS(peak int) int {
	if peak <= 0 {
		return -100
	}
	return int(math.Round(20 * math.Log10(float64(peak)/32768)))
}

// assume makes every client start connected to a server with challenge ch.
func (s *Sim) assume(ch Challenge) {
	for _, c := range s.clients {
		c.srvChal, c.connected, c.authed, c.blind = ch, true, true, true
		c.digest = Digest(ch.Bytes(), c.Password)
	}
}

// simBatch sends the packets of a shared socket with sendmmsg.
type simBatch struct {
	pc   *ipv4.PacketConn
	msgs []ipv4.Message
	cs   []*simState // the client of each message
	n    int
}

func (b *simBatch) add(c *simState, n uint64, ft, now time.Time) {
	if b.pc == nil {
		b.pc = ipv4.NewPacketConn(c.conn)
		b.msgs = make([]ipv4.Message, batchLen)
		b.cs = make([]*simState, batchLen)
		for i := range b.msgs {
			b.msgs[i].Buffers = [][]byte{make([]byte, 0, MaxPacketLen)}
		}
	}
	p := c.build(n, ft, now)
	if p == nil {
		return
	}
	m := &b.msgs[b.n]
	m.Buffers[0] = append(m.Buffers[0][:0], p...)
	m.Addr = c.ua
	b.cs[b.n] = c
	if b.n++; b.n == batchLen {
		b.flush()
	}
}

// flush sends the queued packets; only those the kernel took count as sent
// for the send gaps.
func (b *simBatch) flush() {
	sent := 0
	for sent < b.n {
		k, err := b.pc.WriteBatch(b.msgs[sent:b.n], 0)
		if err != nil {
			break
		}
		sent += k
	}
	now := time.Now()
	for i := 0; i < b.n; i++ {
		if i < sent {
			b.cs[i].noteSent(now, len(b.msgs[i].Buffers[0]))
		}
		b.cs[i] = nil
	}
	b.n = 0
}
