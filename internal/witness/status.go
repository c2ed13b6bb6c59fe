package witness

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"
)

// Status is the witness as a status page shows it.
type Status struct {
	Node    string   `json:"node"`
	Members []Member `json:"members"`
	// Lease is this node's lease (hex), "" while it has none.
	Lease string `json:"lease,omitempty"`
	// LeaseRemainingS is how long the lease is ours without another
	// answered keep-alive, by this node's clock (seconds).
	LeaseRemainingS float64      `json:"lease_remaining_s"`
	Locks           []LockStatus `json:"locks,omitempty"`
	Error           string       `json:"error,omitempty"` // the last problem met
}

// Member is one configured endpoint as the last probe found it.
type Member struct {
	Endpoint  string    `json:"endpoint"`
	Reachable bool      `json:"reachable"` // answered the last Status call
	LastOK    time.Time `json:"last_ok"`   // when it last answered
	Leader    bool      `json:"leader"`    // it is etcd's raft leader
	Version   string    `json:"version"`   // etcd version
	Error     string    `json:"error,omitempty"`
}

// LockStatus is one lock: this node's part and the holder etcd has.
type LockStatus struct {
	Name  string `json:"name"`
	State string `json:"state"` // idle, campaigning, cancelling, holding, resigning
	Fence int64  `json:"fence,omitempty"`
	// Holder is the holding node as last read from etcd ("" for none).
	Holder      string `json:"holder,omitempty"`
	HolderFence int64  `json:"holder_fence,omitempty"`
}

// snapshot is the machine's part of Status, recorded after every step.
type snapshot struct {
	lease    int64
	deadline time.Time
	locks    map[string]LockStatus
	err      string
	pubDone  map[string]uint64 // per topic, the version written on the current lease
}

func snapshotOf(m *machine, now time.Time) snapshot {
	s := snapshot{lease: m.lease, deadline: m.deadline, err: m.lastErr, locks: map[string]LockStatus{},
		pubDone: map[string]uint64{}}
	for topic, p := range m.pubs {
		if m.lease != 0 && p.lease == m.lease {
			s.pubDone[topic] = p.done
		}
	}
	for name, l := range m.locks {
		ls := LockStatus{Name: name, State: l.phase.String()}
		if l.phase == holding {
			ls.Fence = l.fence
		}
		s.locks[name] = ls
	}
	return s
}

// Status returns the witness's state for status pages. It does no I/O:
// members and holders are probed every TTL while Run runs.
func (w *Witness) Status() Status {
	w.mu.Lock()
	defer w.mu.Unlock()
	st := Status{Node: w.node, Members: slices.Clone(w.members), Error: w.snap.err}
	if st.Members == nil {
		for _, ep := range w.cfg.Endpoints {
			st.Members = append(st.Members, Member{Endpoint: ep})
		}
	}
	if w.snap.lease != 0 {
		st.Lease = fmt.Sprintf("%x", w.snap.lease)
		st.LeaseRemainingS = max(w.snap.deadline.Sub(w.now()), 0).Seconds()
	}
	for _, name := range slices.Sorted(maps.Keys(w.locks)) {
		ls, ok := w.snap.locks[name]
		if !ok {
			ls = LockStatus{Name: name, State: idle.String()}
		}
		if h, ok := w.holders[name]; ok {
			ls.Holder, ls.HolderFence = h.Node, h.Fence
		}
		st.Locks = append(st.Locks, ls)
	}
	return st
}

// probe asks every endpoint for its status, and etcd for the holder of
// every lock, every TTL until ctx ends.
func (w *Witness) probe(ctx context.Context) {
	for {
		w.probeMembers(ctx)
		w.probeHolders(ctx)
		select {
		case <-ctx.Done():
			return
		case <-time.After(w.t.ttl):
		}
	}
}

func (w *Witness) probeMembers(ctx context.Context) {
	cli := w.client()
	w.mu.Lock()
	prev := slices.Clone(w.members)
	w.mu.Unlock()
	out := make([]Member, len(w.cfg.Endpoints))
	var wg sync.WaitGroup
	for i, ep := range w.cfg.Endpoints {
		wg.Go(func() {
			m := Member{Endpoint: ep}
			if i < len(prev) {
				m.LastOK = prev[i].LastOK
			}
			sctx, cancel := context.WithTimeout(ctx, w.t.attempt)
			resp, err := cli.Status(sctx, ep)
			cancel()
			if err != nil {
				m.Error = err.Error()
			} else {
				m.Reachable, m.LastOK, m.Version = true, time.Now(), resp.Version
				m.Leader = resp.Leader != 0 && resp.Leader == resp.Header.MemberId
			}
			out[i] = m
		})
	}
	wg.Wait()
	w.mu.Lock()
	w.members = out
	w.mu.Unlock()
}

func (w *Witness) probeHolders(ctx context.Context) {
	w.mu.Lock()
	names := slices.Sorted(maps.Keys(w.locks))
	w.mu.Unlock()
	for _, name := range names {
		hctx, cancel := context.WithTimeout(ctx, w.t.attempt)
		h, ok, err := w.Holder(hctx, name)
		cancel()
		w.mu.Lock()
		switch {
		case err != nil:
			// not known now: a holder read earlier may be gone
			delete(w.holders, name)
		case ok:
			w.holders[name] = h
		default:
			delete(w.holders, name)
		}
		w.mu.Unlock()
	}
}
