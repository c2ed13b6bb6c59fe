package voter

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// instance is one [voter.<instance>]: its clients, voting state, RTP
// streams and, for a secondary, the liveness link to the primary.
type instance struct {
	g          *group
	name       string
	cfg        *Config
	log        *slog.Logger
	clients    []*client
	thresholds []Threshold
	sanity     bool

	// voting
	lastWon, winner                     *client
	threshold, threshCount, lingerCount int
	keyed                               bool
	lastRx                              time.Time
	frame                               [FrameLen]byte

	// RTP and recording
	rtpOut  *net.UDPConn // rtpIn when set (symmetric RTP)
	rtpDest *net.UDPAddr // rtp_out, or the latched source of transmit RTP
	rtp     rtpState
	rtpIn   *net.UDPConn
	rtpFrom []netip.Prefix // rtp_in_from; nil: any source
	txq     [][FrameLen]byte
	txOn    bool
	txFrame [FrameLen]byte
	adpcmTx bool // some client gets ADPCM transmit audio
	filters rxFilters
	txADPCM txADPCM
	txStats rtpInStats
	rec     *wavWriter

	link *link // secondary only
}

func newInstance(g *group, name string, cfg *Config) *instance {
	in := &instance{g: g, name: name, cfg: cfg, sanity: *cfg.Sanity}
	in.log = g.srv.log.With("instance", name)
	in.thresholds, _ = ParseThresholds(cfg.Thresholds, *cfg.Linger)
	in.rtp = newRTPState()
	in.rtpFrom = cfg.RTPInSources()
	if cfg.Primary != "" {
		addr, pw, _ := cfg.PrimaryAddr()
		in.link = newLink(in, addr, pw)
	}
	return in
}

// role is standalone, primary or secondary.
func (in *instance) role() Role { return in.cfg.Role() }

// proxying reports a secondary whose link to the primary is up.
func (in *instance) proxying() bool { return in.link != nil && in.link.up }

func (in *instance) listen() error {
	if in.cfg.RTPIn != "" {
		laddr, err := net.ResolveUDPAddr("udp4", in.cfg.RTPIn)
		if err != nil {
			return fmt.Errorf("voter: %s: rtp_in: %w", in.name, err)
		}
		if in.rtpIn, err = net.ListenUDP("udp4", laddr); err != nil {
			return fmt.Errorf("voter: %s: rtp_in: %w", in.name, err)
		}
		in.rtpOut = in.rtpIn // symmetric RTP: voted audio leaves from the rtp_in port
		if in.rtpFrom == nil && !laddr.IP.IsLoopback() {
			in.log.Warn("rtp_in accepts transmit audio from any address; set rtp_in_from to the PBX's address", "rtp_in", in.cfg.RTPIn)
		}
	}
	if in.cfg.RTPOut != "" {
		raddr, err := net.ResolveUDPAddr("udp4", in.cfg.RTPOut)
		if err != nil {
			return fmt.Errorf("voter: %s: rtp_out: %w", in.name, err)
		}
		in.rtpDest = raddr
		if in.rtpOut == nil {
			// A socket of its own is connected to rtp_out, so that the
			// kernel reports a closed port there (a PBX on this host
			// that is down) as a send error.
			if in.rtpOut, err = net.DialUDP("udp4", nil, raddr); err != nil {
				return fmt.Errorf("voter: %s: rtp_out: %w", in.name, err)
			}
		}
	}
	if path := in.g.srv.opts.Record; path != "" {
		if len(in.g.srv.names) > 1 {
			path = strings.TrimSuffix(path, ".wav") + "-" + in.name + ".wav"
		}
		w, err := newWAV(path)
		if err != nil {
			return fmt.Errorf("voter: %s: record: %w", in.name, err)
		}
		in.rec = w
	}
	if in.link != nil {
		return in.link.listen()
	}
	return nil
}

