package ddns

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redund/redund/internal/dnsupdate"
	"github.com/redund/redund/internal/text"
)

// reconcile makes the provider hold d.Address: it reads the provider's
// value when not known (at start, after failures, on recheck), and pushes
// only when that value differs.
func (s *Scheme) reconcile(ctx context.Context, d Decision) (time.Duration, bool) {
	rtype := s.cfg.RecordType()
	s.mu.Lock()
	known, valid := s.st.known, s.st.knownValid
	s.mu.Unlock()
	if !valid {
		vals, err := s.prov.Get(ctx, s.cfg.Name, rtype)
		if err != nil {
			return s.failed(ctx, d, "reading the current value", err)
		}
		known = vals
		s.mu.Lock()
		s.st.known, s.st.knownValid, s.st.knownAt = vals, true, time.Now()
		if dnsupdate.Matches(rtype, vals, d.Address) {
			s.st.unseen.Reset() // a read shows the value: pushes are visible
			s.st.unseenDue = time.Time{}
		}
		s.mu.Unlock()
	}
	if dnsupdate.Matches(rtype, known, d.Address) {
		s.synced()
		return 0, false
	}
	s.setWord(StatePushing)
	if wait := s.unseenWait(d.Address); wait > 0 {
		return wait, true
	}
	rec := dnsupdate.Record{Name: s.cfg.Name, Type: rtype, Value: d.Address, TTL: s.cfg.RecordTTL()}
	fence, ok := s.fence(&rec, known)
	if !ok {
		return 0, false
	}
	pctx, done := s.whileLeading(ctx, fence)
	reply, err := s.prov.Set(pctx, rec)
	lost := errors.Is(context.Cause(pctx), errLockLost)
	done()
	if err != nil {
		if lost {
			err = fmt.Errorf("%w: %w", errLockLost, err)
		}
		s.mu.Lock()
		s.st.knownValid = false // the push may have half-happened: read before the next one
		s.st.lastPush = Push{Time: time.Now(), Value: d.Address, Error: text.Clean(err.Error()), Fence: fence}
		s.mu.Unlock()
		if lost {
			s.log.Warn("witness: the lock was lost during the push; it was cancelled, standing by", "value", d.Address, "err", err)
			s.standBy()
			return 0, false
		}
		return s.failed(ctx, d, "pushing "+d.Address, err)
	}
	s.mu.Lock()
	s.st.known, s.st.knownValid, s.st.knownAt = []string{d.Address}, true, time.Now()
	s.st.lastPush = Push{Time: time.Now(), Value: d.Address, Reply: reply, Fence: fence}
	s.st.unseenDue = time.Time{}
	s.st.pushes++
	s.mu.Unlock()
	s.log.Info("record updated", "name", s.cfg.Name, "type", rtype, "value", d.Address,
		"server", d.Server, "provider", s.prov.Name(), "reply", reply, "was", known, "fence", fence)
	s.synced()
	return 0, false
}

// fence is the last check before a push on the witness: this node must
// hold the scheme's lock now (ok false: it does not, and stands by), and
// the push requires the value this leader read (rfc2136: a prerequisite
// the server checks atomically; Cloudflare: checked on the listing just
// before the change), so that a leader that paused past the end of its
// lease cannot overwrite its successor's push. It returns the lock's
// fencing token (0 without a witness).
func (s *Scheme) fence(rec *dnsupdate.Record, known []string) (int64, bool) {
	if s.wit == nil {
		return 0, true
	}
	fence, ok := s.wit.lock.Held()
	if !ok {
		s.log.Warn("witness: the lock was lost before the push; not pushing", "value", rec.Value)
		s.standBy()
		return 0, false
	}
	// rfc2136 checks it atomically, Cloudflare on the listing it reads just
	// before its change, HE not at all
	rec.If = &dnsupdate.Condition{Values: known}
	return fence, true
}

// errLockLost is the cause of a push's context ended because this node
// stopped holding the witness lock.
var errLockLost = errors.New("witness: the lock was lost during the push")

// whileLeading returns ctx for a push, ended as soon as this node no
// longer holds the witness lock with fence: Held turns false at the
// lease's local deadline (which the keep-alives move on), so a push that
// outlasts the holding (the provider slow, or this process paused) is
// cancelled rather than sent, or waited for, by a node that no longer
// leads. For providers without an atomic condition (Cloudflare, HE) this
// is what bounds a deposed leader's push; rfc2136 also has its
// prerequisite. done stops the watch and waits for it.
func (s *Scheme) whileLeading(ctx context.Context, fence int64) (_ context.Context, done func()) {
	if s.wit == nil {
		return ctx, func() {}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			f, until, ok := s.wit.lock.HeldUntil()
			if !ok || f != fence {
				cancel(errLockLost)
				return
			}
			t := time.NewTimer(time.Until(until))
			select {
			case <-stop:
				t.Stop()
				return
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	})
	return ctx, func() {
		close(stop)
		wg.Wait()
		cancel(nil)
	}
}

