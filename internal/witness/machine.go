package witness

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// The witness's decisions are made by machine.step: a deterministic
// function of the machine's state, one input and the time, with no I/O. It
// returns the effects for the loop in witness.go to carry out in order.
// Only that loop calls step, so the state needs no lock.

// timing is derived from the TTL once.
type timing struct {
	ttl     time.Duration
	margin  time.Duration // given up this long before the lease can expire on etcd
	renew   time.Duration // between keep-alives
	attempt time.Duration // one keep-alive's time limit
	retry   time.Duration // pause after a failed call (grants double it up to ttl)
}

func newTiming(ttl time.Duration) timing {
	return timing{ttl: ttl, margin: ttl / 4, renew: ttl / 6, attempt: ttl / 4, retry: 200 * time.Millisecond}
}

type lockPhase int

const (
	idle        lockPhase = iota
	campaigning           // a campaign call is running on lease
	cancelling            // a campaign call was cancelled and has not returned yet
	holding               // this node holds the lock with fence
	resigning             // a resign call (delete our key) is due or running
)

var phaseNames = [...]string{"idle", "campaigning", "cancelling", "holding", "resigning"}

func (p lockPhase) String() string { return phaseNames[p] }

type lockState struct {
	want     bool
	phase    lockPhase
	lease    int64 // lease of the campaign or holding
	fence    int64
	inflight bool      // resigning: the call is running
	retryAt  time.Time // no new campaign or resign before
}

type pubState struct {
	want    uint64 // version the user set
	done    uint64 // version written on lease
	lease   int64
	putting bool
	retryAt time.Time
}

type machine struct {
	timing
	stopping bool
	lease    int64     // 0: none
	deadline time.Time // the lease is ours until then, by our clock
	renewing bool
	renewAt  time.Time
	granting bool
	grantAt  time.Time
	failures int // grants failed in a row
	lastErr  string
	locks    map[string]*lockState
	pubs     map[string]*pubState
}

func newMachine(t timing) *machine {
	return &machine{timing: t, locks: map[string]*lockState{}, pubs: map[string]*pubState{}}
}

// Inputs.
type (
	inTick struct{}
	// inSync carries what the users want: the locks to hold, the
	// versions of the values to publish.
	inSync struct {
		wants map[string]bool
		pubs  map[string]uint64
	}
	inGranted struct {
		lease int64
		sent  time.Time // when the grant was sent: etcd started the lease later
		err   error
	}
	inRenewed struct {
		lease int64
		sent  time.Time
		err   error
		gone  bool // etcd no longer knows the lease
	}
	inCampaigned struct {
		lock         string
		lease, fence int64
		err          error
	}
	inResigned struct {
		lock  string
		lease int64
		err   error
	}
	// inKeyGone: the key of a holding was deleted in etcd by someone
	// else (or replaced), while the lease lives on.
	inKeyGone struct {
		lock         string
		lease, fence int64
	}
	inPut struct {
		topic   string
		lease   int64
		version uint64
		err     error
	}
	inStop struct{}
)

// Effects.
type (
	effGrant    struct{}
	effRenew    struct{ lease int64 }
	effCampaign struct {
		lock  string
		lease int64
	}
	// effCancel ends the lock's running call: a campaign, or the guard
	// of a holding.
	effCancel struct{ lock string }
	// effGuard watches the key of a holding until it goes (inKeyGone)
	// or effCancel.
	effGuard struct {
		lock         string
		lease, fence int64
	}
	effResign struct {
		lock         string
		lease, fence int64
	}
	effEvent struct {
		lock string
		ev   Event
	}
	effPut struct {
		topic string
		lease int64
	}
	// effDrop stops keeping lease alive and revokes it (best effort).
	effDrop struct{ lease int64 }
)

type effect any

// step applies one input at now and returns the effects, in order.
func (m *machine) step(in any, now time.Time) []effect {
	var effs []effect
	switch in := in.(type) {
	case inSync:
		effs = m.sync(in, now)
	case inGranted:
		effs = m.granted(in, now)
	case inRenewed:
		effs = m.renewed(in, now)
	case inCampaigned:
		effs = m.campaigned(in, now)
	case inResigned:
		m.resigned(in, now)
	case inKeyGone:
		effs = m.keyGone(in, now)
	case inPut:
		m.put(in, now)
	case inStop:
		effs = m.stop(now)
	case inTick:
	default:
		panic(fmt.Sprintf("witness: unknown input %T", in))
	}
	return append(effs, m.advance(now)...)
}

func (m *machine) sync(in inSync, now time.Time) []effect {
	var effs []effect
	for _, name := range slices.Sorted(maps.Keys(in.wants)) {
		l := m.locks[name]
		if l == nil {
			l = &lockState{}
			m.locks[name] = l
		}
		l.want = in.wants[name]
		if l.want {
			continue
		}
		switch l.phase {
		case campaigning:
			l.phase = cancelling
			effs = append(effs, effCancel{name})
		case holding:
			l.phase = resigning
			effs = append(effs, lost(name, l.fence, "resigned", now), effCancel{name})
		}
	}
	for topic, v := range in.pubs {
		p := m.pubs[topic]
		if p == nil {
			p = &pubState{}
			m.pubs[topic] = p
		}
		p.want = v
	}
	return effs
}

func (m *machine) granted(in inGranted, now time.Time) []effect {
	m.granting = false
	if in.err != nil {
		m.failures++
		m.grantAt = now.Add(m.backoff())
		m.lastErr = "grant lease: " + in.err.Error()
		return nil
	}
	if m.stopping || m.lease != 0 {
		return []effect{effDrop{in.lease}}
	}
	m.failures, m.lastErr = 0, "" // etcd answers again: the old problem is over
	m.lease = in.lease
	m.deadline = in.sent.Add(m.ttl - m.margin)
	m.renewAt = in.sent.Add(m.renew)
	return nil
}

