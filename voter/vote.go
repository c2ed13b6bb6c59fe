package voter

import "time"

// vote runs one frame of RSSI voting, mixes mix-mode clients, advances the
// drain point of every client and hands the result to the RTP output.
func (in *instance) vote(now time.Time) {
	winner := in.pickWinner()
	winner = in.applyThresholds(winner)
	frame := in.frame[:]
	copy(frame, silence)
	if winner != nil {
		copy(frame, winner.rec[:])
		in.filterVoted(frame)
	}
	for _, c := range in.clients {
		if !c.mix && c.prio() != -1 {
			c.clearFrame()
		}
	}
	winner = in.mix(frame, winner)
	for _, c := range in.clients {
		c.advance()
	}
	if in.proxying() {
		winner = nil // the primary presents this audio
		in.threshold, in.threshCount, in.lingerCount = 0, 0, 0
		return
	}
	if winner == nil { // a silent frame keeps threshold and linger state, as chan_voter does
		in.winner = nil
		copy(frame, silence)
	} else {
		in.winner = winner
		in.lastRx = now
		in.keyed = true
		if !winner.mix && winner != in.lastWon {
			in.lastWon = winner
		}
	}
	in.output(frame, in.g.frameTime(now))
}

// pickWinner scores every non-mix client that is not locked out by the
// mean RSSI of its frame: highest priority with nonzero RSSI first, then
// highest RSSI, ties to the earlier client.
func (in *instance) pickWinner() *client {
	var best *client
	bestRSSI, bestPrio := 0, 0
	for _, c := range in.clients {
		if c.mix || c.prio() == -1 {
			continue
		}
		c.lastRSSI = c.frameRSSI()
		c.copyFrame(c.rec[:])
		p := c.prio()
		if (c.lastRSSI > bestRSSI && p == bestPrio) || (c.lastRSSI > 0 && p > bestPrio) {
			best, bestRSSI, bestPrio = c, c.lastRSSI, p
		}
	}
	return best
}

// applyThresholds keeps the previous winner while it reaches a threshold,
// and lingers on it, following chan_voter's code.
func (in *instance) applyThresholds(max *client) *client {
	if max == nil {
		return nil
	}
	last := in.lastWon
	lastPrio := 0
	if last != nil {
		lastPrio = last.prio()
	}
	if last != nil && len(in.thresholds) > 0 && max.prio() <= lastPrio {
		for i, t := range in.thresholds {
			if last.lastRSSI >= t.RSSI {
				if i+1 != in.threshold {
					in.threshold, in.threshCount = i+1, 0
				} else if t.Count > 0 {
					n := in.threshCount
					in.threshCount++
					if n >= t.Count {
						in.threshold, in.threshCount, in.lingerCount = 0, 0, 0
						continue
					}
				}
				in.lingerCount = 0
				max = last
				break
			}
			if i == len(in.thresholds)-1 {
				if in.threshold > 0 {
					in.lingerCount = in.thresholds[in.threshold-1].Linger
				}
				in.threshold, in.threshCount = 0, 0
			}
		}
	}
	if in.lingerCount > 0 && last != nil {
		in.lingerCount--
		max = last
	}
	return max
}

// mix adds the audio of mix-mode clients to the voted frame (chan_voter's
// voter_mix_and_send) and returns the client that carries the frame.
func (in *instance) mix(frame []byte, winner *client) *client {
	maxPrio := 0
	for _, c := range in.clients {
		if c.mix && c.prio() > maxPrio {
			maxPrio = c.prio()
		}
	}
	maxRSSI := 0
	if winner != nil {
		maxRSSI = winner.lastRSSI
	}
	var lin [FrameLen]int32
	mixed := false
	var buf [FrameLen]byte
	for _, c := range in.clients {
		if !c.mix || (maxPrio > 0 && c.prio() < maxPrio) {
			continue
		}
		c.lastRSSI = c.readFrame(buf[:], true)
		if c.lastRSSI == 0 {
			continue
		}
		if in.cfg.MixMinus {
			c.keepAudio(buf[:])
		}
		if !mixed {
			for i := range lin {
				lin[i] = int32(ulawToLinear[frame[i]])
			}
			mixed = true
		}
		if c.lastRSSI > maxRSSI {
			maxRSSI, winner = c.lastRSSI, c
		}
		for i := range lin {
			v := int32(ulawToLinear[buf[i]])
			if maxPrio > 0 {
				lin[i] = v
			} else {
				lin[i] = min(max(lin[i]+v, -32767), 32767)
			}
		}
	}
	if mixed {
		for i := range lin {
			frame[i] = linearToULaw(int16(lin[i]))
		}
	}
	return winner
}

// unkey ends the receive state.
func (in *instance) unkey() {
	in.keyed = false
	in.lastWon = nil
	in.winner = nil
}
