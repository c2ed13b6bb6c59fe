package voter

// chan_voter's receive filters, applied to the voted frame of a non-mix
// winner (instance keys plfilter and hostdeemp), with one filter state per
// instance that runs on across the frames that have a winner.

// plGain and the feedback taps are chan_voter's 6-pole high-pass (300 Hz
// corner, 0.5 dB ripple, 8 kHz): y = x0+x6 - 6(x1+x5) + 15(x2+x4) - 20x3
// + sum(plFeedback[k] * y[k]), x scaled by 1/plGain.
const plGain = 1.745882764e+00

var plFeedback = [6]float64{-0.3491861578, 2.3932556573, -6.9905126572, 11.0685981760, -9.9896695552, 4.8664511065}

// plFilter is the high-pass's delay lines. They are float32, as in
// chan_voter; the feed-forward sum is float32 arithmetic and the feedback
// terms double, in the order C evaluates them.
type plFilter struct {
	x, y [7]float32
}

func (f *plFilter) step(in int16) int16 {
	copy(f.x[:6], f.x[1:])
	copy(f.y[:6], f.y[1:])
	x := &f.x
	x[6] = float32(float64(in) / plGain)
	// explicit conversions keep each product rounded (no fused multiply-add)
	ff := (x[0] + x[6]) - float32(6*(x[1]+x[5])) + float32(15*(x[2]+x[4])) - float32(20*x[3])
	acc := float64(ff)
	for k, c := range plFeedback {
		acc += float64(c * float64(f.y[k]))
	}
	f.y[6] = float32(acc)
	return int16(int32(f.y[6])) // C: (int) truncates, then int16_t wraps
}

// deemp is chan_voter's 6 dB/octave de-emphasis: an integrator in Q15,
// state = x + state*25889/32768, out = state*6878/8192, with C's 32-bit
// wrapping and truncating division.
type deemp struct {
	state int32
}

func (d *deemp) step(in int16) int16 {
	d.state = int32(in) + d.state*25889/32768
	return int16(d.state * 6878 / 8192)
}

// rxFilters holds an instance's filter state.
type rxFilters struct {
	pl plFilter
	de deemp
}

// filterVoted runs the voted frame through the configured filters.
func (in *instance) filterVoted(frame []byte) {
	if !in.cfg.PLFilter && !in.cfg.HostDeemp {
		return
	}
	for i, u := range frame[:FrameLen] {
		v := ulawToLinear[u]
		if in.cfg.PLFilter {
			v = in.filters.pl.step(v)
		}
		if in.cfg.HostDeemp {
			v = in.filters.de.step(v)
		}
		frame[i] = linearToULaw(v)
	}
}
