package ddns

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/redund/redund/internal/witness"
)

// PlanWitness is what the witness holds for a scheme with witness = true:
// the leader and every live decider's published view, and what the leader
// would decide on them (with this plan's checks left out: plan is not a
// decider).
type PlanWitness struct {
	Leader   string `json:"leader,omitempty"`
	Fence    int64  `json:"fence,omitempty"`
	Quorum   string `json:"quorum"`
	Deciders []View `json:"deciders"`
	// Unparsable are the published views that are not a decider's view
	// (left out of the decision).
	Unparsable []Unparsable `json:"unparsable,omitempty"`
	Decision   Decision     `json:"decision"`
	Error      string       `json:"error,omitempty"`
}

// Unparsable is a value in the deciders' topic that is not a view.
type Unparsable struct {
	Node  string `json:"node"`
	Key   string `json:"key"`
	Error string `json:"error"`
}

// planTimeout bounds the plan's reads from the witness.
const planTimeout = 5 * time.Second

// planWitness reads the scheme's leader and views from w.
func planWitness(ctx context.Context, w *witness.Witness, name string, c *Config, cands []Candidate) *PlanWitness {
	pw := &PlanWitness{Quorum: c.QuorumName(), Deciders: []View{}}
	ctx, cancel := context.WithTimeout(ctx, planTimeout)
	defer cancel()
	vals, err := w.Values(ctx, lockName(name))
	if err != nil {
		pw.Error = err.Error()
		return pw
	}
	for _, v := range vals {
		var view View
		if err := json.Unmarshal([]byte(v.Value), &view); err != nil {
			pw.Unparsable = append(pw.Unparsable, Unparsable{Node: v.Node, Key: v.Key, Error: err.Error()})
			continue
		}
		view.Node = v.Node
		pw.Deciders = append(pw.Deciders, view)
	}
	if h, ok, err := w.Holder(ctx, lockName(name)); err != nil {
		pw.Error = err.Error()
	} else if ok {
		pw.Leader, pw.Fence = h.Node, h.Fence
	}
	q := Agree(cands, pw.Deciders, pw.Quorum)
	pw.Decision = withQuorum(Decide(q, c.PolicyName(), c.Sorry), q)
	return pw
}

// writePlanWitness prints a scheme's witness part of a plan.
func writePlanWitness(w io.Writer, pw *PlanWitness) {
	if pw == nil {
		return
	}
	if pw.Error != "" {
		fmt.Fprintf(w, "  witness: %s\n", pw.Error)
		return
	}
	leader := pw.Leader
	if leader == "" {
		leader = "none"
	}
	fmt.Fprintf(w, "  witness: leader %s (fence %d), %d live deciders, quorum %s\n", leader, pw.Fence, len(pw.Deciders), pw.Quorum)
	for _, v := range pw.Deciders {
		names := make([]string, 0, len(v.Servers))
		for n := range v.Servers {
			names = append(names, n)
		}
		sort.Strings(names)
		parts := make([]string, 0, len(names))
		for _, n := range names {
			sv := v.Servers[n]
			part := n + " " + sv.State
			if sv.Maintenance {
				part += " (maintenance)"
			}
			if sv.Address != "" {
				part += " at " + sv.Address
			}
			parts = append(parts, part)
		}
		fmt.Fprintf(w, "    %s (%s): %s\n", v.Node, v.At.Format(time.RFC3339), strings.Join(parts, ", "))
	}
	for _, u := range pw.Unparsable {
		fmt.Fprintf(w, "    %s: unparsable view (left out), key %q: %s\n", u.Node, u.Key, u.Error)
	}
	target := "(no change)"
	if pw.Decision.Action == ActionPoint {
		target = fmt.Sprintf("%s (%s)", pw.Decision.Address, pw.Decision.Server)
	}
	fmt.Fprintf(w, "  the deciders' quorum: → %s [%s]\n", target, pw.Decision.Action)
}

// UsesWitness reports whether any scheme of cfgs has witness = true.
func UsesWitness(cfgs map[string]*Config) bool {
	for _, c := range cfgs {
		if c.Witness {
			return true
		}
	}
	return false
}
