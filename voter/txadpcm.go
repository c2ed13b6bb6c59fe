package voter

import "time"

// txADPCM is an instance's ADPCM transmit path (chan_voter's adpcmf1 and
// adpcmout translator): two 20 ms transmit frames make one 40 ms block
// for the clients with `adpcm` and `transmit`; the encoder state runs on
// across blocks.
type txADPCM struct {
	enc  imaState
	half bool // buf holds the first 20 ms of a block
	buf  [2 * FrameLen]byte
	out  [ADPCMLen]byte
}

// transmitADPCM takes this cycle's transmit frame (ok false: none). As in
// chan_voter, a block that has its first half when transmission ends is
// completed with silence and sent.
func (in *instance) transmitADPCM(frame []byte, ok bool, now time.Time) {
	t := &in.txADPCM
	switch {
	case !ok && !t.half:
		return
	case !t.half:
		copy(t.buf[:FrameLen], frame)
		t.half = true
		return
	case ok:
		copy(t.buf[FrameLen:], frame)
	default:
		copy(t.buf[FrameLen:], silence)
	}
	t.half = false
	t.enc.encodeBlock(t.buf[:], t.out[:])
	for _, c := range in.clients {
		if c.cfg.Transmit && c.cfg.ADPCM && c.reachable() {
			in.g.sendTo(c, TypeADPCM, t.out[:], now)
		}
	}
}

// hasADPCMTx reports whether any client gets ADPCM transmit audio.
func (in *instance) hasADPCMTx() bool {
	for _, c := range in.clients {
		if c.cfg.Transmit && c.cfg.ADPCM {
			return true
		}
	}
	return false
}
