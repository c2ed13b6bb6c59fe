package voter

import "time"

// chan_voter's `mixminus`: every µ-law client (ADPCM ones excepted) gets
// the transmit audio plus the last frame of every other connected
// mix-mode client that had signal, summed and clipped, and only
// transmitting clients are sent it. Audio goes out while there is
// transmit audio or some mix client has signal.

// keepAudio stores a mix client's frame for mixminus.
func (c *client) keepAudio(ulaw []byte) {
	for i, u := range ulaw[:FrameLen] {
		c.lastAudio[i] = ulawToLinear[u]
	}
}

// mixSource reports whether c's audio goes into the others' mix.
func (c *client) mixSource() bool {
	return c.heard && c.respDigest != 0 && c.mix && !c.cfg.ADPCM && c.lastRSSI != 0
}

func (in *instance) transmitMixMinus(frame []byte, ok bool, now time.Time) {
	var base [FrameLen]int32
	if ok {
		for i, u := range frame[:FrameLen] {
			base[i] = int32(ulawToLinear[u])
		}
	}
	var out [FrameLen]byte
	for _, c := range in.clients {
		if !c.heard || c.respDigest == 0 || c.cfg.ADPCM || !c.cfg.Transmit || !c.reachable() {
			continue
		}
		if in.mixMinusFor(c, &base, out[:]) || ok {
			in.g.sendTo(c, TypeULaw, out[:], now)
		}
	}
}

// mixMinusFor writes base plus every other mix source into out and
// reports whether any source was added.
func (in *instance) mixMinusFor(c *client, base *[FrameLen]int32, out []byte) bool {
	sum := *base
	added := false
	for _, o := range in.clients {
		if o == c || !o.mixSource() {
			continue
		}
		added = true
		for i := range sum {
			sum[i] = min(max(sum[i]+int32(o.lastAudio[i]), -32767), 32767)
		}
	}
	for i, v := range sum {
		out[i] = linearToULaw(int16(v))
	}
	return added
}
