package ddns

import (
	"fmt"
	"strings"
	"time"

	"github.com/redund/redund/internal/dnsupdate"
	"github.com/redund/redund/internal/health"
	"github.com/redund/redund/internal/status"
)

// SchemeState is a scheme's status word; its text ("Synced") is what the
// status, the page and `redund ddns status` show.
type SchemeState string

// A scheme's states.
const (
	StateWaiting     SchemeState = "Waiting"     // no decision yet, or the decision is to wait
	StatePushing     SchemeState = "Pushing"     // a push to the provider is in flight
	StateSynced      SchemeState = "Synced"      // the provider holds the chosen address
	StateDegraded    SchemeState = "Degraded"    // synced to a fallback (sorry, first)
	StateRetrying    SchemeState = "Retrying"    // a read or push failed; retried with backoff
	StateUnavailable SchemeState = "Unavailable" // no server can be chosen: the record is kept
	StateStandby     SchemeState = "Standby"     // another decider holds the witness lock
)

// String returns the status word.
func (s SchemeState) String() string { return string(s) }

// ServerStatus is one server in a scheme's status details.
type ServerStatus struct {
	Name        string `json:"name"`
	Address     string `json:"address"`
	Priority    int    `json:"priority"`
	State       string `json:"state"` // OK, ERR, UNKNOWN
	Maintenance bool   `json:"maintenance"`
	MaintSource string `json:"maintenance_source,omitempty"` // config or runtime
	// MaintenanceBy names the live deciders (witness) that have the server
	// in maintenance, this one included: for the leader's decision the
	// server is in maintenance when any has it so.
	MaintenanceBy []string  `json:"maintenance_by,omitempty"`
	LatencyMS     float64   `json:"latency_ms"`
	Reason        string    `json:"reason,omitempty"`
	Since         time.Time `json:"since"`
	LastCheck     time.Time `json:"last_check,omitzero"`
	Checks        uint64    `json:"checks"`
	// NotProbedS is how long, in seconds, State has stood without a probe
	// result past when the next one was due (staleAfter); 0 while results
	// come in time. State is then what the last probe said, not verified
	// since: the status document shows the server UNKNOWN.
	NotProbedS float64 `json:"not_probed_s,omitempty"`
}

// SchemeStatus is everything known about one scheme at one moment.
type SchemeStatus struct {
	Scheme        string          `json:"scheme"`
	Name          string          `json:"name"`
	Type          string          `json:"type"`
	TTL           int             `json:"ttl"`
	Policy        string          `json:"policy"`
	Provider      string          `json:"provider"`
	State         SchemeState     `json:"state"`
	Since         time.Time       `json:"since"`
	Decision      Decision        `json:"decision"`
	Decisions     []TimedDecision `json:"decisions"` // the recent changes, oldest first
	ProviderValue []string        `json:"provider_value"`
	ProviderRead  time.Time       `json:"provider_read,omitzero"`
	InSync        bool            `json:"in_sync"`
	LastPush      *Push           `json:"last_push,omitempty"`
	LastError     string          `json:"last_error,omitempty"`
	Retry         Retry           `json:"retry"`
	Pushes        uint64          `json:"pushes"`
	Failures      uint64          `json:"failures"`
	Servers       []ServerStatus  `json:"servers"`
	Witness       *WitnessStatus  `json:"witness,omitempty"` // witness = true only
}

// Snapshot returns the scheme's current status.
func (s *Scheme) Snapshot() SchemeStatus {
	s.mu.Lock()
	st := s.st
	known := append([]string(nil), st.known...)
	st.decisions = append([]TimedDecision(nil), st.decisions...)
	s.mu.Unlock()
	out := SchemeStatus{Scheme: s.name, Name: s.cfg.Name, Type: s.cfg.RecordType(), TTL: s.cfg.RecordTTL(),
		Policy: s.cfg.PolicyName(), Provider: s.prov.Name(), State: st.word, Since: st.since,
		Decision: st.decision, Decisions: st.decisions, ProviderValue: known, ProviderRead: st.knownAt, LastError: st.lastErr,
		Retry: st.retry, Pushes: st.pushes, Failures: st.failures, Witness: s.witnessStatus()}
	out.InSync = st.knownValid && st.decision.Action == ActionPoint &&
		dnsupdate.Matches(out.Type, known, st.decision.Address) &&
		(st.word == StateSynced || st.word == StateDegraded)
	if !st.lastPush.Time.IsZero() {
		p := st.lastPush
		out.LastPush = &p
	}
	now := time.Now()
	for i, m := range s.mons {
		snap := m.Snapshot()
		srv := s.cfg.Servers[i]
		ss := ServerStatus{Name: srv.Name, Address: srv.Address, Priority: srv.Priority, State: snap.State.String(),
			Maintenance: snap.Maintenance, LatencyMS: float64(snap.Latency.Microseconds()) / 1000,
			Reason: snap.Reason, Since: snap.Since, LastCheck: snap.LastCheck, Checks: snap.Checks,
			NotProbedS: notProbedFor(snap.LastCheck, now, s.cfg.staleAfter(i)).Seconds()}
		if snap.Maintenance {
			ss.MaintSource = "config"
			if s.state.overridden(srv.Name) {
				ss.MaintSource = "runtime"
			}
		}
		if out.Witness != nil {
			ss.MaintenanceBy = maintainedBy(Candidate{Name: srv.Name, Address: srv.Address}, out.Witness.Views)
		}
		out.Servers = append(out.Servers, ss)
	}
	return out
}

