package ddns

import (
	"fmt"
	"sort"
	"strings"

	"github.com/redund/redund/internal/health"
)

// Candidate is one server as a decision sees it.
type Candidate struct {
	Name        string
	Address     string
	Priority    int
	State       health.State
	Maintenance bool
	Reason      string // the last probe's reason, for the decision's text
	// MaintenanceBy names the deciders that have the server in
	// maintenance (witness; see Agree), for the decision's text.
	MaintenanceBy []string
}

// Actions a Decision can take.
const (
	ActionPoint = "point" // the record should hold Address
	ActionKeep  = "keep"  // leave the record as it is (nothing may be chosen)
	ActionWait  = "wait"  // leave it for now: a server that could win has no result yet
)

// Decision is the outcome of one evaluation.
type Decision struct {
	Action   string `json:"action"`
	Server   string `json:"server,omitempty"`
	Address  string `json:"address,omitempty"`
	Fallback string `json:"fallback,omitempty"` // policy that chose (sorry, first, keep) when no server was OK
	Reason   string `json:"reason"`
}

// Decide picks where the name should point. Servers rank by priority
// (higher first; equal priorities keep config order). The first that is
// OK and not in maintenance wins. While a server ranked above every OK
// server is still UNKNOWN the decision waits. When nothing is selectable
// the policy decides: keep leaves the record; sorry points at the sorry
// server (excluded from the normal ranking, chosen whatever its state,
// unless in maintenance); first points at the highest-ranked server not in
// maintenance even though it is not OK (okerr's behaviour). Decide never
// points at an ERR server otherwise.
func Decide(servers []Candidate, policy, sorry string) Decision {
	ranked := rank(servers, policy, sorry)
	var skipped []string
	for _, c := range ranked {
		switch {
		case c.Maintenance:
			skipped = append(skipped, maintained(c))
		case c.State == health.OK:
			return Decision{Action: ActionPoint, Server: c.Name, Address: c.Address,
				Reason: because(fmt.Sprintf("%s is the highest-priority server that is OK (priority %d)", c.Name, c.Priority), skipped)}
		case c.State == health.Unknown:
			why := fmt.Sprintf("waiting for the first result of %s (priority %d)", c.Name, c.Priority)
			if c.Reason != "" {
				why += ": " + c.Reason // the quorum's count, or why there is none
			}
			return Decision{Action: ActionWait, Reason: because(why, skipped)}
		default:
			skipped = append(skipped, describe(c))
		}
	}
	return fallback(servers, ranked, policy, sorry, skipped)
}

// rank orders the servers that take part in normal selection.
func rank(servers []Candidate, policy, sorry string) []Candidate {
	var out []Candidate
	for _, c := range servers {
		if policy == PolicySorry && c.Name == sorry {
			continue
		}
		out = append(out, c)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Priority > out[j].Priority })
	return out
}

func fallback(servers, ranked []Candidate, policy, sorry string, skipped []string) Decision {
	none := because("no server is OK", skipped)
	switch policy {
	case PolicySorry:
		for _, c := range servers {
			if c.Name != sorry {
				continue
			}
			if c.Maintenance {
				return Decision{Action: ActionKeep, Fallback: PolicyKeep,
					Reason: none + "; sorry server " + sorry + " is in maintenance, so the record is left as it is"}
			}
			return Decision{Action: ActionPoint, Server: c.Name, Address: c.Address, Fallback: PolicySorry,
				Reason: fmt.Sprintf("%s; policy sorry points at %s (%s)", none, c.Name, c.State)}
		}
	case PolicyFirst:
		for _, c := range ranked {
			if !c.Maintenance {
				return Decision{Action: ActionPoint, Server: c.Name, Address: c.Address, Fallback: PolicyFirst,
					Reason: fmt.Sprintf("%s; policy first points at the highest-priority server %s although it is %s", none, c.Name, c.State)}
			}
		}
	}
	return Decision{Action: ActionKeep, Fallback: PolicyKeep, Reason: none + "; the record is left as it is"}
}

// maintained words a server in maintenance (and on which deciders).
func maintained(c Candidate) string {
	if len(c.MaintenanceBy) == 0 {
		return c.Name + " in maintenance"
	}
	return c.Name + " in maintenance on " + strings.Join(c.MaintenanceBy, ", ")
}

func describe(c Candidate) string {
	if c.Reason == "" {
		return fmt.Sprintf("%s is %s", c.Name, c.State)
	}
	return fmt.Sprintf("%s is %s (%s)", c.Name, c.State, c.Reason)
}

func because(head string, skipped []string) string {
	if len(skipped) == 0 {
		return head
	}
	return head + "; " + strings.Join(skipped, ", ")
}
