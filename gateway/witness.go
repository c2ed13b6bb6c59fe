package gateway

import (
	"errors"
	"fmt"

	"github.com/redund/redund/internal/status"
	"github.com/redund/redund/internal/witness"
)

// newWitness sets up the witness and its lock when `witness = true`; it
// does not dial (Run runs it).
func (g *Gateway) newWitness() error {
	if !g.cfg.Witness {
		return nil
	}
	w, l, err := witness.Open(g.opts.Witness, LockName, g.opts.Log)
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	g.wit, g.lock = w, l
	g.params.Witness = true
	g.params.LockWait = 2*w.TTL() + g.params.FailoverTimeout
	return nil
}

// witnessEvents is the lock's event channel (nil without the witness).
func (g *Gateway) witnessEvents() <-chan witness.Event {
	if g.lock == nil {
		return nil
	}
	return g.lock.Events()
}

// witnessInput turns a lock event into an input of the role loop.
func witnessInput(ev witness.Event) input {
	if ev.Kind == witness.Acquired {
		return input{Kind: inWitnessAcquired, Fence: ev.Fence, At: ev.At}
	}
	return input{Kind: inWitnessLost, Reason: ev.Reason, At: ev.At}
}

// errNoLock refuses a write on an active node whose witness lock has run
// out (its Lost event is on its way to the role loop).
var errNoLock = errors.New("gateway: this node no longer holds the witness lock")

// fence is the fencing token to write with: 0 without the witness; with
// it, the token of the lock held right now (checked against the lease's
// deadline at the call), or errNoLock.
func (g *Gateway) fence() (int64, error) {
	if g.lock == nil {
		return 0, nil
	}
	f, ok := g.lock.Held()
	if !ok {
		return 0, errNoLock
	}
	return f, nil
}

// WitnessDetail is the witness in the gateway's status.
type WitnessDetail struct {
	witness.Status
	// Held and Fence: this node holds the gateway's lock with this fencing
	// token (the last token when it no longer holds it).
	Held  bool  `json:"held"`
	Fence int64 `json:"fence,omitempty"`
	// Reachable counts the members that answered the last probe.
	Reachable int `json:"reachable"`
}

func (g *Gateway) witnessDetail(v *roleView) *WitnessDetail {
	if g.wit == nil {
		return nil
	}
	d := &WitnessDetail{Status: g.wit.Status(), Fence: v.Lock.Fence}
	_, d.Held = g.lock.Held()
	for _, m := range d.Members {
		if m.Reachable {
			d.Reachable++
		}
	}
	return d
}

// witnessHealth is the witness as one of the things `redund status` counts
// in its HEALTH column: OK while a majority of the etcd members answer,
// with the members, the holder and the fencing token in the reason.
func witnessHealth(w *WitnessDetail) status.Health {
	h := status.Health{Name: "witness", State: "OK"}
	if w.Reachable*2 <= len(w.Members) {
		h.State = "ERR"
	}
	holder := "no holder"
	for _, l := range w.Locks {
		if l.Name == LockName && l.Holder != "" {
			holder = fmt.Sprintf("held by %s, fencing token %d", l.Holder, l.HolderFence)
		}
	}
	h.Reason = fmt.Sprintf("%d/%d etcd members, %s", w.Reachable, len(w.Members), holder)
	if w.Error != "" && h.State == "ERR" {
		h.Reason += ": " + w.Error
	}
	return h
}

// witnessSummary is the witness in the status document's Details (what
// `redund status --json` and /v1/status show): reachable members, the
// lease, the holder and the fencing token.
func witnessSummary(w *WitnessDetail) map[string]any {
	m := map[string]any{"reachable": fmt.Sprintf("%d/%d", w.Reachable, len(w.Members)), "held": w.Held,
		"lease": w.Lease, "lease_remaining_s": w.LeaseRemainingS}
	if w.Fence > 0 {
		m["fence"] = w.Fence
	}
	for _, l := range w.Locks {
		if l.Name == LockName {
			m["holder"], m["holder_fence"], m["lock_state"] = l.Holder, l.HolderFence, l.State
		}
	}
	if w.Error != "" {
		m["error"] = w.Error
	}
	return m
}