// logBound logs the UDP addresses the instance bound: the VOTER socket
// and, when configured, rtp_in, the socket rtp_out leaves from, and a
// secondary's liveness link (ports chosen by the kernel show here only).
func (in *instance) logBound() {
	args := []any{"voter", localAddr(in.g.conn)}
	if in.rtpIn != nil {
		args = append(args, "rtp_in", localAddr(in.rtpIn))
	}
	if in.rtpOut != nil {
		args = append(args, "rtp_out_from", localAddr(in.rtpOut), "rtp_out", in.cfg.RTPOut)
	}
	if in.link != nil && in.link.conn != nil {
		args = append(args, "link", localAddr(in.link.conn), "primary", in.link.addr.String())
	}
	in.log.Info("listening (UDP)", args...)
}

func localAddr(c *net.UDPConn) string { return c.LocalAddr().String() }

func (in *instance) start(wg *sync.WaitGroup) {
	if in.rtpIn != nil {
		wg.Add(1)
		go func() { defer wg.Done(); in.readRTP() }()
	}
	if in.link != nil {
		wg.Add(1)
		go func() { defer wg.Done(); in.link.readLoop() }()
	}
}

func (in *instance) close() {
	if in.rtpIn != nil {
		in.rtpIn.Close()
	}
	if in.rtpOut != nil && in.rtpOut != in.rtpIn {
		in.rtpOut.Close()
	}
	if in.link != nil {
		in.link.close()
	}
}

func (in *instance) finish() {
	if in.rec != nil {
		if err := in.rec.Close(); err != nil {
			in.log.Error("closing recording", "err", err)
		}
	}
}

// tick runs every 20 ms: link upkeep and receive unkey after 200 ms.
func (in *instance) tick(now time.Time) {
	if in.keyed && now.Sub(in.lastRx) > 200*time.Millisecond {
		in.unkey()
	}
	if in.link != nil {
		in.link.tick(now)
	}
}

// output sends one voted frame as RTP and to the recording.
func (in *instance) output(frame []byte, now time.Time) {
	if dest := in.rtpDest; in.rtpOut != nil && dest != nil {
		b := in.rtp.packet(frame, now)
		if in.rtpIn == nil { // connected to rtp_out
			in.rtp.result(in.rtpOut.Write(b))
		} else {
			in.rtp.result(in.rtpOut.WriteToUDP(b, dest))
		}
	}
	if in.rec != nil {
		in.rec.writeULaw(frame)
	}
}

// result records the outcome of sending one voted packet: a refused
// send (no route, a firewall, a broadcast address) is counted and shown,
// not dropped in silence.
func (r *rtpState) result(_ int, err error) {
	if err == nil {
		r.sent++
		return
	}
	now := time.Now()
	r.errs++
	if !r.failingNow(now) {
		r.failingSince = now
	}
	r.failing, r.failedAt = err.Error(), now
}

// rtpFailingFor is how long after a refused send the voted stream counts
// as failing: a closed port answers every other packet (the kernel
// reports the ICMP error on the next send, which it then drops), so one
// success proves little.
const rtpFailingFor = time.Second

// failingNow reports whether a send was refused within rtpFailingFor.
func (r *rtpState) failingNow(now time.Time) bool {
	return !r.failedAt.IsZero() && now.Sub(r.failedAt) < rtpFailingFor
}

// transmit sends one queued transmit frame to every transmitting client.
func (in *instance) transmit(now time.Time) {
	frame, ok := in.nextTx()
	if in.adpcmTx {
		in.transmitADPCM(frame, ok, now)
	}
	if in.cfg.MixMinus {
		in.transmitMixMinus(frame, ok, now)
		return
	}
	if !ok {
		return
	}
	for _, c := range in.clients {
		if c.cfg.Transmit && c.reachable() && !c.cfg.ADPCM {
			in.g.sendTo(c, TypeULaw, frame, now)
		}
	}
}
