package ddns

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/redund/redund/internal/health"
	"github.com/redund/redund/internal/witness"
)

// decider is a scheme's part in the witness (witness = true): it campaigns
// for lock "ddns.<scheme>", publishes what this node sees under topic
// "ddns.<scheme>" with its lease, and follows the views of every live
// decider. Only the holder of the lock pushes.
type decider struct {
	w     *witness.Witness
	lock  *witness.Lock
	topic string

	// guarded by Scheme.mu
	views     []View    // the live deciders' views, as etcd has them
	viewsAt   time.Time // when views were last read from etcd
	followErr string    // why the views are not followed now ("" while they are)
	published map[string]ServerView
	terms     []Term
}

// Term is one holding of the scheme's lock by this node, with the times
// the witness decided it began and ended (End zero: still leading).
type Term struct {
	Fence int64     `json:"fence"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end,omitzero"`
}

// maxTerms is how many terms a scheme keeps for its status.
const maxTerms = 16

// lockName is the witness lock (and topic) of scheme.
func lockName(scheme string) string { return "ddns." + scheme }

func newDecider(w *witness.Witness, scheme string) (*decider, error) {
	l, err := w.Lock(lockName(scheme))
	if err != nil {
		return nil, fmt.Errorf("witness lock for scheme %q: %w", scheme, err)
	}
	return &decider{w: w, lock: l, topic: lockName(scheme)}, nil
}

// Pauses between attempts to watch the deciders' views again after Watch
// failed or its channel closed (doubled up to the most).
const (
	followRetryMin = 200 * time.Millisecond
	followRetryMax = 10 * time.Second
)

// follow keeps s.wit.views up to date with the live deciders' published
// views and pokes the loop on every change, until ctx ends. While the
// watch is down (it cannot start, it reports an error, or its channel
// closes) the reason is kept for the status and the views held are shown
// stale; the watch is tried again with backoff.
func (s *Scheme) follow(ctx context.Context) {
	pause := followRetryMin
	for ctx.Err() == nil {
		ch, err := s.wit.w.Watch(ctx, s.wit.topic)
		if err == nil {
			if s.followUpdates(ch) {
				pause = followRetryMin // it worked for a while
			}
			if ctx.Err() != nil {
				return
			}
			err = errors.New("witness: the watch of the deciders' views ended")
		} else if ctx.Err() != nil {
			return
		}
		s.followFailed(err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		pause = min(2*pause, followRetryMax)
	}
}

// followUpdates applies the watch's updates until its channel closes, and
// reports whether any of them carried views.
func (s *Scheme) followUpdates(ch <-chan witness.WatchUpdate) (gotViews bool) {
	for u := range ch {
		if u.Err != nil {
			s.followFailed(u.Err)
			continue
		}
		gotViews = true
		views := make([]View, 0, len(u.Values))
		for _, v := range u.Values {
			var view View
			if err := json.Unmarshal([]byte(v.Value), &view); err != nil {
				s.log.Warn("witness: a decider's view is not readable; ignored", "node", v.Node, "err", err)
				continue
			}
			view.Node, view.Stale = v.Node, false
			views = append(views, view)
		}
		s.mu.Lock()
		s.wit.views, s.wit.viewsAt = views, time.Now()
		was := s.wit.followErr
		s.wit.followErr = ""
		s.mu.Unlock()
		if was != "" {
			s.log.Info("witness: following the deciders' views again", "was", was)
		}
		s.Poke()
	}
	return gotViews
}

// followFailed records why the deciders' views are not followed now (and
// logs it when the reason changes).
func (s *Scheme) followFailed(err error) {
	s.mu.Lock()
	changed := s.wit.followErr != err.Error()
	s.wit.followErr = err.Error()
	s.mu.Unlock()
	if changed {
		s.log.Warn("witness: cannot follow the deciders' views; the views held are stale", "err", err)
	}
}

// onLock handles an event of the scheme's lock in the run loop (which
// evaluates right after it).
func (s *Scheme) onLock(ev witness.Event) {
	s.mu.Lock()
	switch ev.Kind {
	case witness.Acquired:
		s.wit.terms = append(s.wit.terms, Term{Fence: ev.Fence, Start: ev.At})
		if len(s.wit.terms) > maxTerms {
			s.wit.terms = s.wit.terms[1:]
		}
		s.st.knownValid = false // read the provider before the first push as leader
	case witness.Lost:
		if n := len(s.wit.terms); n > 0 && s.wit.terms[n-1].End.IsZero() {
			s.wit.terms[n-1].End = ev.At
		}
	}
	s.mu.Unlock()
	if ev.Kind == witness.Acquired {
		s.log.Info("witness: leading: this decider pushes", "lock", s.wit.lock.Name(), "fence", ev.Fence)
	} else {
		s.log.Warn("witness: no longer leading: standing by", "lock", s.wit.lock.Name(), "fence", ev.Fence, "reason", ev.Reason)
	}
}

// endTerm closes an open term when the scheme stops (the process can push
// no more).
func (s *Scheme) endTerm() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := len(s.wit.terms); n > 0 && s.wit.terms[n-1].End.IsZero() {
		s.wit.terms[n-1].End = time.Now()
	}
}

// withQuorum adds to d's reason how the deciders see the chosen server.
func withQuorum(d Decision, cands []Candidate) Decision {
	for _, c := range cands {
		if c.Name == d.Server && d.Server != "" {
			d.Reason += "; " + c.Name + ": " + c.Reason
		}
	}
	return d
}