// unseenWait is how long to wait before posting addr again when the last
// push posted addr without error and a read does not show it yet: the
// provider may still be publishing it, or the resolver its reads go
// through may still cache the old value. Re-posts back off from retry_min
// to retry_max as failures do, instead of posting at every recheck.
func (s *Scheme) unseenWait(addr string) time.Duration {
	s.mu.Lock()
	last, due, read := s.st.lastPush, s.st.unseenDue, s.st.known
	fresh := due.IsZero()
	if fresh && !last.Time.IsZero() && last.Error == "" && last.Value == addr {
		due = last.Time.Add(s.st.unseen.Next())
		s.st.unseenDue = due
	}
	s.mu.Unlock()
	if last.Time.IsZero() || last.Error != "" || last.Value != addr {
		return 0
	}
	if fresh {
		s.log.Info("the pushed value is not visible yet; waiting before posting it again", "name", s.cfg.Name,
			"value", addr, "read", read, "repost_at", due.Format(time.RFC3339Nano))
	}
	return time.Until(due)
}

// failed records a failed read or push and returns the retry delay.
func (s *Scheme) failed(ctx context.Context, d Decision, what string, err error) (time.Duration, bool) {
	if ctx.Err() != nil {
		return 0, false // shutting down; not a provider problem
	}
	s.mu.Lock()
	delay := s.st.backoff.Next()
	s.st.failures++
	s.st.lastErr = what + ": " + text.Clean(err.Error()) // a provider's reply text may be in it
	s.st.retry = Retry{Pending: true, Attempt: s.st.backoff.Attempts(), Next: time.Now().Add(delay),
		Value: d.Address, Error: s.st.lastErr}
	attempt := s.st.retry.Attempt
	s.mu.Unlock()
	s.setWord(StateRetrying)
	s.log.Warn("provider failed, will retry", "name", s.cfg.Name, "provider", s.prov.Name(),
		"op", what, "err", err, "retry_in_s", delay.Seconds(), "attempt", attempt)
	return delay, true
}

func (s *Scheme) synced() {
	s.mu.Lock()
	s.st.backoff.Reset()
	s.st.retry = Retry{}
	s.st.lastErr = ""
	word := syncedWord(s.st.decision)
	s.mu.Unlock()
	s.setWord(word)
}

// syncedWord is the state of a scheme whose provider has the value d chose:
// Synced, or Degraded when a fallback policy (sorry, first) chose it
// because no server is OK: the record is where the policy says, but the
// service is not healthy, and the status must not show that as green.
func syncedWord(d Decision) SchemeState {
	if d.Fallback != "" {
		return StateDegraded
	}
	return StateSynced
}

func (s *Scheme) clearRetry() {
	s.mu.Lock()
	s.st.retry = Retry{}
	s.st.backoff.Reset()
	s.mu.Unlock()
}

// noteDecision stores d and logs it when where the name should point changed.
func (s *Scheme) noteDecision(d Decision) {
	s.mu.Lock()
	prev := s.st.decision
	s.st.decision = d
	same := prev.Action == d.Action && prev.Address == d.Address && prev.Server == d.Server
	if !same {
		s.st.decisions = append(s.st.decisions, TimedDecision{Time: time.Now(), Decision: d})
		if n := len(s.st.decisions); n > maxDecisions {
			s.st.decisions = append([]TimedDecision(nil), s.st.decisions[n-maxDecisions:]...)
		}
	}
	s.mu.Unlock()
	if same {
		// the same value, chosen now by a fallback or no longer by one
		if w := s.word(); prev.Fallback != d.Fallback && d.Action == ActionPoint && (w == StateSynced || w == StateDegraded) {
			s.setWord(syncedWord(d))
		}
		return
	}
	switch d.Action {
	case ActionPoint:
		if d.Fallback != "" {
			s.log.Warn("decision: point at "+d.Server, "address", d.Address, "policy", d.Fallback, "reason", d.Reason)
		} else {
			s.log.Info("decision: point at "+d.Server, "address", d.Address, "reason", d.Reason)
		}
	case ActionKeep:
		s.log.Warn("decision: keep the record", "policy", d.Fallback, "reason", d.Reason)
		s.setWord(StateUnavailable)
	case ActionWait:
		s.log.Info("decision: wait", "reason", d.Reason)
		s.setWord(StateWaiting)
	}
}

func (s *Scheme) word() SchemeState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.word
}

// setWord changes the status word, keeping Since when it is unchanged.
func (s *Scheme) setWord(word SchemeState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st.word != word {
		s.st.word, s.st.since = word, time.Now()
	}
}