func (m *machine) backoff() time.Duration {
	d := m.retry << min(m.failures-1, 8)
	return min(d, m.ttl)
}

func (m *machine) renewed(in inRenewed, now time.Time) []effect {
	if in.lease != m.lease {
		return nil // a late answer for a lease given up already
	}
	m.renewing = false
	switch {
	case in.gone:
		return m.lose(now, "etcd says the lease has expired")
	case in.err != nil:
		m.lastErr = "keep-alive: " + in.err.Error()
		m.renewAt = now.Add(m.retry / 4) // try again soon: the deadline is what limits us
	default:
		if strings.HasPrefix(m.lastErr, "keep-alive: ") {
			m.lastErr = "" // the lease is renewed: that problem is over
		}
		if d := in.sent.Add(m.ttl - m.margin); d.After(m.deadline) {
			m.deadline = d
		}
		m.renewAt = in.sent.Add(m.renew)
	}
	return nil
}

// lose gives the lease up: every lock held on it is lost (reported first),
// campaigns on it are cancelled, and the lease is dropped.
func (m *machine) lose(now time.Time, reason string) []effect {
	var effs []effect
	for _, name := range slices.Sorted(maps.Keys(m.locks)) {
		l := m.locks[name]
		switch l.phase {
		case holding:
			effs = append(effs, lost(name, l.fence, reason, now), effCancel{name})
			l.phase = idle
		case campaigning:
			l.phase = cancelling
			effs = append(effs, effCancel{name})
		case resigning:
			l.phase = idle // the key goes with the lease
			l.inflight = false
		}
	}
	effs = append(effs, effDrop{m.lease})
	m.lease, m.renewing, m.lastErr = 0, false, reason
	m.grantAt = now
	return effs
}

func (m *machine) campaigned(in inCampaigned, now time.Time) []effect {
	l := m.locks[in.lock]
	if l == nil || (l.phase != campaigning && l.phase != cancelling) || l.lease != in.lease {
		return nil
	}
	live := in.lease == m.lease && now.Before(m.deadline)
	switch {
	case in.err != nil:
		if l.phase == campaigning && live {
			m.lastErr = "campaign " + in.lock + ": " + in.err.Error()
		}
		l.phase = idle
		l.retryAt = now.Add(m.retry)
		return nil
	case !live:
		l.phase = idle // our key goes with the lease
		return nil
	case l.phase == campaigning && l.want && !m.stopping:
		l.phase, l.fence = holding, in.fence
		return []effect{effEvent{in.lock, Event{Kind: Acquired, Lock: in.lock, Fence: in.fence, At: now}},
			effGuard{in.lock, in.lease, in.fence}}
	}
	l.phase, l.fence = resigning, in.fence // won, but no longer wanted
	return nil
}

func (m *machine) resigned(in inResigned, now time.Time) {
	l := m.locks[in.lock]
	if l == nil || l.phase != resigning || l.lease != in.lease {
		return
	}
	l.inflight = false
	if in.err != nil && in.lease == m.lease {
		m.lastErr = "resign " + in.lock + ": " + in.err.Error()
		l.retryAt = now.Add(m.retry)
		return
	}
	l.phase = idle
}

// reasonKeyGone is the Lost reason when the key of a holding vanished
// while the lease lives: someone deleted it (etcdctl del, a clean-up
// under the prefix), and the next node in line holds the lock now.
const reasonKeyGone = "the lock's key was deleted in etcd (not by this node): the next node in line holds the lock"

// keyGone: the lock's key was deleted under a live holding, so etcd has
// another holder (or none): Lost at once, and campaign again (with a new
// key, behind the others).
func (m *machine) keyGone(in inKeyGone, now time.Time) []effect {
	l := m.locks[in.lock]
	if l == nil || l.phase != holding || l.lease != in.lease || l.fence != in.fence {
		return nil
	}
	l.phase, l.retryAt = idle, now.Add(m.retry)
	m.lastErr = in.lock + ": " + reasonKeyGone
	return []effect{lost(in.lock, l.fence, reasonKeyGone, now)}
}

func (m *machine) put(in inPut, now time.Time) {
	p := m.pubs[in.topic]
	if p == nil {
		return
	}
	p.putting = false
	if in.lease != m.lease {
		return
	}
	if in.err != nil {
		m.lastErr = "publish " + in.topic + ": " + in.err.Error()
		p.retryAt = now.Add(m.retry)
		return
	}
	p.lease, p.done = in.lease, in.version
}

// stop reports every held lock lost, cancels campaigns and drops the
// lease: revoking it deletes every key of this node at once, so another
// node takes over without waiting for the TTL.
func (m *machine) stop(now time.Time) []effect {
	m.stopping = true
	var effs []effect
	for _, name := range slices.Sorted(maps.Keys(m.locks)) {
		l := m.locks[name]
		switch l.phase {
		case holding:
			effs = append(effs, lost(name, l.fence, "stopped", now), effCancel{name})
		case campaigning:
			effs = append(effs, effCancel{name})
		}
		l.phase, l.inflight = idle, false
	}
	if m.lease != 0 {
		effs = append(effs, effDrop{m.lease})
		m.lease = 0
	}
	return effs
}

func lost(lock string, fence int64, reason string, now time.Time) effect {
	return effEvent{lock, Event{Kind: Lost, Lock: lock, Fence: fence, Reason: reason, At: now}}
}
