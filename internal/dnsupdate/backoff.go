package dnsupdate

import (
	"math/rand/v2"
	"time"
)

// Backoff yields capped exponential delays for retrying failed pushes:
// Min, 2×Min, 4×Min, ... up to Max, each spread by ±Jitter (a fraction,
// e.g. 0.2) and never above Max: at the cap, jitter only shortens a delay,
// so retry_max is the longest wait an operator sees. The zero value uses 1 s to 5 min without jitter.
type Backoff struct {
	Min    time.Duration
	Max    time.Duration
	Jitter float64

	attempt int
}

// Next returns the delay before the next attempt and counts the attempt.
func (b *Backoff) Next() time.Duration {
	lo, hi := b.Min, b.Max
	if lo <= 0 {
		lo = time.Second
	}
	if hi <= 0 {
		hi = 5 * time.Minute
	}
	if hi < lo {
		hi = lo
	}
	d := lo
	for i := 0; i < b.attempt && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	b.attempt++
	if b.Jitter > 0 {
		f := 1 + b.Jitter*(2*rand.Float64()-1)
		d = min(time.Duration(float64(d)*f), hi)
	}
	return d
}

// Attempts is the number of delays handed out since the last Reset.
func (b *Backoff) Attempts() int { return b.attempt }

// Reset starts again from Min (after a success).
func (b *Backoff) Reset() { b.attempt = 0 }
