package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redund/redund/internal/lifecycle"
	"github.com/redund/redund/internal/status"
)

// pingEvery is how often the loops are asked when systemd's watchdog is
// off: the status still says when one of them stopped answering.
const pingEvery = 10 * time.Second

// startWait is how long to wait before asking the loops again while Run
// starts (a daemon without Started is ready at its first full answer).
const startWait = 10 * time.Millisecond

// liveness is what the daemon's loop (its only writer) knows of the
// scheme's loops: since when each one that does not answer has not, and
// the snapshot of the stuck ones that the status source reads.
type liveness struct {
	pinger  lifecycle.LoopPinger // nil: the daemon has no loops to ask
	starter lifecycle.Starter
	late    map[string]lateLoop // loop → since when it has not answered
	shown   atomic.Pointer[[]stuckLoop]
}

// lateLoop is a loop that did not answer the pings since since; stuck
// once it has not for the grace (then the watchdog is not fed).
type lateLoop struct {
	since time.Time
	stuck bool
}

// stuckLoop is a loop that has not answered since Since, for the status.
type stuckLoop struct {
	Name  string
	Since time.Time
}

// petDecision is what one watchdog tick does.
type petDecision struct {
	Pet       bool                // send WATCHDOG=1
	Late      map[string]lateLoop // the loops not answering after this tick
	Stuck     []string            // loops found stuck at this tick (logged once)
	Recovered []string            // stuck loops that answer again
}

// decidePet is the watchdog's rule: WATCHDOG=1 only when the status
// report was built and no loop is stuck: late (the loops that did not
// answer this tick's ping) are stuck once they have not answered for
// grace, counted from the first tick they missed. The grace lets a loop
// be busy for a while (a slow provider call) without a restart. prev is
// what the last tick left.
func decidePet(prev map[string]lateLoop, now time.Time, built bool, late []string, grace time.Duration) petDecision {
	d := petDecision{Pet: built, Late: map[string]lateLoop{}}
	for _, l := range late {
		st, ok := prev[l]
		if !ok {
			st = lateLoop{since: now}
		}
		if !st.stuck && now.Sub(st.since) >= grace {
			st.stuck = true
			d.Stuck = append(d.Stuck, l)
		}
		if st.stuck {
			d.Pet = false
		}
		d.Late[l] = st
	}
	for _, l := range slices.Sorted(maps.Keys(prev)) {
		if _, ok := d.Late[l]; !ok && prev[l].stuck {
			d.Recovered = append(d.Recovered, l)
		}
	}
	return d
}

// lateLoops names what did not answer from PingLoops's error: the loops
// of a *lifecycle.NotAnswered, else the error itself.
func lateLoops(err error) []string {
	if err == nil {
		return nil
	}
	if l := lifecycle.Unanswered(err); len(l) > 0 {
		return l
	}
	return []string{"(" + err.Error() + ")"}
}

// ping asks the loops, waiting at most bound, and records the answer:
// whether to feed the watchdog (built: the status report was built). A
// loop is stuck once it has not answered for grace.
func (d *daemon) ping(ctx context.Context, now time.Time, bound, grace time.Duration, built bool) bool {
	lv := &d.live
	var late []string
	if lv.pinger != nil {
		pctx, cancel := context.WithTimeout(ctx, bound)
		err := lv.pinger.PingLoops(pctx)
		cancel()
		if ctx.Err() != nil { // stopping: not a loop's fault
			return false
		}
		late = lateLoops(err)
	}
	dec := decidePet(lv.late, now, built, late, grace)
	for _, l := range dec.Stuck {
		d.Log.Error("loop "+l+" does not answer; the systemd watchdog is no longer fed",
			"for", now.Sub(dec.Late[l].since).Round(time.Millisecond))
	}
	for _, l := range dec.Recovered {
		d.Log.Info("loop "+l+" answers again", "after", time.Since(lv.late[l].since).Round(time.Millisecond))
	}
	lv.late = dec.Late
	stuck := []stuckLoop{}
	for _, l := range slices.Sorted(maps.Keys(dec.Late)) {
		if st := dec.Late[l]; st.stuck {
			stuck = append(stuck, stuckLoop{l, st.since})
		}
	}
	if len(dec.Stuck)+len(dec.Recovered) > 0 { // what systemctl status shows
		d.notify.send("STATUS=" + d.statusLine() + stuckNote(stuck))
	}
	lv.shown.Store(&stuck)
	return dec.Pet
}

// stuckNote is what the STATUS= line adds for the loops that do not
// answer: "; loop X does not answer (watchdog not fed)".
func stuckNote(stuck []stuckLoop) string {
	if len(stuck) == 0 {
		return ""
	}
	names := make([]string, len(stuck))
	for i, s := range stuck {
		names[i] = s.Name
	}
	if len(names) == 1 {
		return "; loop " + names[0] + " does not answer (watchdog not fed)"
	}
	return "; loops " + strings.Join(names, ", ") + " do not answer (watchdog not fed)"
}

// started waits until the daemon says it has started: Started closed, or
// (without Started) the first PingLoops every loop answered; a daemon with
// neither is started at once. It returns false when ctx ends first (Run
// returned, its failure is systemd's to see, not READY=1).
func (d *daemon) started(ctx context.Context) bool {
	lv := &d.live
	switch {
	case lv.starter != nil:
		select {
		case <-lv.starter.Started():
			return true
		case <-ctx.Done():
			return false
		}
	case lv.pinger != nil:
		for {
			if lv.pinger.PingLoops(ctx) == nil {
				return true
			}
			select {
			case <-time.After(startWait):
			case <-ctx.Done():
				return false
			}
		}
	}
	return ctx.Err() == nil
}

// livenessSource is the status of the loops that do not answer: one
// document with an ERR health entry per loop ("loop X has not answered
// for 12s"), none while every loop answers.
func (d *daemon) livenessSource() status.Source {
	return status.SourceFunc(func() []status.Document {
		p := d.live.shown.Load()
		if p == nil || len(*p) == 0 {
			return nil
		}
		now := time.Now()
		doc := status.Document{Instance: d.name, Scheme: strings.Fields(d.name + " x")[0], Role: "daemon",
			State: "Stuck", Since: (*p)[0].Since}
		var reasons []string
		for _, s := range *p {
			r := fmt.Sprintf("has not answered for %s", now.Sub(s.Since).Round(time.Second))
			doc.Health = append(doc.Health, status.Health{Name: "loop " + s.Name, State: "ERR", Reason: r, Since: s.Since})
			reasons = append(reasons, "loop "+s.Name+" "+r)
			if s.Since.Before(doc.Since) {
				doc.Since = s.Since
			}
		}
		doc.Reason = strings.Join(reasons, "; ") + "; the systemd watchdog is not fed"
		return []status.Document{doc}
	})
}
