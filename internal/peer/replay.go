package peer

import (
	"fmt"
	"sync"
	"time"
)

// ReplayCache remembers the nonces of accepted requests so that a request
// captured on the way cannot be sent again. A request carries the time it
// was signed; one signed more than the window before or after now is
// refused outright, so a nonce need only be remembered while its time is
// inside the window.
//
// The cache is bounded: once it holds max nonces it forgets the oldest
// (first recorded) ones, and from then on refuses every request signed at
// or before the newest time it forgot. A forgotten nonce therefore still
// cannot be replayed; a flood can only make requests that are older than
// what the cache remembers fail, never grow the cache or let a replay in.
type ReplayCache struct {
	window time.Duration
	max    int

	mu    sync.Mutex
	seen  map[[16]byte]int64 // nonce → signing time (unix ms)
	queue []replayEntry      // in the order recorded
	head  int                // queue[head:] are live
	floor int64              // refuse signing times <= floor (unix ms)
}

type replayEntry struct {
	nonce [16]byte
	at    int64
}

// NewReplayCache returns a cache for requests signed within window of now
// that remembers at most max nonces. It refuses requests signed before it
// was created: the cache lives in memory, and a request captured before the
// process restarted must not be accepted after it. (A peer whose clock is
// behind by d is therefore refused for d after the start.)
func NewReplayCache(window time.Duration, max int) *ReplayCache {
	return &ReplayCache{window: window, max: max, seen: map[[16]byte]int64{}, floor: time.Now().UnixMilli() - 1}
}

// Check accepts a request with nonce, signed at sent, received at now, and
// records the nonce; it refuses (an error wrapping ErrAuth) a nonce seen
// before, a signing time outside the window, and a signing time at or
// before the newest one the cache had to forget.
func (c *ReplayCache) Check(nonce [16]byte, sent, now time.Time) error {
	if d := now.Sub(sent); d > c.window || d < -c.window {
		return authErrorf("the clocks of the two nodes differ by %s, more than %s (check NTP)",
			d.Round(time.Second), c.window)
	}
	at := sent.UnixMilli()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expire(now.Add(-c.window).UnixMilli())
	if at <= c.floor {
		return authErrorf("request signed before the oldest the replay cache remembers (this node restarted since, "+
			"or it received more than %d requests in %s)", c.max, c.window)
	}
	if _, dup := c.seen[nonce]; dup {
		return errReplayed
	}
	for len(c.seen) >= c.max {
		c.evict()
	}
	c.seen[nonce] = at
	c.queue = append(c.queue, replayEntry{nonce: nonce, at: at})
	return nil
}

// Len is the number of nonces remembered.
func (c *ReplayCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

// expire forgets the nonces at the front of the queue that were signed
// before oldest: a replay of them is refused by the window check.
func (c *ReplayCache) expire(oldest int64) {
	for c.head < len(c.queue) && c.queue[c.head].at < oldest {
		delete(c.seen, c.queue[c.head].nonce)
		c.head++
	}
	c.compact()
}

// evict forgets the first recorded nonce that is still live and raises
// the floor to its signing time.
func (c *ReplayCache) evict() {
	e := c.queue[c.head]
	c.head++
	delete(c.seen, e.nonce)
	c.floor = max(c.floor, e.at)
	c.compact()
}

// compact drops the dead front of the queue once it is half of it.
func (c *ReplayCache) compact() {
	if c.head > 0 && c.head >= len(c.queue)/2 {
		n := copy(c.queue, c.queue[c.head:])
		clear(c.queue[n:])
		c.queue, c.head = c.queue[:n], 0
	}
}

// errReplayed is Check's refusal of a nonce it remembers: a replay, or a
// request reflected back to the node that signed it (never a request a
// node sent in good faith, since a node never sends a nonce twice).
var errReplayed error = &authError{msg: "replayed (or reflected) request"}

// authError is an authentication failure with its own text; it wraps
// ErrAuth.
type authError struct{ msg string }

func (e *authError) Error() string { return e.msg }
func (e *authError) Unwrap() error { return ErrAuth }

func authErrorf(format string, args ...any) error {
	return &authError{msg: fmt.Sprintf(format, args...)}
}