// ServerSnapshots appends the health snapshots of the scheme's servers,
// in config order, to dst: the servers' part of Snapshot without the
// rest of the scheme, for callers that read many schemes often (the
// scale benchmark samples every server every second).
func (s *Scheme) ServerSnapshots(dst []health.Snapshot) []health.Snapshot {
	for _, m := range s.mons {
		dst = append(dst, m.Snapshot())
	}
	return dst
}

// Document is the scheme's status document.
func (s *Scheme) Document() status.Document {
	ss := s.Snapshot()
	reason := ss.Decision.Reason
	if ss.LastError != "" && ss.State == StateRetrying {
		reason = ss.LastError
	}
	doc := status.Document{Instance: s.name, Scheme: "ddns", Role: "active", State: ss.State.String(),
		Reason: reason, Since: ss.Since, Details: map[string]any{
			"name": ss.Name, "type": ss.Type, "ttl": ss.TTL, "policy": ss.Policy, "provider": ss.Provider,
			"decision": ss.Decision, "decisions": ss.Decisions, "chosen_server": ss.Decision.Server, "chosen_address": ss.Decision.Address,
			"provider_value": ss.ProviderValue, "provider_read": ss.ProviderRead, "in_sync": ss.InSync, "last_push": ss.LastPush,
			"retry": ss.Retry, "pushes": ss.Pushes, "failures": ss.Failures, "servers": ss.Servers,
		}}
	if w := ss.Witness; w != nil {
		doc.Role = w.Role
		doc.Details["witness"] = w
		if w.FollowError != "" {
			reason = "deciders' views stale: " + w.FollowError + "; " + reason
			doc.Reason = reason
		}
		if pending := time.Duration(w.ViewPendingS * float64(time.Second)); pending > viewPendingShown {
			reason = fmt.Sprintf("this decider's view not in etcd for %s (the others do not count what it sees); ",
				pending.Round(100*time.Millisecond)) + reason
			doc.Reason = reason
		}
		if w.Role == "follower" {
			doc.Reason = "following " + w.Leader + "; " + reason
			if w.Leader == "" {
				doc.Reason = "no leader known; " + reason
			}
		}
	}
	now := time.Now()
	for i, m := range s.mons {
		snap := m.Snapshot()
		h := status.Health{Name: s.cfg.Servers[i].Name, State: snap.Label(),
			Reason: snap.Reason, LatencyMS: float64(snap.Latency.Microseconds()) / 1000, Since: snap.Since}
		if by := ss.Servers[i].MaintenanceBy; len(by) > 0 && !snap.Maintenance {
			// in maintenance on other deciders: the leader skips it
			h.State, h.Reason = "MAINT", "in maintenance on "+strings.Join(by, ", ")+" ("+snap.State.String()+": "+snap.Reason+")"
			snap.Maintenance = true // a stale result below does not make it UNKNOWN
		}
		if d := notProbedFor(snap.LastCheck, now, s.cfg.staleAfter(i)); d > 0 {
			h.Reason = notProbedReason(d, snap.State.String(), snap.Reason)
			if !snap.Maintenance { // MAINT stays: it is the operator's word, not a probe's
				h.State = health.Unknown.String()
			}
		}
		doc.Health = append(doc.Health, h)
	}
	return doc
}

// Status returns one document per scheme, sorted by name.
func (d *Daemon) Status() []status.Document {
	set := d.current()
	out := make([]status.Document, 0, len(set.names))
	for _, n := range set.names {
		out = append(out, set.schemes[n].Document())
	}
	return out
}

// viewPendingShown is how long this decider's latest view may wait to be
// written in etcd before the status says so: a write normally takes
// milliseconds.
const viewPendingShown = time.Second

// staleAfter is how long after server i's last probe began its result may
// stand: the next probe begins an interval later and ends within its
// timeout, and one more interval is slack.
func (c *Config) staleAfter(i int) time.Duration {
	var timeout time.Duration
	if ck := c.Servers[i].Check; ck != nil {
		cp := *ck
		cp.SetDefaults()
		timeout = cp.Timeout.D()
	}
	return 2*c.monitorOptions(i).Interval + timeout
}

// notProbedFor is how long a result whose probe began at last has stood,
// at now, when that is longer than after (0 otherwise, and before the
// first result): the probes are behind (a host short of CPU for its
// checks) or stopped, and the state shown is not verified.
func notProbedFor(last, now time.Time, after time.Duration) time.Duration {
	if last.IsZero() {
		return 0
	}
	if d := now.Sub(last); d > after {
		return d
	}
	return 0
}

// notProbedReason words a server whose result is stale.
func notProbedReason(d time.Duration, state, reason string) string {
	return fmt.Sprintf("no probe result for %s (the last said %s: %s): the probes are behind or stopped",
		d.Round(100*time.Millisecond), state, reason)
}