// ownView is what this node's monitors see now.
func (s *Scheme) ownView(cands []Candidate) map[string]ServerView {
	out := make(map[string]ServerView, len(cands))
	for i, c := range cands {
		out[c.Name] = ServerView{State: c.State.String(), Since: s.mons[i].Snapshot().Since, Address: c.Address, Maintenance: c.Maintenance}
	}
	return out
}

// publish writes this node's view when it changed since the last write.
func (s *Scheme) publish(own map[string]ServerView) {
	s.mu.Lock()
	same := maps.Equal(own, s.wit.published)
	s.mu.Unlock()
	if same {
		return
	}
	b, err := json.Marshal(View{At: time.Now(), Servers: own})
	if err == nil {
		err = s.wit.w.Publish(s.wit.topic, string(b))
	}
	if err != nil {
		s.log.Warn("witness: cannot publish this decider's view", "err", err)
		return
	}
	s.mu.Lock()
	s.wit.published = own
	s.mu.Unlock()
}

// liveViews is the views of the live deciders, with this node's own view
// taken from its monitors (fresher than what etcd has of it).
func (s *Scheme) liveViews(own map[string]ServerView) []View {
	me := s.wit.w.Node()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]View, 0, len(s.wit.views)+1)
	for _, v := range s.wit.views {
		if v.Node != me {
			v.Stale = s.wit.followErr != ""
			out = append(out, v)
		}
	}
	return append(out, View{Node: me, At: time.Now(), Servers: own})
}

// viewsUnread is each server's reason before the views were read once.
const viewsUnread = "the deciders' views not read from etcd yet"

// quorumCandidates publishes this node's view and returns the candidates
// as the quorum of live deciders sees them. Until the deciders' views have
// been read from etcd once, this node knows only its own, which is no
// quorum of the deciders: every server is UNKNOWN then (the decision
// waits; the first read pokes the loop).
func (s *Scheme) quorumCandidates(cands []Candidate) []Candidate {
	own := s.ownView(cands)
	s.publish(own)
	s.mu.Lock()
	read := !s.wit.viewsAt.IsZero()
	s.mu.Unlock()
	if !read {
		out := make([]Candidate, len(cands))
		for i, c := range cands {
			c.State, c.Reason = health.Unknown, viewsUnread
			out[i] = c
		}
		return out
	}
	return Agree(cands, s.liveViews(own), s.cfg.QuorumName())
}

// leading reports whether this node holds the scheme's lock now (true
// without a witness: the only decider always leads).
func (s *Scheme) leading() bool {
	if s.wit == nil {
		return true
	}
	_, ok := s.wit.lock.Held()
	return ok
}

// standBy is a follower's step: it decided (for its status) but pushes
// nothing; a retry of its time as leader is dropped.
func (s *Scheme) standBy() {
	s.clearRetry()
	s.setWord("Standby")
}

// WitnessStatus is a scheme's part in the witness, for its status.
type WitnessStatus struct {
	Node    string `json:"node"`
	Role    string `json:"role"`             // leader or follower
	Leader  string `json:"leader,omitempty"` // the holder etcd has, "" for none known
	Lock    string `json:"lock"`
	State   string `json:"lock_state"` // idle, campaigning, holding, ...
	Fence   int64  `json:"fence,omitempty"`
	Quorum  string `json:"quorum"`
	Views   []View `json:"deciders"` // every live decider's view (this node's from its monitors)
	Terms   []Term `json:"terms,omitempty"`
	Problem string `json:"problem,omitempty"` // the witness's last problem
	// FollowError is why the deciders' views are not followed now (the
	// watch is tried again); the views held from etcd are then Stale.
	FollowError string    `json:"follow_error,omitempty"`
	ViewsRead   time.Time `json:"views_read,omitzero"` // when the views were last read from etcd
	// ViewInEtcd: this node's latest view is written in etcd, where the
	// other deciders read it; ViewPendingS is for how long it has not been
	// (seconds, 0 while it is): the others do not count what this node
	// sees now meanwhile (its own view in Views is from its monitors).
	ViewInEtcd   bool    `json:"view_in_etcd"`
	ViewPendingS float64 `json:"view_pending_s,omitempty"`
}

// witnessStatus is the scheme's part in the witness now (nil without).
func (s *Scheme) witnessStatus() *WitnessStatus {
	if s.wit == nil {
		return nil
	}
	ws := &WitnessStatus{Node: s.wit.w.Node(), Role: "follower", Lock: s.wit.lock.Name(), State: "idle",
		Quorum: s.cfg.QuorumName(), Views: s.liveViews(s.ownView(s.candidates()))}
	if fence, ok := s.wit.lock.Held(); ok {
		ws.Role, ws.Fence = "leader", fence
	}
	st := s.wit.w.Status()
	ws.Problem = st.Error
	for _, l := range st.Locks {
		if l.Name == ws.Lock {
			ws.State, ws.Leader = l.State, l.Holder
		}
	}
	if ws.Role == "leader" {
		ws.Leader = ws.Node // this node knows before the next probe of etcd
	}
	ws.Terms = s.witnessTerms()
	s.mu.Lock()
	ws.FollowError, ws.ViewsRead = s.wit.followErr, s.wit.viewsAt
	s.mu.Unlock()
	if p := s.wit.w.Publication(s.wit.topic); p.InEtcd {
		ws.ViewInEtcd = true
	} else if !p.Since.IsZero() {
		ws.ViewPendingS = time.Since(p.Since).Seconds()
	}
	return ws
}

// witnessTerms is this node's terms as leader (oldest first).
func (s *Scheme) witnessTerms() []Term {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Term(nil), s.wit.terms...)
}
