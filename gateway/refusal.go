package gateway

import (
	"time"
)

// A batch of cached points that the master refuses (its request handler
// answers with an error) for a reason the backup cannot check beforehand
// (a rule of a newer version, a constraint of its database) was sent
// again every second for ever, and every point behind it waited. The
// backup now narrows the batch down to the point the master refuses,
// waiting longer after each refusal, and sets that point aside in the
// quarantine (counted in the status) once the master has refused it
// alone refusalPolicy.Strikes times over at least MinSpan: a refusal that
// passes (the master's disk was full for a minute) costs waiting, not a
// point. A failure of the link is not a refusal: it is retried as before.

// refusalPolicy bounds the retries of a refused batch.
type refusalPolicy struct {
	Strikes    int           // refusals of a one-point batch before it is set aside
	MinSpan    time.Duration // and at least this long since its first refusal
	Backoff    time.Duration // wait after the first refusal in a row, doubled after each
	MaxBackoff time.Duration
}

var defaultRefusalPolicy = refusalPolicy{Strikes: 5, MinSpan: time.Minute, Backoff: time.Second, MaxBackoff: time.Minute}

// refusals is the forward loop's record of the master's refusals (the
// loop owns it; the methods are pure).
type refusals struct {
	limit   int       // points per batch (maxBatch when 0)
	inRow   int       // refusals in a row, of any batch
	strikes int       // refusals in a row of a one-point batch
	first   time.Time // the first of those
}

// maxBatch is the number of cached points a batch carries.
const maxBatch = 500

// size is how many points the next batch carries.
func (r refusals) size() int {
	if r.limit <= 0 {
		return maxBatch
	}
	return r.limit
}

// refused records a refusal, at now, of a batch of n points and returns
// the next state, how long to wait before the next try and whether the
// batch (then one point) is to be set aside.
func (r refusals) refused(pol refusalPolicy, n int, now time.Time) (refusals, time.Duration, bool) {
	r.inRow++
	wait := pol.Backoff << min(r.inRow-1, 20)
	if wait > pol.MaxBackoff || wait <= 0 {
		wait = pol.MaxBackoff
	}
	if n > 1 {
		r.limit, r.strikes = max(1, n/2), 0
		return r, wait, false
	}
	r.limit = 1
	if r.strikes == 0 {
		r.first = now
	}
	r.strikes++
	if r.strikes >= pol.Strikes && now.Sub(r.first) >= pol.MinSpan {
		// set aside: the points behind it go at once, in full batches
		return refusals{}, 0, true
	}
	return r, wait, false
}

// accepted records a batch the master took: the batch grows back.
func (r refusals) accepted() refusals {
	if r.limit == 0 {
		return refusals{}
	}
	return refusals{limit: min(maxBatch, 2*r.limit)}
}
