package ddns

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/redund/redund/internal/health"
)

// Quorum rules: how many live deciders must see a server OK for the
// leader to treat it as OK.
const (
	QuorumMajority = "majority" // more than half of the live deciders (default with the witness)
	QuorumAny      = "any"      // at least one
	QuorumAll      = "all"      // every one
)

// View is what one decider sees: the state of each server, as it publishes
// it with its witness lease (so only live deciders' views exist).
type View struct {
	Node    string                `json:"node"`
	At      time.Time             `json:"at"`      // when the decider published it
	Servers map[string]ServerView `json:"servers"` // by server name
	// Stale is set in this node's status (never published) on the views
	// held from etcd while the watch of the deciders' views is down.
	Stale bool `json:"stale,omitempty"`
}

// ServerView is one server in a View.
type ServerView struct {
	State string    `json:"state"` // OK, ERR, UNKNOWN
	Since time.Time `json:"since"` // when the decider's monitor entered State
	// Address is the server's address in the decider's config: a view of
	// a server under the same name at another address (a config not
	// updated on that host) is about another machine and does not count.
	// Empty in views of older versions, which count as before.
	Address string `json:"address,omitempty"`
	// Maintenance: the decider has the server in maintenance (its file
	// or `redund ddns maintenance` sent to it).
	Maintenance bool `json:"maintenance,omitempty"`
}

// Agree turns the candidates of this node into the candidates the quorum
// sees: each server's State becomes OK when enough of the views (the live
// deciders) see it OK under rule, ERR when that can no longer happen
// whatever the deciders without a result find, and UNKNOWN otherwise (so
// Decide waits). A Stale view (held while the watch of the views is down)
// is a decider without a result: a leader that cannot read the others'
// views does not move the record on what they saw before. A server is in
// maintenance when this node or any live decider whose view is not stale
// (and names the server at the same address) has it so: the operator's
// word, sent to any decider, reaches the leader. Everything else stays
// this node's. With no view at all every server is
// UNKNOWN. A view that has the server at another address than this
// node's config (the deciders' configs differ) is also a decider without
// a result: it probed another machine. Agree is pure.
func Agree(cands []Candidate, views []View, rule string) []Candidate {
	out := make([]Candidate, len(cands))
	for i, c := range cands {
		ok, bad, unknown, who := tally(c, views)
		c.State = judge(rule, ok, bad, unknown)
		c.Reason = fmt.Sprintf("%d of %d deciders see it OK, quorum %s (%s)", ok, len(views), rule, who)
		if by := maintainedBy(c, views); len(by) > 0 {
			c.Maintenance, c.MaintenanceBy = true, by
		}
		out[i] = c
	}
	return out
}

// tally counts the views that see server c OK, ERR and neither, and
// lists them ("a OK, b ERR").
func tally(c Candidate, views []View) (ok, bad, unknown int, who string) {
	parts := make([]string, 0, len(views))
	for _, v := range views {
		st := health.Unknown.String()
		sv, found := v.Servers[c.Name]
		if found {
			st = sv.State
		}
		switch {
		case found && sv.Address != "" && !sameAddress(sv.Address, c.Address):
			// another config: its state is about another machine
			unknown++
			st = "at " + sv.Address + " (not " + c.Address + ") " + st
		case v.Stale:
			// held from etcd while the watch is down: what that decider
			// sees now is not known, so it counts as a decider without
			// a result (it can keep the record where it is, not move it)
			unknown++
			st = "stale " + st
		case st == health.OK.String():
			ok++
		case st == health.Err.String():
			bad++
		default:
			unknown++
			st = health.Unknown.String()
		}
		parts = append(parts, v.Node+" "+st)
	}
	sort.Strings(parts)
	return ok, bad, unknown, strings.Join(parts, ", ")
}

// maintainedBy lists the deciders whose live, fresh view has server c in
// maintenance at c's address (sorted).
func maintainedBy(c Candidate, views []View) []string {
	var by []string
	for _, v := range views {
		sv, found := v.Servers[c.Name]
		if !found || !sv.Maintenance || v.Stale || (sv.Address != "" && !sameAddress(sv.Address, c.Address)) {
			continue
		}
		by = append(by, v.Node)
	}
	sort.Strings(by)
	return by
}

// sameAddress compares two servers' addresses as values: IP addresses
// in canonical form, host names without case or the root dot.
func sameAddress(a, b string) bool {
	if x, err := netip.ParseAddr(a); err == nil {
		y, err := netip.ParseAddr(b)
		return err == nil && x.Unmap() == y.Unmap()
	}
	return strings.EqualFold(strings.TrimSuffix(a, "."), strings.TrimSuffix(b, "."))
}

// judge is one server's state under rule, from the counts of live
// deciders that see it OK, ERR and UNKNOWN.
func judge(rule string, ok, bad, unknown int) health.State {
	n := ok + bad + unknown
	if n == 0 {
		return health.Unknown
	}
	var need int // deciders that must see it OK
	switch rule {
	case QuorumAny:
		need = 1
	case QuorumAll:
		need = n
	default: // majority
		need = n/2 + 1
	}
	switch {
	case ok >= need:
		return health.OK
	case ok+unknown >= need:
		return health.Unknown // the deciders still without a result could make it
	default:
		return health.Err
	}
}

// QuorumName is the quorum rule (majority when unset).
func (c *Config) QuorumName() string {
	if c.Quorum == "" {
		return QuorumMajority
	}
	return c.Quorum
}
