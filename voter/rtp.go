package voter

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"time"
)

const (
	rtpHeaderLen = 12
	txPrebuffer  = 3  // frames queued before a transmission starts
	txMaxQueue   = 50 // 1 s of transmit audio at most
	// rtpPause is the longest gap between two voted packets that is still
	// one talkspurt: a master timing source is lost after 60 ms, so a
	// longer gap means the stream stopped (or a secondary proxied).
	rtpPause = 60 * time.Millisecond
)

// rtpState numbers the voted PCMU stream: one packet per 20 ms cycle.
type rtpState struct {
	seq    uint16
	ts     uint32
	ssrc   uint32
	marker bool
	last   time.Time // the frame time of the previous packet
	sent   uint64
	// errs counts voted packets the socket refused to send; failing is
	// the last refusal's error, failedAt its time, failingSince the
	// first of the refusals that followed each other (see failingNow).
	errs                   uint64
	failing                string
	failedAt, failingSince time.Time
	buf                    [rtpHeaderLen + FrameLen]byte
}

func newRTPState() rtpState {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return rtpState{seq: binary.BigEndian.Uint16(b[0:2]), ts: binary.BigEndian.Uint32(b[2:6]),
		ssrc: binary.BigEndian.Uint32(b[6:10]), marker: true}
}

// packet builds the next RTP packet (version 2, payload type 0 PCMU) for
// the frame of time t (see frameTime). After a pause (see rtpPause) the
// timestamp advances by the silent time, in whole frames, and the packet
// carries the marker bit as the first of a talkspurt (RFC 3550 5.1); the
// sequence number goes on by one, as no packet was lost.
func (r *rtpState) packet(frame []byte, t time.Time) []byte {
	if gap := t.Sub(r.last); !r.last.IsZero() && gap > rtpPause {
		r.ts += uint32((gap+cycleEvery/2)/cycleEvery-1) * FrameLen
		r.marker = true
	}
	r.last = t
	b := r.buf[:]
	b[0] = 0x80
	b[1] = 0
	if r.marker {
		b[1] = 0x80
		r.marker = false
	}
	binary.BigEndian.PutUint16(b[2:4], r.seq)
	binary.BigEndian.PutUint32(b[4:8], r.ts)
	binary.BigEndian.PutUint32(b[8:12], r.ssrc)
	copy(b[rtpHeaderLen:], frame)
	r.seq++
	r.ts += FrameLen
	return b
}

// rtpInStats counts the transmit stream. Refused counts packets from a
// source that rtp_in_from does not list.
type rtpInStats struct {
	Packets, Bad, Late, Overflow, Refused uint64
	lastSeq                               uint16
	started                               bool
}

var errRTP = errors.New("not a PCMU RTP packet")

// parseRTP returns the payload of an RTP packet with payload type 0.
func parseRTP(b []byte) (seq uint16, payload []byte, err error) {
	if len(b) < rtpHeaderLen || b[0]>>6 != 2 || b[1]&0x7f != 0 {
		return 0, nil, errRTP
	}
	n := rtpHeaderLen + 4*int(b[0]&0x0f)
	if b[0]&0x10 != 0 { // extension
		if len(b) < n+4 {
			return 0, nil, errRTP
		}
		n += 4 + 4*int(binary.BigEndian.Uint16(b[n+2:n+4]))
	}
	end := len(b)
	if b[0]&0x20 != 0 && end > 0 { // padding
		end -= int(b[end-1])
	}
	if n > end {
		return 0, nil, errRTP
	}
	return binary.BigEndian.Uint16(b[2:4]), b[n:end], nil
}

// readRTP receives transmit audio and queues it in 20 ms frames.
func (in *instance) readRTP() {
	buf := make([]byte, 2048)
	for {
		n, from, err := in.rtpIn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		in.g.mu.Lock()
		in.receiveRTP(buf[:n], from)
		in.g.mu.Unlock()
	}
}

// receiveRTP handles one datagram on rtp_in (g.mu held): a source that
// rtp_in_from does not list is counted and dropped before anything else,
// so it can neither transmit nor become the latched destination.
func (in *instance) receiveRTP(b []byte, from netip.AddrPort) {
	if !in.rtpSourceAllowed(from.Addr()) {
		in.txStats.Refused++
		return
	}
	if in.queueRTP(b) && in.cfg.RTPOut == "" && (in.rtpDest == nil || in.rtpDest.AddrPort() != from) {
		in.rtpDest = net.UDPAddrFromAddrPort(from) // no rtp_out: latch onto the transmit stream's source
	}
}

// rtpSourceAllowed reports whether rtp_in_from lets addr send (any
// address when the key is unset).
func (in *instance) rtpSourceAllowed(addr netip.Addr) bool {
	if in.rtpFrom == nil {
		return true
	}
	addr = addr.Unmap()
	for _, p := range in.rtpFrom {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

func (in *instance) queueRTP(b []byte) bool {
	s := &in.txStats
	seq, payload, err := parseRTP(b)
	if err != nil {
		s.Bad++
		return false
	}
	if s.started && int16(seq-s.lastSeq) <= 0 && int16(seq-s.lastSeq) > -100 {
		s.Late++ // duplicate or reordered: dropped
		return true
	}
	s.started, s.lastSeq = true, seq
	s.Packets++
	for len(payload) > 0 {
		var f [FrameLen]byte
		copy(f[:], silence)
		n := copy(f[:], payload)
		payload = payload[n:]
		if len(in.txq) >= txMaxQueue {
			in.txq = in.txq[1:]
			s.Overflow++
		}
		in.txq = append(in.txq, f)
	}
	return true
}

// nextTx returns the frame to transmit this cycle. A transmission starts
// once txPrebuffer frames are queued and ends when the queue runs dry.
func (in *instance) nextTx() ([]byte, bool) {
	if !in.txOn {
		if len(in.txq) < txPrebuffer {
			return nil, false
		}
		in.txOn = true
	}
	if len(in.txq) == 0 {
		in.txOn = false
		return nil, false
	}
	f := in.txq[0]
	copy(in.txq, in.txq[1:])
	in.txq = in.txq[:len(in.txq)-1]
	copy(in.txFrame[:], f[:])
	return in.txFrame[:], true
}
